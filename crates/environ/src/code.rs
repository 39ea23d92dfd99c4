//! [`CompiledTrampoline`]: generated code, from the compiler or an object.

use crate::{CodeKind, Relocation, Signature};

/// Generated code for one signature, a trampoline or a probe, as the
/// compiler produced it or as it was read from an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledTrampoline {
    /// What the code is.
    pub kind: CodeKind,
    /// The signature it was made for.
    pub signature: Signature,
    /// The machine code.
    pub code: Vec<u8>,
    /// Holes to fill before it runs (only template trampolines have any).
    pub relocations: Vec<Relocation>,
    /// The alignment the code needs.
    pub align: u32,
}
