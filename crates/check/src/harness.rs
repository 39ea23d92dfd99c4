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
use std::sync::Arc;

/// Every piece of code one signature needs for a full check: the six
/// trampolines and the three probes.
#[derive(Clone, Debug)]
pub struct CodeSet {
    signature: Signature,
    code: HashMap<CodeKind, CompiledTrampoline>,
}

impl CodeSet {
    /// The kinds of code a set holds: every trampoline kind and every probe
    /// (every kind but the signature check and the indirect entry, which
    /// the facade's tests run).
    pub fn kinds() -> impl Iterator<Item = CodeKind> {
        CodeKind::ALL
            .into_iter()
            .filter(|&k| !matches!(k, CodeKind::SignatureCheck | CodeKind::IndirectEntry))
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
        self.map()?.run(args, results)
    }

    /// Maps the set, to [`run`](MappedSet::run) it many times.
    pub fn map(&self) -> Result<MappedSet<'_>, CheckFailure> {
        Ok(CodeSet::map_all(&[self])?.pop().expect("one set"))
    }

    /// Maps many sets at once, in two mappings in all: mapping and
    /// unmapping is what checking many small signatures spends most on.
    pub fn map_all<'a>(sets: &[&'a CodeSet]) -> Result<Vec<MappedSet<'a>>, CheckFailure> {
        let fixed = Fixed::map(sets)?;
        let stamps = Stamps::map(sets, &fixed)?;
        Ok(sets
            .iter()
            .enumerate()
            .map(|(i, set)| MappedSet::new(set, &fixed.of(i), &stamps.of(i)))
            .collect())
    }
}

/// Everything of some sets that needs no callee address, in one mapping:
/// the `entry`, host-side trampolines and probes of each set in turn.
struct Fixed(Arc<CodeMemory>);

/// The kinds [`Fixed`] maps, in the order it maps them per set.
const FIXED: [CodeKind; 7] = [
    CodeKind::Trampoline(TrampolineKind::Entry),
    CodeKind::Probe(CallConv::Wasm),
    CodeKind::Probe(CallConv::Native),
    CodeKind::Probe(CallConv::Array),
    CodeKind::Trampoline(TrampolineKind::WasmToNative),
    CodeKind::Trampoline(TrampolineKind::WasmToArray),
    CodeKind::Trampoline(TrampolineKind::NativeToArray),
];

/// The wasm-convention callees a set's `array_to_wasm` is stamped for, in
/// the order [`Stamps`] maps them (after the set's `native_to_wasm`).
const WASM_CALLEES: [CodeKind; 3] = [
    CodeKind::Probe(CallConv::Wasm),
    CodeKind::Trampoline(TrampolineKind::WasmToNative),
    CodeKind::Trampoline(TrampolineKind::WasmToArray),
];

/// One set's part of [`Fixed`].
struct FixedOf<'m> {
    memory: &'m Arc<CodeMemory>,
    first: usize,
}

impl Fixed {
    fn map(sets: &[&CodeSet]) -> Result<Fixed, CheckFailure> {
        let items: Vec<_> = sets
            .iter()
            .flat_map(|set| FIXED.iter().map(|&k| CodeItem::new(set.code(k), None)))
            .collect();
        Ok(Fixed(Arc::new(
            CodeMemory::new(&items).map_err(CheckFailure::Load)?,
        )))
    }

    fn of(&self, set: usize) -> FixedOf<'_> {
        FixedOf {
            memory: &self.0,
            first: set * FIXED.len(),
        }
    }
}

impl FixedOf<'_> {
    /// Where `kind` (one of [`FIXED`]) of this set is mapped.
    fn address(&self, kind: CodeKind) -> NonNull<c_void> {
        let at = FIXED.iter().position(|&f| f == kind).expect("listed");
        self.memory.entry(self.first + at).expect("mapped")
    }
}

/// The templates of some sets stamped for their callees, in one mapping:
/// per set, `native_to_wasm` for the wasm probe, then `array_to_wasm` for
/// each of [`WASM_CALLEES`].
struct Stamps(Arc<CodeMemory>);

/// One set's part of [`Stamps`].
struct StampsOf<'m> {
    memory: &'m Arc<CodeMemory>,
    first: usize,
}

impl Stamps {
    const PER_SET: usize = 1 + WASM_CALLEES.len();

    fn map(sets: &[&CodeSet], fixed: &Fixed) -> Result<Stamps, CheckFailure> {
        let t = CodeKind::Trampoline;
        let items: Vec<_> = sets
            .iter()
            .enumerate()
            .flat_map(|(i, set)| {
                let fixed = fixed.of(i);
                let native_to_wasm = CodeItem::new(
                    set.code(t(TrampolineKind::NativeToWasm)),
                    Some(fixed.address(WASM_CALLEES[0])),
                );
                let array_to_wasm = WASM_CALLEES.map(|k| {
                    CodeItem::new(
                        set.code(t(TrampolineKind::ArrayToWasm)),
                        Some(fixed.address(k)),
                    )
                });
                [native_to_wasm].into_iter().chain(array_to_wasm)
            })
            .collect();
        Ok(Stamps(Arc::new(
            CodeMemory::new(&items).map_err(CheckFailure::Load)?,
        )))
    }

    fn of(&self, set: usize) -> StampsOf<'_> {
        StampsOf {
            memory: &self.0,
            first: set * Stamps::PER_SET,
        }
    }
}

impl StampsOf<'_> {
    /// `native_to_wasm`, stamped for the wasm probe.
    fn native_to_wasm(&self) -> NonNull<c_void> {
        self.memory.entry(self.first).expect("mapped")
    }

    /// `array_to_wasm`, stamped for `WASM_CALLEES[n]`.
    fn array_to_wasm(&self, n: usize) -> NonNull<c_void> {
        self.memory.entry(self.first + 1 + n).expect("mapped")
    }
}

impl<'a> MappedSet<'a> {
    /// `set`'s routes into its mapped code, and a driver that enters them.
    fn new(set: &'a CodeSet, fixed: &FixedOf<'_>, stamps: &StampsOf<'_>) -> MappedSet<'a> {
        use TrampolineKind::*;
        let t = CodeKind::Trampoline;
        // The driver enters wasm-convention callees through their stamps.
        let stamped_callees = WASM_CALLEES
            .iter()
            .enumerate()
            .map(|(n, &k)| {
                let stamp = stamps.array_to_wasm(n);
                (fixed.address(k).as_ptr() as usize, stamp.as_ptr() as usize)
            })
            .collect();
        let driver = Driver::premapped(
            set.code(t(ArrayToWasm)).clone(),
            fixed.address(t(Entry)),
            stamped_callees,
            vec![Arc::clone(fixed.memory), Arc::clone(stamps.memory)],
        );
        let native_probe = fixed.address(CodeKind::Probe(CallConv::Native));
        let host_ctx = HostContext::new(
            native_probe,
            fixed.address(CodeKind::Probe(CallConv::Array)),
        );
        let null = core::ptr::null_mut();
        let host = [host_ctx.ptr(), host_ctx.target()];
        let routes: [Route; 6] = [
            (
                ArrayToWasm,
                Via::Wasm,
                fixed.address(WASM_CALLEES[0]),
                [null, null],
            ),
            (Entry, Via::Native, native_probe, [null, null]),
            (
                NativeToWasm,
                Via::Native,
                stamps.native_to_wasm(),
                [null, null],
            ),
            (
                NativeToArray,
                Via::Native,
                fixed.address(t(NativeToArray)),
                host,
            ),
            (
                WasmToNative,
                Via::Wasm,
                fixed.address(t(WasmToNative)),
                host,
            ),
            (WasmToArray, Via::Wasm, fixed.address(t(WasmToArray)), host),
        ];
        MappedSet {
            signature: &set.signature,
            driver,
            routes,
            _host_ctx: host_ctx,
        }
    }
}

/// What each kind is entered with (code, callee vmctx), and the callee
/// vmctx its callee must see: the host kinds forward the target's own
/// context from the host context's funcref, never the host context itself.
type Route = (
    TrampolineKind,
    Via,
    NonNull<c_void>,
    [*mut VMOpaqueContext; 2],
);

/// A [`CodeSet`] mapped once and run as often as wanted.
pub struct MappedSet<'a> {
    signature: &'a Signature,
    driver: Driver,
    /// Into memory the driver keeps mapped.
    routes: [Route; 6],
    _host_ctx: HostContext,
}

impl MappedSet<'_> {
    /// Runs every kind once with `args`, expecting the probes to see exactly
    /// `args` and every caller to get back exactly `results`.
    pub fn run(&self, args: &[ValRaw], results: &[ValRaw]) -> Result<(), CheckFailure> {
        let sig = self.signature;
        if args.len() != sig.params().len() || results.len() != sig.results().len() {
            return Err(CheckFailure::Arity {
                signature: sig.clone(),
                args: args.len(),
                results: results.len(),
            });
        }
        for (kind, via, code, vmctx) in self.routes {
            self.run_one(kind, via, code, vmctx, args, results)?;
        }
        Ok(())
    }

    fn run_one(
        &self,
        kind: TrampolineKind,
        via: Via,
        code: NonNull<c_void>,
        [vmctx, callee_sees]: [*mut VMOpaqueContext; 2],
        args: &[ValRaw],
        results: &[ValRaw],
    ) -> Result<(), CheckFailure> {
        let sig = self.signature;
        let driver = &self.driver;
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
            .map_err(CheckFailure::Call)?;
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
        if !same_bits(ValType::EXTERNREF, record[0], want) {
            return fail("callee vmctx".into(), ValType::EXTERNREF, want, record[0]);
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
#[derive(Debug)]
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
    Load(springboard_loader::Error),
    /// The driver could not make a call (it could not map what it needs).
    Call(DriverError),
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
            CheckFailure::Call(e) => write!(f, "cannot make the call: {e}"),
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
