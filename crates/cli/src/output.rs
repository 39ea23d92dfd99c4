//! Writing an output file: a regular file whole or not at all; anything
//! else the path names (a device, a FIFO) written in place.

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to what `path` names. A symbolic link is followed: what
/// is written is its target. A device or a FIFO is written in place, as
/// `cat > path` would (a write error, such as `ENOSPC`, is an error), and
/// never replaced. A regular file, or a path that does not exist yet, is
/// written atomically ([`write_atomically`]): only a regular file is ever
/// replaced by a rename.
pub(crate) fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    let target = follow_links(path)?;
    match std::fs::metadata(&target) {
        Ok(meta) if meta.is_dir() => bail!("{} is a directory", path.display()),
        Ok(meta) if !meta.is_file() => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .and_then(|mut file| file.write_all(bytes).map(|()| file))
                .with_context(|| format!("cannot write {}", path.display()))?;
            file.flush()
                .with_context(|| format!("cannot write {}", path.display()))
        }
        _ => write_atomically(&target, bytes),
    }
}

/// What `path` names once every symbolic link on its last component is
/// followed (the link's target may not exist yet).
fn follow_links(path: &Path) -> Result<PathBuf> {
    let mut path = path.to_owned();
    // As many as Linux follows (`ELOOP` beyond).
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&path)
                    .with_context(|| format!("cannot read the link {}", path.display()))?;
                path = match path.parent() {
                    Some(dir) => dir.join(link),
                    None => link,
                };
            }
            _ => return Ok(path),
        }
    }
    bail!("{}: too many levels of symbolic links", path.display())
}

/// Writes `bytes` to `path` atomically: into a temporary file beside it,
/// synced, then renamed over it. On any failure (disk full, a file-size
/// limit, an I/O error) the temporary file is removed and `path` is as it
/// was. On Unix, termination signals are held back while the temporary
/// file exists, so one that arrives meanwhile ends the process only after
/// the rename or the clean-up; `SIGKILL` cannot be held back and can leave
/// the temporary file (named `.<name>.springboard-<pid>.tmp`).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let Some(name) = path.file_name() else {
        bail!("{} does not name a file", path.display());
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let temporary = dir.join(format!(
        ".{}.springboard-{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _held = signals::hold();
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        // It may not exist (creating it failed); nothing else to do if so.
        let _ = std::fs::remove_file(&temporary);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

/// Makes a write past a file-size limit fail with an error rather than
/// kill the process (`SIGXFSZ`'s default), so that it is cleaned up like any
/// other failed write. Called once, at start-up.
pub(crate) fn fail_writes_past_size_limits() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to "ignore" installs no handler
    // code; the process is single-threaded at start-up.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

#[cfg(unix)]
mod signals {
    /// The termination signals a user or a supervisor sends.
    const HELD: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

    /// Holds back [`HELD`] until dropped (then a pending one is delivered).
    pub(super) struct Held(libc::sigset_t);

    pub(super) fn hold() -> Held {
        // SAFETY: `sigemptyset`/`sigaddset` initialise the local sets;
        // `pthread_sigmask` changes only this thread's mask and writes the
        // previous one into `old`, a valid, owned `sigset_t`.
        unsafe {
            let mut set: libc::sigset_t = core::mem::zeroed();
            let mut old: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut set);
            for signal in HELD {
                libc::sigaddset(&mut set, signal);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            Held(old)
        }
    }

    impl Drop for Held {
        fn drop(&mut self) {
            // SAFETY: restores the mask `hold` saved, from this thread.
            unsafe {
                libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, core::ptr::null_mut());
            }
        }
    }
}

#[cfg(not(unix))]
mod signals {
    pub(super) fn hold() {}
}
