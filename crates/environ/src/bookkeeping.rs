//! What a runtime's trampolines record for its stack walker, and where.

use springboard_vm_abi::PtrSize;

/// Where entry and exit trampolines record the stack state a runtime's
/// backtraces and trap unwinding need, as Wasmtime's own trampolines do.
///
/// Each vmctx a trampoline is given holds, at [`limits`](Self::limits), a
/// pointer to the runtime's per-thread (or per-store) limits structure:
///
/// - a `*_to_wasm` trampoline (array or native in, wasm out) stores its own
///   stack pointer — the entry stack pointer, above every wasm frame it
///   calls — at [`entry_sp`](Self::entry_sp) of the **callee** vmctx's
///   limits, just before it calls the wasm body;
/// - a `wasm_to_*` trampoline (wasm in, native or array out) stores its
///   wasm caller's frame pointer and return address — the last wasm frame —
///   at [`exit_fp`](Self::exit_fp) and [`exit_pc`](Self::exit_pc) of the
///   **caller** vmctx's limits, before it calls the host.
///
/// Every vmctx such a trampoline is given must then be one of the
/// runtime's, with the limits pointer in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bookkeeping {
    /// Offset, in a vmctx, of the pointer to the limits structure.
    pub limits: u32,
    /// Offset, in the limits, of the entry stack pointer.
    pub entry_sp: u32,
    /// Offset, in the limits, of the last wasm frame pointer on exit.
    pub exit_fp: u32,
    /// Offset, in the limits, of the last wasm return address on exit.
    pub exit_pc: u32,
}

impl Bookkeeping {
    /// Wasmtime 17's: `VMContext::runtime_limits` right after the 4-byte
    /// magic (aligned to a pointer), and in `VMRuntimeLimits` the stack
    /// limit (a pointer), fuel (`i64`), epoch deadline (`u64`), then
    /// `last_wasm_exit_fp`, `last_wasm_exit_pc`, `last_wasm_entry_sp`.
    pub const fn wasmtime17(ptr: PtrSize) -> Bookkeeping {
        let p = ptr.bytes() as u32;
        let exit_fp = p + 8 + 8;
        Bookkeeping {
            limits: if p > 4 { p } else { 4 },
            entry_sp: exit_fp + 2 * p,
            exit_fp,
            exit_pc: exit_fp + p,
        }
    }
}
