//! [`CompiledTrampoline`]: generated code, from the compiler or an object.

use crate::{CodeKind, Relocation, Signature};

/// The least alignment of every piece of code, in memory and in objects:
/// entry points sit on instruction-fetch boundaries on every supported ISA.
pub const MIN_CODE_ALIGN: u32 = 16;

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
    /// The alignment the code needs (at least [`MIN_CODE_ALIGN`] is used).
    pub align: u32,
}
