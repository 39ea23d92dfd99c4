//! Generic entries: a host function's `native_call` and `wasm_call` that
//! work for every signature, so a function of a never-seen type is callable
//! from its first instant with nothing compiled.
//!
//! One small assembly entry per ISA and convention (`x86_64.rs`, …) first
//! checks whether the signature's compiled trampoline exists and jumps
//! there if so — a dynamic linker's PLT, resolved. Otherwise it saves every
//! argument register into a [`Frame`] and calls [`generic_call`], which
//! reads the arguments where the signature's [`Plan`] says Cranelift's
//! code puts them, calls the function's `array_call` with a `ValRaw`
//! buffer, and writes the results back where the caller expects them. After
//! [`Config::tier_up_after`](crate::Config::tier_up_after) such calls the
//! compiled trampoline is requested and built off the caller's path
//! (`crate::source`); every later call, through the funcref or any copy of
//! it, ends up there.
//!
//! Each host context carries a [`Header`] right before it: what the entries
//! need to find the signature, its plans and its compiled code.

// Only the entries' assembly calls in, so without it all is unused.
#![cfg_attr(not(generic_entries), allow(dead_code))]

// `generic_entries` (set by build.rs) is the one list of the hosts that have
// generic entries.
#[cfg(all(generic_entries, target_arch = "aarch64"))]
#[path = "aarch64.rs"]
mod arch;
#[cfg(all(generic_entries, target_arch = "riscv64"))]
#[path = "riscv64.rs"]
mod arch;
#[cfg(all(generic_entries, target_arch = "x86_64"))]
#[path = "x86_64.rs"]
mod arch;
#[cfg(not(generic_entries))]
#[path = "unsupported.rs"]
mod arch;

use crate::error::Error;
use crate::plan::{self, Loc, Plan};
use crate::registry::SharedSignature;
use crate::source::Source;
use core::alloc::Layout;
use core::ffi::c_void;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use springboard_environ::{GcRefWidth, Isa, Signature, TrampolineKind, ValType};
use springboard_vm_abi::{
    VMHostFuncContext, VMNativeCallFunction, VMOpaqueContext, VMWasmCallFunction, ValRaw,
};
use std::sync::Arc;
use std::sync::atomic::AtomicPtr;

/// Whether this host has generic entries.
pub(crate) const SUPPORTED: bool = cfg!(generic_entries);

/// Whether this host's native convention carries `sig` at all: a signature
/// the compiler refuses here gets no generic entry either.
fn carried_here(sig: &Signature) -> bool {
    Isa::host().is_some_and(|isa| isa.refusal(sig).is_none())
}

/// Whether code of `sig`'s native convention is also a valid `wasm_call`
/// of `sig` on this host: both conventions put every argument and result
/// in the same place, pop nothing (no stack arguments), and agree on what
/// [`Rules`](plan::Rules) leaves out (`arch::NATIVE_SERVES_WASM`). Then a
/// host function's native entry serves wasm too, and a call from wasm
/// crosses no trampoline.
fn native_serves_wasm(sig: &SharedSignature) -> bool {
    let ty = sig.trampoline_type();
    if !arch::NATIVE_SERVES_WASM || !carried_here(ty) {
        return false;
    }
    plan::same_places(&arch::NATIVE, &arch::WASM, ty)
}

/// The popping entry and the bytes it pops, where it can serve a typed
/// host function's `wasm_call`: the native shim would serve wasm but for
/// the stack arguments `tail` pops, so the entry calls the function's
/// stack shim, which reads them in place, and pops them. `None` where the
/// entry does not exist or cannot serve `sig` (a `v128` parameter: the
/// shim reads 8-byte slots).
fn popping_entry(sig: &SharedSignature) -> Option<(NonNull<c_void>, u32)> {
    let entry = NonNull::new(arch::popping_entry()?.cast_mut().cast())?;
    let ty = sig.trampoline_type();
    if !arch::NATIVE_SERVES_WASM || !carried_here(ty) || ty.params().contains(&ValType::V128) {
        return None;
    }
    Some((
        entry,
        plan::same_places_but_wasm_pops(&arch::NATIVE, &arch::WASM, ty)?,
    ))
}

/// Which generic entry a call came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Which {
    /// `native_call`.
    Native = 0,
    /// `wasm_call`.
    Wasm = 1,
    /// `wasm_call` of a signature whose results need an implicit return
    /// area, whose address comes before the callee vmctx.
    WasmSret = 2,
}

/// The registers a generic entry saved, and where its caller's stack
/// arguments are.
#[repr(C, align(16))]
pub(crate) struct Frame {
    vec: [u128; arch::VECS],
    gpr: [u64; arch::GPRS],
    /// The caller's outgoing argument area.
    incoming: *mut u8,
}

/// The frame's size and field offsets, for the entries' assembly.
const FRAME: usize = core::mem::size_of::<Frame>();
const GPR: usize = core::mem::offset_of!(Frame, gpr);
const INCOMING: usize = core::mem::offset_of!(Frame, incoming);
const _: () = assert!(FRAME.is_multiple_of(16) && core::mem::offset_of!(Frame, vec) == 0);

/// A scalar's bits in a vector or float register: the low ones, on every
/// ISA with generic entries.
fn from_vec(bits: u128) -> u64 {
    bits as u64
}

/// The generic `wasm_call` of `sig`: the one that finds the callee vmctx
/// behind an implicit return area's address, if its results need one.
fn wasm_entry(sig: &Signature) -> Which {
    let shifted = matches!(arch::WASM.sret, plan::Sret::FirstInt);
    if shifted && plan::needs_return_area(&arch::WASM, sig) {
        Which::WasmSret
    } else {
        Which::Wasm
    }
}

/// What the generic entries of one function need, placed right before its
/// host context: the assembly reads `native_forward` at `vmctx - 8`,
/// `wasm_forward` at `vmctx - 16`, and the popping entry `stack_shim` at
/// `vmctx - 24` and `pop_bytes` at `vmctx - 32`.
#[repr(C)]
pub(crate) struct Header {
    /// The signature, while the function has a generic entry.
    sig: Option<SharedSignature>,
    /// Where the compiled trampolines come from.
    source: Option<Arc<Source>>,
    /// The kind `wasm_call` tiers up to.
    wasm_kind: TrampolineKind,
    /// The bytes of stack arguments a `wasm_call` through the popping
    /// entry pops for its caller.
    pop_bytes: usize,
    /// The typed shim the popping entry calls (see [`popping_entry`]).
    stack_shim: *const c_void,
    wasm_forward: *const AtomicPtr<c_void>,
    native_forward: *const AtomicPtr<c_void>,
}

const _: () = {
    let end = core::mem::size_of::<Header>();
    assert!(
        core::mem::offset_of!(Header, native_forward) + 8 == end
            && core::mem::offset_of!(Header, wasm_forward) + 16 == end
            && core::mem::offset_of!(Header, stack_shim) + 24 == end
            && core::mem::offset_of!(Header, pop_bytes) + 32 == end
    );
};

/// A host function's entries: compiled, generic, or (`wasm` only) none.
pub(crate) struct HostEntries {
    pub(crate) native: Option<NonNull<c_void>>,
    /// `wasm_call`, unless the native entry serves it (`wasm_is_native`).
    wasm: Option<NonNull<c_void>>,
    /// The native entry is also `wasm_call` ([`native_serves_wasm`]).
    wasm_is_native: bool,
    pub(crate) header: Header,
}

impl HostEntries {
    /// The function's `wasm_call`, given its `native_call` (a Rust shim,
    /// or this `native`).
    pub(crate) fn wasm_call(
        &self,
        native_call: NonNull<VMNativeCallFunction>,
    ) -> Option<NonNull<VMWasmCallFunction>> {
        if self.wasm_is_native {
            Some(native_call.cast())
        } else {
            self.wasm.map(NonNull::cast)
        }
    }
}

/// Which generic entries an engine's host functions may have.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Allowed {
    /// Any (see [`Engine::generic_entries`](crate::Engine::generic_entries)).
    pub(crate) any: bool,
    /// A generic `wasm_call` too, or the native entry as `wasm_call`: it
    /// follows Cranelift's `tail` convention and stores nothing for a
    /// runtime's stack walker.
    pub(crate) wasm: bool,
}

/// The entries of a new host function of `sig`: its `native` and `wasm`
/// kinds' compiled code if mapped already; else generic entries where
/// `allowed`; else compiled now by `source`. A `wasm_call` the native entry
/// serves ([`native_serves_wasm`]) needs none of its own, nor one the
/// popping entry serves with the function's typed `stack_shim` (if it has
/// one, [`popping_entry`]).
pub(crate) fn entries(
    source: &Arc<Source>,
    allowed: Allowed,
    sig: &SharedSignature,
    native: Option<TrampolineKind>,
    wasm: Option<TrampolineKind>,
    stack_shim: Option<NonNull<c_void>>,
) -> Result<HostEntries, Error> {
    let wasm_is_native = wasm.is_some() && allowed.wasm && native_serves_wasm(sig);
    // The popping entry, if it serves: a `wasm_call` nothing compiles.
    let popping = stack_shim
        .filter(|_| wasm.is_some() && allowed.wasm && !wasm_is_native)
        .and_then(|shim| Some((shim, popping_entry(sig)?)));
    let wasm = wasm.filter(|_| !wasm_is_native && popping.is_none());
    let state = sig.state();
    let mapped = |k: Option<TrampolineKind>| k.and_then(|k| state.address(k));
    let generic = allowed.any && carried_here(sig.trampoline_type());
    let mut header = Header {
        sig: None,
        source: None,
        wasm_kind: wasm.unwrap_or(TrampolineKind::WasmToArray),
        pop_bytes: popping.map_or(0, |(_, (_, bytes))| bytes as usize),
        stack_shim: popping.map_or(core::ptr::null(), |(shim, _)| shim.as_ptr()),
        wasm_forward: core::ptr::null(),
        native_forward: core::ptr::null(),
    };
    let popping_entry = popping.map(|(_, (entry, _))| entry);
    let mut entry = |kind: Option<TrampolineKind>, which: Option<Which>| {
        let (kind, which) = (kind?, which?);
        let forward = state.forward_slot(kind);
        match which {
            Which::Native => header.native_forward = forward,
            Which::Wasm | Which::WasmSret => header.wasm_forward = forward,
        }
        header.sig = Some(sig.clone());
        header.source = Some(Arc::clone(source));
        NonNull::new(arch::entry(which).cast_mut().cast())
    };
    let native_which = (generic && mapped(native).is_none()).then_some(Which::Native);
    let wasm_which = (generic && mapped(wasm).is_none() && allowed.wasm)
        .then(|| wasm_entry(sig.trampoline_type()));
    let native_entry = mapped(native).or_else(|| entry(native, native_which));
    let wasm_call = mapped(wasm).or_else(|| entry(wasm, wasm_which));
    if native_entry.is_some() == native.is_some() && wasm_call.is_some() == wasm.is_some() {
        return Ok(HostEntries {
            native: native_entry,
            wasm: wasm_call.or(popping_entry),
            wasm_is_native,
            header,
        });
    }
    // What no generic entry serves, compiled now, as one batch.
    let kinds: Vec<TrampolineKind> = [(native, native_entry), (wasm, wasm_call)]
        .into_iter()
        .filter_map(|(kind, entry)| kind.filter(|_| entry.is_none()))
        .collect();
    source.prepare(sig, &kinds)?;
    Ok(HostEntries {
        native: native_entry.or_else(|| mapped(native)),
        wasm: wasm_call.or_else(|| mapped(wasm)).or(popping_entry),
        wasm_is_native,
        header,
    })
}

/// Allocates `context` with `header` right before it.
pub(crate) fn alloc<T>(header: Header, context: VMHostFuncContext<T>) -> *mut VMHostFuncContext<T> {
    let (layout, at) = layout::<T>();
    // SAFETY: the layout has a non-zero size (it holds a `Header`).
    let base = unsafe { std::alloc::alloc(layout) };
    if base.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `at` is inside the allocation, aligned for the context, and the
    // header's size before it is inside too and 8-aligned (`layout`).
    unsafe {
        let ctx = base.add(at).cast::<VMHostFuncContext<T>>();
        ctx.write(context);
        ctx.cast::<u8>()
            .sub(size_of::<Header>())
            .cast::<Header>()
            .write(header);
        ctx
    }
}

/// Frees a context made by [`alloc`].
///
/// # Safety
/// `context` must come from `alloc::<T>` and be freed once.
pub(crate) unsafe fn free<T>(context: *mut ()) {
    let (layout, at) = layout::<T>();
    let ctx = context.cast::<VMHostFuncContext<T>>();
    // SAFETY: per the caller, both values live where `alloc` put them, and
    // the allocation starts `at` bytes before the context.
    unsafe {
        core::ptr::drop_in_place(header_of(ctx.cast()));
        core::ptr::drop_in_place(ctx);
        std::alloc::dealloc(ctx.cast::<u8>().sub(at), layout);
    }
}

/// The allocation of a context and its header, and the context's offset.
fn layout<T>() -> (Layout, usize) {
    let ctx = Layout::new::<VMHostFuncContext<T>>();
    let at = size_of::<Header>().next_multiple_of(ctx.align());
    let layout = Layout::from_size_align(at + ctx.size(), ctx.align().max(align_of::<Header>()))
        .expect("a context is far smaller than isize::MAX");
    (layout, at)
}

/// The header of a context made by [`alloc`].
fn header_of(ctx: *mut VMOpaqueContext) -> *mut Header {
    ctx.cast::<u8>().wrapping_sub(size_of::<Header>()).cast()
}

/// Sizes of the `ValRaw` buffer a generic call keeps on its stack (no heap:
/// a failing host function jumps over this frame).
const BUFFERS: [usize; 4] = [8, 32, 128, springboard_environ::MAX_PARAMS];

/// The body of every generic entry: takes the call `frame` holds, per the
/// callee's plan for `which` entry; returns the stack bytes to pop.
///
/// # Safety
/// Called only by the entries of this module, with a frame they filled, for
/// a callee whose context was made by [`alloc`] with a generic entry.
pub(crate) unsafe extern "C" fn generic_call(frame: *mut Frame, which: usize) -> usize {
    let which = match which {
        0 => Which::Native,
        1 => Which::Wasm,
        _ => Which::WasmSret,
    };
    // SAFETY: the entry filled the frame.
    let frame = unsafe { &mut *frame };
    let vmctx = frame.gpr[usize::from(arch::vmctx(which))] as *mut VMOpaqueContext;
    // SAFETY: the callee context was made by `alloc` with a generic entry:
    // its header names a live signature with plans.
    let header = unsafe { &*header_of(vmctx) };
    let Some(sig) = &header.sig else {
        unreachable_entry()
    };
    let plans = sig.state().plans();
    let (plan, kind) = match which {
        Which::Native => (
            plans.native(&arch::NATIVE, sig.trampoline_type()),
            TrampolineKind::NativeToArray,
        ),
        _ => (
            plans.wasm(&arch::WASM, sig.trampoline_type()),
            header.wasm_kind,
        ),
    };
    if let Some(source) = &header.source {
        source.count_generic_call(sig, kind);
    }
    let len = (plan.args.len() - 2).max(plan.results.len());
    let mut i = 0;
    while BUFFERS[i] < len {
        i += 1;
    }
    // SAFETY: a host context (its funcref right after the magic) per the
    // caller; the plan is the callee's signature's.
    unsafe {
        match i {
            0 => run::<{ BUFFERS[0] }>(frame, plan, vmctx, len),
            1 => run::<{ BUFFERS[1] }>(frame, plan, vmctx, len),
            2 => run::<{ BUFFERS[2] }>(frame, plan, vmctx, len),
            _ => run::<{ BUFFERS[3] }>(frame, plan, vmctx, len),
        }
    }
    plan.pop as usize
}

/// A generic entry reached for a context without one: a broken invariant,
/// and no caller to return an error to.
#[cold]
fn unreachable_entry() -> ! {
    std::process::abort()
}

/// Moves the arguments into a buffer of `N` slots, calls `array_call`, and
/// moves the results out.
///
/// # Safety
/// As for [`generic_call`]; `len <= N`.
#[inline(never)]
unsafe fn run<const N: usize>(
    frame: &mut Frame,
    plan: &Plan,
    vmctx: *mut VMOpaqueContext,
    len: usize,
) {
    let mut buffer = [const { MaybeUninit::<ValRaw>::uninit() }; N];
    let caller = frame.gpr_of(plan.args[1].1) as *mut VMOpaqueContext;
    let params = &plan.args[2..];
    for (slot, &(ty, loc)) in buffer.iter_mut().zip(params) {
        // SAFETY: the plan names where the caller put each argument.
        slot.write(unsafe { frame.read(ty, loc) });
    }
    for slot in &mut buffer[params.len()..len] {
        slot.write(ValRaw::ZERO);
    }
    // Read before any result is written: its register may return one.
    let area = plan.area.map(|loc| frame.gpr_of(loc) as *mut u8);
    let values = buffer.as_mut_ptr().cast::<ValRaw>();
    // SAFETY: a host context starts with its magic and funcref, whose
    // `array_call` takes its `vmctx` and a buffer of `len` initialised slots.
    unsafe {
        let func_ref = &(*vmctx.cast::<VMHostFuncContext<()>>()).func_ref;
        (func_ref.array_call)(func_ref.vmctx, caller, values, len);
    }
    for (i, &(ty, loc)) in plan.results.iter().enumerate() {
        // SAFETY: slot `i < len` was initialised above and written by the
        // callee; `area` is the caller's area for `Loc::Area` results.
        unsafe { frame.write(ty, loc, *values.add(i), area) };
    }
}

impl Frame {
    /// A pointer-sized argument (a context or an area's address).
    fn gpr_of(&self, loc: Loc) -> u64 {
        match loc {
            Loc::Gpr(r) => self.gpr[usize::from(r)],
            // SAFETY: the plan names a slot of the caller's argument area.
            Loc::Stack(offset) => unsafe {
                read_bits(self.incoming.add(offset as usize), 8) as u64
            },
            _ => unreachable_entry(),
        }
    }

    /// The argument of type `ty` at `loc`.
    ///
    /// # Safety
    /// `loc` must be where the caller put an argument of type `ty`.
    unsafe fn read(&self, ty: ValType, loc: Loc) -> ValRaw {
        let size = ty.byte_size(8, GcRefWidth::Pointer);
        // SAFETY: per the caller: each location holds a value of `ty`, and a
        // reference points at one.
        let bits = unsafe {
            match loc {
                Loc::Gpr(r) => u128::from(self.gpr[usize::from(r)]),
                Loc::Vec(r) if ty == ValType::V128 => self.vec[usize::from(r)],
                Loc::Vec(r) => u128::from(from_vec(self.vec[usize::from(r)])),
                Loc::Stack(offset) => read_bits(self.incoming.add(offset as usize), size),
                Loc::GprRef(r) => read_bits(self.gpr[usize::from(r)] as *const u8, size),
                Loc::StackRef(offset) => {
                    let at = read_bits(self.incoming.add(offset as usize), 8) as usize;
                    read_bits(at as *const u8, size)
                }
                Loc::Area(_) => unreachable_entry(),
            }
        };
        match ty {
            ValType::I32 => ValRaw::u32(bits as u32),
            ValType::F32 => ValRaw::f32(bits as u32),
            ValType::V128 => ValRaw::v128(bits),
            _ => ValRaw::u64(bits as u64),
        }
    }

    /// Puts the result `raw` of type `ty` at `loc`.
    ///
    /// # Safety
    /// `area` must be the caller's area if `loc` is in it.
    unsafe fn write(&mut self, ty: ValType, loc: Loc, raw: ValRaw, area: Option<*mut u8>) {
        let bits = match ty {
            ValType::I32 | ValType::F32 => u128::from(raw.get_u32()),
            ValType::V128 => raw.get_v128(),
            _ => u128::from(raw.get_u64()),
        };
        match loc {
            Loc::Gpr(r) => self.gpr[usize::from(r)] = bits as u64,
            Loc::Vec(r) if ty == ValType::V128 => self.vec[usize::from(r)] = bits,
            Loc::Vec(r) => self.vec[usize::from(r)] = arch::to_vec(ty, bits as u64),
            Loc::Area(offset) => {
                let Some(area) = area else {
                    unreachable_entry()
                };
                // SAFETY: per the caller.
                unsafe {
                    write_bits(
                        area.add(offset as usize),
                        ty.byte_size(8, GcRefWidth::Pointer),
                        bits,
                    )
                }
            }
            _ => unreachable_entry(),
        }
    }
}

/// `size` bytes at `at` as a native-endian integer.
///
/// # Safety
/// `at` must be readable for `size` bytes.
unsafe fn read_bits(at: *const u8, size: u32) -> u128 {
    // SAFETY: per the caller.
    unsafe {
        match size {
            4 => u128::from(at.cast::<u32>().read_unaligned()),
            8 => u128::from(at.cast::<u64>().read_unaligned()),
            _ => at.cast::<u128>().read_unaligned(),
        }
    }
}

/// Stores the low `size` bytes of `bits` at `at`, native-endian.
///
/// # Safety
/// `at` must be writable for `size` bytes.
unsafe fn write_bits(at: *mut u8, size: u32, bits: u128) {
    // SAFETY: per the caller.
    unsafe {
        match size {
            4 => at.cast::<u32>().write_unaligned(bits as u32),
            8 => at.cast::<u64>().write_unaligned(bits as u64),
            _ => at.cast::<u128>().write_unaligned(bits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::needs_return_area;

    /// `needs_return_area` (used at creation, allocation-free) agrees with
    /// the plan the first generic call makes, for each convention here.
    #[test]
    fn the_entry_chosen_at_creation_matches_the_plan() {
        if !SUPPORTED {
            springboard_testing::skip("no generic entries on this host (no rules to plan with)");
            return;
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2000 {
            let tys = |n: u64, next: &mut dyn FnMut() -> u64| -> Vec<ValType> {
                (0..n)
                    .map(|_| ValType::ALL[(next() % 7) as usize])
                    .collect()
            };
            let (p, r) = (next() % 30, next() % 24);
            let sig = Signature::new(&tys(p, &mut next), &tys(r, &mut next)).unwrap();
            for rules in [&arch::WASM, &arch::NATIVE] {
                let plan = Plan::wasm(rules, &sig);
                assert_eq!(needs_return_area(rules, &sig), plan.area.is_some(), "{sig}");
            }
        }
    }
}
