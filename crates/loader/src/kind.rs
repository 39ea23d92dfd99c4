//! Calling conventions and the kinds of code Springboard makes.

use core::fmt;

/// The three calling conventions a function can be entered with (see
/// `docs/ABI.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallConv {
    /// Cranelift `tail`: `(callee_vmctx, caller_vmctx, params…) -> results…`.
    Wasm,
    /// SystemV C: `(callee_vmctx, caller_vmctx, params…[, retptr]) -> result0`;
    /// results after the first are written through `retptr`.
    Native,
    /// [`VMArrayCallFunction`](springboard_vm_abi::VMArrayCallFunction):
    /// `(callee_vmctx, caller_vmctx, *mut ValRaw, capacity)`.
    Array,
}

impl CallConv {
    /// Every convention.
    pub const ALL: [CallConv; 3] = [CallConv::Wasm, CallConv::Native, CallConv::Array];

    /// Lower-case name, as used in symbol names.
    pub const fn name(self) -> &'static str {
        match self {
            CallConv::Wasm => "wasm",
            CallConv::Native => "native",
            CallConv::Array => "array",
        }
    }
}

/// Where a trampoline finds the function it calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CalleeSource {
    /// Patched into the code by a [`Relocation`](crate::Relocation) against
    /// [`RelocTarget::Callee`](crate::RelocTarget::Callee): the trampoline is a
    /// per-signature *template* stamped once per function.
    Relocation,
    /// Loaded from the `VMFuncRef` inside the callee's
    /// [`VMHostFuncContext`](springboard_vm_abi::VMHostFuncContext), passed as
    /// the callee `vmctx`: one copy serves every host function of the
    /// signature.
    HostFuncContext,
    /// The third argument (the `*const VMFunctionBody` of a `VMTrampoline`).
    Argument,
}

/// The six ways of crossing between conventions (see `docs/ABI.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrampolineKind {
    /// Fills `VMFuncRef::array_call` of a wasm function.
    ArrayToWasm,
    /// Fills `VMFuncRef::native_call` of a wasm function.
    NativeToWasm,
    /// Fills `VMFuncRef::wasm_call` of a typed (native-convention) host function.
    WasmToNative,
    /// Fills `VMFuncRef::wasm_call` of an untyped (array-convention) host function.
    WasmToArray,
    /// Fills `VMFuncRef::native_call` of an untyped host function.
    NativeToArray,
    /// A legacy [`VMTrampoline`](springboard_vm_abi::VMTrampoline): array in,
    /// native-convention call of the body it is passed.
    Entry,
}

impl TrampolineKind {
    /// Every kind.
    pub const ALL: [TrampolineKind; 6] = [
        TrampolineKind::ArrayToWasm,
        TrampolineKind::NativeToWasm,
        TrampolineKind::WasmToNative,
        TrampolineKind::WasmToArray,
        TrampolineKind::NativeToArray,
        TrampolineKind::Entry,
    ];

    /// Snake-case name, as used in symbol names.
    pub const fn name(self) -> &'static str {
        match self {
            TrampolineKind::ArrayToWasm => "array_to_wasm",
            TrampolineKind::NativeToWasm => "native_to_wasm",
            TrampolineKind::WasmToNative => "wasm_to_native",
            TrampolineKind::WasmToArray => "wasm_to_array",
            TrampolineKind::NativeToArray => "native_to_array",
            TrampolineKind::Entry => "entry",
        }
    }

    /// The kind with this [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<TrampolineKind> {
        TrampolineKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The convention the trampoline is entered with. For
    /// [`Entry`](Self::Entry) this is `Array` in shape, but the entry takes the
    /// body as an extra argument (see [`VMTrampoline`](springboard_vm_abi::VMTrampoline)).
    pub const fn caller_conv(self) -> CallConv {
        match self {
            TrampolineKind::ArrayToWasm | TrampolineKind::Entry => CallConv::Array,
            TrampolineKind::NativeToWasm | TrampolineKind::NativeToArray => CallConv::Native,
            TrampolineKind::WasmToNative | TrampolineKind::WasmToArray => CallConv::Wasm,
        }
    }

    /// The convention of the function the trampoline calls.
    pub const fn callee_conv(self) -> CallConv {
        match self {
            TrampolineKind::ArrayToWasm | TrampolineKind::NativeToWasm => CallConv::Wasm,
            TrampolineKind::WasmToNative | TrampolineKind::Entry => CallConv::Native,
            TrampolineKind::WasmToArray | TrampolineKind::NativeToArray => CallConv::Array,
        }
    }

    /// Where the trampoline finds its callee.
    pub const fn callee_source(self) -> CalleeSource {
        match self {
            TrampolineKind::ArrayToWasm | TrampolineKind::NativeToWasm => CalleeSource::Relocation,
            TrampolineKind::WasmToNative
            | TrampolineKind::WasmToArray
            | TrampolineKind::NativeToArray => CalleeSource::HostFuncContext,
            TrampolineKind::Entry => CalleeSource::Argument,
        }
    }

    /// Whether the compiled code is a template that must be stamped with a
    /// callee address for each function (`true`), or serves every function of
    /// its signature as it is (`false`).
    pub const fn is_template(self) -> bool {
        matches!(self.callee_source(), CalleeSource::Relocation)
    }
}

impl fmt::Display for TrampolineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a piece of generated code is: a trampoline, or a probe (a test
/// callee that records its arguments and returns chosen results).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CodeKind {
    /// A trampoline of this kind.
    Trampoline(TrampolineKind),
    /// A probe entered with this convention.
    Probe(CallConv),
    /// The caller-side signature check of `call_indirect`, the same for every
    /// signature (recorded with the empty signature `(func)`):
    /// `extern "C" fn(funcref: *const VMFuncRef, expected: u32) -> u32`
    /// returning 0 (types match), 1 (null funcref) or 2 (mismatch).
    SignatureCheck,
}

impl CodeKind {
    /// The byte that stands for this kind in an object's index section.
    pub const fn code(self) -> u8 {
        match self {
            CodeKind::Trampoline(k) => k as u8,
            CodeKind::Probe(c) => 0x10 | c as u8,
            CodeKind::SignatureCheck => 0x20,
        }
    }

    /// The kind a byte of an object's index section stands for.
    pub fn from_code(code: u8) -> Option<CodeKind> {
        let trampolines = TrampolineKind::ALL.map(CodeKind::Trampoline);
        let probes = CallConv::ALL.map(CodeKind::Probe);
        let check = [CodeKind::SignatureCheck];
        trampolines
            .into_iter()
            .chain(probes)
            .chain(check)
            .find(|k| k.code() == code)
    }

    /// The convention the code is entered with.
    pub const fn conv(self) -> CallConv {
        match self {
            CodeKind::Trampoline(k) => k.caller_conv(),
            CodeKind::Probe(c) => c,
            CodeKind::SignatureCheck => CallConv::Native,
        }
    }
}

impl fmt::Display for CodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeKind::Trampoline(k) => f.write_str(k.name()),
            CodeKind::Probe(c) => write!(f, "probe_{}", c.name()),
            CodeKind::SignatureCheck => f.write_str("signature_check"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_kind_bytes_round_trip_and_are_distinct() {
        let all: Vec<CodeKind> = TrampolineKind::ALL
            .map(CodeKind::Trampoline)
            .into_iter()
            .chain(CallConv::ALL.map(CodeKind::Probe))
            .chain([CodeKind::SignatureCheck])
            .collect();
        for k in &all {
            assert_eq!(CodeKind::from_code(k.code()), Some(*k));
        }
        let mut codes: Vec<u8> = all.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 10, "distinct codes");
        assert_eq!(CodeKind::from_code(0xff), None);
    }

    #[test]
    fn names_round_trip() {
        for k in TrampolineKind::ALL {
            assert_eq!(TrampolineKind::from_name(k.name()), Some(k));
        }
    }
}
