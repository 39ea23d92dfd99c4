//! Where the trampolines of each registered signature are kept: one slot
//! per kind, set at most once, shared by every function of the signature;
//! and [`install`], which maps a batch of code and fills slots from it.
//! Where code comes from is [`source`](crate::source)'s business.

use crate::Error;
use crate::registry::SharedSignature;
use core::ffi::c_void;
use core::ptr::NonNull;
use springboard_environ::{CodeKind, CompiledTrampoline, TrampolineKind};
use springboard_loader::{CodeItem, CodeMemory, CodeProvider};
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

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
    kinds: [OnceLock<KindCode>; TrampolineKind::COUNT],
    /// Each kind's mapped entry once set (null before): where the generic
    /// entries jump once it exists.
    published: [AtomicPtr<c_void>; TrampolineKind::COUNT],
    /// Calls taken by generic entries, per the kind they tier up to.
    pub(crate) generic_calls: [AtomicU32; TrampolineKind::COUNT],
    /// Where the generic entries find each value.
    pub(crate) plans: crate::lazy::Plans,
    /// Serialises compilation so concurrent first uses compile once.
    #[cfg(feature = "compiler")]
    pub(crate) compiling: std::sync::Mutex<()>,
}

impl SigCode {
    pub(crate) fn get(&self, kind: TrampolineKind) -> Option<&KindCode> {
        self.kinds[kind.index()].get()
    }

    /// The slot a generic entry reads for `kind`'s compiled code.
    pub(crate) fn published(&self, kind: TrampolineKind) -> *const AtomicPtr<c_void> {
        &self.published[kind.index()]
    }
}

/// Maps the non-template pieces of `batch` together (one mapping for the
/// whole batch) and installs every piece into its signature's slots. Slots
/// already filled keep their code.
pub(crate) fn install(
    provider: &dyn CodeProvider,
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
        let memory = Arc::new(CodeMemory::new_in(provider, &items)?);
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

fn set(sig: &SharedSignature, kind: &CodeKind, code: KindCode) {
    if let CodeKind::Trampoline(k) = kind {
        // Losing a race to another installer is fine: its code is equivalent.
        let entry = code.entry();
        if sig.0.code.kinds[k.index()].set(code).is_ok()
            && let Some(entry) = entry
        {
            // Release: whoever jumps there sees the mapping complete.
            sig.0.code.published[k.index()].store(entry.as_ptr(), Ordering::Release);
        }
    }
}
