//! [`CodeSet`]: every trampoline kind of a signature driven into probes,
//! every bit compared.
//!
//! Each kind is reached from Rust through the [`Driver`]:
//!
//! | kind under test | entered via | callee |
//! |---|---|---|
//! | `array_to_wasm` | the driver's own, for `Via::Wasm` | wasm probe |
//! | `entry` | the driver's own, for `Via::Native` | native probe |
//! | `native_to_wasm` | `Via::Native` | wasm probe |
//! | `native_to_array` | `Via::Native` | array probe, via a `VMHostFuncContext` |
//! | `wasm_to_native` | `Via::Wasm` | native probe, via a `VMHostFuncContext` |
//! | `wasm_to_array` | `Via::Wasm` | array probe, via a `VMHostFuncContext` |
//!
//! The code may come from the compiler ([`CodeSet::compile`]) or from
//! anywhere else that yields the same bytes and relocations, such as an object
//! loaded by `springboard-loader` ([`CodeSet::from_parts`]).

use crate::values::{poisoned, same_bits, zero_extended};
use crate::{Driver, DriverError, Via};
use core::ffi::c_void;
use core::fmt;
use core::ptr::NonNull;
use springboard_compiler::{
    CallConv, CodeKind, CompiledTrampoline, Compiler, Signature, TrampolineKind, ValType,
};
use springboard_loader::{CodeItem, CodeMemory};
use springboard_vm_abi::{
    VM_NATIVE_CALL_HOST_FUNC_MAGIC, VMArrayCallFunction, VMFuncRef, VMHostFuncContext,
    VMNativeCallFunction, VMOpaqueContext, VMSharedSignatureIndex, ValRaw,
};
use std::collections::HashMap;

/// Every piece of code one signature needs for a full check: the six
/// trampolines and the three probes.
#[derive(Clone, Debug)]
pub struct CodeSet {
    signature: Signature,
    code: HashMap<CodeKind, CompiledTrampoline>,
}

impl CodeSet {
    /// The kinds of code a set holds: every trampoline kind and every probe
    /// (every kind but the signature check).
    pub fn kinds() -> impl Iterator<Item = CodeKind> {
        CodeKind::ALL
            .into_iter()
            .filter(|&k| k != CodeKind::SignatureCheck)
    }

    /// Compiles every kind and probe for `signature`.
    pub fn compile(
        compiler: &Compiler,
        signature: &Signature,
    ) -> Result<CodeSet, springboard_compiler::Error> {
        let code = CodeSet::kinds()
            .map(|kind| Ok((kind, compiler.compile_kind(kind, signature)?)))
            .collect::<Result<_, springboard_compiler::Error>>()?;
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
        CodeSet::kinds()
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

    fn code(&self, kind: CodeKind) -> &CompiledTrampoline {
        &self.code[&kind]
    }

    /// Maps the set and runs every kind once with `args`, expecting the probes
    /// to see exactly `args` and every caller to get back exactly `results`.
    pub fn run(&self, args: &[ValRaw], results: &[ValRaw]) -> Result<(), CheckFailure> {
        let sig = &self.signature;
        if args.len() != sig.params().len() || results.len() != sig.results().len() {
            return Err(CheckFailure::Arity {
                signature: sig.clone(),
                args: args.len(),
                results: results.len(),
            });
        }
        let t = CodeKind::Trampoline;
        use TrampolineKind::*;
        let driver = Driver::from_code(self.code(t(Entry)), self.code(t(ArrayToWasm)).clone())
            .map_err(CheckFailure::driver)?;
        // Everything that needs no callee address, in one mapping.
        let fixed = [
            CodeKind::Probe(CallConv::Wasm),
            CodeKind::Probe(CallConv::Native),
            CodeKind::Probe(CallConv::Array),
            t(WasmToNative),
            t(WasmToArray),
            t(NativeToArray),
        ];
        let items: Vec<_> = fixed
            .iter()
            .map(|&k| CodeItem::new(self.code(k), None))
            .collect();
        let fixed_memory = CodeMemory::new(&items).map_err(CheckFailure::load)?;
        let addr = |k: CodeKind| {
            let index = fixed.iter().position(|&f| f == k).expect("listed");
            fixed_memory.entry(index).expect("mapped")
        };
        let wasm_probe = addr(CodeKind::Probe(CallConv::Wasm));
        // The one template the driver does not stamp itself.
        let native_to_wasm =
            CodeMemory::new(&[CodeItem::new(self.code(t(NativeToWasm)), Some(wasm_probe))])
                .map_err(CheckFailure::load)?;
        let host_ctx = HostContext::new(
            addr(CodeKind::Probe(CallConv::Native)),
            addr(CodeKind::Probe(CallConv::Array)),
        );
        let null = core::ptr::null_mut();
        let (ctx, target) = (host_ctx.ptr(), host_ctx.target());
        // What each kind is entered with (code, callee vmctx), and the callee
        // vmctx its callee must see: the host kinds forward the target's
        // own context from the host context's funcref, never the host
        // context itself.
        type Route = (
            TrampolineKind,
            Via,
            NonNull<c_void>,
            [*mut VMOpaqueContext; 2],
        );
        let routes: [Route; 6] = [
            (ArrayToWasm, Via::Wasm, wasm_probe, [null, null]),
            (
                Entry,
                Via::Native,
                addr(CodeKind::Probe(CallConv::Native)),
                [null, null],
            ),
            (
                NativeToWasm,
                Via::Native,
                native_to_wasm.entry(0).expect("mapped"),
                [null, null],
            ),
            (
                NativeToArray,
                Via::Native,
                addr(t(NativeToArray)),
                [ctx, target],
            ),
            (
                WasmToNative,
                Via::Wasm,
                addr(t(WasmToNative)),
                [ctx, target],
            ),
            (WasmToArray, Via::Wasm, addr(t(WasmToArray)), [ctx, target]),
        ];
        for (kind, via, code, vmctx) in routes {
            self.run_one(&driver, kind, via, code, vmctx, args, results)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn run_one(
        &self,
        driver: &Driver,
        kind: TrampolineKind,
        via: Via,
        code: NonNull<c_void>,
        [vmctx, callee_sees]: [*mut VMOpaqueContext; 2],
        args: &[ValRaw],
        results: &[ValRaw],
    ) -> Result<(), CheckFailure> {
        let sig = &self.signature;
        let p = sig.params().len();
        // The probe's record: [callee vmctx, args..., results to return...].
        // Every byte a reader must not look at is poisoned, in what the
        // code under test reads (the arguments, the results the probes hand
        // back) and in every slot it may write.
        const POISON: u8 = 0xa5;
        let poison = |tys: &[ValType], vals: &[ValRaw]| -> Vec<ValRaw> {
            tys.iter()
                .zip(vals)
                .map(|(&t, &v)| poisoned(t, v, POISON))
                .collect()
        };
        let fill = ValRaw::from_le_bytes([POISON; 16]);
        let mut record = vec![fill; springboard_compiler::probe_buffer_len(sig)];
        record[1 + p..].copy_from_slice(&poison(sig.results(), results));
        let mut values = vec![fill; sig.array_len()];
        values[..p].copy_from_slice(&poison(sig.params(), args));
        let caller = record.as_mut_ptr().cast::<VMOpaqueContext>();
        // SAFETY: each route's code was compiled for `sig` with the
        // convention it is entered with; `values` holds max(params, results)
        // slots; `record` holds what the probes write and read; the host
        // context outlives the call.
        unsafe { driver.call(via, code, vmctx, caller, &mut values) }
            .map_err(CheckFailure::driver)?;
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
        let want = ValRaw::externref(callee_sees.cast());
        if !same_bits(ValType::ExternRef, record[0], want) {
            return fail("callee vmctx".into(), ValType::ExternRef, want, record[0]);
        }
        // Both were written by generated code, which zero-extends.
        for (i, (&ty, &want)) in sig.params().iter().zip(args).enumerate() {
            let got = record[1 + i];
            if !same_bits(ty, got, want) || !zero_extended(ty, got) {
                return fail(format!("parameter {i}"), ty, want, got);
            }
        }
        for (i, (&ty, &want)) in sig.results().iter().zip(results).enumerate() {
            let got = values[i];
            if !same_bits(ty, got, want) || !zero_extended(ty, got) {
                return fail(format!("result {i}"), ty, want, got);
            }
        }
        Ok(())
    }
}

/// A `VMHostFuncContext` whose funcref points at the native and array
/// probes, with a context of their own: as a host function that fronts
/// another runtime's entry would. (Springboard's own host functions are the
/// case where that context is the host context itself.)
struct HostContext {
    ctx: Box<VMHostFuncContext<()>>,
    target: Box<ValRaw>,
}

impl HostContext {
    fn new(native: NonNull<c_void>, array: NonNull<c_void>) -> HostContext {
        let native = native.cast::<VMNativeCallFunction>();
        // SAFETY: the array probe is an array-convention function.
        let array: VMArrayCallFunction = unsafe { core::mem::transmute(array.as_ptr()) };
        let mut target = Box::new(ValRaw::ZERO);
        let ctx = Box::new(VMHostFuncContext {
            magic: VM_NATIVE_CALL_HOST_FUNC_MAGIC,
            func_ref: VMFuncRef {
                native_call: native,
                array_call: array,
                wasm_call: None,
                type_index: VMSharedSignatureIndex::RESERVED,
                vmctx: (&raw mut *target).cast(),
            },
            host_state: (),
        });
        HostContext { ctx, target }
    }

    fn ptr(&self) -> *mut VMOpaqueContext {
        (&raw const *self.ctx).cast_mut().cast()
    }

    /// The probes' own context.
    fn target(&self) -> *mut VMOpaqueContext {
        (&raw const *self.target).cast_mut().cast()
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
    /// Arguments or results that do not fit the signature.
    Arity {
        /// The set's signature.
        signature: Signature,
        /// How many arguments were given.
        args: usize,
        /// How many results were given.
        results: usize,
    },
}

impl CheckFailure {
    fn load(e: springboard_loader::Error) -> CheckFailure {
        CheckFailure::Load(e.to_string())
    }

    fn driver(e: DriverError) -> CheckFailure {
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
            CheckFailure::Arity {
                signature,
                args,
                results,
            } => write!(
                f,
                "{signature} takes {} arguments and {} results, got {args} and {results}",
                signature.params().len(),
                signature.results().len()
            ),
        }
    }
}

impl std::error::Error for CheckFailure {}
