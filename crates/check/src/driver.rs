//! [`Driver`]: the one way Rust calls code whose signature is known only at
//! run time.
//!
//! Rust can call an array-convention function directly. It cannot call a
//! native- or wasm-convention one of an arbitrary signature, so the driver
//! goes through generated code that can: the signature's legacy `entry`
//! trampoline for the native convention, and its `array_to_wasm` trampoline,
//! stamped for the callee, for the wasm convention.

use core::ffi::c_void;
use core::ptr::NonNull;
use springboard_compiler::{CompiledTrampoline, Compiler, Signature, TrampolineKind};
use springboard_loader::{CodeItem, CodeMemory};
use springboard_vm_abi::{
    VMArrayCallFunction, VMFuncRef, VMFunctionBody, VMOpaqueContext, VMTrampoline, ValRaw,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The convention a call enters its callee with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Via {
    /// `VMArrayCallFunction`: called directly.
    Array,
    /// The native convention: through the `entry` trampoline.
    Native,
    /// The wasm convention: through `array_to_wasm`, stamped per call.
    Wasm,
}

impl Via {
    /// Every convention.
    pub const ALL: [Via; 3] = [Via::Array, Via::Native, Via::Wasm];
}

/// Calls code of one signature with any convention.
pub struct Driver {
    signature: Signature,
    /// The mapped `entry` trampoline's address.
    entry: usize,
    array_to_wasm: CompiledTrampoline,
    stamps: Mutex<Stamps>,
}

/// `array_to_wasm` stamped for each wasm callee, and the memory the stamps
/// and `entry` live in.
struct Stamps {
    /// Callee address to stamp address.
    by_callee: HashMap<usize, usize>,
    memory: Vec<Arc<CodeMemory>>,
}

/// Why a driver could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// Compiling its trampolines failed.
    #[error(transparent)]
    Compile(#[from] springboard_compiler::Error),
    /// Mapping them failed.
    #[error(transparent)]
    Load(#[from] springboard_loader::Error),
    /// The code given is not the signature's `entry` and `array_to_wasm`.
    #[error("a driver needs the entry and array_to_wasm trampolines of {0}")]
    WrongCode(Signature),
    /// A values buffer smaller than the signature needs.
    #[error("{signature} needs {needed} value slots, the buffer has {got}")]
    BufferTooSmall {
        /// The driver's signature.
        signature: Signature,
        /// `max(params, results)`.
        needed: usize,
        /// The buffer's length.
        got: usize,
    },
}

impl Driver {
    /// A driver whose trampolines `compiler` compiles.
    pub fn new(compiler: &Compiler, signature: &Signature) -> Result<Driver, DriverError> {
        let entry = compiler.compile(TrampolineKind::Entry, signature)?;
        let array_to_wasm = compiler.compile(TrampolineKind::ArrayToWasm, signature)?;
        Driver::from_code(&entry, array_to_wasm)
    }

    /// A driver from the signature's `entry` and `array_to_wasm` code, from
    /// wherever it came (an object, say).
    pub fn from_code(
        entry: &CompiledTrampoline,
        array_to_wasm: CompiledTrampoline,
    ) -> Result<Driver, DriverError> {
        use springboard_compiler::CodeKind::Trampoline;
        let signature = entry.signature.clone();
        if entry.kind != Trampoline(TrampolineKind::Entry)
            || array_to_wasm.kind != Trampoline(TrampolineKind::ArrayToWasm)
            || array_to_wasm.signature != signature
        {
            return Err(DriverError::WrongCode(signature));
        }
        let memory = CodeMemory::new(&[CodeItem::new(entry, None)])?;
        let entry = memory.entry(0).expect("one item");
        Ok(Driver::premapped(
            array_to_wasm,
            entry,
            HashMap::new(),
            vec![Arc::new(memory)],
        ))
    }

    /// A driver whose `entry` is mapped at `entry` and whose `array_to_wasm`
    /// is already stamped at `stamps[callee]` for some callees, all inside
    /// `memory`.
    pub(crate) fn premapped(
        array_to_wasm: CompiledTrampoline,
        entry: NonNull<c_void>,
        stamps: HashMap<usize, usize>,
        memory: Vec<Arc<CodeMemory>>,
    ) -> Driver {
        Driver {
            signature: array_to_wasm.signature.clone(),
            entry: entry.as_ptr() as usize,
            array_to_wasm,
            stamps: Mutex::new(Stamps {
                by_callee: stamps,
                memory,
            }),
        }
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Calls `code`, entered `via` its convention with `callee` as its callee
    /// vmctx and `caller` as its caller vmctx, on `values`: the arguments in,
    /// the results out, as the array convention lays them out.
    ///
    /// # Safety
    /// `code` must be a function of the driver's signature with the
    /// convention `via`, which accepts these contexts; `values` must hold at
    /// least `max(params, results)` slots.
    pub unsafe fn call(
        &self,
        via: Via,
        code: NonNull<c_void>,
        callee: *mut VMOpaqueContext,
        caller: *mut VMOpaqueContext,
        values: &mut [ValRaw],
    ) -> Result<(), DriverError> {
        let needed = self.signature.array_len();
        if values.len() < needed {
            return Err(DriverError::BufferTooSmall {
                signature: self.signature.clone(),
                needed,
                got: values.len(),
            });
        }
        let (ptr, len) = (values.as_mut_ptr(), values.len());
        // SAFETY: each arm calls code of the convention it assumes, which the
        // caller guarantees, with a buffer large enough for the signature.
        unsafe {
            match via {
                Via::Array => {
                    let f: VMArrayCallFunction = core::mem::transmute(code.as_ptr());
                    f(callee, caller, ptr, len);
                }
                Via::Native => {
                    let f: VMTrampoline = core::mem::transmute(self.entry_address().as_ptr());
                    f(
                        callee,
                        caller.cast(),
                        code.as_ptr() as *const VMFunctionBody,
                        ptr,
                    );
                }
                Via::Wasm => {
                    let f: VMArrayCallFunction =
                        core::mem::transmute(self.stamp_for(code)?.as_ptr());
                    f(callee, caller, ptr, len);
                }
            }
        }
        Ok(())
    }

    /// Calls `func` through its `via` entry with `args` and `caller` as the
    /// caller vmctx; returns its results.
    ///
    /// # Safety
    /// `func` must be a live funcref of the driver's signature; for
    /// [`Via::Wasm`] it must have a `wasm_call`.
    pub unsafe fn call_funcref(
        &self,
        via: Via,
        func: &VMFuncRef,
        caller: *mut VMOpaqueContext,
        args: &[ValRaw],
    ) -> Result<Vec<ValRaw>, DriverError> {
        let code: NonNull<c_void> = match via {
            Via::Array => NonNull::new(func.array_call as *mut c_void).expect("not null"),
            Via::Native => func.native_call.cast(),
            Via::Wasm => func.wasm_call.expect("a wasm entry").cast(),
        };
        let mut values = vec![ValRaw::ZERO; self.signature.array_len().max(args.len())];
        values[..args.len()].copy_from_slice(args);
        // SAFETY: forwarded to the caller: `code` is the funcref's entry of
        // that convention, which takes its own vmctx as callee.
        unsafe { self.call(via, code, func.vmctx, caller, &mut values)? };
        values.truncate(self.signature.results().len());
        Ok(values)
    }

    /// `array_to_wasm` stamped to call `callee`, mapped on first use. (A
    /// stamp is kept for the driver's life: the addresses a driver calls
    /// are few, and a mapping per call made checks syscall-bound.)
    fn stamp_for(&self, callee: NonNull<c_void>) -> Result<NonNull<c_void>, DriverError> {
        let mut stamps = self.stamps.lock().unwrap_or_else(PoisonError::into_inner);
        let address = match stamps.by_callee.get(&(callee.as_ptr() as usize)) {
            Some(&address) => address,
            None => {
                let stamp = CodeMemory::new(&[CodeItem::new(&self.array_to_wasm, Some(callee))])?;
                let address = stamp.entry(0).expect("one item").as_ptr() as usize;
                stamps.by_callee.insert(callee.as_ptr() as usize, address);
                stamps.memory.push(Arc::new(stamp));
                address
            }
        };
        Ok(NonNull::new(address as *mut c_void).expect("a mapped address"))
    }

    fn entry_address(&self) -> NonNull<c_void> {
        NonNull::new(self.entry as *mut c_void).expect("a mapped address")
    }
}

impl core::fmt::Debug for Driver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}
