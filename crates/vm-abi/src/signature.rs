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

/// Index bits that select an entry within a chunk of a [`VMSubtypeTable`]
/// (the rest select the chunk).
pub const VM_SUBTYPE_CHUNK_BITS: u32 = 16;

/// A runtime's type index → [`VMSupertypes`] map, which the compiled
/// `call_indirect` check reads when a funcref's type index differs from the
/// expected one (WebAssembly 3.0 accepts a subtype's function where its
/// supertype is expected).
///
/// Two levels: `chunks[index >> 16]` is null or the address of 2¹⁶ entry
/// pointers, of which `[index & 0xffff]` is null or the type's
/// [`VMSupertypes`]. The check does only loads and compares, no call.
///
/// * **Written by** the runtime (Springboard's engine) as types come and go,
///   with atomic pointer stores; an entry's memory stays valid (and keeps its
///   depth) as long as the table, so a reader racing with a type's drop reads
///   a stale entry, never freed memory.
/// * **Read by** the compiled check and the runtime's own checks.
#[repr(C)]
pub struct VMSubtypeTable {
    /// The chunks, null where no index of the chunk was ever used.
    pub chunks: [*const VMSubtypeChunk; 1 << (32 - VM_SUBTYPE_CHUNK_BITS)],
}

/// 2¹⁶ entries of a [`VMSubtypeTable`].
#[repr(C)]
pub struct VMSubtypeChunk {
    /// The entries, null where no live type has the index.
    pub entries: [*const VMSupertypes; 1 << VM_SUBTYPE_CHUNK_BITS],
}

/// One registered type's place in the subtype hierarchy: a header followed
/// by `depth + 1` `u32` type indices, its declared supertypes from the root
/// with itself last (at [`PtrSize::vm_supertypes_ancestors`](crate::PtrSize::vm_supertypes_ancestors)).
///
/// Type `a` is a subtype of type `e` exactly when `a == e`, or `a`'s entry
/// has `index == a`, `depth >= depth(e)` and `ancestors[depth(e)] == e`.
#[repr(C)]
pub struct VMSupertypes {
    /// The index of the type the entry describes (`u32::MAX` while unused).
    pub index: u32,
    /// The number of declared supertypes above the type (at most 63 in
    /// WebAssembly).
    pub depth: u32,
}
