//! The signature registry: interns function types into reference-counted
//! [`SharedSignature`] handles, each owning its index and its type's state
//! ([`TypeState`]: trampolines, tier-up, plans).
//!
//! Equal types get the same handle (and index) while any handle lives;
//! different live types never share an index. By default indices come from
//! one process-wide allocator, so the indices of two engines never coincide:
//! a funcref from another engine can never pass this engine's check (the
//! type confusion of CVE-2021-39219). They start at [`OWN_INDEX_BASE`], far
//! above the small numbers runtimes that count from 0 (Wasmtime among them)
//! hand out, so that such a runtime's funcrefs are not taken for ours. An
//! index returns to the allocator only when the last handle of its type
//! drops.
//!
//! A runtime that wants Springboard funcrefs in its own tables, passing its
//! own checks, gives the engine its numbering instead ([`TypeIndices`]).

use crate::error::{BoxError, Error};
use crate::type_state::TypeState;
use springboard_environ::Signature;
use springboard_vm_abi::VMSharedSignatureIndex;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

/// The first index an engine numbers its own types from.
pub const OWN_INDEX_BASE: u32 = 0x8000_0000;

/// Where an engine's type indices come from when the runtime numbers types
/// itself (see [`Config::type_indices`](crate::Config::type_indices)), so
/// that Springboard funcrefs carry the runtime's own `type_index` and pass
/// its `call_indirect` checks.
pub trait TypeIndices: Send + Sync {
    /// The runtime's index for `ty`: the same for equal types and distinct
    /// for different ones, for as long as the engine holds it (until
    /// [`release`](Self::release)). Called with the engine's registry
    /// locked: it must not call back into the engine.
    fn index_of(&self, ty: &Signature) -> Result<VMSharedSignatureIndex, BoxError>;

    /// The engine no longer uses `index` for `ty` (its last handle dropped).
    fn release(&self, ty: &Signature, index: VMSharedSignatureIndex) {
        let _ = (ty, index);
    }
}

/// The process-wide index space: every live registered type of every engine
/// that numbers its own types has a distinct index. `u32::MAX` is never
/// handed out.
struct IndexSpace {
    next: u32,
    free: Vec<u32>,
}

static INDICES: Mutex<IndexSpace> = Mutex::new(IndexSpace {
    next: OWN_INDEX_BASE,
    free: Vec::new(),
});

fn allocate_index() -> Result<VMSharedSignatureIndex, Error> {
    let mut space = INDICES.lock().unwrap_or_else(PoisonError::into_inner);
    let index = match space.free.pop() {
        Some(index) => index,
        None if space.next < u32::MAX => {
            space.next += 1;
            space.next - 1
        }
        None => return Err(Error::IndexSpaceExhausted),
    };
    Ok(VMSharedSignatureIndex::new(index))
}

fn free_index(index: VMSharedSignatureIndex) {
    INDICES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .free
        .push(index.bits());
}

/// One engine's registry.
pub(crate) struct Registry {
    engine_id: u64,
    /// The runtime's numbering, or `None` for the process-wide allocator.
    indices: Option<Arc<dyn TypeIndices>>,
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    by_signature: HashMap<Signature, Weak<Registered>>,
    by_index: HashMap<u32, Weak<Registered>>,
}

/// A registered type: its index, its signature and its state.
pub(crate) struct Registered {
    registry: Arc<Registry>,
    index: VMSharedSignatureIndex,
    signature: Signature,
    state: TypeState,
}

impl Registry {
    pub(crate) fn new(engine_id: u64, indices: Option<Arc<dyn TypeIndices>>) -> Arc<Registry> {
        Arc::new(Registry {
            engine_id,
            indices,
            inner: RwLock::default(),
        })
    }

    /// A new index for `signature`, from the runtime or the allocator.
    fn index_for(
        &self,
        inner: &Inner,
        signature: &Signature,
    ) -> Result<VMSharedSignatureIndex, Error> {
        let Some(indices) = &self.indices else {
            return allocate_index();
        };
        let index = indices.index_of(signature).map_err(Error::TypeIndex)?;
        let taken_by = inner
            .by_index
            .get(&index.bits())
            .and_then(Weak::upgrade)
            .map(|other| other.signature.clone());
        if index.is_reserved() || taken_by.is_some() {
            indices.release(signature, index);
            return Err(Error::TypeIndexInUse {
                index: index.bits(),
                ty: signature.clone(),
                other: taken_by,
            });
        }
        Ok(index)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handle of `signature`, registering it if no handle is alive.
    pub(crate) fn register(
        self: &Arc<Self>,
        signature: &Signature,
    ) -> Result<SharedSignature, Error> {
        if let Some(existing) = self
            .read()
            .by_signature
            .get(signature)
            .and_then(Weak::upgrade)
        {
            return Ok(SharedSignature(existing));
        }
        let mut inner = self.write();
        // Another thread may have registered it between the two locks.
        if let Some(existing) = inner.by_signature.get(signature).and_then(Weak::upgrade) {
            return Ok(SharedSignature(existing));
        }
        let index = self.index_for(&inner, signature)?;
        let registered = Arc::new(Registered {
            registry: Arc::clone(self),
            index,
            signature: signature.clone(),
            state: TypeState::default(),
        });
        inner
            .by_signature
            .insert(signature.clone(), Arc::downgrade(&registered));
        inner
            .by_index
            .insert(registered.index.bits(), Arc::downgrade(&registered));
        Ok(SharedSignature(registered))
    }

    /// The live type with `index` in this registry, in O(1).
    pub(crate) fn lookup(&self, index: VMSharedSignatureIndex) -> Option<SharedSignature> {
        self.read()
            .by_index
            .get(&index.bits())
            .and_then(Weak::upgrade)
            .map(SharedSignature)
    }

    /// How many types are registered and alive.
    pub(crate) fn len(&self) -> usize {
        self.read().by_index.len()
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut inner = self.registry.write();
        // A racing `register` may already have replaced our entry with a new
        // registration of the same type; only remove what is ours.
        if inner
            .by_signature
            .get(&self.signature)
            .is_some_and(|w| w.strong_count() == 0)
        {
            inner.by_signature.remove(&self.signature);
        }
        inner.by_index.remove(&self.index.bits());
        drop(inner);
        match &self.registry.indices {
            Some(indices) => indices.release(&self.signature, self.index),
            None => free_index(self.index),
        }
    }
}

/// A registered function type: a reference-counted handle that keeps its
/// [`VMSharedSignatureIndex`] (and its compiled trampolines) alive.
///
/// Cheap to clone. Two handles of one engine are equal exactly when their
/// types are equal. Handles belong to the engine that made them.
#[derive(Clone)]
pub struct SharedSignature(Arc<Registered>);

impl SharedSignature {
    /// The index stored in `VMFuncRef::type_index` of functions of this type.
    pub fn index(&self) -> VMSharedSignatureIndex {
        self.0.index
    }

    /// The type.
    pub fn signature(&self) -> &Signature {
        &self.0.signature
    }

    pub(crate) fn engine_id(&self) -> u64 {
        self.0.registry.engine_id
    }

    /// The type's trampolines, tier-up state and plans.
    pub(crate) fn state(&self) -> &TypeState {
        &self.0.state
    }

    /// An address that identifies the registered type while it lives.
    #[cfg(feature = "compiler")]
    pub(crate) fn identity(&self) -> *const () {
        Arc::as_ptr(&self.0).cast()
    }
}

impl PartialEq for SharedSignature {
    fn eq(&self, other: &SharedSignature) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedSignature {}

impl fmt::Debug for SharedSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SharedSignature({} = {})",
            self.0.index.bits(),
            self.0.signature
        )
    }
}
