//! What the engine keeps per trampoline type (shared by every registered
//! type of it): the code of each trampoline kind (one slot per kind, set at
//! most once, shared by every function of those types), the generic entries' tier-up state and
//! plans, and the lock that makes concurrent first uses compile once.
//! Where code comes from is [`source`](crate::source)'s business; who owns
//! a type is the registry's.

use crate::plan::Plans;
use core::ffi::c_void;
use core::ptr::NonNull;
use springboard_environ::{CompiledTrampoline, Signature, TrampolineKind};
use springboard_loader::CodeMemory;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

/// The code of one kind for one type.
#[derive(Clone)]
pub(crate) enum KindCode {
    /// Mapped and usable as is (one copy serves every function).
    Mapped {
        /// Keeps `address` mapped.
        _memory: Arc<CodeMemory>,
        address: NonNull<c_void>,
    },
    /// A template, stamped once per function.
    Template(Arc<CompiledTrampoline>),
}

// SAFETY: `address` points into `memory`, an immutable read+execute mapping
// kept alive by the `Arc`; sharing its address between threads is sound.
unsafe impl Send for KindCode {}
// SAFETY: as for `Send`; nothing in a `KindCode` is ever mutated.
unsafe impl Sync for KindCode {}

impl KindCode {
    /// The address of mapped code (`None` for a template).
    pub(crate) fn address(&self) -> Option<NonNull<c_void>> {
        match self {
            KindCode::Mapped { address, .. } => Some(*address),
            KindCode::Template(_) => None,
        }
    }
}

/// The state of one trampoline type, shared by every registered type of it.
pub(crate) struct TypeState {
    /// The trampoline type the code and plans are for.
    trampoline: Signature,
    kinds: [OnceLock<KindCode>; TrampolineKind::COUNT],
    /// Each kind's mapped address once set (null before): where the generic
    /// entries jump once it exists.
    published: [AtomicPtr<c_void>; TrampolineKind::COUNT],
    /// Calls taken by generic entries, per the kind they tier up to.
    generic_calls: [AtomicU32; TrampolineKind::COUNT],
    /// Where the generic entries find each value.
    plans: Plans,
    /// The indirect entry (`CodeKind::IndirectEntry`), once compiled.
    #[cfg(feature = "compiler")]
    indirect: OnceLock<KindCode>,
    /// Serialises compilation so concurrent first uses compile once.
    #[cfg(feature = "compiler")]
    compiling: std::sync::Mutex<()>,
}

impl TypeState {
    pub(crate) fn new(trampoline: Signature) -> TypeState {
        TypeState {
            trampoline,
            kinds: Default::default(),
            published: Default::default(),
            generic_calls: Default::default(),
            plans: Plans::default(),
            #[cfg(feature = "compiler")]
            indirect: OnceLock::new(),
            #[cfg(feature = "compiler")]
            compiling: std::sync::Mutex::default(),
        }
    }

    /// The trampoline type.
    pub(crate) fn trampoline(&self) -> &Signature {
        &self.trampoline
    }

    /// The code of `kind`, if installed.
    pub(crate) fn code(&self, kind: TrampolineKind) -> Option<&KindCode> {
        self.kinds[kind.index()].get()
    }

    /// Whether `kind` has code.
    #[cfg(feature = "compiler")]
    pub(crate) fn has(&self, kind: TrampolineKind) -> bool {
        self.code(kind).is_some()
    }

    /// The address of `kind`'s mapped code, if installed and not a template.
    pub(crate) fn address(&self, kind: TrampolineKind) -> Option<NonNull<c_void>> {
        self.code(kind).and_then(KindCode::address)
    }

    /// The slot a generic entry reads for `kind`'s mapped code (null until
    /// it is installed).
    pub(crate) fn forward_slot(&self, kind: TrampolineKind) -> *const AtomicPtr<c_void> {
        &self.published[kind.index()]
    }

    /// Installs `code` as `kind`'s, unless the slot is filled already:
    /// losing a race to another installer is fine, its code is equivalent.
    pub(crate) fn install(&self, kind: TrampolineKind, code: KindCode) {
        let address = code.address();
        if self.kinds[kind.index()].set(code).is_ok()
            && let Some(address) = address
        {
            // Release: whoever jumps there sees the mapping complete.
            self.published[kind.index()].store(address.as_ptr(), Ordering::Release);
        }
    }

    /// Counts a call a generic entry took on its way to `kind`; `true` for
    /// exactly one call, the one that reaches `budget` (however many race).
    #[inline]
    pub(crate) fn count_generic_call(&self, kind: TrampolineKind, budget: u32) -> bool {
        let calls = &self.generic_calls[kind.index()];
        calls.load(Ordering::Relaxed) < budget
            && calls.fetch_add(1, Ordering::Relaxed) + 1 == budget
    }

    /// The indirect entry, made by `make` on first use (concurrent first
    /// uses may each make one; one is kept).
    #[cfg(feature = "compiler")]
    pub(crate) fn indirect_entry<E>(
        &self,
        make: impl FnOnce() -> Result<KindCode, E>,
    ) -> Result<NonNull<c_void>, E> {
        if let Some(code) = self.indirect.get() {
            return Ok(code.address().expect("the indirect entry is mapped"));
        }
        let code = make()?;
        let code = self.indirect.get_or_init(|| code);
        Ok(code.address().expect("the indirect entry is mapped"))
    }

    /// The generic entries' plans of this type.
    pub(crate) fn plans(&self) -> &Plans {
        &self.plans
    }

    /// Held while compiling code for this type, so that concurrent first
    /// uses wait for one compilation rather than each making their own.
    #[cfg(feature = "compiler")]
    pub(crate) fn lock_compiling(&self) -> std::sync::MutexGuard<'_, ()> {
        self.compiling
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
