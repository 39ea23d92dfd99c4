//! Relocations: the holes in generated code that the loader fills.

/// How a relocation's value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelocKind {
    /// The absolute address `target + addend`, 8 bytes in the target's byte
    /// order (ELF `R_X86_64_64`, `R_AARCH64_ABS64`, `R_RISCV_64`, `R_390_64`).
    /// The only kind Springboard's compiler emits: it never uses PC-relative
    /// calls, so code can be placed anywhere.
    Abs8,
}

/// What a relocation points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelocTarget {
    /// The function a template trampoline calls (different for every copy).
    Callee,
}

/// One hole in a piece of code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Relocation {
    /// Byte offset of the hole from the start of the code.
    pub offset: u32,
    /// How the value is written.
    pub kind: RelocKind,
    /// What the value points at.
    pub target: RelocTarget,
    /// Added to the target's address.
    pub addend: i64,
}

impl RelocKind {
    /// Bytes the relocation overwrites.
    pub const fn size(self) -> usize {
        match self {
            RelocKind::Abs8 => 8,
        }
    }
}
