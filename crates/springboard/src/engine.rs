//! [`Engine`] and [`Config`].

use crate::call::call_array;
use crate::error::Error;
use crate::generic::{self, HostEntries};
use crate::registry::{RegisteredGroup, Registry, SharedSignature, TypeIndices};
use crate::source::Source;
use crate::trap::{RaiseHook, TrapMode};
use crate::type_state::KindCode;
use crate::val::{FuncRef, Val};
use core::ffi::c_void;
use core::ptr::NonNull;
use springboard_environ::types::{ModuleTypes, RecGroup, SubType};
use springboard_environ::{Bookkeeping, GcRefWidth, TypeIndex};
use springboard_environ::{CodeKind, CompiledTrampoline, Signature, TrampolineKind, WasmConv};
use springboard_loader::{CodeProvider, MmapProvider, ObjectFile};
use springboard_vm_abi::{
    VMFuncRef, VMHostCaller, VMOpaqueContext, VMSharedSignatureIndex, VMSubtypeTable,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// When trampolines are compiled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compilation {
    /// On first need, only the kind needed (the default).
    #[default]
    Lazy,
    /// On first need of a type, every kind of that type in one batch.
    Eager,
}

/// How Cranelift optimises trampolines.
#[cfg(feature = "compiler")]
pub use springboard_compiler::OptLevel;

/// Engine settings.
#[derive(Clone)]
pub struct Config {
    #[cfg(feature = "compiler")]
    opt_level: OptLevel,
    compilation: Compilation,
    code_provider: Arc<dyn CodeProvider>,
    wasm_conv: WasmConv,
    type_indices: Option<Arc<dyn TypeIndices>>,
    caller: Option<CallerVmctx>,
    host_wasm_call: bool,
    raise: Option<RaiseHook>,
    bookkeeping: Option<Bookkeeping>,
    tier_up_after: u32,
    perf_map: bool,
    gc_refs: GcRefWidth,
}

/// A caller context a runtime gave: an address only.
#[derive(Clone, Copy, Debug)]
struct CallerVmctx(NonNull<VMOpaqueContext>);

// SAFETY: the engine never dereferences it; it only passes it to the code
// it calls, which the runtime vouched for (`Config::caller_vmctx`).
unsafe impl Send for CallerVmctx {}
// SAFETY: as for `Send`.
unsafe impl Sync for CallerVmctx {}

impl Default for Config {
    fn default() -> Config {
        Config {
            #[cfg(feature = "compiler")]
            opt_level: OptLevel::default(),
            compilation: Compilation::default(),
            code_provider: Arc::new(MmapProvider),
            wasm_conv: WasmConv::default(),
            type_indices: None,
            caller: None,
            host_wasm_call: true,
            raise: None,
            bookkeeping: None,
            tier_up_after: DEFAULT_TIER_UP_AFTER,
            perf_map: false,
            gc_refs: GcRefWidth::default(),
        }
    }
}

/// The default of [`Config::tier_up_after`].
const DEFAULT_TIER_UP_AFTER: u32 = 100;

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut d = f.debug_struct("Config");
        #[cfg(feature = "compiler")]
        d.field("opt_level", &self.opt_level);
        d.field("bookkeeping", &self.bookkeeping)
            .field("compilation", &self.compilation)
            .field("wasm_conv", &self.wasm_conv)
            .field("host_wasm_call", &self.host_wasm_call)
            .field("type_indices", &self.type_indices.is_some())
            .field("caller_vmctx", &self.caller.map(|c| c.0))
            .field("raise_hook", &self.raise.is_some())
            .field("tier_up_after", &self.tier_up_after)
            .field("perf_map", &self.perf_map)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The default settings: lazy compilation, [`OptLevel::None`] (see there).
    pub fn new() -> Config {
        Config::default()
    }

    /// The optimisation level of compiled trampolines.
    #[cfg(feature = "compiler")]
    pub fn opt_level(&mut self, level: OptLevel) -> &mut Config {
        self.opt_level = level;
        self
    }

    /// When trampolines are compiled.
    pub fn compilation(&mut self, compilation: Compilation) -> &mut Config {
        self.compilation = compilation;
        self
    }

    /// The machine-level convention of the *wasm* calling convention: what
    /// the engine's `wasm_call` entries expect and what its trampolines into
    /// wasm bodies call. It must be the one the runtime's wasm code uses:
    /// [`WasmConv::Tail`] (the default) for code from Cranelift 0.135's
    /// `tail`, [`WasmConv::Wasmtime17`] for Wasmtime 17's wasm in its
    /// default configuration (x86-64 only: [`Engine::new`] refuses it
    /// elsewhere). Objects of another convention are refused.
    pub fn wasm_conv(&mut self, conv: WasmConv) -> &mut Config {
        self.wasm_conv = conv;
        self
    }

    /// How many calls a host function's generic entries take before its
    /// type's compiled trampoline is requested (default 100).
    ///
    /// A host function of a type the engine has no trampoline for yet gets
    /// generic entries: a `native_call` and (with [`WasmConv::Tail`] and no
    /// bookkeeping) a `wasm_call` that work for any signature, reading the
    /// arguments where the convention puts them and calling the function's
    /// `array_call` — correct from the first call, with nothing compiled.
    /// After `calls` calls through them, the type's trampoline is compiled
    /// on a background thread; once it is mapped, every entry of the type
    /// jumps straight to it ([`Engine::finish_tier_up`] waits for that).
    /// `0` turns generic entries off: trampolines are compiled when the
    /// function is created, as they were before. See
    /// `docs/ARCHITECTURE.md`, "Generic entries".
    pub fn tier_up_after(&mut self, calls: u32) -> &mut Config {
        self.tier_up_after = calls;
        self
    }

    /// Whether to name the code this engine maps in `/tmp/perf-<pid>.map`,
    /// so that `perf report` shows `springboard_<kind>_<signature>` instead
    /// of an unknown address (default off). The file is the process's: once
    /// one engine turns it on, every mapping of the process is written there
    /// (see `springboard_loader::perf_map`). [`Engine::new`] fails with
    /// [`Error::PerfMap`] if it cannot be written (and off Linux).
    pub fn perf_map(&mut self, enabled: bool) -> &mut Config {
        self.perf_map = enabled;
        self
    }

    /// Whether typed host functions ([`Func::wrap`](crate::Func::wrap)) get
    /// a compiled `wasm_call` (the default), or leave it `None` for the
    /// runtime to fill with its own trampoline into their `native_call` —
    /// what a runtime whose wasm convention no [`WasmConv`] matches needs
    /// (Wasmtime 17 with tail calls on). Untyped host functions
    /// ([`Func::new`](crate::Func::new)) cannot do without one: with this
    /// off, `Func::new` is refused ([`Error::NoWasmCall`]).
    pub fn host_wasm_call(&mut self, enabled: bool) -> &mut Config {
        self.host_wasm_call = enabled;
        self
    }

    /// The width of GC references (`anyref`, `exnref` and their subtypes)
    /// at the boundary: 32 bits (the default, as Wasmtime passes them) or
    /// pointer-sized. [`Val::AnyRef`](crate::Val::AnyRef) and
    /// [`Val::ExnRef`](crate::Val::ExnRef) values must fit it.
    pub fn gc_refs(&mut self, width: GcRefWidth) -> &mut Config {
        self.gc_refs = width;
        self
    }

    /// Numbers the engine's types with the runtime's own indices, so that
    /// the engine's funcrefs carry them and pass the runtime's checks (and
    /// the runtime's funcrefs pass the engine's: see
    /// [`Engine::check_funcref`]). By default the engine numbers its own
    /// types from [`OWN_INDEX_BASE`](crate::OWN_INDEX_BASE) up, distinct
    /// across every engine of the process.
    pub fn type_indices(&mut self, indices: Arc<dyn TypeIndices>) -> &mut Config {
        self.type_indices = Some(indices);
        self
    }

    /// The caller vmctx the engine passes when the host calls a function
    /// ([`Func::call`](crate::Func::call), [`TypedFunc::call`](crate::TypedFunc::call),
    /// [`Engine::call_indirect`]): a context of the runtime's (a Wasmtime
    /// host function, say, finds its store through its caller). Without
    /// one, the engine passes a context of its own whose magic is
    /// [`SPRINGBOARD_HOST_CALLER_MAGIC`](crate::vm::SPRINGBOARD_HOST_CALLER_MAGIC):
    /// never null.
    ///
    /// # Safety
    /// `vmctx` must stay valid for as long as the engine may call with it,
    /// and be a context every function called through the engine accepts.
    pub unsafe fn caller_vmctx(&mut self, vmctx: NonNull<VMOpaqueContext>) -> &mut Config {
        self.caller = Some(CallerVmctx(vmctx));
        self
    }

    /// Hands host failures to the runtime's own trap machinery.
    ///
    /// By default a host function that fails (panics or returns `Err`)
    /// under a Springboard entry jumps back to that entry's catch point,
    /// which returns the failure; under code Springboard did not enter (a
    /// runtime's wasm), it can only return zeros and record the failure
    /// ([`take_host_failure`](crate::take_host_failure)). With a hook, the
    /// engine leaves trap handling to the runtime: its entries install no
    /// catch point (so the runtime's own traps may unwind past them), and
    /// every host function of the engine that fails under generated code
    /// calls `hook` with its failure, after the closure's destructors ran.
    /// Direct calls of host functions ([`TypedFunc::call`](crate::TypedFunc::call)
    /// of a [`Func::wrap`](crate::Func::wrap)) still return their failure.
    ///
    /// # Safety
    /// `hook` must not return, and must be able to abandon the frames
    /// between its caller and the runtime's catch point (generated code
    /// and Springboard's shims, which own nothing by then): every call into
    /// generated code through this engine, and every call of its host
    /// functions from generated code, must happen inside the runtime's trap
    /// scope. Wasmtime 17's `wasmtime_runtime::raise_user_trap` is such a
    /// hook for calls made inside Wasmtime.
    pub unsafe fn raise_hook(&mut self, hook: RaiseHook) -> &mut Config {
        self.raise = Some(hook);
        self
    }

    /// Entry and exit bookkeeping in the engine's trampolines, for the
    /// runtime's backtraces and trap unwinding (off by default): see
    /// [`Bookkeeping`] and `CompilerBuilder::bookkeeping`. The engine
    /// compiles its trampolines with it, and loads only objects compiled
    /// with the same ([`Engine::load_object`]).
    ///
    /// # Safety
    /// Every vmctx the engine's trampolines are given must hold the
    /// runtime's limits pointer at `bookkeeping.limits`, and the limits the
    /// other offsets: a wasm body's context (entries) and a wasm caller's
    /// context (exits) — including the engine's own caller context
    /// ([`caller_vmctx`](Self::caller_vmctx)) if the host ever calls a
    /// host function through its `wasm_call`, which then must be given.
    pub unsafe fn bookkeeping(&mut self, bookkeeping: Bookkeeping) -> &mut Config {
        self.bookkeeping = Some(bookkeeping);
        self
    }

    /// Where the engine's executable code lives: fresh pages from the
    /// operating system by default ([`MmapProvider`]), or a runtime's own.
    pub fn code_provider(&mut self, provider: Arc<dyn CodeProvider>) -> &mut Config {
        self.code_provider = provider;
        self
    }
}

/// Owns a signature registry, the trampolines of every registered type, and
/// the code memory they live in. Cheap to clone (shared), `Send + Sync`.
///
/// Everything an engine makes — [`SharedSignature`]s, [`Func`](crate::Func)s —
/// belongs to it: type indices are meaningful only inside one engine, and
/// mixing engines is detected and refused.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    id: u64,
    wasm_conv: WasmConv,
    bookkeeping: Option<Bookkeeping>,
    host_wasm_call: bool,
    raise: Option<RaiseHook>,
    /// What `caller_vmctx` returns: the runtime's, or `own_caller`'s.
    caller: CallerVmctx,
    _own_caller: Box<VMHostCaller>,
    /// The trap handling of calls into its own wasm entries.
    entry_mode: TrapMode,
    registry: Arc<Registry>,
    source: Arc<Source>,
    /// Signatures whose trampolines came from loaded objects: kept for the
    /// engine's lifetime.
    pinned: Mutex<Vec<SharedSignature>>,
    #[cfg(feature = "compiler")]
    signature_check: std::sync::OnceLock<(Arc<springboard_loader::CodeMemory>, SignatureCheckFn)>,
}

/// The compiled `call_indirect` check: `(funcref, expected index, subtype
/// table) -> 0` when the funcref's type is the expected one or a subtype of
/// it, `1` for a null funcref, `2` for a mismatch. The subtype table is read
/// only when the indices differ; pass [`Engine::subtype_table`]'s (a null
/// one makes the check equality only).
pub type SignatureCheckFn =
    unsafe extern "C" fn(*const VMFuncRef, u32, *const VMSubtypeTable) -> u32;

static NEXT_ENGINE_ID: AtomicU64 = AtomicU64::new(0);

impl Default for Engine {
    /// An engine with the default [`Config`].
    ///
    /// # Panics
    /// If the host has no Cranelift backend; use [`Engine::new`] to handle that.
    fn default() -> Engine {
        Engine::new(&Config::default()).expect("a Cranelift backend for the host")
    }
}

impl Engine {
    /// A new engine.
    pub fn new(config: &Config) -> Result<Engine, Error> {
        if config.perf_map {
            springboard_loader::perf_map::enable().map_err(Error::PerfMap)?;
        }
        let id = NEXT_ENGINE_ID.fetch_add(1, Ordering::Relaxed);
        // Unarmed: a call with it never arms a catch point (the facade's
        // entries pass an armed one of their own, see `trap`).
        let mut own_caller = Box::new(VMHostCaller::unarmed());
        // Springboard's own `tail` entries are the catch point when the
        // caller vmctx is the facade's to choose.
        let entry_mode = match (config.raise, &config.caller, config.wasm_conv) {
            (Some(_), ..) => TrapMode::Uncaught,
            (None, None, WasmConv::Tail) => TrapMode::Caught,
            (None, ..) => TrapMode::Jump,
        };
        let caller = config.caller.unwrap_or(CallerVmctx(
            NonNull::from(&mut *own_caller).cast::<VMOpaqueContext>(),
        ));
        #[cfg(feature = "compiler")]
        let source = Source::new(
            Arc::clone(&config.code_provider),
            springboard_compiler::Compiler::builder()
                .opt_level(config.opt_level)
                .wasm_conv(config.wasm_conv)
                .bookkeeping(config.bookkeeping)
                .gc_refs(config.gc_refs)
                .build()?,
            config.compilation == Compilation::Eager,
            config.tier_up_after,
        );
        #[cfg(not(feature = "compiler"))]
        let source = Source::new(Arc::clone(&config.code_provider), config.tier_up_after);
        let registry = Registry::new(id, config.gc_refs, config.type_indices.clone());
        Ok(Engine {
            inner: Arc::new(EngineInner {
                id,
                wasm_conv: config.wasm_conv,
                bookkeeping: config.bookkeeping,
                host_wasm_call: config.host_wasm_call,
                raise: config.raise,
                caller,
                _own_caller: own_caller,
                entry_mode,
                registry,
                source: Arc::new(source),
                pinned: Mutex::default(),
                #[cfg(feature = "compiler")]
                signature_check: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The caller vmctx the engine passes when the host calls (see
    /// [`Config::caller_vmctx`]); never null, valid while the engine lives.
    pub fn caller_vmctx(&self) -> NonNull<VMOpaqueContext> {
        self.inner.caller.0
    }

    /// The raise hook its host functions call (see [`Config::raise_hook`]).
    pub(crate) fn raise_hook(&self) -> Option<RaiseHook> {
        self.inner.raise
    }

    /// The trap handling of its calls into its own entries of wasm bodies.
    pub(crate) fn entry_mode(&self) -> TrapMode {
        self.inner.entry_mode
    }

    /// Whether its entries store nothing for a runtime's stack walker (no
    /// [`Config::bookkeeping`]): only then may code other than its
    /// compiled trampolines enter wasm (generic entries, `tail_call`).
    pub(crate) fn keeps_no_books(&self) -> bool {
        self.inner.bookkeeping.is_none()
    }

    /// The trap handling of its calls into code that may be wasm and is
    /// not its own (a funcref made elsewhere).
    pub(crate) fn foreign_mode(&self) -> TrapMode {
        match self.inner.raise {
            None => TrapMode::Jump,
            Some(_) => TrapMode::Uncaught,
        }
    }

    /// Whether host functions get a compiled `wasm_call` (see
    /// [`Config::host_wasm_call`]).
    pub(crate) fn host_wasm_call(&self) -> bool {
        self.inner.host_wasm_call
    }

    /// The entries of a new host function of `ty` (this engine's): the
    /// `native` and `wasm` kinds' code, generic where the engine allows.
    pub(crate) fn host_entries(
        &self,
        ty: &SharedSignature,
        native: Option<TrampolineKind>,
        wasm: Option<TrampolineKind>,
        stack_shim: Option<NonNull<c_void>>,
    ) -> Result<HostEntries, Error> {
        let allowed = generic::Allowed {
            any: self.generic_entries(),
            // Generic wasm entries follow `tail` and store nothing for a
            // runtime's stack walker.
            wasm: self.inner.wasm_conv == WasmConv::Tail && self.keeps_no_books(),
        };
        generic::entries(&self.inner.source, allowed, ty, native, wasm, stack_shim)
    }

    /// Whether new host functions of types without compiled trampolines get
    /// generic entries (see [`Config::tier_up_after`]): on x86-64, aarch64
    /// (not Apple's) and riscv64, unless `tier_up_after` is 0. Elsewhere
    /// (s390x) their trampolines are compiled when they are created. Their
    /// `wasm_call` is generic only with [`WasmConv::Tail`] and no
    /// [`Config::bookkeeping`].
    pub fn generic_entries(&self) -> bool {
        generic::SUPPORTED && self.inner.source.tier_up_after() > 0
    }

    /// Waits until the trampolines that generic entries requested (see
    /// [`Config::tier_up_after`]) are compiled and mapped: from then on,
    /// every call of those types runs compiled code.
    pub fn finish_tier_up(&self) {
        self.inner.source.wait_idle();
    }

    /// The engine's wasm convention (see [`Config::wasm_conv`]).
    pub fn wasm_conv(&self) -> WasmConv {
        self.inner.wasm_conv
    }

    /// Whether two handles are the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    /// Registers `ty` as a final function type alone in its recursion
    /// group (what a Wasm 2.0 type is), returning the handle every function
    /// of that type shares. Its references to defined types must be
    /// [`TypeIndex::Engine`](springboard_environ::TypeIndex::Engine)
    /// indices of live types of this engine.
    pub fn register(&self, ty: &Signature) -> Result<SharedSignature, Error> {
        self.inner.registry.register(ty)
    }

    /// Registers a recursion group: `types` refer to each other with
    /// [`TypeIndex::RecGroup`](springboard_environ::TypeIndex::RecGroup)
    /// and to registered types with engine indices. The same group gets the
    /// same indices while it is registered; supertypes are checked as the
    /// standard's validation does.
    pub fn register_rec_group(&self, types: Vec<SubType>) -> Result<RegisteredGroup, Error> {
        let group = RecGroup::canonicalize(types, 0, |_| None)?;
        Ok(RegisteredGroup::new(
            self.inner.registry.register_group(group)?,
        ))
    }

    /// Registers every recursion group of a module, in order: the module's
    /// types by module index (see [`ModuleTypes`]).
    pub fn register_module_types(
        &self,
        module: &ModuleTypes,
    ) -> Result<Vec<RegisteredGroup>, Error> {
        let mut groups: Vec<RegisteredGroup> = Vec::with_capacity(module.groups().len());
        let mut indices: Vec<u32> = Vec::with_capacity(module.kinds().len());
        for g in 0..module.groups().len() {
            let group = module.canonical(g, &indices)?;
            let registered = RegisteredGroup::new(self.inner.registry.register_group(group)?);
            indices.extend(
                (0..registered.len())
                    .filter_map(|p| registered.index(p))
                    .map(|i| i.bits()),
            );
            groups.push(registered);
        }
        Ok(groups)
    }

    /// Registers a parsed WebAssembly function type that refers to no
    /// defined type; unsupported value types and over-long signatures are
    /// errors naming the problem.
    pub fn register_wasm(&self, ty: &wasmparser::FuncType) -> Result<SharedSignature, Error> {
        self.register(&Signature::from_wasm(ty, &())?)
    }

    /// Whether a funcref whose type is the live type `actual` may be
    /// called as `expected`: the same type or a declared subtype, in O(1)
    /// without a lock.
    #[inline]
    pub fn is_subtype(&self, actual: VMSharedSignatureIndex, expected: &SharedSignature) -> bool {
        expected.engine_id() == self.inner.id
            && self.inner.registry.is_subtype(actual.bits(), expected)
    }

    /// Whether function type `a` *structurally* matches `b`: the same
    /// arity, parameters contravariant and results covariant, each by the
    /// standard's value-type matching (declared subtyping for defined types).
    /// This is Wasmtime's `FuncType::matches`; it is **not** the relation
    /// `call_indirect` checks, which is declared subtyping
    /// ([`is_subtype`](Self::is_subtype)): two structurally equal types of
    /// different groups match here and trap there.
    pub fn func_type_matches(&self, a: &SharedSignature, b: &SharedSignature) -> bool {
        let registry = &self.inner.registry;
        a.signature().matches(b.signature(), |p, q| match (p, q) {
            (TypeIndex::Engine(p), TypeIndex::Engine(q)) => registry.indices_match(p, q),
            _ => false,
        })
    }

    /// The engine's GC reference width.
    pub fn gc_refs(&self) -> GcRefWidth {
        self.inner.registry.gc()
    }

    /// The mark its host functions carry (see `shims::is_own_host`).
    pub(crate) fn host_mark(&self) -> u64 {
        crate::shims::host_mark(self.inner.id)
    }

    /// The trap handling of direct calls of its host functions.
    pub(crate) fn direct_mode(&self) -> TrapMode {
        match self.inner.raise {
            None => TrapMode::DirectUnhooked,
            Some(_) => TrapMode::Direct,
        }
    }

    pub(crate) fn source(&self) -> &Source {
        &self.inner.source
    }

    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// The live registered type with `index`, if it is this engine's.
    pub fn lookup(&self, index: VMSharedSignatureIndex) -> Option<SharedSignature> {
        self.inner.registry.lookup(index)
    }

    /// How many types are registered and alive.
    pub fn registered_types(&self) -> usize {
        self.inner.registry.len()
    }

    /// How many trampolines this engine has compiled so far.
    #[cfg(feature = "compiler")]
    pub fn compiled_trampolines(&self) -> usize {
        self.inner.source.compiled()
    }

    /// Compiles every trampoline kind of every type in `types` now, in
    /// parallel, into one mapping. The returned handles keep them alive.
    #[cfg(feature = "compiler")]
    #[must_use = "the trampolines are freed when the returned types are dropped"]
    pub fn precompile(&self, types: &[Signature]) -> Result<Vec<SharedSignature>, Error> {
        let shared = types
            .iter()
            .map(|t| self.register(t))
            .collect::<Result<Vec<_>, _>>()?;
        self.inner.source.precompile(&shared)?;
        Ok(shared)
    }

    /// Installs every trampoline of an object written by
    /// `springboard-compiler`, after checking it (see
    /// [`ObjectFile`](springboard_loader::ObjectFile)): built for this host,
    /// with the engine's wasm convention and bookkeeping, every piece of
    /// code exactly as its index records. Its types stay registered, and its
    /// code mapped, for the engine's lifetime; slots a type already has keep
    /// their code. Returns how many trampolines the object held.
    ///
    /// An object from somewhere the runtime does not control must also be
    /// authenticated: see [`load_object_with_digest`](Self::load_object_with_digest).
    pub fn load_object(&self, bytes: &[u8]) -> Result<usize, Error> {
        self.install_object(ObjectFile::parse(bytes)?)
    }

    /// [`load_object`](Self::load_object), refusing the object unless its
    /// digest ([`ObjectFile::digest`](springboard_loader::ObjectFile::digest),
    /// which `springboard inspect` prints) is `digest`: pin the digests of
    /// the objects the runtime trusts, or check a signature over the digest
    /// before calling this.
    pub fn load_object_with_digest(&self, bytes: &[u8], digest: &[u8; 32]) -> Result<usize, Error> {
        self.install_object(ObjectFile::parse_authenticated(bytes, digest)?)
    }

    fn install_object(&self, object: ObjectFile<'_>) -> Result<usize, Error> {
        object.expect_wasm_conv(self.inner.wasm_conv)?;
        object.expect_bookkeeping(self.inner.bookkeeping)?;
        let mut batch: Vec<(SharedSignature, CompiledTrampoline)> = Vec::new();
        for entry in object.entries() {
            // Every symbol the index lists is checked, installed or not (a
            // probe, a check stub): a corrupt object is refused whole, by
            // this path as by `ObjectFile::get` on each entry.
            let code = object.get(entry.kind, &entry.signature)?;
            if let CodeKind::Trampoline(_) = entry.kind {
                batch.push((self.register(&entry.signature)?, code));
            }
        }
        let count = batch.len();
        let types: Vec<SharedSignature> = batch.iter().map(|(s, _)| s.clone()).collect();
        self.inner.source.install(batch)?;
        self.inner
            .pinned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(types);
        Ok(count)
    }

    /// Where the engine's code lives.
    pub(crate) fn code_provider(&self) -> &dyn CodeProvider {
        self.inner.source.provider()
    }

    /// The template of `kind` for `ty`, to stamp per function.
    pub(crate) fn template(
        &self,
        ty: &SharedSignature,
        kind: TrampolineKind,
    ) -> Result<Option<Arc<CompiledTrampoline>>, Error> {
        self.check_own(ty)?;
        Ok(match self.inner.source.code(ty, kind)? {
            Some(KindCode::Template(t)) => Some(t),
            _ => None,
        })
    }

    pub(crate) fn check_own(&self, ty: &SharedSignature) -> Result<(), Error> {
        if ty.engine_id() != self.inner.id {
            return Err(Error::ForeignSignature {
                ty: ty.signature().clone(),
            });
        }
        Ok(())
    }

    /// The caller-side check of `call_indirect`: `funcref` must be non-null
    /// and have exactly the type `expected`. Returns the checked funcref.
    ///
    /// It compares `VMFuncRef::type_index` with `expected`'s index, and
    /// nothing else. So it detects:
    /// - a null funcref ([`Error::NullFuncRef`]);
    /// - any funcref of this engine of another type;
    /// - any funcref of another Springboard engine of this process that
    ///   numbers its own types (their indices never coincide);
    /// - a foreign runtime's funcref whose index differs from `expected`'s —
    ///   always, for a runtime numbering from 0 (as Wasmtime does) while
    ///   this engine numbers its own types from
    ///   [`OWN_INDEX_BASE`](crate::OWN_INDEX_BASE) up, until that runtime
    ///   has handed out 2^31 indices.
    ///
    /// It cannot tell apart two funcrefs with equal indices: with
    /// [`Config::type_indices`] the runtime's funcref of the same type
    /// passes (as it should: the runtime's numbering says it is that type),
    /// and a pointer that is not a funcref at all is the caller's to rule
    /// out (see Safety).
    ///
    /// # Safety
    /// A non-null `funcref` must point to a live `VMFuncRef`.
    pub unsafe fn check_funcref(
        &self,
        funcref: FuncRef,
        expected: &SharedSignature,
    ) -> Result<NonNull<VMFuncRef>, Error> {
        self.check_own(expected)?;
        let ptr = funcref.0.ok_or(Error::NullFuncRef)?;
        // SAFETY: the caller guarantees a non-null funcref is live.
        let actual = unsafe { ptr.as_ref().type_index };
        if actual == expected.index() || self.inner.registry.is_subtype(actual.bits(), expected) {
            return Ok(ptr);
        }
        Err(self.signature_mismatch(actual, expected))
    }

    /// The error of a funcref of type `actual` where `expected` is wanted.
    #[cold]
    #[inline(never)]
    fn signature_mismatch(
        &self,
        actual: VMSharedSignatureIndex,
        expected: &SharedSignature,
    ) -> Error {
        let actual = match self.inner.registry.describe(actual.bits()) {
            Some(ty) => ty,
            None => format!(
                "unknown type index {} (a funcref of another engine, or of a freed type)",
                actual.bits()
            ),
        };
        Error::SignatureMismatch {
            expected: expected.signature().clone(),
            actual,
        }
    }

    /// `call_indirect` from the host: [`check_funcref`](Self::check_funcref),
    /// then a call through `array_call` with checked values. Nothing runs
    /// unless every check passes.
    ///
    /// # Safety
    /// A non-null `funcref` must point to a live `VMFuncRef` whose entry
    /// points really have the type its `type_index` says (true of every
    /// funcref a [`Func`](crate::Func) of this engine hands out).
    pub unsafe fn call_indirect(
        &self,
        funcref: FuncRef,
        expected: &SharedSignature,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), Error> {
        // SAFETY: forwarded to the caller.
        let ptr = unsafe { self.check_funcref(funcref, expected)? };
        // SAFETY: checked to be of type `expected`; live per the caller; the
        // engine's caller context lives as long as the engine.
        unsafe {
            call_array(
                ptr.as_ref(),
                expected.signature(),
                self.registry(),
                self.caller_vmctx(),
                self.foreign_mode(),
                params,
                results,
            )
        }
    }

    /// The subtype table to pass to the [compiled check](Self::signature_check_stub),
    /// valid while the engine lives.
    pub fn subtype_table(&self) -> *const VMSubtypeTable {
        self.inner.registry.subtype_table()
    }

    /// The compiled form of [`check_funcref`](Self::check_funcref), for a
    /// runtime's generated code to call: see [`SignatureCheckFn`]. It stays
    /// valid while the engine lives.
    #[cfg(feature = "compiler")]
    pub fn signature_check_stub(&self) -> Result<SignatureCheckFn, Error> {
        if let Some((_, f)) = self.inner.signature_check.get() {
            return Ok(*f);
        }
        let code = self.inner.source.compiler().compile_signature_check()?;
        let memory = Arc::new(springboard_loader::CodeMemory::new_in(
            self.code_provider(),
            &[springboard_loader::CodeItem::new(&code, None)],
        )?);
        // SAFETY: the code is the signature check, which has this type.
        let f: SignatureCheckFn =
            unsafe { core::mem::transmute(memory.entry(0).expect("one item").as_ptr()) };
        Ok(self.inner.signature_check.get_or_init(|| (memory, f)).1)
    }
}

impl core::fmt::Debug for Engine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Engine")
            .field("id", &self.inner.id)
            .finish_non_exhaustive()
    }
}
