//! Test helpers: wasm bodies, call logs and value comparison. Calls through
//! any entry point go through `springboard_check::Driver`.
#![allow(dead_code)]

use core::ptr::NonNull;
use springboard::vm::ValRaw;
use springboard::{Signature, ValType};
use springboard_compiler::{CallConv, Compiler};
use springboard_loader::{CodeItem, CodeMemory};
use std::sync::{Arc, Mutex};

/// A wasm body for tests: a compiled wasm-convention probe (see
/// `Compiler::compile_probe`), mapped.
pub struct WasmProbe {
    pub memory: CodeMemory,
}

impl WasmProbe {
    pub fn new(compiler: &Compiler, sig: &Signature) -> WasmProbe {
        let probe = compiler.compile_probe(CallConv::Wasm, sig).unwrap();
        WasmProbe {
            memory: CodeMemory::new(&[CodeItem::new(&probe, None)]).unwrap(),
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
            springboard_check::values::same_bits(t, g, w),
            "{what} {i} ({t}): expected {w:?}, got {g:?}"
        );
    }
}
