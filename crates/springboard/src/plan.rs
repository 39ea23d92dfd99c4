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

/// Places arguments one after another as `rules` do (Cranelift's
/// `compute_arg_locs`): registers of the value's class while they last
/// (the n-th of them when `positional`), then stack slots.
struct ArgPlacer<'a> {
    rules: &'a Rules,
    ints: usize,
    floats: usize,
    position: usize,
    /// The stack bytes used so far.
    next: u32,
}

impl<'a> ArgPlacer<'a> {
    /// Before the first argument; `sret`: an implicit return area's address
    /// comes first.
    fn new(rules: &'a Rules, sret: bool) -> ArgPlacer<'a> {
        let shift = usize::from(sret && matches!(rules.sret, Sret::FirstInt));
        ArgPlacer {
            rules,
            ints: rules.first_int + shift,
            floats: 0,
            position: shift,
            next: rules.shadow,
        }
    }

    #[inline]
    fn place(&mut self, ty: ValType) -> Loc {
        let rules = self.rules;
        let index = |n: usize, position: usize| if rules.positional { position } else { n };
        let loc = if ty == ValType::V128 && rules.v128_by_ref {
            match rules.int_args.get(index(self.ints, self.position)) {
                Some(&r) => {
                    self.ints += 1;
                    Loc::GprRef(r)
                }
                None => Loc::StackRef(stack_slot(&mut self.next, PTR)),
            }
        } else {
            let (regs, n, reg): (_, _, fn(u8) -> Loc) = match class(ty) {
                Class::Int => (rules.int_args, &mut self.ints, Loc::Gpr),
                Class::Float => (rules.float_args, &mut self.floats, Loc::Vec),
            };
            match regs.get(index(*n, self.position)) {
                Some(&r) => {
                    *n += 1;
                    reg(r)
                }
                None => Loc::Stack(stack_slot(&mut self.next, ty)),
            }
        };
        self.position += 1;
        loc
    }
}

/// Assigns `tys` to argument registers and stack slots; returns the
/// locations and the stack bytes used.
fn assign_args(rules: &Rules, tys: &[ValType], sret: bool) -> (Vec<(ValType, Loc)>, u32) {
    let mut placer = ArgPlacer::new(rules, sret);
    let locs = tys.iter().map(|&ty| (ty, placer.place(ty))).collect();
    (locs, placer.next)
}

/// Whether the two contexts and `params` certainly leave some argument on
/// the stack under `rules` (more of a class than its registers; with
/// positional registers, more arguments than either class has).
fn spills(rules: &Rules, params: &[ValType]) -> bool {
    let floats = params
        .iter()
        .filter(|&&t| class(t) == Class::Float && !(t == ValType::V128 && rules.v128_by_ref))
        .count();
    let ints = 2 + params.len() - floats;
    let (int_regs, float_regs) = (rules.int_args.len(), rules.float_args.len());
    if rules.positional {
        ints + floats > int_regs.max(float_regs)
    } else {
        ints + rules.first_int > int_regs || floats > float_regs
    }
}

/// Whether `Plan::native(native, sig) == Plan::wasm(wasm, sig)`, without
/// building either (a host function asks when it is made). Equal plans
/// have at most one result: a second goes to the native results area,
/// whose address is an argument the wasm convention does not have.
pub(crate) fn same_places(native: &Rules, wasm: &Rules, sig: &Signature) -> bool {
    // More arguments of a class than its registers: some on the stack,
    // which only one of the two pops (cheap to see, and common).
    if native.callee_pops != wasm.callee_pops && spills(native, sig.params()) {
        return false;
    }
    common_places(native, wasm, sig).is_some_and(|(n, w)| n == w)
}

/// The bytes the wasm convention pops where it and the native convention
/// put every argument and the result of `sig` in the same place and only
/// the wasm one pops its stack arguments — where a native entry would
/// serve wasm but for the popping.
pub(crate) fn same_places_but_wasm_pops(
    native: &Rules,
    wasm: &Rules,
    sig: &Signature,
) -> Option<u32> {
    match common_places(native, wasm, sig)? {
        (0, bytes) if bytes > 0 => Some(bytes),
        _ => None,
    }
}

/// Where both conventions put the contexts, every parameter and the
/// result (at most one) of `sig` in the same place: the bytes each pops.
fn common_places(native: &Rules, wasm: &Rules, sig: &Signature) -> Option<(u32, u32)> {
    let first_result = |rules: &Rules, ints: usize, ty: ValType| match class(ty) {
        Class::Int => rules.int_rets.get(ints).map(|&r| Loc::Gpr(r)),
        Class::Float => rules.float_rets.first().map(|&r| Loc::Vec(r)),
    };
    match sig.results() {
        [] => {}
        [ty] => {
            let native_loc = first_result(native, 0, *ty);
            if native_loc.is_none() || native_loc != first_result(wasm, wasm.first_int, *ty) {
                return None;
            }
        }
        _ => return None,
    }
    let (mut n, mut w) = (ArgPlacer::new(native, false), ArgPlacer::new(wasm, false));
    let args = [PTR, PTR].into_iter().chain(sig.params().iter().copied());
    for ty in args {
        if n.place(ty) != w.place(ty) {
            return None;
        }
    }
    Some((pop(native, n.next), pop(wasm, w.next)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use springboard_environ::ValType::*;

    /// Every ISA's rules the generic entries use, and the other shapes
    /// `Rules` can take (positional, shadow space, `v128` by reference, a
    /// first argument register after `x1`).
    fn rule_sets() -> Vec<Rules> {
        let base = Rules {
            int_args: &[4, 3, 2, 1, 5, 6],
            float_args: &[0, 1, 2, 3, 4, 5, 6, 7],
            int_rets: &[0, 1, 2, 3, 4, 5, 6, 7],
            float_rets: &[0, 1, 2, 3, 4, 5, 6, 7],
            positional: false,
            shadow: 0,
            v128_by_ref: false,
            sret: Sret::FirstInt,
            callee_pops: false,
            first_int: 0,
            v128_align: 16,
        };
        vec![
            Rules {
                int_rets: &[0],
                float_rets: &[0],
                ..base
            },
            Rules {
                callee_pops: true,
                ..base
            },
            Rules {
                first_int: 2,
                callee_pops: true,
                sret: Sret::Reg(8),
                ..base
            },
            Rules {
                int_args: &[1, 2, 5, 6],
                float_args: &[0, 1, 2, 3],
                int_rets: &[0],
                float_rets: &[0],
                positional: true,
                shadow: 32,
                v128_by_ref: true,
                ..base
            },
        ]
    }

    #[test]
    fn same_places_is_plan_equality() {
        let tys = [I32, I64, F32, F64, V128, ValType::FUNCREF];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let (mut equal, mut pops, mut checked) = (0, 0, 0);
        for _ in 0..4000 {
            let params: Vec<ValType> = (0..next(12)).map(|_| tys[next(6) as usize]).collect();
            let results: Vec<ValType> = (0..next(3)).map(|_| tys[next(6) as usize]).collect();
            let sig = Signature::new(&params, &results).unwrap();
            for native in &rule_sets() {
                for wasm in &rule_sets() {
                    let (n, w) = (Plan::native(native, &sig), Plan::wasm(wasm, &sig));
                    let plans_equal = n == w;
                    assert_eq!(same_places(native, wasm, &sig), plans_equal, "{sig}");
                    // Equal but for what only the wasm convention pops.
                    let but_pops = (n.pop == 0 && w.pop > 0)
                        .then_some(w.pop)
                        .filter(|&pop| Plan { pop, ..n } == w);
                    assert_eq!(
                        same_places_but_wasm_pops(native, wasm, &sig),
                        but_pops,
                        "{sig}"
                    );
                    pops += usize::from(but_pops.is_some());
                    equal += usize::from(plans_equal);
                    checked += 1;
                }
            }
        }
        // Both answers occur often enough to matter.
        assert!(
            equal > checked / 20 && equal < checked / 2,
            "{equal} of {checked}"
        );
        assert!(pops > checked / 200, "{pops} of {checked}");
    }
}
