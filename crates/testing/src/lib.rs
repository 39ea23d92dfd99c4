//! How Springboard's tests say that a check did not run.
//!
//! libtest captures what a passing test prints, so a `println!("skipped:
//! …")` is seen by nobody who runs `cargo test`. [`skip`] writes to the
//! process's standard error directly, which libtest does not capture, one
//! line per skip, naming the test: `skipped: <test>: <reason>`. The CI
//! summary (`.ci/test-summary.py`) counts these lines.
//!
//! A check that did not run because a tool is missing is a failure where
//! the tool must be there: under `CI=true`, where `.ci/run` installed it,
//! [`skip_missing_tool`] panics instead of skipping. (Windows builds run
//! under Wine, where no Linux tool can be started at all: a skip there.)

use std::fmt::Display;
use std::io::Write;

/// Reports that (part of) the current test did not run, and why.
pub fn skip(reason: impl Display) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    // Nothing sensible to do if standard error is gone.
    let _ = writeln!(std::io::stderr().lock(), "skipped: {test}: {reason}");
}

/// Reports that (part of) the current test did not run because `tool`
/// cannot be started; under `CI=true` (where `.ci/run` installs it) that is
/// a failure, except in a Windows build (under Wine, no Linux tool starts).
pub fn skip_missing_tool(tool: &str, reason: impl Display) {
    if cfg!(windows) {
        skip(format_args!(
            "{reason}: {tool} cannot be started from this Windows process"
        ));
    } else if in_ci() {
        panic!("{tool} is missing, and .ci/run installs it: {reason}");
    } else {
        skip(format_args!("{reason}: {tool} is not installed"));
    }
}

/// Whether this is a CI run (`CI=true`, as CI sets it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `items` without those `keep` refuses, reporting how many were left out
/// as a skip: `what` says what they are (and why they are left out).
pub fn only<T>(items: Vec<T>, keep: impl Fn(&T) -> bool, what: &str) -> Vec<T> {
    let before = items.len();
    let kept: Vec<T> = items.into_iter().filter(|item| keep(item)).collect();
    if kept.len() < before {
        skip(format_args!("{} of {before} {what}", before - kept.len()));
    }
    kept
}
