//! Where trampolines come from when a type's slot is empty: the compiler
//! (lazily, one kind or every kind at first need, in the background when
//! generic entries ask for it, or in parallel ahead of time), or loaded
//! objects only without the `compiler` feature; and [`Source::install`],
//! which maps a batch of code and fills the types' slots from it.

use crate::error::Error;
use crate::registry::SharedSignature;
use crate::type_state::KindCode;
use core::ffi::c_void;
use core::ptr::NonNull;
use springboard_environ::{CodeKind, CompiledTrampoline, TrampolineKind};
use springboard_loader::{CodeItem, CodeMemory, CodeProvider};
use std::sync::Arc;
#[cfg(feature = "compiler")]
use std::sync::PoisonError;
#[cfg(feature = "compiler")]
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where trampolines come from when a slot is empty.
pub(crate) struct Source {
    /// Where mapped code lives.
    provider: Arc<dyn CodeProvider>,
    #[cfg(feature = "compiler")]
    compiler: springboard_compiler::Compiler,
    /// Whether a first need compiles every kind of the type.
    #[cfg(feature = "compiler")]
    eager: bool,
    /// How many trampolines this source compiled.
    #[cfg(feature = "compiler")]
    compiled: AtomicUsize,
    /// Calls a generic entry takes before the compiled trampoline is
    /// requested; 0: no generic entries, compile at creation.
    tier_up_after: u32,
    /// Background compilations requested and not finished.
    #[cfg(feature = "compiler")]
    pending: std::sync::Mutex<usize>,
    #[cfg(feature = "compiler")]
    idle: std::sync::Condvar,
}

impl Source {
    /// A source that maps into `provider` and compiles with `compiler`.
    #[cfg(feature = "compiler")]
    pub(crate) fn new(
        provider: Arc<dyn CodeProvider>,
        compiler: springboard_compiler::Compiler,
        eager: bool,
        tier_up_after: u32,
    ) -> Source {
        Source {
            provider,
            compiler,
            eager,
            compiled: AtomicUsize::new(0),
            tier_up_after,
            pending: Default::default(),
            idle: Default::default(),
        }
    }

    /// A source of loaded objects only, mapping into `provider`.
    #[cfg(not(feature = "compiler"))]
    pub(crate) fn new(provider: Arc<dyn CodeProvider>, tier_up_after: u32) -> Source {
        Source {
            provider,
            tier_up_after,
        }
    }

    /// Where mapped code lives.
    pub(crate) fn provider(&self) -> &dyn CodeProvider {
        &*self.provider
    }

    /// The compiler.
    #[cfg(feature = "compiler")]
    pub(crate) fn compiler(&self) -> &springboard_compiler::Compiler {
        &self.compiler
    }

    /// How many trampolines this source compiled.
    #[cfg(feature = "compiler")]
    pub(crate) fn compiled(&self) -> usize {
        self.compiled.load(Ordering::Relaxed)
    }

    /// See [`Config::tier_up_after`](crate::Config::tier_up_after).
    pub(crate) fn tier_up_after(&self) -> u32 {
        self.tier_up_after
    }

    /// The `kind` code of `sig`: already there, or compiled now (see
    /// [`prepare`](Self::prepare)). `Ok(None)` when there is no compiler and
    /// no object supplied it.
    pub(crate) fn code(
        &self,
        sig: &SharedSignature,
        kind: TrampolineKind,
    ) -> Result<Option<KindCode>, Error> {
        self.prepare(sig, &[kind])?;
        Ok(sig.state().code(kind).cloned())
    }

    /// Maps the non-template pieces of `batch` together (one mapping for
    /// the whole batch) and installs every piece into its type's slots.
    /// Slots already filled keep their code.
    pub(crate) fn install(
        &self,
        batch: Vec<(SharedSignature, CompiledTrampoline)>,
    ) -> Result<(), Error> {
        let (templates, mapped): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|(_, code)| code.kind.is_template());
        if !mapped.is_empty() {
            let items: Vec<_> = mapped
                .iter()
                .map(|(_, code)| CodeItem::new(code, None))
                .collect();
            let memory = Arc::new(CodeMemory::new_in(&*self.provider, &items)?);
            for (i, (sig, code)) in mapped.iter().enumerate() {
                let address = memory.entry(i).expect("one entry per item");
                let code_memory = Arc::clone(&memory);
                install_one(sig, code.kind, || KindCode::Mapped {
                    _memory: code_memory,
                    address,
                });
            }
        }
        for (sig, code) in templates {
            let kind = code.kind;
            install_one(&sig, kind, || KindCode::Template(Arc::new(code)));
        }
        Ok(())
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
        let state = sig.state();
        if kinds.iter().all(|&k| state.has(k)) {
            return Ok(());
        }
        let _guard = state.lock_compiling();
        // Rechecked under the lock: the thread we waited for may have
        // compiled some of them.
        let wanted: &[TrampolineKind] = if self.eager {
            &TrampolineKind::ALL
        } else {
            kinds
        };
        let batch = wanted
            .iter()
            .filter(|&&k| !state.has(k))
            .map(|&k| Ok((sig.clone(), self.compile(k, sig)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        self.install(batch)
    }

    /// The indirect entry of `sig` (see `CodeKind::IndirectEntry`), compiled
    /// and mapped on first use; `None` without a compiler.
    #[cfg(feature = "compiler")]
    pub(crate) fn indirect_entry(
        &self,
        sig: &SharedSignature,
    ) -> Result<Option<NonNull<c_void>>, Error> {
        sig.state()
            .indirect_entry(|| {
                let code = self
                    .compiler
                    .compile_indirect_entry(sig.trampoline_type())?;
                self.compiled.fetch_add(1, Ordering::Relaxed);
                let memory = Arc::new(CodeMemory::new_in(
                    &*self.provider,
                    &[CodeItem::new(&code, None)],
                )?);
                let address = memory.entry(0).expect("one entry per item");
                Ok(KindCode::Mapped {
                    _memory: memory,
                    address,
                })
            })
            .map(Some)
    }

    #[cfg(not(feature = "compiler"))]
    pub(crate) fn indirect_entry(
        &self,
        _: &SharedSignature,
    ) -> Result<Option<NonNull<c_void>>, Error> {
        Ok(None)
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
        let code = self.compiler.compile(kind, sig.trampoline_type())?;
        self.compiled.fetch_add(1, Ordering::Relaxed);
        Ok(code)
    }

    /// Counts a call a generic entry of `sig` took on its way to `kind`;
    /// the call that reaches the budget requests `kind`'s compilation in
    /// the background (exactly one call does, however many race).
    #[inline]
    pub(crate) fn count_generic_call(
        self: &Arc<Self>,
        sig: &SharedSignature,
        kind: TrampolineKind,
    ) {
        if sig.state().count_generic_call(kind, self.tier_up_after) {
            self.tier_up(sig, kind);
        }
    }

    #[cfg(not(feature = "compiler"))]
    fn tier_up(self: &Arc<Self>, _: &SharedSignature, _: TrampolineKind) {}

    #[cfg(feature = "compiler")]
    fn tier_up(self: &Arc<Self>, sig: &SharedSignature, kind: TrampolineKind) {
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        let _ = background::submit(background::Job {
            source: Arc::clone(self),
            sig: sig.clone(),
            kind,
        });
    }

    /// Compiles what `jobs` (all of this source) ask for and maps it as one
    /// batch. A trampoline that fails to compile is left out: its generic
    /// entries stay, correct and slower.
    #[cfg(feature = "compiler")]
    fn compile_requested(&self, jobs: &[background::Job]) -> Result<(), Error> {
        let mut guards = Vec::with_capacity(jobs.len());
        let mut locked = std::collections::HashSet::new();
        let mut queued = std::collections::HashSet::new();
        let mut batch: Vec<(SharedSignature, CompiledTrampoline)> = Vec::new();
        for job in jobs {
            let state = job.sig.state();
            // Held until the batch is installed, so a concurrent first use
            // waits for this code rather than compiling its own (once per
            // signature: several of its kinds may be asked for).
            if locked.insert(job.sig.identity()) {
                guards.push(state.lock_compiling());
            }
            let kinds = if self.eager {
                &TrampolineKind::ALL[..]
            } else {
                core::slice::from_ref(&job.kind)
            };
            for &kind in kinds {
                if !state.has(kind)
                    && queued.insert((job.sig.identity(), kind.index()))
                    && let Ok(compiled) = self.compile(kind, &job.sig)
                {
                    batch.push((job.sig.clone(), compiled));
                }
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.install(batch)
    }

    #[cfg(feature = "compiler")]
    fn finished(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        *pending -= 1;
        if *pending == 0 {
            self.idle.notify_all();
        }
    }

    /// Waits until every background compilation requested so far is done.
    pub(crate) fn wait_idle(&self) {
        #[cfg(feature = "compiler")]
        {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            while *pending > 0 {
                pending = self
                    .idle
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
    }

    /// Compiles every missing kind of every signature in `sigs`, spread over
    /// the machine's cores, and maps them as one batch.
    #[cfg(feature = "compiler")]
    pub(crate) fn precompile(&self, sigs: &[SharedSignature]) -> Result<(), Error> {
        let work: Vec<(SharedSignature, TrampolineKind)> = sigs
            .iter()
            .flat_map(|s| TrampolineKind::ALL.into_iter().map(move |k| (s.clone(), k)))
            .filter(|(s, k)| !s.state().has(*k))
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
        self.install(batch)
    }
}

/// The one thread that compiles what generic entries request, for every
/// engine of the process: started at the first request, it sleeps on its
/// queue when there is nothing to do.
#[cfg(feature = "compiler")]
mod background {
    use super::{SharedSignature, Source, TrampolineKind};
    use std::sync::mpsc::{Receiver, Sender, channel};
    use std::sync::{Arc, Mutex, PoisonError};

    /// A trampoline a generic entry asked for; when it is dropped (done,
    /// failed, or never run) its source counts it finished.
    pub(super) struct Job {
        pub(super) source: Arc<Source>,
        pub(super) sig: SharedSignature,
        pub(super) kind: TrampolineKind,
    }

    impl Drop for Job {
        fn drop(&mut self) {
            self.source.finished();
        }
    }

    static QUEUE: Mutex<Option<Sender<Job>>> = Mutex::new(None);

    /// Queues `job`; gives it back if no thread can run it.
    pub(super) fn submit(job: Job) -> Result<(), Job> {
        let mut queue = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.is_none() {
            let (sender, jobs) = channel::<Job>();
            let worker = std::thread::Builder::new()
                .name("springboard-tier-up".into())
                .spawn(move || work(&jobs));
            if worker.is_err() {
                return Err(job);
            }
            *queue = Some(sender);
        }
        match queue.as_ref() {
            Some(sender) => sender.send(job).map_err(|failed| failed.0),
            None => Err(job),
        }
    }

    /// Takes whatever is queued as one batch per engine (one mapping each,
    /// so a burst of new types shares pages), then waits for more.
    fn work(jobs: &Receiver<Job>) {
        while let Ok(first) = jobs.recv() {
            let mut queued: Vec<Job> = std::iter::once(first).chain(jobs.try_iter()).collect();
            while let Some(source) = queued.first().map(|job| Arc::clone(&job.source)) {
                let (mine, rest): (Vec<Job>, Vec<Job>) = queued
                    .into_iter()
                    .partition(|job| Arc::ptr_eq(&job.source, &source));
                // A panic (none is expected: compiler panics become errors)
                // must not stop the thread.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    source.compile_requested(&mine)
                }));
                queued = rest;
            }
        }
    }
}

/// Installs the code `make` gives as `sig`'s code of `kind`, if it is a
/// trampoline (an object's probe or check stub is not).
fn install_one(sig: &SharedSignature, kind: CodeKind, make: impl FnOnce() -> KindCode) {
    if let CodeKind::Trampoline(kind) = kind {
        sig.state().install(kind, make());
    }
}
