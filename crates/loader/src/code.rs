//! [`CompiledTrampoline`]: generated code, from the compiler or an object.

use crate::{CodeItem, CodeKind, Relocation, Signature};
use core::ffi::c_void;
use core::ptr::NonNull;

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

impl CompiledTrampoline {
    /// The loader's view of this code, with `callee` for a template's hole.
    pub fn code_item(&self, callee: Option<NonNull<c_void>>) -> CodeItem<'_> {
        CodeItem {
            code: &self.code,
            relocations: &self.relocations,
            align: self.align,
            callee,
        }
    }
}
