//! Test helpers: reach every entry point of a funcref from Rust, whatever
//! its signature, through generated code.
#![allow(dead_code)]

use core::ffi::c_void;
use core::ptr::NonNull;
use springboard::vm::{VMFuncRef, VMFunctionBody, VMOpaqueContext, VMTrampoline, ValRaw};
use springboard::{Signature, ValType};
use springboard_compiler::{CallConv, CompiledTrampoline, Compiler, TrampolineKind};
use springboard_loader::CodeMemory;
use std::sync::{Arc, Mutex};

/// Which funcref field a call goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Array,
    Native,
    Wasm,
}

pub const ALL_VIA: [Via; 3] = [Via::Array, Via::Native, Via::Wasm];

/// Calls funcrefs of one signature through each of their entry points.
pub struct Driver {
    sig: Signature,
    entry_memory: CodeMemory,
    array_to_wasm: CompiledTrampoline,
}

impl Driver {
    pub fn new(compiler: &Compiler, sig: &Signature) -> Driver {
        let entry = compiler.compile(TrampolineKind::Entry, sig).unwrap();
        Driver {
            sig: sig.clone(),
            entry_memory: CodeMemory::new(&[entry.code_item(None)]).unwrap(),
            array_to_wasm: compiler.compile(TrampolineKind::ArrayToWasm, sig).unwrap(),
        }
    }

    /// Calls `f` through `via` with `args`; `caller` is passed as the caller
    /// vmctx. Returns the results.
    ///
    /// # Safety
    /// `f` must be a live funcref of the driver's signature.
    pub unsafe fn call(
        &self,
        via: Via,
        f: &VMFuncRef,
        caller: *mut VMOpaqueContext,
        args: &[ValRaw],
    ) -> Vec<ValRaw> {
        let mut values = vec![ValRaw::ZERO; self.sig.array_len()];
        values[..args.len()].copy_from_slice(args);
        let len = values.len();
        unsafe {
            match via {
                Via::Array => (f.array_call)(f.vmctx, caller, values.as_mut_ptr(), len),
                Via::Native => {
                    let entry: VMTrampoline =
                        core::mem::transmute(self.entry_memory.entry(0).unwrap().as_ptr());
                    entry(
                        f.vmctx,
                        caller.cast(),
                        f.native_call.as_ptr() as *const VMFunctionBody,
                        values.as_mut_ptr(),
                    );
                }
                Via::Wasm => {
                    let callee = f.wasm_call.expect("a wasm entry").cast::<c_void>();
                    let stamp =
                        CodeMemory::new(&[self.array_to_wasm.code_item(Some(callee))]).unwrap();
                    let call: springboard::vm::VMArrayCallFunction =
                        core::mem::transmute(stamp.entry(0).unwrap().as_ptr());
                    call(f.vmctx, caller, values.as_mut_ptr(), len);
                }
            }
        }
        values.truncate(self.sig.results().len());
        values
    }
}

/// A wasm body for tests: a compiled wasm-convention probe (see
/// `Compiler::compile_probe`), mapped.
pub struct WasmProbe {
    pub memory: CodeMemory,
}

impl WasmProbe {
    pub fn new(compiler: &Compiler, sig: &Signature) -> WasmProbe {
        let probe = compiler.compile_probe(CallConv::Wasm, sig).unwrap();
        WasmProbe {
            memory: CodeMemory::new(&[probe.code_item(None)]).unwrap(),
        }
    }

    pub fn body(&self) -> NonNull<springboard::vm::VMWasmCallFunction> {
        self.memory.entry(0).unwrap().cast()
    }
}

/// What host closures received, call by call.
#[derive(Clone, Default)]
pub struct Log(pub Arc<Mutex<Vec<Vec<ValRaw>>>>);

impl Log {
    pub fn push(&self, args: Vec<ValRaw>) {
        self.0.lock().unwrap().push(args);
    }

    pub fn take(&self) -> Vec<Vec<ValRaw>> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Asserts `got` carries exactly the values `want` of `tys`.
pub fn assert_same(what: &str, tys: &[ValType], got: &[ValRaw], want: &[ValRaw]) {
    assert_eq!(got.len(), want.len(), "{what}: count");
    for (i, ((&t, &g), &w)) in tys.iter().zip(got).zip(want).enumerate() {
        assert!(
            springboard_compiler::check::same_bits(t, g, w),
            "{what} {i} ({t}): expected {w:?}, got {g:?}"
        );
    }
}
