//! [`Func`]: a live `VMFuncRef` and everything that keeps it valid. Its
//! typed view is in `typed.rs`.

use crate::call::call_array;
use crate::engine::Engine;
use crate::error::{BoxError, Error};
use crate::generic::{self, HostEntries};
use crate::registry::SharedSignature;
use crate::shims::{
    Caller, HostReturn, HostVals, Hosted, IntoFunc, NativeShims, NativeTarget, NoCaller, Untyped,
    UntypedHost, ValsCall, WithCaller, array_shim_of, stack_shim_of, typed_vals,
    untyped_array_shim, untyped_vals,
};
use crate::trap::TrapMode;
use crate::tuples::{WasmParams, WasmResults};
use crate::val::{FuncRef, Val};
use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr::NonNull;
use springboard_environ::{Signature, TrampolineKind};
use springboard_loader::{CodeItem, CodeMemory};
use springboard_vm_abi::{
    VM_ARRAY_CALL_HOST_FUNC_MAGIC, VM_NATIVE_CALL_HOST_FUNC_MAGIC, VMArrayCallFunction, VMFuncRef,
    VMHostFuncContext, VMNativeCallFunction, VMOpaqueContext, VMWasmCallFunction, ValRaw,
};
use std::sync::Arc;

/// A function callable through every convention: a host closure or a wasm
/// body, with a complete `VMFuncRef`.
///
/// Cheap to clone (shared). The funcref, its context and its trampolines
/// stay valid while any clone (or [`TypedFunc`](crate::TypedFunc)) lives, even after the
/// [`Engine`] handle that made it is dropped.
#[derive(Clone)]
pub struct Func(Arc<FuncInner>);

struct FuncInner {
    engine: Engine,
    ty: SharedSignature,
    func_ref: NonNull<VMFuncRef>,
    owner: Owner,
    /// A host function's closure, called from checked values.
    vals: Option<HostVals>,
    /// The trap handling of calls into it: direct for host functions (no
    /// wasm, nor any other runtime's code, between their entries and their
    /// closure), the engine's own entries' or a foreign funcref's otherwise.
    mode: TrapMode,
}

/// What owns the memory `func_ref` points into.
enum Owner {
    /// A `VMHostFuncContext<T>` from [`generic::alloc`] (never moved, so the
    /// funcref pointer into it stays valid), and the function that frees
    /// it.
    Host {
        context: *mut (),
        free: unsafe fn(*mut ()),
    },
    /// A wasm body's funcref and the stamped trampolines it points at.
    Wasm {
        func_ref: *mut VMFuncRef,
        _stamps: Arc<CodeMemory>,
    },
    /// A funcref someone else owns (see [`Func::from_raw_funcref`]).
    Borrowed,
}

impl Drop for FuncInner {
    fn drop(&mut self) {
        match self.owner {
            // SAFETY: `context` came from `generic::alloc` of the type `free`
            // was instantiated for, and is freed exactly once, here.
            Owner::Host { context, free } => unsafe { free(context) },
            // SAFETY: `func_ref` came from `Box::into_raw` and is freed once.
            Owner::Wasm { func_ref, .. } => drop(unsafe { Box::from_raw(func_ref) }),
            Owner::Borrowed => {}
        }
    }
}

// SAFETY: the funcref and its context are immutable once published; host
// state is `Send + Sync` (required by every constructor); code memory is
// immutable. Calling from several threads at once is the funcref contract.
unsafe impl Send for FuncInner {}
// SAFETY: see `Send`.
unsafe impl Sync for FuncInner {}

/// The host state of a forwarding function: the funcref its callers see.
struct Forwarded(VMFuncRef);

// SAFETY: written once before the function is published, then only read;
// its entries are callable from any thread (`from_array_entry`'s contract).
unsafe impl Send for Forwarded {}
// SAFETY: as for `Send`.
unsafe impl Sync for Forwarded {}

/// The `array_call` of a forwarding function: the same call, to the target
/// in the host context's funcref, with the target's own context.
unsafe extern "C" fn forward_array_call(
    callee: *mut VMOpaqueContext,
    caller: *mut VMOpaqueContext,
    values: *mut ValRaw,
    capacity: usize,
) {
    // SAFETY: installed only in funcrefs whose vmctx is a host context (any
    // `T`: the header is the same), whose funcref holds the target.
    let target = unsafe { &(*callee.cast::<VMHostFuncContext<()>>()).func_ref };
    // SAFETY: the caller's buffer and context go to the target unchanged.
    unsafe { (target.array_call)(target.vmctx, caller, values, capacity) }
}

/// The entries of an array-convention host function of `ty`: its
/// `native_call` (required) and the rest.
fn untyped_entries(
    engine: &Engine,
    ty: &SharedSignature,
) -> Result<(NonNull<VMNativeCallFunction>, HostEntries), Error> {
    let entries = engine.host_entries(
        ty,
        Some(TrampolineKind::NativeToArray),
        Some(TrampolineKind::WasmToArray),
        None,
    )?;
    let native_call = entries.native.ok_or_else(|| Error::MissingTrampoline {
        kind: TrampolineKind::NativeToArray,
        ty: ty.signature().clone(),
    })?;
    Ok((native_call.cast(), entries))
}

/// One wasm body for [`Func::from_raw_wasm_batch`].
#[derive(Clone, Copy, Debug)]
pub struct RawWasmFunc<'a> {
    /// The function's type.
    pub ty: &'a Signature,
    /// Its code, entered with the *wasm* convention for `ty`.
    pub body: NonNull<VMWasmCallFunction>,
    /// The callee vmctx it expects.
    pub vmctx: *mut VMOpaqueContext,
}

impl Func {
    /// A typed host function from a Rust closure `Fn(A1, …, An) -> R` or
    /// `Fn(Caller<'_>, A1, …, An) -> R` (`n <= 16`; `R` is `()`, one value,
    /// a tuple of up to 16, or a `Result` of those). A [`Caller`] gives the
    /// closure its caller's context.
    ///
    /// `native_call` and `array_call` are Rust shims; `wasm_call` is the
    /// `wasm_to_native` trampoline of the type — behind a generic entry
    /// until it is compiled (see [`Config::tier_up_after`](crate::Config::tier_up_after)),
    /// so creating the function compiles nothing — or `None` if the engine
    /// can neither compile nor use a generic entry and no loaded object
    /// holds one. Where the native and wasm conventions put every value
    /// of the type in the same place (x86-64 System V and riscv64, `tail`,
    /// no stack argument, at most one result), `wasm_call` is the native shim
    /// itself (`docs/ABI.md`, "A native entry that serves wasm"); where
    /// they differ only in the stack arguments `tail` pops (x86-64 System
    /// V, at most one result, no `v128`), it is the popping entry, which
    /// calls a shim that reads them in place.
    pub fn wrap<P, R, F>(engine: &Engine, f: F) -> Result<Func, Error>
    where
        F: IntoFunc<P, R>,
        R: HostReturn,
    {
        let ty = engine.register(&Signature::new(&F::Params::types(), &R::Results::types())?)?;
        let width = engine.gc_refs();
        let widths = F::Params::gc_widths()
            .into_iter()
            .chain(R::Results::gc_widths());
        if widths.flatten().any(|w| w != width) {
            return Err(Error::GcWidth {
                ty: ty.signature().clone(),
                engine: width,
            });
        }
        let wasm_kind = engine
            .host_wasm_call()
            .then_some(TrampolineKind::WasmToNative);
        let entries = engine.host_entries(&ty, None, wasm_kind, stack_shim_of::<F, P, R>())?;
        let native_call = F::native_shim();
        let func_ref = VMFuncRef {
            native_call,
            array_call: array_shim_of::<F, P, R>(),
            wasm_call: entries.wasm_call(native_call),
            type_index: ty.index(),
            vmctx: core::ptr::null_mut(),
        };
        Ok(Func::host(
            engine,
            ty,
            VM_NATIVE_CALL_HOST_FUNC_MAGIC,
            func_ref,
            f,
            entries.header,
            (!F::FORWARDS).then_some(typed_vals::<F, P, R> as ValsCall),
        ))
    }

    /// An untyped host function of type `ty` from a closure over value
    /// slices: it receives the arguments and fills the results, which start
    /// as zero values of the right types.
    ///
    /// `array_call` is a Rust shim; `native_call` and `wasm_call` are the
    /// `native_to_array` and `wasm_to_array` trampolines of `ty`, behind
    /// generic entries until they are compiled (see
    /// [`Config::tier_up_after`](crate::Config::tier_up_after)): creating the
    /// function compiles nothing, and its first call costs no compilation.
    /// Where the conventions agree on `ty` (see [`Func::wrap`]), `wasm_call`
    /// is `native_call`.
    /// Where neither a compiler nor generic entries serve, they must come
    /// from a loaded object: `native_call` is required, `wasm_call` stays
    /// `None` if absent.
    pub fn new<F, E>(engine: &Engine, ty: &Signature, f: F) -> Result<Func, Error>
    where
        F: Fn(&[Val], &mut [Val]) -> Result<(), E> + Send + Sync + 'static,
        E: Into<BoxError> + 'static,
    {
        Func::untyped(engine, ty, NoCaller(f, PhantomData))
    }

    /// Like [`new`](Self::new), for a closure that also takes its
    /// [`Caller`].
    pub fn new_with_caller<F, E>(engine: &Engine, ty: &Signature, f: F) -> Result<Func, Error>
    where
        F: Fn(Caller<'_>, &[Val], &mut [Val]) -> Result<(), E> + Send + Sync + 'static,
        E: Into<BoxError> + 'static,
    {
        Func::untyped(engine, ty, WithCaller(f, PhantomData))
    }

    /// Like [`new`](Self::new), of a registered type: one of a recursion
    /// group (see [`Engine::register_rec_group`]), with its place among
    /// its supertypes.
    pub fn new_shared<F, E>(engine: &Engine, ty: &SharedSignature, f: F) -> Result<Func, Error>
    where
        F: Fn(&[Val], &mut [Val]) -> Result<(), E> + Send + Sync + 'static,
        E: Into<BoxError> + 'static,
    {
        Func::untyped_shared(engine, ty.clone(), NoCaller(f, PhantomData))
    }

    fn untyped<H: UntypedHost>(engine: &Engine, ty: &Signature, host: H) -> Result<Func, Error> {
        Func::untyped_shared(engine, engine.register(ty)?, host)
    }

    fn untyped_shared<H: UntypedHost>(
        engine: &Engine,
        shared: SharedSignature,
        host: H,
    ) -> Result<Func, Error> {
        engine.check_own(&shared)?;
        if !engine.host_wasm_call() {
            return Err(Error::NoWasmCall {
                ty: shared.signature().clone(),
            });
        }
        let (native_call, entries) = untyped_entries(engine, &shared)?;
        let func_ref = VMFuncRef {
            native_call,
            array_call: untyped_array_shim::<H>,
            wasm_call: entries.wasm_call(native_call),
            type_index: shared.index(),
            vmctx: core::ptr::null_mut(),
        };
        let state = Untyped {
            ty: shared.signature().clone(),
            registry: Arc::clone(engine.registry()),
            host,
        };
        Ok(Func::host(
            engine,
            shared,
            VM_ARRAY_CALL_HOST_FUNC_MAGIC,
            func_ref,
            state,
            entries.header,
            Some(untyped_vals::<H> as ValsCall),
        ))
    }

    fn host<T: Send + Sync + 'static>(
        engine: &Engine,
        ty: SharedSignature,
        magic: u32,
        func_ref: VMFuncRef,
        state: T,
        header: generic::Header,
        vals: Option<ValsCall>,
    ) -> Func {
        // A function whose closure `vals` reaches calls no wasm but through
        // entries of its own (a forwarder's target may be wasm).
        let direct = vals.is_some();
        let context = generic::alloc(
            header,
            VMHostFuncContext {
                magic,
                func_ref,
                host_state: Hosted {
                    mark: if direct { engine.host_mark() } else { 0 },
                    raise: engine.raise_hook(),
                    state,
                },
            },
        );
        // SAFETY: `context` is a fresh, exclusively owned allocation; the
        // funcref's vmctx points back at its own context, as the host
        // trampolines and shims expect.
        let func_ref = unsafe {
            (*context).func_ref.vmctx = VMOpaqueContext::from_host_func_context(context);
            NonNull::new_unchecked(&raw mut (*context).func_ref)
        };
        let owner = Owner::Host {
            context: context.cast(),
            free: generic::free::<Hosted<T>>,
        };
        // SAFETY: `vals` is of `T`'s kind; the context, the signature (a
        // `SharedSignature` keeps its address) and the engine's registry
        // live as long as the `FuncInner` that holds them all.
        let vals = vals.map(|call| unsafe {
            HostVals::new(
                call,
                func_ref.as_ref().vmctx,
                ty.signature(),
                engine.registry(),
            )
        });
        Func(Arc::new(FuncInner {
            engine: engine.clone(),
            ty,
            func_ref,
            owner,
            vals,
            mode: if direct {
                engine.direct_mode()
            } else {
                engine.foreign_mode()
            },
        }))
    }

    /// A function that fronts an array-convention entry made elsewhere (a
    /// foreign runtime's `array_call`, with its own `vmctx`): a call through
    /// any of its entries reaches `array_call` with `vmctx` as its callee
    /// context — through the `native_to_array` and `wasm_to_array`
    /// trampolines of `ty`, and a Rust forwarder for `array_call` itself.
    /// The trampolines find both in the host context's funcref; the funcref
    /// callers see has the host context as its `vmctx`.
    ///
    /// # Safety
    /// `array_call` must be an array-convention function of `ty` that
    /// accepts `vmctx` as its callee context and the engine's callers'
    /// contexts as its caller; both must stay valid and callable from any
    /// thread for as long as the returned `Func` (or any funcref copied from
    /// it) may be called.
    pub unsafe fn from_array_entry(
        engine: &Engine,
        ty: &Signature,
        array_call: VMArrayCallFunction,
        vmctx: *mut VMOpaqueContext,
    ) -> Result<Func, Error> {
        let shared = engine.register(ty)?;
        let (native_call, entries) = untyped_entries(engine, &shared)?;
        let wasm_call = entries.wasm_call(native_call);
        // What the trampolines and the forwarder call.
        let target = VMFuncRef {
            native_call,
            array_call,
            wasm_call: None,
            type_index: shared.index(),
            vmctx,
        };
        let context = generic::alloc(
            entries.header,
            VMHostFuncContext {
                magic: VM_ARRAY_CALL_HOST_FUNC_MAGIC,
                func_ref: target,
                host_state: Forwarded(VMFuncRef {
                    native_call,
                    array_call: forward_array_call,
                    wasm_call,
                    type_index: shared.index(),
                    vmctx: core::ptr::null_mut(),
                }),
            },
        );
        // SAFETY: `context` is a fresh, exclusively owned allocation; the
        // published funcref's vmctx is the host context, where its
        // trampolines and forwarder find the target.
        let func_ref = unsafe {
            (*context).host_state.0.vmctx = VMOpaqueContext::from_host_func_context(context);
            NonNull::new_unchecked(&raw mut (*context).host_state.0)
        };
        Ok(Func(Arc::new(FuncInner {
            engine: engine.clone(),
            ty: shared,
            func_ref,
            owner: Owner::Host {
                context: context.cast(),
                free: generic::free::<Forwarded>,
            },
            vals: None,
            mode: engine.foreign_mode(),
        })))
    }

    /// A function that fronts a native-convention entry made elsewhere (a
    /// foreign runtime's `native_call`, with its own `vmctx`), of the
    /// statically known type `(P) -> R`: a typed host function whose every
    /// entry calls `native_call` with `vmctx` as its callee context. (All
    /// three entries of a funcref share one `vmctx`, so a foreign native
    /// entry of a type known only at run time cannot be fronted: front its
    /// `array_call` with [`from_array_entry`](Self::from_array_entry).)
    ///
    /// # Safety
    /// `native_call` must be native-convention code of exactly `(P) -> R`
    /// that accepts `vmctx` as its callee context and the engine's callers'
    /// contexts as its caller; both must stay valid and callable from any
    /// thread for as long as the returned `Func` may be called.
    pub unsafe fn from_native_entry<P, R>(
        engine: &Engine,
        native_call: NonNull<VMNativeCallFunction>,
        vmctx: *mut VMOpaqueContext,
    ) -> Result<Func, Error>
    where
        P: NativeShims + 'static,
        R: WasmResults,
    {
        Func::wrap(
            engine,
            NativeTarget::<P, R> {
                code: native_call,
                vmctx,
                _types: PhantomData,
            },
        )
    }

    /// A function for a wasm body compiled elsewhere: `wasm_call` is `body`,
    /// `array_call` and `native_call` are trampolines stamped for it.
    ///
    /// # Safety
    /// `body` must be code entered with the *wasm* convention of `ty` (see
    /// `docs/ABI.md`) that expects `vmctx` as its callee context; both must
    /// stay valid and callable from any thread for as long as the returned
    /// `Func` (or any funcref copied from it) may be called.
    pub unsafe fn from_raw_wasm(
        engine: &Engine,
        ty: &Signature,
        body: NonNull<VMWasmCallFunction>,
        vmctx: *mut VMOpaqueContext,
    ) -> Result<Func, Error> {
        // SAFETY: forwarded to the caller.
        let mut funcs =
            unsafe { Func::from_raw_wasm_batch(engine, &[RawWasmFunc { ty, body, vmctx }])? };
        Ok(funcs.pop().expect("one function in, one out"))
    }

    /// Like [`from_raw_wasm`](Self::from_raw_wasm) for many bodies at once:
    /// every stamped trampoline shares one mapping.
    ///
    /// # Safety
    /// As for [`from_raw_wasm`](Self::from_raw_wasm), for every entry.
    pub unsafe fn from_raw_wasm_batch(
        engine: &Engine,
        funcs: &[RawWasmFunc<'_>],
    ) -> Result<Vec<Func>, Error> {
        let kinds = TrampolineKind::WASM_BODY;
        let mut types = Vec::with_capacity(funcs.len());
        let mut templates = Vec::with_capacity(funcs.len() * 2);
        for raw in funcs {
            let shared = engine.register(raw.ty)?;
            for kind in kinds {
                let template =
                    engine
                        .template(&shared, kind)?
                        .ok_or_else(|| Error::MissingTrampoline {
                            kind,
                            ty: raw.ty.clone(),
                        })?;
                templates.push((template, raw.body));
            }
            types.push(shared);
        }
        let items: Vec<_> = templates
            .iter()
            .map(|(t, body)| CodeItem::new(t, Some(body.cast::<c_void>())))
            .collect();
        let stamps = Arc::new(CodeMemory::new_in(engine.code_provider(), &items)?);
        let entry = |i: usize| stamps.entry(i).expect("one entry per item");
        Ok(funcs
            .iter()
            .zip(types)
            .enumerate()
            .map(|(i, (raw, ty))| {
                // SAFETY: entry 2i is the stamped array_to_wasm of this body:
                // an array-convention function.
                let array_call: VMArrayCallFunction =
                    unsafe { core::mem::transmute(entry(2 * i).as_ptr()) };
                let func_ref = Box::into_raw(Box::new(VMFuncRef {
                    native_call: entry(2 * i + 1).cast(),
                    array_call,
                    wasm_call: Some(raw.body),
                    type_index: ty.index(),
                    vmctx: raw.vmctx,
                }));
                let owner = Owner::Wasm {
                    func_ref,
                    _stamps: Arc::clone(&stamps),
                };
                // SAFETY: from `Box::into_raw`, never null.
                let ptr = unsafe { NonNull::new_unchecked(func_ref) };
                Func(Arc::new(FuncInner {
                    engine: engine.clone(),
                    ty,
                    func_ref: ptr,
                    owner,
                    vals: None,
                    mode: engine.entry_mode(),
                }))
            })
            .collect())
    }

    /// A `Func` for a funcref made elsewhere — one that came back from wasm,
    /// or another runtime's — typed by the engine's registry from its
    /// `type_index`. A funcref whose index the engine does not know is
    /// refused ([`Error::UnknownTypeIndex`]); use
    /// [`Config::type_indices`](crate::Config::type_indices) to share a
    /// runtime's numbering.
    ///
    /// # Safety
    /// `funcref` must point to a live `VMFuncRef` whose entry points have the
    /// type its index names in this engine and accept its `vmctx`, and it
    /// must stay valid and callable from any thread for as long as the
    /// returned `Func` (or any funcref copied from it) may be called.
    pub unsafe fn from_raw_funcref(
        engine: &Engine,
        funcref: NonNull<VMFuncRef>,
    ) -> Result<Func, Error> {
        // SAFETY: the caller guarantees a live funcref.
        let index = unsafe { funcref.as_ref().type_index };
        let ty = engine.lookup(index).ok_or(Error::UnknownTypeIndex {
            index: index.bits(),
        })?;
        Ok(Func(Arc::new(FuncInner {
            engine: engine.clone(),
            ty,
            func_ref: funcref,
            owner: Owner::Borrowed,
            vals: None,
            mode: engine.foreign_mode(),
        })))
    }

    /// The function's type.
    #[inline]
    pub fn ty(&self) -> &Signature {
        self.0.ty.signature()
    }

    /// The function's registered type (its `type_index`).
    pub fn shared_signature(&self) -> &SharedSignature {
        &self.0.ty
    }

    /// The engine the function belongs to.
    pub fn engine(&self) -> &Engine {
        &self.0.engine
    }

    /// The function's `VMFuncRef`, valid while this `Func` lives.
    pub fn vm_func_ref(&self) -> NonNull<VMFuncRef> {
        self.0.func_ref
    }

    /// The function as a `funcref` value, valid while this `Func` lives.
    pub fn as_funcref(&self) -> FuncRef {
        FuncRef(Some(self.0.func_ref))
    }

    fn func_ref(&self) -> &VMFuncRef {
        // SAFETY: the funcref lives as long as `self.0` and is never mutated.
        unsafe { self.0.func_ref.as_ref() }
    }

    /// Calls the function, checking the number and types of `params` and the
    /// number of `results` against its type first: through `array_call`, or
    /// — a host function made by [`wrap`](Self::wrap) or [`new`](Self::new) —
    /// its closure straight from the values. The caller vmctx is the
    /// engine's ([`Engine::caller_vmctx`]).
    ///
    /// References are checked by the standard's matching: their hierarchy,
    /// null only for nullable types, and a funcref's type for typed function
    /// references (a non-null [`FuncRef`] must be live: its `type_index` is
    /// read). A GC reference's dynamic type is **not** checked — only the
    /// runtime knows whether bits are an `i31` or a struct of some type — so
    /// for `eqref`, `i31ref`, struct and array types the runtime vouches for
    /// the reference.
    pub fn call(&self, params: &[Val], results: &mut [Val]) -> Result<(), Error> {
        // SAFETY: the engine's caller context, which every function of the
        // engine accepts, lives as long as the engine.
        unsafe { self.call_with_caller(self.0.engine.caller_vmctx(), params, results) }
    }

    /// Like [`call`](Self::call), with `caller` as the caller vmctx: what a
    /// runtime passes when it calls on behalf of one of its instances.
    ///
    /// # Safety
    /// `caller` must be a context the function accepts as its caller (for a
    /// foreign runtime's function, that runtime's own), live for the call.
    pub unsafe fn call_with_caller(
        &self,
        caller: NonNull<VMOpaqueContext>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), Error> {
        if let Some(vals) = &self.0.vals {
            // A host function: its closure straight from the values, checked
            // as `call_array` checks them, with no slots and no shim.
            // SAFETY: `caller` per the caller.
            return unsafe { vals.call(caller.as_ptr(), params, results) };
        }
        // SAFETY: our own funcref of our own type; `caller` per the caller.
        unsafe {
            call_array(
                self.func_ref(),
                self.ty(),
                self.engine().registry(),
                caller,
                self.trap_mode(),
                params,
                results,
            )
        }
    }

    /// The trap handling of a host call of this function.
    pub(crate) fn trap_mode(&self) -> TrapMode {
        self.0.mode
    }
}

impl core::fmt::Debug for Func {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Func")
            .field("ty", self.ty())
            .field("func_ref", &self.0.func_ref)
            .finish()
    }
}
