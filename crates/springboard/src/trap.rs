//! Host failures at the boundary with generated code.
//!
//! Generated code cannot be unwound through. When a host closure panics or
//! returns an error, its shim catches it here, records it for the current
//! thread, and returns zeroed results to its caller. Every Springboard call
//! that entered generated code ([`Func::call`](crate::Func::call),
//! [`TypedFunc::call`](crate::TypedFunc::call), indirect calls) takes the
//! recorded failure when the call returns and turns it into its `Err`, so it
//! surfaces from the innermost Springboard call that contains it, and from
//! every enclosing one whose host closure passes it on.

use crate::Error;
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};

thread_local! {
    static PENDING: RefCell<Option<Error>> = const { RefCell::new(None) };
    /// Whether `PENDING` holds an error. Every call reads this, and only
    /// this: a `Cell<bool>` needs no destructor, so reading it is a plain
    /// thread-local load, where `PENDING` (which owns an error) checks its
    /// destructor registration on each access.
    static FAILED: Cell<bool> = const { Cell::new(false) };
}

/// The error type host closures may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Records `error` unless an earlier failure is already pending (the first
/// failure is the cause; later ones are consequences of the zeroed results).
pub(crate) fn record(error: Error) {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if p.is_none() {
            *p = Some(error);
            FAILED.set(true);
        }
    });
}

/// Runs a host closure, catching its panic or error.
#[inline]
pub(crate) fn catch<T>(f: impl FnOnce() -> Result<T, BoxError>) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Some(value),
        Ok(Err(error)) => {
            record(Error::Host(error));
            None
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            record(Error::HostPanic(message));
            None
        }
    }
}

/// The failure recorded while the call that just returned ran, if any.
#[inline]
pub(crate) fn take() -> Result<(), Error> {
    if !FAILED.get() {
        return Ok(());
    }
    FAILED.set(false);
    match PENDING.with(|p| p.borrow_mut().take()) {
        None => Ok(()),
        Some(error) => Err(error),
    }
}

/// Takes the host failure recorded on this thread since the last
/// Springboard call returned, if any.
///
/// Springboard's own calls do this themselves. A runtime that enters a
/// funcref from its own generated code (through `wasm_call`, say) calls this
/// when control comes back to it, to learn whether a host function failed.
pub fn take_host_failure() -> Option<Error> {
    take().err()
}
