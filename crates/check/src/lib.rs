//! Checks Springboard's generated code end to end, for the CLI and the
//! tests of every crate:
//!
//! * [`module`]: what a WebAssembly module needs (its signatures, how its
//!   functions use each, which trampoline kinds that takes);
//! * [`values`]: deterministic test values, edge values first, and the
//!   bit-level comparison of what a slot carries;
//! * [`Driver`]: calls code of any convention and any signature known only
//!   at run time from Rust, through generated code;
//! * [`CodeSet`]: drives every trampoline kind of a signature into probes
//!   and compares every bit that comes out.
#![deny(missing_docs)]

mod driver;
mod harness;
pub mod module;
pub mod values;

pub use driver::{Driver, DriverError, Via};
pub use harness::{CheckFailure, CodeSet, MappedSet};
