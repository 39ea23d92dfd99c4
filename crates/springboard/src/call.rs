//! The checked untyped call: values checked against the type, then a call
//! through `array_call` with a `ValRaw` buffer. [`Func::call`](crate::Func::call)
//! and [`Engine::call_indirect`](crate::Engine::call_indirect) both make it.

use crate::error::Error;
use crate::registry::Registry;
use crate::trap::TrapMode;
use crate::val::{Val, check_arity, check_value, number_raw};
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use springboard_environ::Signature;
use springboard_vm_abi::{VMFuncRef, VMOpaqueContext, ValRaw};

/// How many slots a call keeps on the stack before it allocates.
const INLINE_SLOTS: usize = 16;

/// Checks values against `ty` and calls `func_ref` through `array_call`
/// with `caller` as the caller vmctx, under `mode`'s trap handling.
///
/// # Safety
/// `func_ref` must be a live funcref whose entry points have type `ty`, and
/// `caller` a context it accepts, live for the call.
// One copy for `Func::call` and `Engine::call_indirect`: inlined into
// `Func::call`'s frame it measured slower with sixteen parameters.
#[inline(never)]
pub(crate) unsafe fn call_array(
    func_ref: &VMFuncRef,
    ty: &Signature,
    registry: &Registry,
    caller: NonNull<VMOpaqueContext>,
    mode: TrapMode,
    params: &[Val],
    results: &mut [Val],
) -> Result<(), Error> {
    check_arity("parameters", ty.params().len(), params.len())?;
    let len = ty.array_len();
    // Only the `len` slots in use are written: zeroing all of `inline` costs
    // more than the rest of a small call.
    let mut inline = [const { MaybeUninit::<ValRaw>::uninit() }; INLINE_SLOTS];
    let mut heap = Vec::new();
    let slots: &mut [MaybeUninit<ValRaw>] = if len <= INLINE_SLOTS {
        &mut inline[..len]
    } else {
        heap.resize(len, MaybeUninit::new(ValRaw::ZERO));
        &mut heap
    };
    // `len >= params.len()`: the parameters, each checked as it is written
    // (one pass: numbers need one compare), then zeros up to `len` (plain
    // loops: a chained iterator here compiled to a slower loop).
    let (param_slots, rest) = slots.split_at_mut(params.len());
    for (index, ((slot, param), &expected)) in param_slots
        .iter_mut()
        .zip(params)
        .zip(ty.params())
        .enumerate()
    {
        let raw = match number_raw(param, expected) {
            Some(raw) => raw,
            None => {
                check_value("parameters", index, expected, param, registry)?;
                param.to_raw()
            }
        };
        slot.write(raw);
    }
    check_arity("results", ty.results().len(), results.len())?;
    for slot in rest {
        slot.write(ValRaw::ZERO);
    }
    // SAFETY: every one of the `len` slots was written just above.
    let values = unsafe { &mut *(slots as *mut [MaybeUninit<ValRaw>] as *mut [ValRaw]) };
    let buffer = values.as_mut_ptr();
    mode.call(caller.as_ptr(), |caller| {
        // SAFETY: the caller guarantees the funcref is live and of type
        // `ty`; the buffer holds max(params, results) slots.
        unsafe { (func_ref.array_call)(func_ref.vmctx, caller, buffer, len) }
    })?;
    for ((out, raw), &t) in results.iter_mut().zip(values.iter()).zip(ty.results()) {
        *out = Val::from_raw(*raw, t, registry.gc());
    }
    Ok(())
}
