//! End-to-end checks of generated code: drive every trampoline kind of a
//! signature into probes and compare every bit that comes out.
//!
//! Rust cannot call a native- or wasm-convention function of a signature
//! known only at run time, so each kind is reached through code that can:
//!
//! | kind under test | driven from Rust through | callee |
//! |---|---|---|
//! | `array_to_wasm` | itself | wasm probe |
//! | `entry` | itself | native probe |
//! | `native_to_wasm` | `entry` | wasm probe |
//! | `native_to_array` | `entry` | array probe, via a `VMHostFuncContext` |
//! | `wasm_to_native` | `array_to_wasm` | native probe, via a `VMHostFuncContext` |
//! | `wasm_to_array` | `array_to_wasm` | array probe, via a `VMHostFuncContext` |
//!
//! The code may come from the compiler ([`CodeSet::compile`]) or from
//! anywhere else that yields the same bytes and relocations, such as an object
//! loaded by `springboard-loader` ([`CodeSet::from_parts`]).

use crate::{
    CallConv, CodeKind, CompiledTrampoline, Compiler, Error, Signature, TrampolineKind, ValType,
};
use core::ffi::c_void;
use core::fmt;
use core::ptr::NonNull;
use springboard_loader::{CodeItem, CodeMemory};
use springboard_vm_abi::{
    VM_NATIVE_CALL_HOST_FUNC_MAGIC, VMArrayCallFunction, VMFuncRef, VMFunctionBody,
    VMHostFuncContext, VMNativeCallFunction, VMOpaqueContext, VMSharedSignatureIndex, VMTrampoline,
    ValRaw,
};
use std::collections::HashMap;

/// Every piece of code one signature needs for a full check: the six
/// trampolines and the three probes.
#[derive(Clone, Debug)]
pub struct CodeSet {
    signature: Signature,
    code: HashMap<CodeKind, CompiledTrampoline>,
}

/// Every code kind a [`CodeSet`] holds.
pub fn all_code_kinds() -> impl Iterator<Item = CodeKind> {
    TrampolineKind::ALL
        .map(CodeKind::Trampoline)
        .into_iter()
        .chain(CallConv::ALL.map(CodeKind::Probe))
}

impl CodeSet {
    /// Compiles every kind and probe for `signature`.
    pub fn compile(compiler: &Compiler, signature: &Signature) -> Result<CodeSet, Error> {
        let code = all_code_kinds()
            .map(|kind| Ok((kind, compiler.compile_kind(kind, signature)?)))
            .collect::<Result<_, Error>>()?;
        Ok(CodeSet {
            signature: signature.clone(),
            code,
        })
    }

    /// A set from code obtained elsewhere; `None` if a kind is missing or a
    /// piece has another signature.
    pub fn from_parts(signature: &Signature, parts: Vec<CompiledTrampoline>) -> Option<CodeSet> {
        let code: HashMap<_, _> = parts
            .into_iter()
            .filter(|c| c.signature == *signature)
            .map(|c| (c.kind, c))
            .collect();
        all_code_kinds()
            .all(|k| code.contains_key(&k))
            .then(|| CodeSet {
                signature: signature.clone(),
                code,
            })
    }

    /// Every piece of code in the set.
    pub fn iter(&self) -> impl Iterator<Item = &CompiledTrampoline> {
        self.code.values()
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    fn item(&self, kind: CodeKind, callee: Option<NonNull<c_void>>) -> CodeItem<'_> {
        self.code[&kind].code_item(callee)
    }

    /// Maps the set and runs every kind once with `args`, expecting the probes
    /// to see exactly `args` and every caller to get back exactly `results`.
    pub fn run(&self, args: &[ValRaw], results: &[ValRaw]) -> Result<(), CheckFailure> {
        let sig = &self.signature;
        assert_eq!(args.len(), sig.params().len(), "one argument per parameter");
        assert_eq!(
            results.len(),
            sig.results().len(),
            "one result per result type"
        );
        let t = |k| CodeKind::Trampoline(k);
        use TrampolineKind::*;
        // Batch 1: everything that needs no callee address.
        let fixed = [
            CodeKind::Probe(CallConv::Wasm),
            CodeKind::Probe(CallConv::Native),
            CodeKind::Probe(CallConv::Array),
            t(Entry),
            t(WasmToNative),
            t(WasmToArray),
            t(NativeToArray),
        ];
        let items: Vec<_> = fixed.iter().map(|&k| self.item(k, None)).collect();
        let batch1 = CodeMemory::new(&items).map_err(CheckFailure::load)?;
        let addr = |k: CodeKind| {
            batch1
                .entry(fixed.iter().position(|&f| f == k).expect("listed"))
                .expect("in batch 1")
        };
        let (wasm_probe, native_probe, array_probe) = (
            addr(CodeKind::Probe(CallConv::Wasm)),
            addr(CodeKind::Probe(CallConv::Native)),
            addr(CodeKind::Probe(CallConv::Array)),
        );
        // Batch 2: templates stamped for each callee.
        let stamped = [
            (t(ArrayToWasm), Some(wasm_probe)),
            (t(NativeToWasm), Some(wasm_probe)),
            (t(ArrayToWasm), Some(addr(t(WasmToNative)))),
            (t(ArrayToWasm), Some(addr(t(WasmToArray)))),
        ];
        let items: Vec<_> = stamped
            .iter()
            .map(|&(k, callee)| self.item(k, callee))
            .collect();
        let batch2 = CodeMemory::new(&items).map_err(CheckFailure::load)?;
        let stamp = |i: usize| batch2.entry(i).expect("in batch 2");

        let host_ctx = HostContext::new(native_probe, array_probe);
        let entry = addr(t(Entry));
        let routes: [(TrampolineKind, Route); 6] = [
            (
                ArrayToWasm,
                Route::Array {
                    code: stamp(0),
                    vmctx: null(),
                },
            ),
            (
                Entry,
                Route::Entry {
                    entry,
                    body: native_probe,
                    vmctx: null(),
                },
            ),
            (
                NativeToWasm,
                Route::Entry {
                    entry,
                    body: stamp(1),
                    vmctx: null(),
                },
            ),
            (
                NativeToArray,
                Route::Entry {
                    entry,
                    body: addr(t(NativeToArray)),
                    vmctx: host_ctx.ptr(),
                },
            ),
            (
                WasmToNative,
                Route::Array {
                    code: stamp(2),
                    vmctx: host_ctx.ptr(),
                },
            ),
            (
                WasmToArray,
                Route::Array {
                    code: stamp(3),
                    vmctx: host_ctx.ptr(),
                },
            ),
        ];
        for (kind, route) in routes {
            self.run_one(kind, route, args, results)?;
        }
        Ok(())
    }

    fn run_one(
        &self,
        kind: TrampolineKind,
        route: Route,
        args: &[ValRaw],
        results: &[ValRaw],
    ) -> Result<(), CheckFailure> {
        let sig = &self.signature;
        let p = sig.params().len();
        // The probe's record: [callee vmctx, args..., results to return...].
        let mut record = vec![ValRaw::ZERO; crate::probe_buffer_len(sig)];
        record[1 + p..].copy_from_slice(results);
        let mut values = vec![ValRaw::ZERO; sig.array_len()];
        values[..p].copy_from_slice(args);
        let caller = record.as_mut_ptr().cast::<VMOpaqueContext>();
        // SAFETY: each route's code was compiled for `sig` with the
        // convention the route calls it with; `values` holds
        // max(params, results) slots; `record` holds what the probes write
        // and read; the host context outlives the call.
        unsafe { route.call(caller, values.as_mut_ptr(), values.len()) };
        let fail = |what: String, ty: ValType, expected: ValRaw, got: ValRaw| {
            Err(CheckFailure::Mismatch {
                kind,
                signature: sig.clone(),
                what,
                ty,
                expected,
                got,
            })
        };
        let vmctx = ValRaw::externref(route.vmctx().cast());
        if !same_bits(ValType::ExternRef, record[0], vmctx) {
            return fail("callee vmctx".into(), ValType::ExternRef, vmctx, record[0]);
        }
        for (i, (&ty, &want)) in sig.params().iter().zip(args).enumerate() {
            if !same_bits(ty, record[1 + i], want) {
                return fail(format!("parameter {i}"), ty, want, record[1 + i]);
            }
        }
        for (i, (&ty, &want)) in sig.results().iter().zip(results).enumerate() {
            if !same_bits(ty, values[i], want) {
                return fail(format!("result {i}"), ty, want, values[i]);
            }
        }
        Ok(())
    }
}

fn null() -> *mut VMOpaqueContext {
    core::ptr::null_mut()
}

/// Whether `got` carries the same value of `ty` as `want`: the value's own
/// bits, plus the zero-extension to 64 bits every written slot guarantees.
pub fn same_bits(ty: ValType, got: ValRaw, want: ValRaw) -> bool {
    match ty {
        ValType::V128 => got.get_v128() == want.get_v128(),
        ValType::I32 | ValType::F32 => got.get_u64() == u64::from(want.get_u32()),
        _ => got.get_u64() == want.get_u64(),
    }
}

/// How Rust reaches the code under test.
enum Route {
    /// A `VMArrayCallFunction`.
    Array {
        code: NonNull<c_void>,
        vmctx: *mut VMOpaqueContext,
    },
    /// The entry trampoline calling `body` with the native convention.
    Entry {
        entry: NonNull<c_void>,
        body: NonNull<c_void>,
        vmctx: *mut VMOpaqueContext,
    },
}

impl Route {
    fn vmctx(&self) -> *mut VMOpaqueContext {
        match *self {
            Route::Array { vmctx, .. } | Route::Entry { vmctx, .. } => vmctx,
        }
    }

    /// # Safety
    /// The route's code must match the signature the buffers were made for.
    unsafe fn call(&self, caller: *mut VMOpaqueContext, values: *mut ValRaw, len: usize) {
        match *self {
            Route::Array { code, vmctx } => {
                let code = code.as_ptr();
                // SAFETY: `code` is an array-convention function (the caller's
                // contract), and these are its arguments.
                unsafe {
                    let f: VMArrayCallFunction = core::mem::transmute(code);
                    f(vmctx, caller, values, len)
                }
            }
            Route::Entry { entry, body, vmctx } => {
                // SAFETY: `entry` is an entry trampoline and `body` a native-
                // convention function of the same signature.
                unsafe {
                    let f: VMTrampoline = core::mem::transmute(entry.as_ptr());
                    f(
                        vmctx,
                        caller.cast(),
                        body.as_ptr() as *const VMFunctionBody,
                        values,
                    )
                }
            }
        }
    }
}

/// A `VMHostFuncContext` whose funcref points at the native and array probes,
/// as a host function's would.
struct HostContext(Box<VMHostFuncContext<()>>);

impl HostContext {
    fn new(native: NonNull<c_void>, array: NonNull<c_void>) -> HostContext {
        let native = native.cast::<VMNativeCallFunction>();
        // SAFETY: the array probe is an array-convention function.
        let array: VMArrayCallFunction = unsafe { core::mem::transmute(array.as_ptr()) };
        let mut ctx = Box::new(VMHostFuncContext {
            magic: VM_NATIVE_CALL_HOST_FUNC_MAGIC,
            func_ref: VMFuncRef {
                native_call: native,
                array_call: array,
                wasm_call: None,
                type_index: VMSharedSignatureIndex::RESERVED,
                vmctx: null(),
            },
            host_state: (),
        });
        ctx.func_ref.vmctx = VMOpaqueContext::from_host_func_context(&raw mut *ctx);
        HostContext(ctx)
    }

    fn ptr(&self) -> *mut VMOpaqueContext {
        (&raw const *self.0).cast_mut().cast()
    }
}

/// Why a check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckFailure {
    /// A value arrived or came back with different bits.
    Mismatch {
        /// The trampoline under test.
        kind: TrampolineKind,
        /// Its signature.
        signature: Signature,
        /// Which value: `parameter N`, `result N` or `callee vmctx`.
        what: String,
        /// Its type.
        ty: ValType,
        /// What should have been there.
        expected: ValRaw,
        /// What was there.
        got: ValRaw,
    },
    /// The code could not be mapped.
    Load(String),
}

impl CheckFailure {
    fn load(e: springboard_loader::Error) -> CheckFailure {
        CheckFailure::Load(e.to_string())
    }
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckFailure::Mismatch {
                kind,
                signature,
                what,
                ty,
                expected,
                got,
            } => write!(
                f,
                "{kind} of {signature}: {what} ({ty}) expected {expected:?}, got {got:?}"
            ),
            CheckFailure::Load(e) => write!(f, "cannot map code: {e}"),
        }
    }
}

impl std::error::Error for CheckFailure {}

/// A small deterministic generator (SplitMix64) of test values, so that a
/// failing seed reproduces anywhere.
#[derive(Clone, Debug)]
pub struct ValueGen(u64);

impl ValueGen {
    /// A generator from a seed.
    pub fn new(seed: u64) -> ValueGen {
        ValueGen(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value of `ty`: half the time an edge value, otherwise random bits.
    pub fn value(&mut self, ty: ValType) -> ValRaw {
        let edges = edge_values(ty);
        let r = self.next_u64();
        if r & 1 == 0 {
            return edges[(r >> 1) as usize % edges.len()];
        }
        let wide = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        match ty {
            ValType::I32 | ValType::F32 => ValRaw::u32(wide as u32),
            ValType::I64 | ValType::F64 => ValRaw::u64(wide as u64),
            ValType::V128 => ValRaw::v128(wide),
            ValType::FuncRef | ValType::ExternRef => ValRaw::u64(wide as usize as u64),
        }
    }

    /// One value per type in `tys`.
    pub fn values(&mut self, tys: &[ValType]) -> Vec<ValRaw> {
        tys.iter().map(|&t| self.value(t)).collect()
    }
}

/// The values most likely to expose a mistake for `ty`: zero, extremes,
/// sign bits, NaN payloads, `-0.0`, asymmetric byte patterns.
pub fn edge_values(ty: ValType) -> Vec<ValRaw> {
    match ty {
        ValType::I32 => [0, 1, -1, i32::MIN, i32::MAX, 0x0102_0304]
            .map(ValRaw::i32)
            .to_vec(),
        ValType::I64 => [0, -1, i64::MIN, i64::MAX, 0x0102_0304_0506_0708]
            .map(ValRaw::i64)
            .to_vec(),
        ValType::F32 => [
            0x8000_0000,
            0x7fc0_0000,
            0x7fa0_0001,
            0xffc0_1234,
            0x7f80_0000,
            1,
            u32::MAX,
        ]
        .map(ValRaw::f32)
        .to_vec(),
        ValType::F64 => [
            0x8000_0000_0000_0000,
            0x7ff8_0000_0000_0000,
            0x7ff4_0000_0000_0001,
            0xfff8_dead_beef_0001,
            0xfff0_0000_0000_0000,
            1,
        ]
        .map(ValRaw::f64)
        .to_vec(),
        ValType::V128 => [
            0,
            u128::MAX,
            0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100,
            1 << 127,
            1,
        ]
        .map(ValRaw::v128)
        .to_vec(),
        ValType::FuncRef | ValType::ExternRef => [0, 8, usize::MAX as u64 & !7, 0x1234_5670]
            .map(ValRaw::u64)
            .to_vec(),
    }
}
