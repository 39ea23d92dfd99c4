//! Shared set-up of the benchmarks: every trampoline kind of a signature,
//! mapped once, with probes as callees, so each kind can be timed alone.

pub mod callees;

use core::ffi::c_void;
use core::ptr::NonNull;
use springboard_compiler::{CallConv, Compiler, Signature, TrampolineKind};
use springboard_loader::{CodeItem, CodeMemory};
use springboard_vm_abi::{
    VM_NATIVE_CALL_HOST_FUNC_MAGIC, VMArrayCallFunction, VMFuncRef, VMHostFuncContext,
    VMNativeCallFunction, VMOpaqueContext, VMSharedSignatureIndex, ValRaw,
};

/// Zeroes the vector registers the callees convert integers into:
/// `cvtsi2sd` writes only the low half of its destination, so without this
/// each call waits for the last value left in that register — often the
/// previous call's result, which chains the iterations into one dependency
/// (the direct call of six mixed parameters measured 7.6 ns with it, 4.0
/// without). Zero idioms cost nothing.
#[inline(always)]
pub fn break_false_dependencies() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: only zeroes registers it declares clobbered.
    unsafe {
        core::arch::asm!(
            "xorps xmm0, xmm0",
            "xorps xmm1, xmm1",
            "xorps xmm2, xmm2",
            "xorps xmm3, xmm3",
            "xorps xmm4, xmm4",
            "xorps xmm5, xmm5",
            out("xmm0") _, out("xmm1") _, out("xmm2") _,
            out("xmm3") _, out("xmm4") _, out("xmm5") _,
            options(nomem, nostack, preserves_flags),
        )
    };
}

/// Every kind of one signature, mapped, each wired to a probe of the
/// convention it calls.
pub struct Kinds {
    _probes: CodeMemory,
    _stamped: CodeMemory,
    _fixed: CodeMemory,
    /// `array_to_wasm` stamped for the wasm probe.
    pub array_to_wasm: VMArrayCallFunction,
    /// `native_to_wasm` stamped for the wasm probe (native convention).
    pub native_to_wasm: NonNull<VMNativeCallFunction>,
    /// `native_to_array` (native convention; callee vmctx = `host_ctx`).
    pub native_to_array: NonNull<VMNativeCallFunction>,
    /// `entry`, with the native probe as its body.
    pub entry: springboard_vm_abi::VMTrampoline,
    /// The native probe.
    pub native_probe: NonNull<c_void>,
    /// `array_to_wasm` stamped for `wasm_to_native`: the chain
    /// array → wasm → native probe (callee vmctx = `host_ctx`).
    pub via_wasm_to_native: VMArrayCallFunction,
    /// `array_to_wasm` stamped for `wasm_to_array`: the chain
    /// array → wasm → array probe (callee vmctx = `host_ctx`).
    pub via_wasm_to_array: VMArrayCallFunction,
    /// A host context whose funcref points at the native and array probes.
    pub host_ctx: Box<VMHostFuncContext<()>>,
    /// The probes' record buffer: pass it as the caller vmctx.
    pub record: Vec<ValRaw>,
}

impl Kinds {
    /// Compiles and maps everything for `sig`.
    pub fn new(compiler: &Compiler, sig: &Signature) -> Kinds {
        let c = |k| compiler.compile(k, sig).unwrap();
        let p = |conv| compiler.compile_probe(conv, sig).unwrap();
        let (wasm, native, array) = (p(CallConv::Wasm), p(CallConv::Native), p(CallConv::Array));
        let probes = CodeMemory::new(&[
            CodeItem::new(&wasm, None),
            CodeItem::new(&native, None),
            CodeItem::new(&array, None),
        ])
        .unwrap();
        let (wasm_probe, native_probe, array_probe) = (
            probes.entry(0).unwrap(),
            probes.entry(1).unwrap(),
            probes.entry(2).unwrap(),
        );
        let (w2n, w2a, n2a, entry) = (
            c(TrampolineKind::WasmToNative),
            c(TrampolineKind::WasmToArray),
            c(TrampolineKind::NativeToArray),
            c(TrampolineKind::Entry),
        );
        let fixed = CodeMemory::new(&[
            CodeItem::new(&w2n, None),
            CodeItem::new(&w2a, None),
            CodeItem::new(&n2a, None),
            CodeItem::new(&entry, None),
        ])
        .unwrap();
        let (a2w, n2w) = (
            c(TrampolineKind::ArrayToWasm),
            c(TrampolineKind::NativeToWasm),
        );
        let stamped = CodeMemory::new(&[
            CodeItem::new(&a2w, Some(wasm_probe)),
            CodeItem::new(&n2w, Some(wasm_probe)),
            CodeItem::new(&a2w, Some(fixed.entry(0).unwrap())),
            CodeItem::new(&a2w, Some(fixed.entry(1).unwrap())),
        ])
        .unwrap();
        // SAFETY (all transmutes below): each address is code of exactly the
        // function-pointer type it becomes.
        let array_fn = |p: NonNull<c_void>| unsafe {
            core::mem::transmute::<*mut c_void, VMArrayCallFunction>(p.as_ptr())
        };
        let mut host_ctx = Box::new(VMHostFuncContext {
            magic: VM_NATIVE_CALL_HOST_FUNC_MAGIC,
            func_ref: VMFuncRef {
                native_call: native_probe.cast(),
                array_call: array_fn(array_probe),
                wasm_call: None,
                type_index: VMSharedSignatureIndex::RESERVED,
                vmctx: core::ptr::null_mut(),
            },
            host_state: (),
        });
        host_ctx.func_ref.vmctx = VMOpaqueContext::from_host_func_context(&raw mut *host_ctx);
        let mut record = vec![ValRaw::ZERO; 1 + sig.params().len() + sig.results().len()];
        for r in &mut record[1 + sig.params().len()..] {
            *r = ValRaw::i64(7);
        }
        Kinds {
            array_to_wasm: array_fn(stamped.entry(0).unwrap()),
            native_to_wasm: stamped.entry(1).unwrap().cast(),
            native_to_array: fixed.entry(2).unwrap().cast(),
            // SAFETY: as above.
            entry: unsafe {
                core::mem::transmute::<*mut c_void, springboard_vm_abi::VMTrampoline>(
                    fixed.entry(3).unwrap().as_ptr(),
                )
            },
            native_probe,
            via_wasm_to_native: array_fn(stamped.entry(2).unwrap()),
            via_wasm_to_array: array_fn(stamped.entry(3).unwrap()),
            host_ctx,
            record,
            _probes: probes,
            _stamped: stamped,
            _fixed: fixed,
        }
    }

    /// The host context as a callee vmctx.
    pub fn host_vmctx(&self) -> *mut VMOpaqueContext {
        (&raw const *self.host_ctx).cast_mut().cast()
    }

    /// The record buffer as a caller vmctx.
    pub fn caller(&mut self) -> *mut VMOpaqueContext {
        self.record.as_mut_ptr().cast()
    }
}
