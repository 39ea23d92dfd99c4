//! The IR of every trampoline kind and of probes.
//!
//! A trampoline receives the arguments of one convention, finds its callee,
//! calls it with another convention and returns the results the first way.
//! The six kinds are exactly the pairs that `TrampolineKind::caller_conv`,
//! `callee_conv` and `callee_source` describe, so one function builds the five
//! crossings from those three facts, and [`entry`] builds the legacy
//! `VMTrampoline`, whose callee is an argument.

use crate::abi::{Abi, Received, entry_block};
use cranelift_codegen::ir::{
    self, ExtFuncData, ExternalName, InstBuilder, MemFlagsData, UserExternalName, UserFuncName,
    Value,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use springboard_environ::{Bookkeeping, CallConv, CalleeSource, TrampolineKind, ValType, WasmConv};

/// The IR of the `kind` trampoline for `abi.sig`.
pub(crate) fn trampoline(abi: &Abi, kind: TrampolineKind) -> ir::Function {
    match kind {
        TrampolineKind::Entry => build(abi, abi.entry_signature(), |b| entry(abi, b)),
        _ => build(abi, abi.signature(kind.caller_conv()), |b| {
            crossing(abi, b, kind)
        }),
    }
}

/// The IR of a probe entered with `conv`: it records its callee vmctx and
/// arguments into the `ValRaw` buffer its caller vmctx points to, then returns
/// the results found after them (see `Compiler::compile_probe`).
pub(crate) fn probe(abi: &Abi, conv: CallConv) -> ir::Function {
    build(abi, abi.signature(conv), |b| {
        let recv = abi.receive(b, conv);
        let record = recv.caller_vmctx;
        abi.store_slots(b, record, &[ValType::EXTERNREF], &[recv.callee_vmctx]);
        let slot = i64::from(abi.slot_size());
        let params_at = b.ins().iadd_imm_u(record, slot);
        abi.store_slots(b, params_at, abi.sig.params(), &recv.params);
        let results_at = b
            .ins()
            .iadd_imm_u(record, slot * (1 + abi.sig.params().len() as i64));
        let results = abi.load_slots(b, results_at, abi.sig.results());
        abi.ret(b, conv, recv.result_dest, &results);
    })
}

/// The IR of the `call_indirect` signature check (see
/// `CodeKind::SignatureCheck`): null test, one load, one compare; only when
/// the indices differ, the subtype test inline on the runtime's
/// `VMSubtypeTable` (the third argument; none when it is null): both types'
/// entries, then `ancestors(actual)[depth(expected)] == expected`.
pub(crate) fn signature_check(abi: &Abi) -> ir::Function {
    let ptr = abi.ptr();
    let mut sig = ir::Signature::new(abi.isa.default_call_conv());
    sig.params.extend([
        ir::AbiParam::new(ptr),
        ir::AbiParam::new(ir::types::I32),
        ir::AbiParam::new(ptr),
    ]);
    sig.returns.push(ir::AbiParam::new(ir::types::I32));
    build(abi, sig, |b| {
        let args = entry_block(b);
        let (funcref, expected, table) = (args[0], args[1], args[2]);
        let [null, present, equal, differ, mismatch, walk] = [(); 6].map(|()| b.create_block());
        let answer = |b: &mut FunctionBuilder, code: i64| {
            let v = b.ins().iconst(ir::types::I32, code);
            b.ins().return_(&[v]);
        };
        b.ins().brif(funcref, present, &[], null, &[]);
        b.switch_to_block(null);
        answer(b, 1);
        b.switch_to_block(present);
        let p = abi.ptr_size();
        let offset = i32::from(p.vm_func_ref_type_index());
        let actual = b
            .ins()
            .load(ir::types::I32, MemFlagsData::trusted(), funcref, offset);
        let same = b.ins().icmp(ir::condcodes::IntCC::Equal, actual, expected);
        b.ins().brif(same, equal, &[], differ, &[]);
        b.switch_to_block(equal);
        answer(b, 0);
        b.switch_to_block(mismatch);
        b.set_cold_block(mismatch);
        answer(b, 2);
        b.switch_to_block(differ);
        b.set_cold_block(differ);
        b.ins().brif(table, walk, &[], mismatch, &[]);
        b.switch_to_block(walk);
        b.set_cold_block(walk);
        let expected_entry = subtype_entry(abi, b, table, expected, mismatch);
        let flags = MemFlagsData::trusted();
        let u32_at = |b: &mut FunctionBuilder, base: Value, offset: u8| {
            b.ins().load(ir::types::I32, flags, base, i32::from(offset))
        };
        let expected_depth = u32_at(b, expected_entry, p.vm_supertypes_depth());
        let actual_entry = subtype_entry(abi, b, table, actual, mismatch);
        let index = u32_at(b, actual_entry, p.vm_supertypes_index());
        let depth = u32_at(b, actual_entry, p.vm_supertypes_depth());
        use ir::condcodes::IntCC;
        let is_actual = b.ins().icmp(IntCC::Equal, index, actual);
        let deep_enough = b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, depth, expected_depth);
        let readable = b.ins().band(is_actual, deep_enough);
        let read = b.create_block();
        b.set_cold_block(read);
        b.ins().brif(readable, read, &[], mismatch, &[]);
        b.switch_to_block(read);
        let at = scaled(abi, b, expected_depth, 4);
        let at = b.ins().iadd(actual_entry, at);
        let ancestor = u32_at(b, at, p.vm_supertypes_ancestors());
        let found = b.ins().icmp(IntCC::Equal, ancestor, expected);
        let (zero, two) = (
            b.ins().iconst(ir::types::I32, 0),
            b.ins().iconst(ir::types::I32, 2),
        );
        let verdict = b.ins().select(found, zero, two);
        b.ins().return_(&[verdict]);
    })
}

/// `index`'s `VMSupertypes` in `table`, continuing in a new (cold) block;
/// to `missing` when the table has none.
fn subtype_entry(
    abi: &Abi,
    b: &mut FunctionBuilder,
    table: Value,
    index: Value,
    missing: ir::Block,
) -> Value {
    let bits = springboard_vm_abi::VM_SUBTYPE_CHUNK_BITS;
    let slot = |b: &mut FunctionBuilder, base: Value, i: Value| {
        let offset = scaled(abi, b, i, abi.ptr_size().bytes());
        let at = b.ins().iadd(base, offset);
        let loaded = b.ins().load(abi.ptr(), MemFlagsData::trusted(), at, 0);
        let next = b.create_block();
        b.set_cold_block(next);
        b.ins().brif(loaded, next, &[], missing, &[]);
        b.switch_to_block(next);
        loaded
    };
    let high = b.ins().ushr_imm_u(index, i64::from(bits));
    let chunk = slot(b, table, high);
    let low = b.ins().band_imm_u(index, (1i64 << bits) - 1);
    slot(b, chunk, low)
}

/// The `u32` `i` times `size` bytes (a power of two), as a pointer-sized
/// offset.
fn scaled(abi: &Abi, b: &mut FunctionBuilder, i: Value, size: u8) -> Value {
    let i = if abi.ptr() == ir::types::I32 {
        i
    } else {
        b.ins().uextend(abi.ptr(), i)
    };
    b.ins().ishl_imm_u(i, i64::from(size.trailing_zeros()))
}

fn build(abi: &Abi, sig: ir::Signature, body: impl FnOnce(&mut FunctionBuilder)) -> ir::Function {
    let mut func = ir::Function::with_name_signature(UserFuncName::default(), sig);
    let mut ctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut ctx);
    body(&mut b);
    b.seal_all_blocks();
    b.finalize(abi.isa.frontend_config());
    func
}

/// Array, native or wasm in; wasm, native or array out.
fn crossing(abi: &Abi, b: &mut FunctionBuilder, kind: TrampolineKind) {
    let recv = abi.receive(b, kind.caller_conv());
    let callee = callee_address(abi, b, kind, &recv);
    let callee_vmctx = match kind.callee_source() {
        // The target's own context, from the funcref in the host context:
        // the context itself for Springboard's host functions, another
        // runtime's when the trampoline fronts a foreign entry.
        CalleeSource::HostFuncContext => {
            let p = abi.ptr_size();
            let offset = i32::from(p.vm_host_func_context_func_ref() + p.vm_func_ref_vmctx());
            let flags = MemFlagsData::trusted().with_readonly();
            b.ins().load(abi.ptr(), flags, recv.callee_vmctx, offset)
        }
        CalleeSource::Relocation | CalleeSource::Argument => recv.callee_vmctx,
    };
    call_and_return(abi, b, kind, recv, callee, callee_vmctx);
}

/// The IR of the indirect entry (see `CodeKind::IndirectEntry`): a
/// `native_to_wasm` whose callee vmctx argument is a funcref, whose
/// `wasm_call` it calls with the funcref's `vmctx` — `call_indirect` from
/// the host, under the entry's catch point.
pub(crate) fn indirect_entry(abi: &Abi) -> ir::Function {
    build(abi, abi.signature(CallConv::Native), |b| {
        let recv = abi.receive(b, CallConv::Native);
        let p = abi.ptr_size();
        let field = |b: &mut FunctionBuilder, offset: u8| {
            let flags = MemFlagsData::trusted();
            b.ins()
                .load(abi.ptr(), flags, recv.callee_vmctx, i32::from(offset))
        };
        let callee = field(b, p.vm_func_ref_wasm_call());
        let vmctx = field(b, p.vm_func_ref_vmctx());
        call_and_return(abi, b, TrampolineKind::NativeToWasm, recv, callee, vmctx);
    })
}

/// The rest of a `kind` crossing once its callee and the callee's context
/// are known: bookkeeping, the catch point of an entry, the call, the return.
fn call_and_return(
    abi: &Abi,
    b: &mut FunctionBuilder,
    kind: TrampolineKind,
    recv: Received,
    callee: Value,
    callee_vmctx: Value,
) {
    let Received {
        caller_vmctx,
        params,
        result_dest,
        ..
    } = recv;
    if let Some(bookkeeping) = abi.bookkeeping {
        if kind.callee_conv() == CallConv::Wasm {
            record_entry(abi, b, bookkeeping, callee_vmctx);
        }
        if kind.caller_conv() == CallConv::Wasm {
            record_exit(abi, b, bookkeeping, caller_vmctx);
        }
    }
    // Entries from the host into `tail`-convention wasm catch host failures
    // beneath (see `springboard_vm_abi::VMHostCaller`).
    let catches = kind.caller_conv() != CallConv::Wasm
        && kind.callee_conv() == CallConv::Wasm
        && abi.wasm_conv == WasmConv::Tail;
    let handler = catches.then(|| catch_point(abi, b, kind, caller_vmctx, result_dest));
    let results = abi.call(
        b,
        kind.callee_conv(),
        callee,
        [callee_vmctx, caller_vmctx],
        &params,
        handler,
    );
    abi.ret(b, kind.caller_conv(), result_dest, &results);
}

/// Arms the catch point of an entry: if `caller_vmctx` is an armed
/// `VMHostCaller`, stores this frame's frame pointer, stack pointer and
/// exception handler there. Returns the handler, which returns zeros (every
/// result, as a failing host function that returns does); the builder
/// continues in the block of the call, which must follow at once.
///
/// The callee is `tail`: at the handler every register counts as clobbered,
/// so resuming there needs only the stack and frame pointers, and the
/// prologue saves whatever this frame's caller expects preserved.
fn catch_point(
    abi: &Abi,
    b: &mut FunctionBuilder,
    kind: TrampolineKind,
    caller_vmctx: Value,
    result_dest: Option<Value>,
) -> ir::Block {
    use ir::condcodes::IntCC;
    let [host_caller, arm, call, handler] = [(); 4].map(|()| b.create_block());
    b.ins().brif(caller_vmctx, host_caller, &[], call, &[]);
    let p = abi.ptr_size();
    // The magic and the `catch` word (at offset 4) are the context's first
    // eight bytes: read and compared as one.
    b.switch_to_block(host_caller);
    let (magic, catch) = (
        u64::from(springboard_vm_abi::SPRINGBOARD_HOST_CALLER_MAGIC),
        u64::from(springboard_vm_abi::VMHostCaller::CATCH),
    );
    let armed_words = match abi.isa.endianness() {
        ir::Endianness::Little => magic | catch << 32,
        ir::Endianness::Big => magic << 32 | catch,
    };
    let words = b
        .ins()
        .load(ir::types::I64, MemFlagsData::trusted(), caller_vmctx, 0);
    let armed = b.ins().icmp_imm_u(IntCC::Equal, words, armed_words as i64);
    b.ins().brif(armed, arm, &[], call, &[]);
    b.switch_to_block(arm);
    let ptr = abi.ptr();
    let store = |b: &mut FunctionBuilder, value: Value, offset: u8| {
        let flags = MemFlagsData::trusted();
        b.ins().store(flags, value, caller_vmctx, i32::from(offset));
    };
    let fp = b.ins().get_frame_pointer(ptr);
    store(b, fp, p.vm_host_caller_entry_fp());
    let sp = b.ins().get_stack_pointer(ptr);
    store(b, sp, p.vm_host_caller_entry_sp());
    let pc = b.ins().get_exception_handler_address(ptr, call, 0);
    store(b, pc, p.vm_host_caller_entry_pc());
    b.ins().jump(call, &[]);
    b.switch_to_block(handler);
    b.set_cold_block(handler);
    let zeros: Vec<Value> = abi.sig.results().iter().map(|&t| abi.zero(b, t)).collect();
    abi.ret(b, kind.caller_conv(), result_dest, &zeros);
    b.switch_to_block(call);
    handler
}

/// The runtime's limits structure, from the pointer in `vmctx`.
fn limits(abi: &Abi, b: &mut FunctionBuilder, bookkeeping: Bookkeeping, vmctx: Value) -> Value {
    let offset = offset(bookkeeping.limits);
    b.ins()
        .load(abi.ptr(), MemFlagsData::trusted(), vmctx, offset)
}

/// A bookkeeping offset as Cranelift takes it (`CompilerBuilder::build`
/// refused any that does not fit).
fn offset(bytes: u32) -> i32 {
    i32::try_from(bytes).unwrap_or(i32::MAX)
}

/// Entering wasm: the stack pointer, above every wasm frame this call
/// makes, where the runtime's walker stops (Wasmtime's
/// `save_last_wasm_entry_sp`).
fn record_entry(abi: &Abi, b: &mut FunctionBuilder, bk: Bookkeeping, callee_vmctx: Value) {
    let limits = limits(abi, b, bk, callee_vmctx);
    let sp = b.ins().get_stack_pointer(abi.ptr());
    b.ins()
        .store(MemFlagsData::trusted(), sp, limits, offset(bk.entry_sp));
}

/// Leaving wasm: the wasm caller's frame pointer (the one this frame's
/// points to: frame pointers are kept) and return address, where the
/// runtime's walker starts (Wasmtime's `save_last_wasm_exit_fp_and_pc`).
fn record_exit(abi: &Abi, b: &mut FunctionBuilder, bk: Bookkeeping, caller_vmctx: Value) {
    let limits = limits(abi, b, bk, caller_vmctx);
    let own_fp = b.ins().get_frame_pointer(abi.ptr());
    let wasm_fp = b.ins().load(abi.ptr(), MemFlagsData::trusted(), own_fp, 0);
    b.ins()
        .store(MemFlagsData::trusted(), wasm_fp, limits, offset(bk.exit_fp));
    let wasm_pc = b.ins().get_return_address(abi.ptr());
    b.ins()
        .store(MemFlagsData::trusted(), wasm_pc, limits, offset(bk.exit_pc));
}

/// `VMTrampoline(callee_vmctx, caller_vmctx, body, values)`: arguments from
/// `values`, a native-convention call of `body`, results back into `values`.
fn entry(abi: &Abi, b: &mut FunctionBuilder) {
    let args = entry_block(b);
    let (vmctx, body, values) = ([args[0], args[1]], args[2], args[3]);
    let params = abi.load_slots(b, values, abi.sig.params());
    let results = abi.call(b, CallConv::Native, body, vmctx, &params, None);
    abi.ret(b, CallConv::Array, Some(values), &results);
}

fn callee_address(
    abi: &Abi,
    b: &mut FunctionBuilder,
    kind: TrampolineKind,
    recv: &Received,
) -> Value {
    match kind.callee_source() {
        CalleeSource::Relocation => {
            // A non-colocated function gives an absolute 8-byte relocation,
            // which the loader patches per copy: the template is position
            // independent of its callee.
            let signature = b.import_signature(abi.signature(kind.callee_conv()));
            let name = b
                .func
                .declare_imported_user_function(UserExternalName::new(0, 0));
            let name = ExternalName::user(name);
            let func = b.import_function(ExtFuncData {
                name,
                signature,
                colocated: false,
                patchable: false,
            });
            b.ins().func_addr(abi.ptr(), func)
        }
        CalleeSource::HostFuncContext => {
            // The callee vmctx is a `VMHostFuncContext`; its funcref holds the
            // entry of the callee's own convention.
            let p = abi.ptr_size();
            let field = match kind.callee_conv() {
                CallConv::Native => p.vm_func_ref_native_call(),
                CallConv::Array => p.vm_func_ref_array_call(),
                CallConv::Wasm => unreachable!("host functions are not wasm-convention"),
            };
            let offset = i32::from(p.vm_host_func_context_func_ref() + field);
            // Written by the host in the target's byte order, never changed.
            let flags = MemFlagsData::trusted().with_readonly();
            b.ins().load(abi.ptr(), flags, recv.callee_vmctx, offset)
        }
        CalleeSource::Argument => {
            unreachable!("only the entry trampoline takes its callee as an argument")
        }
    }
}
