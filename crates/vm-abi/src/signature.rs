//! [`VMSharedSignatureIndex`]: the engine-wide identity of a function type.

/// The identity of a function type inside one engine's signature registry.
///
/// * **Written by** the registry that interned the type, once, into every
///   [`VMFuncRef::type_index`](crate::VMFuncRef::type_index) of that type.
/// * **Read by** the caller-side check of `call_indirect` and of the host API,
///   which compares it with the index it expects before jumping.
///
/// Indices mean something only inside the engine that made them: comparing
/// indices of two engines is the type confusion of CVE-2021-39219. The
/// default value, [`VMSharedSignatureIndex::RESERVED`] (`u32::MAX`), is never
/// handed out, so a zeroed or defaulted funcref never matches a real type.
///
/// `#[repr(transparent)]` over `u32`, like Wasmtime v17's type of the same
/// name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct VMSharedSignatureIndex(u32);

impl VMSharedSignatureIndex {
    /// The reserved invalid index (`u32::MAX`).
    pub const RESERVED: VMSharedSignatureIndex = VMSharedSignatureIndex(u32::MAX);

    /// An index with the given raw value. `u32::MAX` gives
    /// [`RESERVED`](Self::RESERVED).
    #[inline]
    pub const fn new(value: u32) -> Self {
        VMSharedSignatureIndex(value)
    }

    /// The raw value.
    #[inline]
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether this is the reserved invalid index.
    #[inline]
    pub const fn is_reserved(self) -> bool {
        self.0 == u32::MAX
    }
}

impl Default for VMSharedSignatureIndex {
    #[inline]
    fn default() -> Self {
        Self::RESERVED
    }
}

/// What the compiled `call_indirect` check calls when a funcref's type
/// index differs from the expected one: the runtime's subtype test
/// (WebAssembly 3.0 accepts a subtype's function where its supertype is
/// expected).
///
/// * **Written by** the runtime (Springboard's engine), once.
/// * **Read by** the compiled check, which calls `is_subtype(self, actual,
///   expected)` and returns its result: `0` when `actual` is a subtype of
///   `expected`, `2` when not.
///
/// A runtime extends it with its own state after this field (`#[repr(C)]`,
/// the test's context being the first field).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct VMSubtypeCheck {
    /// The test.
    pub is_subtype:
        unsafe extern "C" fn(check: *const VMSubtypeCheck, actual: u32, expected: u32) -> u32,
}
