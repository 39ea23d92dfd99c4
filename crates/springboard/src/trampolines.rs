//! The trampolines of each registered signature: compiled on first need (or
//! all at once, eagerly), or installed from a loaded object; mapped in
//! batches; shared by every function of the signature.

use crate::Error;
use crate::registry::SharedSignature;
use core::ffi::c_void;
use core::ptr::NonNull;
use springboard_loader::{CodeMemory, CompiledTrampoline, TrampolineKind};
#[cfg(feature = "compiler")]
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
#[cfg(feature = "compiler")]
use std::sync::{Mutex, PoisonError};

/// The code of one kind for one signature.
#[derive(Clone)]
pub(crate) enum KindCode {
    /// Mapped and usable as is (one copy serves every function).
    Mapped {
        /// Keeps `entry` mapped.
        _memory: Arc<CodeMemory>,
        entry: NonNull<c_void>,
    },
    /// A template, stamped once per function.
    Template(Arc<CompiledTrampoline>),
}

// SAFETY: `entry` points into `memory`, an immutable read+execute mapping
// kept alive by the `Arc`; sharing its address between threads is sound.
unsafe impl Send for KindCode {}
// SAFETY: as for `Send`; nothing in a `KindCode` is ever mutated.
unsafe impl Sync for KindCode {}

impl KindCode {
    /// The address of mapped code (`None` for a template).
    pub(crate) fn entry(&self) -> Option<NonNull<c_void>> {
        match self {
            KindCode::Mapped { entry, .. } => Some(*entry),
            KindCode::Template(_) => None,
        }
    }
}

/// Per-signature slots, one per trampoline kind, each set at most once.
#[derive(Default)]
pub(crate) struct SigCode {
    kinds: [OnceLock<KindCode>; 6],
    /// Serialises compilation so concurrent first uses compile once.
    #[cfg(feature = "compiler")]
    compiling: Mutex<()>,
}

fn slot(kind: TrampolineKind) -> usize {
    kind as usize
}

impl SigCode {
    pub(crate) fn get(&self, kind: TrampolineKind) -> Option<&KindCode> {
        self.kinds[slot(kind)].get()
    }
}

/// Maps the non-template pieces of `batch` together (one mapping for the
/// whole batch) and installs every piece into its signature's slots. Slots
/// already filled keep their code.
pub(crate) fn install(batch: Vec<(SharedSignature, CompiledTrampoline)>) -> Result<(), Error> {
    let (templates, mapped): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .partition(|(_, code)| matches!(code.kind, springboard_loader::CodeKind::Trampoline(k) if k.is_template()));
    if !mapped.is_empty() {
        let items: Vec<_> = mapped
            .iter()
            .map(|(_, code)| code.code_item(None))
            .collect();
        let memory = Arc::new(CodeMemory::new(&items)?);
        for (i, (sig, code)) in mapped.iter().enumerate() {
            let entry = memory.entry(i).expect("one entry per item");
            set(
                sig,
                &code.kind,
                KindCode::Mapped {
                    _memory: Arc::clone(&memory),
                    entry,
                },
            );
        }
    }
    for (sig, code) in templates {
        let kind = code.kind;
        set(&sig, &kind, KindCode::Template(Arc::new(code)));
    }
    Ok(())
}

fn set(sig: &SharedSignature, kind: &springboard_loader::CodeKind, code: KindCode) {
    if let springboard_loader::CodeKind::Trampoline(k) = kind {
        // Losing a race to another installer is fine: its code is equivalent.
        let _ = sig.0.code.kinds[slot(*k)].set(code);
    }
}

/// Where trampolines come from when a slot is empty.
pub(crate) struct Source {
    #[cfg(feature = "compiler")]
    pub(crate) compiler: springboard_compiler::Compiler,
    #[cfg(feature = "compiler")]
    pub(crate) eager: bool,
    /// How many trampolines this source compiled.
    #[cfg(feature = "compiler")]
    pub(crate) compiled: std::sync::atomic::AtomicUsize,
}

impl Source {
    /// The `kind` code of `sig`: already there, or compiled now (see
    /// [`prepare`](Self::prepare)). `Ok(None)` when there is no compiler and
    /// no object supplied it.
    pub(crate) fn code(
        &self,
        sig: &SharedSignature,
        kind: TrampolineKind,
    ) -> Result<Option<KindCode>, Error> {
        self.prepare(sig, &[kind])?;
        Ok(sig.0.code.get(kind).cloned())
    }

    /// Compiles the missing ones of `kinds` for `sig` (every missing kind
    /// when eager) into one mapping: a caller that needs several kinds at
    /// once asks for them together, so they share a page.
    #[cfg(feature = "compiler")]
    pub(crate) fn prepare(
        &self,
        sig: &SharedSignature,
        kinds: &[TrampolineKind],
    ) -> Result<(), Error> {
        let code = &sig.0.code;
        if kinds.iter().all(|&k| code.get(k).is_some()) {
            return Ok(());
        }
        let _guard = code
            .compiling
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Rechecked under the lock: the thread we waited for may have
        // compiled some of them.
        let wanted: &[TrampolineKind] = if self.eager {
            &TrampolineKind::ALL
        } else {
            kinds
        };
        let batch = wanted
            .iter()
            .filter(|&&k| code.get(k).is_none())
            .map(|&k| Ok((sig.clone(), self.compile(k, sig)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        install(batch)
    }

    #[cfg(not(feature = "compiler"))]
    pub(crate) fn prepare(&self, _: &SharedSignature, _: &[TrampolineKind]) -> Result<(), Error> {
        Ok(()) // only loaded objects supply code
    }

    #[cfg(feature = "compiler")]
    fn compile(
        &self,
        kind: TrampolineKind,
        sig: &SharedSignature,
    ) -> Result<CompiledTrampoline, Error> {
        self.compiled.fetch_add(1, Ordering::Relaxed);
        Ok(self.compiler.compile(kind, sig.signature())?)
    }

    /// Compiles every missing kind of every signature in `sigs`, spread over
    /// the machine's cores, and maps them as one batch.
    #[cfg(feature = "compiler")]
    pub(crate) fn precompile(&self, sigs: &[SharedSignature]) -> Result<(), Error> {
        let work: Vec<(SharedSignature, TrampolineKind)> = sigs
            .iter()
            .flat_map(|s| TrampolineKind::ALL.into_iter().map(move |k| (s.clone(), k)))
            .filter(|(s, k)| s.0.code.get(*k).is_none())
            .collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(work.len().max(1));
        // Workers take the next item as they finish one (signatures differ
        // widely in cost), and the calling thread is one of them rather than
        // idling in `join` (its Cranelift context may well be warm).
        let next = AtomicUsize::new(0);
        let worker = || -> Result<Vec<_>, Error> {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((s, k)) = work.get(i) else { break };
                match self.compile(*k, s) {
                    Ok(code) => done.push((i, s.clone(), code)),
                    Err(e) => {
                        // Stop the others early; one error is reported.
                        next.store(work.len(), Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
            Ok(done)
        };
        let compiled: Vec<Result<Vec<_>, Error>> = std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(worker)).collect();
            let mut compiled = vec![worker()];
            compiled.extend(
                helpers
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
            );
            compiled
        });
        let mut batch = Vec::with_capacity(work.len());
        for part in compiled {
            batch.extend(part?);
        }
        // The same layout whichever thread compiled what.
        batch.sort_unstable_by_key(|(i, _, _)| *i);
        let batch: Vec<_> = batch.into_iter().map(|(_, s, code)| (s, code)).collect();
        if batch.is_empty() {
            return Ok(());
        }
        install(batch)
    }
}
