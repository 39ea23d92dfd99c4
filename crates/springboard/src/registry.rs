//! The type registry: interns whole recursion groups (function, struct and
//! array types), canonicalised iso-recursively, into reference-counted
//! groups; a function type's handle is a [`SharedSignature`], which keeps
//! its group (and every group it refers to) alive.
//!
//! The same group gets the same indices while any handle lives; different
//! live types never share an index. Each function type shares its
//! trampolines and plans ([`TypeState`]) with every type of the same
//! trampoline type. Subtype tests read the lock-free [`SubtypeTable`]. By default indices come from
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
use crate::subtypes::{Entry, SubtypeTable};
use crate::type_state::TypeState;
use core::ptr::NonNull;
use springboard_environ::types::{Known, RecGroup, SubType, Supertypes, check_group};
use springboard_environ::{GcRefWidth, Signature};
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
    /// The runtime's index for the type at `position` of `group` (in
    /// canonical form: a type is its group and position): the same for the
    /// same type and distinct for different ones, for as long as the engine
    /// holds it (until [`release`](Self::release)). Called with the
    /// engine's registry locked: it must not call back into the engine.
    fn index_of(
        &self,
        group: &RecGroup,
        position: usize,
    ) -> Result<VMSharedSignatureIndex, BoxError>;

    /// The engine no longer uses `index` for that type (its group dropped).
    fn release(&self, group: &RecGroup, position: usize, index: VMSharedSignatureIndex) {
        let _ = (group, position, index);
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
    gc: GcRefWidth,
    /// The runtime's numbering, or `None` for the process-wide allocator.
    indices: Option<Arc<dyn TypeIndices>>,
    inner: RwLock<Inner>,
    table: SubtypeTable,
}

#[derive(Default)]
struct Inner {
    groups: HashMap<RecGroup, Weak<Group>>,
    /// Each live type's group and position in it.
    by_index: HashMap<u32, (Weak<Group>, usize)>,
    /// Final function types without a supertype alone in their group (Wasm
    /// 2.0 types), by signature: `register`'s fast path, one hash lookup.
    singles: HashMap<Signature, Weak<Group>>,
    /// Code and plans, shared by every type of one trampoline type.
    states: HashMap<Signature, Weak<TypeState>>,
    /// How many `states` held after the last sweep of dead ones: sweeping
    /// when that doubles keeps registration O(1) amortised.
    states_swept: usize,
}

/// A registered recursion group.
pub(crate) struct Group {
    registry: Arc<Registry>,
    canonical: RecGroup,
    types: Box<[Registered]>,
    /// The groups it refers to, kept alive while it lives.
    _refers_to: Vec<Arc<Group>>,
}

/// A registered type: its index, its structure (with engine indices), its
/// place in the hierarchy and, for a function type, its code.
pub(crate) struct Registered {
    index: VMSharedSignatureIndex,
    ty: SubType,
    supertypes: Supertypes,
    /// In `registry.table`, while the group lives.
    entry: Entry,
    /// For a function type, the state of its trampoline type.
    state: Option<Arc<TypeState>>,
}

/// The groups a group refers to, for [`check_group`].
struct Outside<'a> {
    groups: &'a [(u32, Arc<Group>, usize)],
}

impl Known for Outside<'_> {
    fn known(&self, index: u32) -> Option<(&SubType, &Supertypes)> {
        let at = self
            .groups
            .binary_search_by_key(&index, |(i, _, _)| *i)
            .ok()?;
        let (_, group, position) = &self.groups[at];
        let t = &group.types[*position];
        Some((&t.ty, &t.supertypes))
    }
}

impl Registry {
    pub(crate) fn new(
        engine_id: u64,
        gc: GcRefWidth,
        indices: Option<Arc<dyn TypeIndices>>,
    ) -> Arc<Registry> {
        Arc::new(Registry {
            engine_id,
            gc,
            indices,
            inner: RwLock::default(),
            table: SubtypeTable::new(),
        })
    }

    /// A new index for the type at `position` of `group`, from the runtime
    /// or the allocator.
    fn index_for(
        &self,
        inner: &Inner,
        group: &RecGroup,
        position: usize,
    ) -> Result<VMSharedSignatureIndex, Error> {
        let Some(indices) = &self.indices else {
            return allocate_index();
        };
        let index = indices
            .index_of(group, position)
            .map_err(Error::TypeIndex)?;
        let taken_by = inner
            .by_index
            .get(&index.bits())
            .and_then(|(g, p)| Some(g.upgrade()?.types[*p].ty.to_string()));
        if index.is_reserved() || taken_by.is_some() {
            indices.release(group, position, index);
            return Err(Error::TypeIndexInUse {
                index: index.bits(),
                ty: group.types()[position].to_string(),
                other: taken_by,
            });
        }
        Ok(index)
    }

    fn release(&self, group: &RecGroup, position: usize, index: VMSharedSignatureIndex) {
        match &self.indices {
            Some(indices) => indices.release(group, position, index),
            None => free_index(index),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handle of a final function type alone in its group (a Wasm 2.0
    /// type), registering it if no handle is alive.
    pub(crate) fn register(
        self: &Arc<Self>,
        signature: &Signature,
    ) -> Result<SharedSignature, Error> {
        if let Some(group) = self.read().singles.get(signature).and_then(Weak::upgrade) {
            return Ok(SharedSignature::new(group, 0));
        }
        let group = RecGroup::canonicalize(vec![SubType::func(signature.clone())], 0, |_| None)?;
        let group = self.register_group(group)?;
        self.write()
            .singles
            .insert(signature.clone(), Arc::downgrade(&group));
        Ok(SharedSignature::new(group, 0))
    }

    /// Registers a canonical group, or finds it registered.
    pub(crate) fn register_group(self: &Arc<Self>, group: RecGroup) -> Result<Arc<Group>, Error> {
        if let Some(existing) = self.read().groups.get(&group).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        let mut inner = self.write();
        // Another thread may have registered it between the two locks.
        if let Some(existing) = inner.groups.get(&group).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        let mut outside: Vec<(u32, Arc<Group>, usize)> = Vec::new();
        // Sorted, so `Outside` can search it.
        for index in group.outside_references() {
            let (g, p) = inner
                .by_index
                .get(&index)
                .ok_or(Error::UnknownTypeIndex { index })?;
            let g = g.upgrade().ok_or(Error::UnknownTypeIndex { index })?;
            outside.push((index, g, *p));
        }
        let indices = self.indices_for(&inner, &group)?;
        let own: Vec<u32> = indices.iter().map(|i| i.bits()).collect();
        let checked = match check_group(&group, &own, &Outside { groups: &outside }) {
            Ok(s) => s,
            Err(e) => {
                for (position, index) in indices.into_iter().enumerate() {
                    self.release(&group, position, index);
                }
                return Err(Error::Type(e));
            }
        };
        let types: Box<[Registered]> = checked
            .into_iter()
            .zip(&indices)
            .map(|((ty, supertypes), &index)| {
                let entry = self.table.insert(index.bits(), &supertypes.ancestors);
                let state = ty.as_func().map(|sig| self.state_for(&mut inner, sig));
                Registered {
                    index,
                    ty,
                    supertypes,
                    entry,
                    state,
                }
            })
            .collect();
        let registered = Arc::new(Group {
            registry: Arc::clone(self),
            canonical: group.clone(),
            types,
            _refers_to: outside.into_iter().map(|(_, g, _)| g).collect(),
        });
        for (position, t) in registered.types.iter().enumerate() {
            inner
                .by_index
                .insert(t.index.bits(), (Arc::downgrade(&registered), position));
        }
        inner.groups.insert(group, Arc::downgrade(&registered));
        Ok(registered)
    }

    /// An index for each type of `group`, all or none.
    fn indices_for(
        &self,
        inner: &Inner,
        group: &RecGroup,
    ) -> Result<Vec<VMSharedSignatureIndex>, Error> {
        let mut indices: Vec<VMSharedSignatureIndex> = Vec::with_capacity(group.len());
        for position in 0..group.len() {
            match self.index_for(inner, group, position) {
                Ok(index) if !indices.contains(&index) => indices.push(index),
                outcome => {
                    if let Ok(index) = outcome {
                        self.release(group, position, index);
                    }
                    for (p, index) in indices.into_iter().enumerate() {
                        self.release(group, p, index);
                    }
                    return Err(outcome.err().unwrap_or(Error::TypeIndexInUse {
                        index: 0,
                        ty: group.types()[position].to_string(),
                        other: None,
                    }));
                }
            }
        }
        Ok(indices)
    }

    /// The shared state of `sig`'s trampoline type.
    fn state_for(&self, inner: &mut Inner, sig: &Signature) -> Arc<TypeState> {
        let trampoline = sig.trampoline_type(self.gc);
        if let Some(state) = inner.states.get(&trampoline).and_then(Weak::upgrade) {
            return state;
        }
        let state = Arc::new(TypeState::new(trampoline.clone()));
        if inner.states.len() >= 2 * inner.states_swept.max(32) {
            inner.states.retain(|_, w| w.strong_count() > 0);
            inner.states_swept = inner.states.len();
        }
        inner.states.insert(trampoline, Arc::downgrade(&state));
        state
    }

    /// The live type with `index` in this registry (a function type's
    /// handle, `None` for other kinds).
    pub(crate) fn lookup(&self, index: VMSharedSignatureIndex) -> Option<SharedSignature> {
        let inner = self.read();
        let (group, position) = inner.by_index.get(&index.bits())?;
        let group = group.upgrade()?;
        let is_func = group.types[*position].state.is_some();
        is_func.then(|| SharedSignature::new(group, *position))
    }

    /// The live type with `index`, in text form.
    pub(crate) fn describe(&self, index: u32) -> Option<String> {
        let inner = self.read();
        let (group, position) = inner.by_index.get(&index)?;
        Some(group.upgrade()?.types[*position].ty.to_string())
    }

    /// How many types are registered and alive.
    pub(crate) fn len(&self) -> usize {
        self.read().by_index.len()
    }

    /// The GC reference width of the engine.
    pub(crate) fn gc(&self) -> GcRefWidth {
        self.gc
    }

    /// Whether the live type `actual` is `expected` or a declared subtype of
    /// it: O(1) and lock-free.
    #[inline]
    pub(crate) fn is_subtype(&self, actual: u32, expected: &SharedSignature) -> bool {
        let want = expected.registered();
        actual == want.index.bits()
            || (!want.supertypes.is_final
                && self.table.has_ancestor(
                    actual,
                    want.index.bits(),
                    want.supertypes.ancestors.len() - 1,
                ))
    }

    /// Whether the live types `a` and `b` are in the subtype relation.
    pub(crate) fn indices_match(&self, a: u32, b: u32) -> bool {
        self.table.is_subtype(a, b)
    }

    /// The subtype table in the layout the compiled check reads.
    pub(crate) fn subtype_table(&self) -> *const springboard_vm_abi::VMSubtypeTable {
        self.table.as_vm()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let mut inner = self.registry.write();
        // A racing registration may already have replaced our entry with a
        // new registration of the same group; only remove what is ours.
        if inner
            .groups
            .get(&self.canonical)
            .is_some_and(|w| w.strong_count() == 0)
        {
            inner.groups.remove(&self.canonical);
        }
        if let [t] = &*self.types
            && let Some(sig) = t.ty.as_func()
            && inner
                .singles
                .get(sig)
                .is_some_and(|w| w.strong_count() == 0)
        {
            inner.singles.remove(sig);
        }
        for t in self.types.iter() {
            // A runtime's numbering may already have given the index to a
            // new registration of the same group: remove only ours.
            let ours = inner
                .by_index
                .get(&t.index.bits())
                .is_some_and(|(w, _)| core::ptr::eq(w.as_ptr(), self));
            if ours {
                inner.by_index.remove(&t.index.bits());
            }
            self.registry.table.remove(t.index.bits(), t.entry);
        }
        drop(inner);
        for (position, t) in self.types.iter().enumerate() {
            self.registry.release(&self.canonical, position, t.index);
        }
    }
}

/// A registered function type: a reference-counted handle that keeps its
/// [`VMSharedSignatureIndex`] (and its group, and its compiled trampolines)
/// alive.
///
/// Cheap to clone. Two handles of one engine are equal exactly when they
/// are the same type (the same group, the same position). Handles belong to
/// the engine that made them.
#[derive(Clone)]
pub struct SharedSignature {
    group: Arc<Group>,
    position: usize,
    /// The type's index, copied here so the checks read it in one load.
    index: VMSharedSignatureIndex,
    /// The function type in `group` (whose types never change or move while
    /// it lives), so that a call finds it in one load.
    signature: NonNull<Signature>,
}

// SAFETY: `signature` points into the immutable `group`, which is `Send`
// and `Sync` and kept alive by the handle.
unsafe impl Send for SharedSignature {}
// SAFETY: as for `Send`.
unsafe impl Sync for SharedSignature {}

impl SharedSignature {
    fn new(group: Arc<Group>, position: usize) -> SharedSignature {
        let registered = &group.types[position];
        let index = registered.index;
        // Handles are made for function types only.
        let signature = NonNull::from(registered.ty.as_func().unwrap_or_else(|| unreachable!()));
        SharedSignature {
            group,
            position,
            index,
            signature,
        }
    }

    #[inline]
    fn registered(&self) -> &Registered {
        &self.group.types[self.position]
    }

    /// The index stored in `VMFuncRef::type_index` of functions of this type.
    #[inline]
    pub fn index(&self) -> VMSharedSignatureIndex {
        self.index
    }

    /// The type, its references as engine indices.
    #[inline]
    pub fn signature(&self) -> &Signature {
        // SAFETY: points into `group`, alive and unchanged while `self` is.
        unsafe { self.signature.as_ref() }
    }

    /// The type as registered: finality, supertype and structure.
    pub fn sub_type(&self) -> &SubType {
        &self.registered().ty
    }

    /// What the trampolines of this type are made for (see
    /// [`Signature::trampoline_type`]).
    pub fn trampoline_type(&self) -> &Signature {
        self.state().trampoline()
    }

    pub(crate) fn engine_id(&self) -> u64 {
        self.group.registry.engine_id
    }

    /// The trampolines, tier-up state and plans of the type's trampoline type.
    pub(crate) fn state(&self) -> &TypeState {
        // Handles are made for function types only, which have a state.
        self.registered()
            .state
            .as_deref()
            .unwrap_or_else(|| unreachable!())
    }

    /// An address that identifies the state while it lives.
    #[cfg(feature = "compiler")]
    pub(crate) fn identity(&self) -> *const () {
        (self.state() as *const TypeState).cast()
    }
}

impl PartialEq for SharedSignature {
    fn eq(&self, other: &SharedSignature) -> bool {
        Arc::ptr_eq(&self.group, &other.group) && self.position == other.position
    }
}

impl Eq for SharedSignature {}

impl fmt::Debug for SharedSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SharedSignature({} = {})",
            self.index().bits(),
            self.registered().ty
        )
    }
}

/// A registered recursion group: every type's index, and a handle for each
/// function type. Keeps the group (and what it refers to) alive.
#[derive(Clone)]
pub struct RegisteredGroup(Arc<Group>);

impl RegisteredGroup {
    pub(crate) fn new(group: Arc<Group>) -> RegisteredGroup {
        RegisteredGroup(group)
    }

    /// How many types the group holds.
    pub fn len(&self) -> usize {
        self.0.types.len()
    }

    /// Whether it holds none (a registered group never does).
    pub fn is_empty(&self) -> bool {
        self.0.types.is_empty()
    }

    /// The engine index of the type at `position`.
    pub fn index(&self, position: usize) -> Option<VMSharedSignatureIndex> {
        self.0.types.get(position).map(|t| t.index)
    }

    /// The handle of the function type at `position` (`None` for struct and
    /// array types).
    pub fn func(&self, position: usize) -> Option<SharedSignature> {
        let t = self.0.types.get(position)?;
        t.state
            .is_some()
            .then(|| SharedSignature::new(Arc::clone(&self.0), position))
    }

    /// The type at `position`, its references as engine indices.
    pub fn sub_type(&self, position: usize) -> Option<&SubType> {
        self.0.types.get(position).map(|t| &t.ty)
    }
}

impl fmt::Debug for RegisteredGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.0
                    .types
                    .iter()
                    .map(|t| (t.index.bits(), t.ty.to_string())),
            )
            .finish()
    }
}
