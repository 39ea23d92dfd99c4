//! An opt-in perf map: `/tmp/perf-<pid>.map`, the file `perf report` (and
//! other profilers) read to name JIT code. Once [`enable`]d, every
//! [`CodeMemory`](crate::CodeMemory) appends one line per named item as it is
//! mapped: `<start> <size> <name>` in hex, the name being the item's symbol
//! name (`springboard_<kind>_<signature>`).
//!
//! Process-wide, as the file is: the first `enable` creates (truncates) it.
//! Unmapped code keeps its lines (perf maps cannot retract), as in every JIT
//! that writes them.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

static MAP: OnceLock<Mutex<File>> = OnceLock::new();

/// Where this process's perf map is written.
pub fn path() -> PathBuf {
    PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()))
}

/// Starts writing the perf map ([`path`]); later calls do nothing. Fails if
/// the file cannot be created, or off Linux (perf is Linux's).
pub fn enable() -> io::Result<()> {
    if MAP.get().is_some() {
        return Ok(());
    }
    if !cfg!(target_os = "linux") {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "perf maps are read by Linux's perf only",
        ));
    }
    let file = File::create(path())?;
    // A racing `enable` may have won; either file is the same path.
    let _ = MAP.set(Mutex::new(file));
    Ok(())
}

/// Whether [`enable`] succeeded in this process.
pub fn is_enabled() -> bool {
    MAP.get().is_some()
}

/// Appends `lines` (already formatted) in one write, so that concurrent
/// mappings never interleave within a line. A failing write is dropped: a
/// profiler's aid must not fail the mapping of code.
pub(crate) fn append(lines: &str) {
    if let Some(map) = MAP.get() {
        let mut file = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = file.write_all(lines.as_bytes());
    }
}
