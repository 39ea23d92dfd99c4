//! Calling conventions and the kinds of code Springboard makes.

use core::fmt;

/// The three calling conventions a function can be entered with (see
/// `docs/ABI.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallConv {
    /// The runtime's own convention for wasm code, one of the [`WasmConv`]s:
    /// `(callee_vmctx, caller_vmctx, params…) -> results…`.
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

/// Which machine-level convention the *wasm* convention is: how `wasm_call`
/// entries are entered and how `*_to_wasm` trampolines call wasm bodies. It
/// must be the one the runtime compiles its wasm code with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WasmConv {
    /// Cranelift 0.135's `tail` convention (the default).
    #[default]
    Tail,
    /// The convention Wasmtime 17 compiles wasm with in its default
    /// configuration (tail calls off): Cranelift 0.104's `fast`, on x86-64.
    /// Arguments as in System V (the first six integer arguments in `rdi`,
    /// `rsi`, `rdx`, `rcx`, `r8`, `r9`, then the stack, popped by the
    /// caller; floats and vectors in `xmm0`–`xmm7`); the first two integer
    /// results in `rax`, `rdx` and the first two float or vector results in
    /// `xmm0`, `xmm1`; every other result in a return area whose address is
    /// passed after the last argument, each result in a slot of
    /// `max(size, 8)` bytes aligned to that size, in order. Cranelift 0.135
    /// has no convention that is exactly this, so Springboard builds it from
    /// `system_v` with an explicit return-area argument.
    Wasmtime17,
}

impl WasmConv {
    /// Every convention.
    pub const ALL: [WasmConv; 2] = [WasmConv::Tail, WasmConv::Wasmtime17];

    /// The byte that stands for it in an object's index section (frozen,
    /// like [`CodeKind::code`]).
    pub const fn code(self) -> u8 {
        match self {
            WasmConv::Tail => 0,
            WasmConv::Wasmtime17 => 1,
        }
    }

    /// The convention a byte stands for.
    pub fn from_code(code: u8) -> Option<WasmConv> {
        WasmConv::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Its name: `tail` or `wasmtime17`.
    pub const fn name(self) -> &'static str {
        match self {
            WasmConv::Tail => "tail",
            WasmConv::Wasmtime17 => "wasmtime17",
        }
    }

    /// The convention with this [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<WasmConv> {
        WasmConv::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for WasmConv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
    /// How many kinds there are.
    pub const COUNT: usize = 6;

    /// Every kind, in [`index`](Self::index) order.
    pub const ALL: [TrampolineKind; TrampolineKind::COUNT] = [
        TrampolineKind::ArrayToWasm,
        TrampolineKind::NativeToWasm,
        TrampolineKind::WasmToNative,
        TrampolineKind::WasmToArray,
        TrampolineKind::NativeToArray,
        TrampolineKind::Entry,
    ];

    /// What the funcref of a wasm body needs compiled: its `array_call` and
    /// `native_call` (templates, stamped per body).
    pub const WASM_BODY: [TrampolineKind; 2] =
        [TrampolineKind::ArrayToWasm, TrampolineKind::NativeToWasm];

    /// What the funcref of a typed (native-convention) host function needs
    /// compiled: its `wasm_call` (its other entries are Rust shims).
    pub const TYPED_HOST: [TrampolineKind; 1] = [TrampolineKind::WasmToNative];

    /// What the funcref of an untyped (array-convention) host function needs
    /// compiled: its `native_call` and `wasm_call` (`array_call` is a Rust
    /// shim).
    pub const UNTYPED_HOST: [TrampolineKind; 2] =
        [TrampolineKind::NativeToArray, TrampolineKind::WasmToArray];

    /// What a signature needs for its functions to be called *from* the
    /// host: [`WASM_BODY`](Self::WASM_BODY) and the legacy
    /// [`Entry`](Self::Entry).
    pub const HOST_TO_WASM: [TrampolineKind; 3] = [
        TrampolineKind::ArrayToWasm,
        TrampolineKind::NativeToWasm,
        TrampolineKind::Entry,
    ];

    /// What a signature needs for host functions of it to be called from
    /// wasm, whether they are typed or untyped: [`TYPED_HOST`](Self::TYPED_HOST)
    /// and [`UNTYPED_HOST`](Self::UNTYPED_HOST).
    pub const WASM_TO_HOST: [TrampolineKind; 3] = [
        TrampolineKind::WasmToNative,
        TrampolineKind::WasmToArray,
        TrampolineKind::NativeToArray,
    ];

    /// A dense index `0..COUNT`, for per-kind tables.
    pub const fn index(self) -> usize {
        match self {
            TrampolineKind::ArrayToWasm => 0,
            TrampolineKind::NativeToWasm => 1,
            TrampolineKind::WasmToNative => 2,
            TrampolineKind::WasmToArray => 3,
            TrampolineKind::NativeToArray => 4,
            TrampolineKind::Entry => 5,
        }
    }

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
    /// `extern "C" fn(funcref: *const VMFuncRef, expected: u32, table:
    /// *const VMSubtypeTable) -> u32` returning 0 (types match), 1 (null
    /// funcref) or 2 (mismatch).
    SignatureCheck,
    /// The host's `call_indirect` of one signature: native convention in,
    /// with a funcref as its callee vmctx, whose `wasm_call` it calls with
    /// the funcref's `vmctx`, under the catch point every entry into `tail`
    /// wasm has (see `docs/ABI.md`, "Host failures").
    IndirectEntry,
}

impl CodeKind {
    /// Every kind of code, trampolines first.
    pub const ALL: [CodeKind; 11] = [
        CodeKind::Trampoline(TrampolineKind::ArrayToWasm),
        CodeKind::Trampoline(TrampolineKind::NativeToWasm),
        CodeKind::Trampoline(TrampolineKind::WasmToNative),
        CodeKind::Trampoline(TrampolineKind::WasmToArray),
        CodeKind::Trampoline(TrampolineKind::NativeToArray),
        CodeKind::Trampoline(TrampolineKind::Entry),
        CodeKind::Probe(CallConv::Wasm),
        CodeKind::Probe(CallConv::Native),
        CodeKind::Probe(CallConv::Array),
        CodeKind::SignatureCheck,
        CodeKind::IndirectEntry,
    ];

    /// The byte that stands for this kind in an object's index section.
    ///
    /// Part of the on-disk format: these values are frozen, whatever the
    /// order of the enums; changing one means a new
    /// [`INDEX_VERSION`](crate::format::INDEX_VERSION).
    pub const fn code(self) -> u8 {
        use TrampolineKind::*;
        match self {
            CodeKind::Trampoline(ArrayToWasm) => 0x00,
            CodeKind::Trampoline(NativeToWasm) => 0x01,
            CodeKind::Trampoline(WasmToNative) => 0x02,
            CodeKind::Trampoline(WasmToArray) => 0x03,
            CodeKind::Trampoline(NativeToArray) => 0x04,
            CodeKind::Trampoline(Entry) => 0x05,
            CodeKind::Probe(CallConv::Wasm) => 0x10,
            CodeKind::Probe(CallConv::Native) => 0x11,
            CodeKind::Probe(CallConv::Array) => 0x12,
            CodeKind::SignatureCheck => 0x20,
            CodeKind::IndirectEntry => 0x21,
        }
    }

    /// The kind a byte of an object's index section stands for.
    pub fn from_code(code: u8) -> Option<CodeKind> {
        CodeKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Whether the code is a template, stamped with a callee per function
    /// (see [`TrampolineKind::is_template`]).
    pub const fn is_template(self) -> bool {
        matches!(self, CodeKind::Trampoline(k) if k.is_template())
    }

    /// The convention the code is entered with.
    pub const fn conv(self) -> CallConv {
        match self {
            CodeKind::Trampoline(k) => k.caller_conv(),
            CodeKind::Probe(c) => c,
            CodeKind::SignatureCheck | CodeKind::IndirectEntry => CallConv::Native,
        }
    }
}

impl fmt::Display for CodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeKind::Trampoline(k) => f.write_str(k.name()),
            CodeKind::Probe(c) => write!(f, "probe_{}", c.name()),
            CodeKind::SignatureCheck => f.write_str("signature_check"),
            CodeKind::IndirectEntry => f.write_str("indirect_entry"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The on-disk byte of every kind, pinned: a change here is a format
    /// change and needs a new `INDEX_VERSION`.
    #[test]
    fn code_kind_bytes_are_frozen() {
        use TrampolineKind::*;
        let pinned = [
            (CodeKind::Trampoline(ArrayToWasm), 0x00),
            (CodeKind::Trampoline(NativeToWasm), 0x01),
            (CodeKind::Trampoline(WasmToNative), 0x02),
            (CodeKind::Trampoline(WasmToArray), 0x03),
            (CodeKind::Trampoline(NativeToArray), 0x04),
            (CodeKind::Trampoline(Entry), 0x05),
            (CodeKind::Probe(CallConv::Wasm), 0x10),
            (CodeKind::Probe(CallConv::Native), 0x11),
            (CodeKind::Probe(CallConv::Array), 0x12),
            (CodeKind::SignatureCheck, 0x20),
            (CodeKind::IndirectEntry, 0x21),
        ];
        assert_eq!(pinned.len(), CodeKind::ALL.len());
        for (kind, byte) in pinned {
            assert_eq!(kind.code(), byte, "{kind}");
            assert_eq!(CodeKind::from_code(byte), Some(kind));
        }
        let known: Vec<u8> = pinned.iter().map(|&(_, b)| b).collect();
        for byte in (0..=u8::MAX).filter(|b| !known.contains(b)) {
            assert_eq!(CodeKind::from_code(byte), None, "{byte:#x}");
        }
    }

    #[test]
    fn wasm_conv_bytes_and_names_are_frozen() {
        assert_eq!(WasmConv::Tail.code(), 0);
        assert_eq!(WasmConv::Wasmtime17.code(), 1);
        for c in WasmConv::ALL {
            assert_eq!(WasmConv::from_code(c.code()), Some(c));
            assert_eq!(WasmConv::from_name(c.name()), Some(c));
        }
        assert_eq!(WasmConv::from_code(2), None);
    }

    #[test]
    fn kind_tables_are_consistent() {
        for (i, k) in TrampolineKind::ALL.into_iter().enumerate() {
            assert_eq!(k.index(), i);
            assert_eq!(TrampolineKind::from_name(k.name()), Some(k));
        }
        for k in CodeKind::ALL {
            assert_eq!(CodeKind::ALL.iter().filter(|&&o| o == k).count(), 1);
        }
        // A wasm body's funcref needs exactly the crossings into wasm that
        // are not the legacy entry; a host function's, the crossings out of
        // wasm and out of the native convention into its own.
        for k in TrampolineKind::ALL {
            let into_wasm = k.callee_conv() == CallConv::Wasm;
            assert_eq!(TrampolineKind::WASM_BODY.contains(&k), into_wasm, "{k}");
            assert_eq!(
                TrampolineKind::HOST_TO_WASM.contains(&k),
                into_wasm || k == TrampolineKind::Entry,
                "{k}"
            );
            let host = TrampolineKind::TYPED_HOST.contains(&k)
                || TrampolineKind::UNTYPED_HOST.contains(&k);
            assert_eq!(TrampolineKind::WASM_TO_HOST.contains(&k), host, "{k}");
            assert_eq!(host, !into_wasm && k != TrampolineKind::Entry, "{k}");
        }
        assert!(
            TrampolineKind::TYPED_HOST
                .iter()
                .all(|k| k.callee_conv() == CallConv::Native)
        );
        assert!(
            TrampolineKind::UNTYPED_HOST
                .iter()
                .all(|k| k.callee_conv() == CallConv::Array)
        );
    }
}
