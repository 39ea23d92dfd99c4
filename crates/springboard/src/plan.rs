//! Where each value of a signature is when code of one convention calls or
//! returns — Cranelift's layout, per ISA, as data: the generic entries read
//! arguments and write results from it instead of from compiled code.
//!
//! Each ISA file of the generic entries (`generic/`) describes its
//! conventions as [`Rules`]; [`Plan::native`] and [`Plan::wasm`] apply them
//! the way Cranelift's `compute_arg_locs` does (`cranelift-codegen` 0.135,
//! `isa/*/abi.rs`). Every plan is proven against Cranelift's own code by
//! calls through compiled trampolines (`tests/generic_entries.rs`). A
//! signature's plans are part of its per-type state (`type_state.rs`).

use springboard_environ::{GcRefWidth, Signature, ValType};
use springboard_vm_abi::ResultsArea;
use std::sync::OnceLock;

/// Where one value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loc {
    /// In a general-purpose register (an index into the frame's `gpr`).
    Gpr(u8),
    /// In a vector register (an index into the frame's `vec`).
    Vec(u8),
    /// In the caller's outgoing argument area, at this offset.
    Stack(u32),
    /// Behind a pointer in a general-purpose register (Windows `v128`).
    GprRef(u8),
    /// Behind a pointer at this offset of the argument area.
    StackRef(u32),
    /// At this offset of the results area (native) or return area (wasm)
    /// whose address the plan's `area` names.
    Area(u32),
}

/// A value's register class.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Int,
    Float,
}

fn class(ty: ValType) -> Class {
    match ty {
        ValType::F32 | ValType::F64 | ValType::V128 => Class::Float,
        _ => Class::Int,
    }
}

/// Where an implicit return area's address goes.
#[derive(Clone, Copy)]
pub(crate) enum Sret {
    /// Before the first argument, in the first integer argument register.
    #[cfg_attr(target_arch = "aarch64", allow(dead_code))]
    FirstInt,
    /// In this register, shifting nothing (aarch64's `x8`).
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    Reg(u8),
}

/// One convention of one ISA, as Cranelift implements it.
pub(crate) struct Rules {
    pub(crate) int_args: &'static [u8],
    pub(crate) float_args: &'static [u8],
    /// Return registers (only the first is used by the native convention).
    pub(crate) int_rets: &'static [u8],
    pub(crate) float_rets: &'static [u8],
    /// The n-th argument takes the n-th register of its class (Windows).
    pub(crate) positional: bool,
    /// Stack bytes reserved below the first stack argument (Windows).
    pub(crate) shadow: u32,
    /// `v128` arguments are passed by reference (Windows).
    pub(crate) v128_by_ref: bool,
    pub(crate) sret: Sret,
    /// The callee pops its stack arguments (Cranelift's `tail`).
    pub(crate) callee_pops: bool,
    /// Integer registers used before the first argument (aarch64 `tail`).
    pub(crate) first_int: usize,
    /// The C alignment of a `v128` in a struct.
    pub(crate) v128_align: u32,
}

/// Everything a generic entry needs to take a call of one signature in one
/// convention.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Callee vmctx, caller vmctx, then the parameters.
    pub(crate) args: Vec<(ValType, Loc)>,
    pub(crate) results: Vec<(ValType, Loc)>,
    /// Where the address of the area `Loc::Area` results go is.
    pub(crate) area: Option<Loc>,
    /// Bytes of stack arguments the callee pops on return.
    pub(crate) pop: u32,
}

/// `ValType`s of pointers (the contexts, an area's address).
const PTR: ValType = ValType::I64;

impl Plan {
    /// The native convention: results after the first in a results area
    /// whose address is the last argument.
    pub(crate) fn native(rules: &Rules, sig: &Signature) -> Plan {
        let results = sig.results();
        let mut args: Vec<ValType> = [PTR, PTR]
            .into_iter()
            .chain(sig.params().iter().copied())
            .collect();
        if results.len() > 1 {
            args.push(PTR);
        }
        let (mut args, stack) = assign_args(rules, &args, false);
        let area = (results.len() > 1).then(|| args.pop().expect("pushed above").1);
        let mut placed = Vec::with_capacity(results.len());
        let mut layout = ResultsArea::EMPTY;
        for (i, &ty) in results.iter().enumerate() {
            let loc = if i == 0 {
                match class(ty) {
                    Class::Int => Loc::Gpr(rules.int_rets[0]),
                    Class::Float => Loc::Vec(rules.float_rets[0]),
                }
            } else {
                let align = if ty == ValType::V128 {
                    rules.v128_align
                } else {
                    ty.byte_size(8, GcRefWidth::Pointer)
                };
                let (offset, next) = layout.push(ty.byte_size(8, GcRefWidth::Pointer), align);
                layout = next;
                Loc::Area(offset)
            };
            placed.push((ty, loc));
        }
        Plan {
            args,
            results: placed,
            area,
            pop: pop(rules, stack),
        }
    }

    /// Cranelift's `tail` convention: results in return registers, the
    /// rest in an implicit return area.
    pub(crate) fn wasm(rules: &Rules, sig: &Signature) -> Plan {
        let (mut ints, mut floats, mut next) = (rules.first_int, 0, 0u32);
        let results: Vec<(ValType, Loc)> = sig
            .results()
            .iter()
            .map(|&ty| {
                let (regs, n, reg): (_, _, fn(u8) -> Loc) = match class(ty) {
                    Class::Int => (rules.int_rets, &mut ints, Loc::Gpr),
                    Class::Float => (rules.float_rets, &mut floats, Loc::Vec),
                };
                if let Some(&r) = regs.get(*n) {
                    *n += 1;
                    return (ty, reg(r));
                }
                (ty, Loc::Area(stack_slot(&mut next, ty)))
            })
            .collect();
        let sret = next > 0;
        let args: Vec<ValType> = [PTR, PTR]
            .into_iter()
            .chain(sig.params().iter().copied())
            .collect();
        let (args, stack) = assign_args(rules, &args, sret);
        let area = sret.then(|| match rules.sret {
            Sret::FirstInt => Loc::Gpr(rules.int_args[rules.first_int]),
            Sret::Reg(r) => Loc::Gpr(r),
        });
        Plan {
            args,
            results,
            area,
            pop: pop(rules, stack),
        }
    }
}

/// Whether `sig`'s results overflow `rules`' return registers (then the
/// caller passes an implicit return area).
pub(crate) fn needs_return_area(rules: &Rules, sig: &Signature) -> bool {
    let ints = sig
        .results()
        .iter()
        .filter(|&&t| class(t) == Class::Int)
        .count();
    let floats = sig.results().len() - ints;
    ints > rules.int_rets.len() - rules.first_int.min(rules.int_rets.len())
        || floats > rules.float_rets.len()
}

/// The bytes a callee pops: the argument area, rounded to the stack
/// alignment, if the convention pops at all.
fn pop(rules: &Rules, stack: u32) -> u32 {
    if rules.callee_pops {
        stack.next_multiple_of(16)
    } else {
        0
    }
}

/// A stack slot for `ty`: at least 8 bytes, aligned to its size.
fn stack_slot(next: &mut u32, ty: ValType) -> u32 {
    let size = ty.byte_size(8, GcRefWidth::Pointer).max(8);
    *next = next.next_multiple_of(size);
    let at = *next;
    *next += size;
    at
}

/// Assigns `tys` to argument registers and stack slots; returns the
/// locations and the stack bytes used.
fn assign_args(rules: &Rules, tys: &[ValType], sret: bool) -> (Vec<(ValType, Loc)>, u32) {
    let shift = usize::from(sret && matches!(rules.sret, Sret::FirstInt));
    let (mut ints, mut floats, mut position) = (rules.first_int + shift, 0, shift);
    let mut next = rules.shadow;
    let locs = tys
        .iter()
        .map(|&ty| {
            let index = |n: usize| if rules.positional { position } else { n };
            let loc = if ty == ValType::V128 && rules.v128_by_ref {
                match rules.int_args.get(index(ints)) {
                    Some(&r) => {
                        ints += 1;
                        Loc::GprRef(r)
                    }
                    None => Loc::StackRef(stack_slot(&mut next, PTR)),
                }
            } else {
                let (regs, n, reg): (_, _, fn(u8) -> Loc) = match class(ty) {
                    Class::Int => (rules.int_args, &mut ints, Loc::Gpr),
                    Class::Float => (rules.float_args, &mut floats, Loc::Vec),
                };
                match regs.get(if rules.positional { position } else { *n }) {
                    Some(&r) => {
                        *n += 1;
                        reg(r)
                    }
                    None => Loc::Stack(stack_slot(&mut next, ty)),
                }
            };
            position += 1;
            (ty, loc)
        })
        .collect();
    (locs, next)
}

/// The plans of one signature: for its native and its wasm convention,
/// each made at the first generic call that needs it (most functions are
/// only ever called through `array_call`).
#[derive(Default)]
pub(crate) struct Plans {
    native: OnceLock<Plan>,
    wasm: OnceLock<Plan>,
}

impl Plans {
    /// The native convention's plan of `sig` under `rules`.
    pub(crate) fn native(&self, rules: &Rules, sig: &Signature) -> &Plan {
        self.native.get_or_init(|| Plan::native(rules, sig))
    }

    /// The wasm convention's plan of `sig` under `rules`.
    pub(crate) fn wasm(&self, rules: &Rules, sig: &Signature) -> &Plan {
        self.wasm.get_or_init(|| Plan::wasm(rules, sig))
    }
}
