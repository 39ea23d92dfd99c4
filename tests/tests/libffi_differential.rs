//! The legacy `entry` trampoline against libffi's `Cif::call` on the same
//! native callee (a compiled native-convention probe), over the ABI
//! conformance fuzzer's random signatures (`springboard_tests::abi_fuzz`: up
//! to 1,000 parameters of every C-representable type, up to 16 results):
//! what the callee receives and what the caller gets back are identical,
//! bit for bit.
//! (`v128` has no libffi type and is covered by the C harness instead.)
//! Only on x86-64 Linux, where `.ci/run` installs the system's libffi; the
//! other targets' runs list `skipped_elsewhere` as ignored, with the reason.

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
#[test]
#[ignore = "libffi is linked from the system, which only x86-64 Linux runs provide"]
fn skipped_elsewhere() {}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod differential {

    use libffi::middle::{Arg, Cif, CodePtr, Ret, Type};
    use springboard_check::values::{ValueGen, same_bits};
    use springboard_compiler::{CallConv, Compiler, TrampolineKind, ValType};
    use springboard_loader::{CodeItem, CodeMemory};
    use springboard_vm_abi::{VMFunctionBody, VMTrampoline, ValRaw};

    const C_TYPES: [ValType; 6] = [
        ValType::I32,
        ValType::I64,
        ValType::F32,
        ValType::F64,
        ValType::FUNCREF,
        ValType::EXTERNREF,
    ];

    fn ffi_type(ty: ValType) -> Type {
        match ty {
            ValType::I32 => Type::i32(),
            ValType::I64 => Type::i64(),
            ValType::F32 => Type::f32(),
            ValType::F64 => Type::f64(),
            ValType::Ref(_) => Type::pointer(),
            ValType::V128 => unreachable!("no libffi type"),
        }
    }

    /// One argument's bytes at its native width.
    enum Native {
        U32(u32),
        U64(u64),
    }

    fn native(ty: ValType, v: ValRaw) -> Native {
        match ty {
            ValType::I32 | ValType::F32 => Native::U32(v.get_u32()),
            _ => Native::U64(v.get_u64()),
        }
    }

    /// The offsets of results `1..` in the native results area, computed from
    /// the rule in docs/ABI.md (natural alignment, in order), independently of
    /// the compiler's own code.
    fn area_offsets(results: &[ValType]) -> Vec<usize> {
        let mut offset = 0usize;
        results
            .iter()
            .skip(1)
            .map(|t| {
                let size = t.byte_size(8, springboard::GcRefWidth::Bits32) as usize;
                offset = offset.next_multiple_of(size);
                let at = offset;
                offset += size;
                at
            })
            .collect()
    }

    fn read_area(area: &[u8], ty: ValType, at: usize) -> ValRaw {
        let bytes = &area[at..at + ty.byte_size(8, springboard::GcRefWidth::Bits32) as usize];
        match bytes.len() {
            4 => ValRaw::u32(u32::from_ne_bytes(bytes.try_into().unwrap())),
            _ => ValRaw::u64(u64::from_ne_bytes(bytes.try_into().unwrap())),
        }
    }

    #[test]
    fn entry_trampoline_agrees_with_libffi() {
        let compiler = Compiler::host().unwrap();
        for seed in springboard_tests::abi_fuzz::seeds() {
            let mut values = ValueGen::new(seed ^ 0x11bff1);
            for case in 0..200 {
                entry_agrees_with_libffi(
                    &compiler,
                    &mut values,
                    &format!("seed {seed} case {case}"),
                );
            }
        }
    }

    fn entry_agrees_with_libffi(compiler: &Compiler, values: &mut ValueGen, case: &str) {
        let sig = springboard_check::values::random_signature(values, &C_TYPES);
        let (params, results) = (sig.params(), sig.results());
        let (np, nr) = (params.len(), results.len());
        let probe = compiler.compile_probe(CallConv::Native, &sig).unwrap();
        let entry = compiler.compile(TrampolineKind::Entry, &sig).unwrap();
        let memory =
            CodeMemory::new(&[CodeItem::new(&probe, None), CodeItem::new(&entry, None)]).unwrap();
        let (probe_ptr, entry_ptr) = (memory.entry(0).unwrap(), memory.entry(1).unwrap());
        let args = values.values(params);
        let want = values.values(results);
        let vmctx = 0x5b0usize;

        // libffi calls the probe directly.
        let mut record_ffi = vec![ValRaw::ZERO; 1 + np + nr];
        record_ffi[1 + np..].copy_from_slice(&want);
        let mut area = [0u128; 64]; // 16-aligned, room for 16 results
        let area_ptr = area.as_mut_ptr();
        let caller = record_ffi.as_mut_ptr();
        let natives: Vec<Native> = params
            .iter()
            .zip(&args)
            .map(|(&t, &v)| native(t, v))
            .collect();
        let mut ffi_args: Vec<Arg> = vec![Arg::new(&vmctx), Arg::new(&caller)];
        ffi_args.extend(natives.iter().map(|n| match n {
            Native::U32(x) => Arg::new(x),
            Native::U64(x) => Arg::new(x),
        }));
        let mut types: Vec<Type> = vec![Type::pointer(), Type::pointer()];
        types.extend(params.iter().map(|&t| ffi_type(t)));
        if nr > 1 {
            types.push(Type::pointer());
            ffi_args.push(Arg::new(&area_ptr));
        }
        let cif = Cif::new(
            types,
            results.first().map_or(Type::void(), |&t| ffi_type(t)),
        );
        let mut ret = [0u64; 2];
        // SAFETY: the probe is a native-convention function of exactly the
        // signature the Cif describes; every argument outlives the call.
        unsafe {
            cif.call_return_into(
                CodePtr::from_ptr(probe_ptr.as_ptr()),
                &ffi_args,
                Ret::new(&mut ret),
            )
        };
        let mut got_ffi = Vec::new();
        if let Some(&t0) = results.first() {
            got_ffi.push(match t0 {
                ValType::I32 | ValType::F32 => ValRaw::u32(ret[0] as u32),
                _ => ValRaw::u64(ret[0]),
            });
        }
        // SAFETY: the area is 1 KiB of initialised bytes.
        let area_bytes = unsafe { std::slice::from_raw_parts(area.as_ptr().cast::<u8>(), 1024) };
        for (&t, at) in results.iter().skip(1).zip(area_offsets(results)) {
            got_ffi.push(read_area(area_bytes, t, at));
        }

        // The entry trampoline calls the same probe from a ValRaw buffer.
        let mut record_entry = vec![ValRaw::ZERO; 1 + np + nr];
        record_entry[1 + np..].copy_from_slice(&want);
        let mut buffer = vec![ValRaw::ZERO; sig.array_len()];
        buffer[..np].copy_from_slice(&args);
        // SAFETY: `entry_ptr` is the entry trampoline of `sig`, the probe a
        // native function of `sig`, the buffer max(params, results) slots.
        unsafe {
            let call: VMTrampoline = std::mem::transmute(entry_ptr.as_ptr());
            call(
                vmctx as *mut _,
                record_entry.as_mut_ptr().cast(),
                probe_ptr.as_ptr() as *const VMFunctionBody,
                buffer.as_mut_ptr(),
            );
        }

        let what = format!("{case}: {sig}");
        for i in 0..1 + np {
            let ty = if i == 0 {
                ValType::EXTERNREF
            } else {
                params[i - 1]
            };
            assert!(
                same_bits(ty, record_ffi[i], record_entry[i]),
                "{what}: callee saw slot {i} differently"
            );
        }
        for (i, (&ty, &a)) in params.iter().zip(&args).enumerate() {
            assert!(
                same_bits(ty, record_entry[1 + i], a),
                "{what}: parameter {i}"
            );
        }
        for (i, &ty) in results.iter().enumerate() {
            assert!(
                same_bits(ty, got_ffi[i], buffer[i]),
                "{what}: result {i}: libffi {:?}, entry {:?}",
                got_ffi[i],
                buffer[i]
            );
            assert!(same_bits(ty, buffer[i], want[i]), "{what}: result {i}");
        }
    }
}
