//! A runtime's own executable memory: code mapped through a `CodeProvider`
//! runs, goes back to the provider when dropped, and a provider that
//! misbehaves gets a clear error, never a crash.

use springboard::{Config, Engine, Func};
use springboard_compiler::{Compiler, Signature, TrampolineKind, ValType};
use springboard_loader::{CodeItem, CodeMemory, CodePages, CodeProvider, Error, MmapProvider};
use springboard_vm_abi::{VMFunctionBody, VMOpaqueContext, VMTrampoline, ValRaw};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// What a provider under test does.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Honest,
    TooSmall,
    FailAllocate,
    FailProtect,
}

/// Pages from the operating system, counted; or a misbehaving provider.
struct Counting {
    behaviour: Behaviour,
    allocated: AtomicUsize,
    live: Arc<AtomicUsize>,
}

impl Counting {
    fn new(behaviour: Behaviour) -> Arc<Counting> {
        Arc::new(Counting {
            behaviour,
            allocated: AtomicUsize::new(0),
            live: Arc::default(),
        })
    }
}

struct CountedPages {
    inner: Box<dyn CodePages>,
    live: Arc<AtomicUsize>,
    fail_protect: bool,
    len: usize,
}

impl CodeProvider for Counting {
    fn allocate(&self, len: usize) -> io::Result<Box<dyn CodePages>> {
        if self.behaviour == Behaviour::FailAllocate {
            return Err(io::Error::other("the arena is full"));
        }
        self.allocated.fetch_add(1, SeqCst);
        self.live.fetch_add(1, SeqCst);
        let inner = MmapProvider.allocate(len)?;
        let len = match self.behaviour {
            Behaviour::TooSmall => len / 2,
            _ => inner.len(),
        };
        Ok(Box::new(CountedPages {
            inner,
            live: Arc::clone(&self.live),
            fail_protect: self.behaviour == Behaviour::FailProtect,
            len,
        }))
    }
}

impl Drop for CountedPages {
    fn drop(&mut self) {
        self.live.fetch_sub(1, SeqCst);
    }
}

impl CodePages for CountedPages {
    fn as_ptr(&self) -> *const u8 {
        self.inner.as_ptr()
    }
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.inner.as_mut_ptr()
    }
    fn len(&self) -> usize {
        self.len
    }
    unsafe fn make_executable(&mut self) -> io::Result<()> {
        if self.fail_protect {
            return Err(io::Error::other("protection refused"));
        }
        // SAFETY: forwarded from our caller.
        unsafe { self.inner.make_executable() }
    }
}

extern "C" fn scale(_: *mut VMOpaqueContext, _: *mut VMOpaqueContext, a: i32, b: f64) -> f64 {
    f64::from(a) * b
}

fn entry_code() -> springboard_compiler::CompiledTrampoline {
    let sig = Signature::new(&[ValType::I32, ValType::F64], &[ValType::F64]).unwrap();
    Compiler::host()
        .unwrap()
        .compile(TrampolineKind::Entry, &sig)
        .unwrap()
}

#[test]
fn code_from_a_custom_provider_runs_and_is_returned() {
    let provider = Counting::new(Behaviour::Honest);
    let code = entry_code();
    let memory = CodeMemory::new_in(&*provider, &[CodeItem::new(&code, None)]).unwrap();
    assert_eq!(provider.allocated.load(SeqCst), 1);
    assert_eq!(provider.live.load(SeqCst), 1);
    // SAFETY: the code is an entry trampoline of `(i32, f64) -> f64`.
    let entry: VMTrampoline = unsafe { core::mem::transmute(memory.entry(0).unwrap().as_ptr()) };
    let mut values = [ValRaw::i32(3), ValRaw::f64(1.5f64.to_bits())];
    // SAFETY: `scale` has the native convention of the signature, and the
    // buffer holds max(params, results) slots.
    unsafe {
        entry(
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            scale as *const VMFunctionBody,
            values.as_mut_ptr(),
        )
    };
    assert_eq!(f64::from_bits(values[0].get_f64()), 4.5);
    drop(memory);
    assert_eq!(provider.live.load(SeqCst), 0, "pages returned on drop");
}

#[test]
fn a_misbehaving_provider_gets_a_clear_error() {
    let code = entry_code();
    let items = [CodeItem::new(&code, None)];
    for (behaviour, expect) in [
        (Behaviour::TooSmall, "too small or not 16-byte aligned"),
        (Behaviour::FailAllocate, "the arena is full"),
        (Behaviour::FailProtect, "protection refused"),
    ] {
        let provider = Counting::new(behaviour);
        let err = CodeMemory::new_in(&*provider, &items).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(expect), "{message}");
        assert!(matches!(err, Error::Map(_) | Error::BadProvider { .. }));
        assert_eq!(provider.live.load(SeqCst), 0, "refused pages are returned");
    }
}

#[test]
fn an_engine_maps_every_trampoline_through_its_provider() {
    let provider = Counting::new(Behaviour::Honest);
    let mut config = Config::new();
    // Compiled at creation (no generic entries), so there is code to map.
    config.code_provider(provider.clone()).tier_up_after(0);
    let engine = Engine::new(&config).unwrap();
    // Two results each: types whose native entry cannot serve wasm (a
    // results area), so each gets a wasm_call trampoline of its own.
    let add = Func::wrap(&engine, |a: i32, b: i32| (a.wrapping_add(b), a)).unwrap();
    assert_eq!(
        add.typed::<(i32, i32), (i32, i32)>()
            .unwrap()
            .call((40, 2))
            .unwrap(),
        (42, 40)
    );
    let sig = Signature::new(&[ValType::I64], &[ValType::I64, ValType::I64]).unwrap();
    let untyped = Func::new(&engine, &sig, |p, r| {
        r[0] = p[0];
        r[1] = p[0];
        Ok::<(), std::convert::Infallible>(())
    })
    .unwrap();
    let allocated = provider.allocated.load(SeqCst);
    assert!(
        allocated >= 2,
        "wasm_to_native and the untyped pair: {allocated}"
    );
    assert!(engine.signature_check_stub().is_ok());
    assert_eq!(provider.allocated.load(SeqCst), allocated + 1);
    drop((add, untyped, engine));
    assert_eq!(provider.live.load(SeqCst), 0, "every page returned");
}
