//! Host closures that take a `Caller` see the context they were called
//! from: never null — the engine's own host context when the host calls, the
//! runtime's when it gave one, the caller's own through any entry.

use springboard::vm::{SPRINGBOARD_HOST_CALLER_MAGIC, VMCONTEXT_MAGIC, VMOpaqueContext, ValRaw};
use springboard::{Caller, Config, Engine, Func, Signature, Val, ValType};
use springboard_check::{Driver, Via};
use springboard_compiler::Compiler;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

/// What each call saw: its caller context and whether it was the host.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(usize, bool)>>>);

impl Seen {
    fn record(&self, caller: &Caller<'_>) {
        self.0
            .lock()
            .unwrap()
            .push((caller.vmctx() as usize, caller.is_host()));
    }
    fn take(&self) -> Vec<(usize, bool)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A context of a wasm instance, as a runtime would pass it.
#[repr(C, align(16))]
struct InstanceContext {
    magic: u32,
}

fn typed_and_untyped(engine: &Engine, seen: &Seen) -> [Func; 2] {
    let s = seen.clone();
    let typed = Func::wrap(engine, move |caller: Caller<'_>, a: i32, b: i64| {
        s.record(&caller);
        (b, a.wrapping_add(1))
    })
    .unwrap();
    let s = seen.clone();
    let sig = Signature::new(&[ValType::I32, ValType::I64], &[ValType::I64, ValType::I32]).unwrap();
    let untyped = Func::new_with_caller(engine, &sig, move |caller, params, results| {
        s.record(&caller);
        let (Val::I32(a), Val::I64(b)) = (params[0], params[1]) else {
            unreachable!()
        };
        results[0] = Val::I64(b);
        results[1] = Val::I32(a.wrapping_add(1));
        Ok::<(), springboard::Error>(())
    })
    .unwrap();
    [typed, untyped]
}

#[test]
fn host_calls_pass_the_engines_own_context() {
    let engine = Engine::default();
    let own = engine.caller_vmctx();
    // SAFETY: the engine's context lives as long as the engine.
    assert_eq!(
        unsafe { VMOpaqueContext::magic(own.as_ptr()) },
        SPRINGBOARD_HOST_CALLER_MAGIC
    );
    let seen = Seen::default();
    for f in typed_and_untyped(&engine, &seen) {
        let mut out = [Val::I64(0), Val::I32(0)];
        f.call(&[Val::I32(41), Val::I64(i64::MIN)], &mut out)
            .unwrap();
        assert_eq!(out, [Val::I64(i64::MIN), Val::I32(42)]);
        let typed = f.typed::<(i32, i64), (i64, i32)>().unwrap();
        assert_eq!(typed.call((-1, 7)).unwrap(), (7, 0));
    }
    assert_eq!(seen.take(), vec![(own.as_ptr() as usize, true); 4]);
}

#[test]
fn a_runtime_context_reaches_the_closure_through_every_entry() {
    let mut instance = Box::new(InstanceContext {
        magic: VMCONTEXT_MAGIC,
    });
    let instance_ptr = NonNull::from(&mut *instance).cast::<VMOpaqueContext>();
    let mut config = Config::new();
    // SAFETY: `instance` outlives the engine's calls.
    unsafe { config.caller_vmctx(instance_ptr) };
    let engine = Engine::new(&config).unwrap();
    let seen = Seen::default();
    let funcs = typed_and_untyped(&engine, &seen);
    for f in &funcs {
        let mut out = [Val::I64(0), Val::I32(0)];
        f.call(&[Val::I32(1), Val::I64(2)], &mut out).unwrap();
    }
    let expected = (instance_ptr.as_ptr() as usize, false);
    assert_eq!(seen.take(), vec![expected; 2]);

    // Through each entry of the funcref, as wasm or a runtime calls it.
    let driver = Driver::new(&Compiler::host().unwrap(), funcs[0].ty()).unwrap();
    for f in &funcs {
        for via in Via::ALL {
            // SAFETY: a live funcref of the driver's signature; the caller
            // context is live.
            let out = unsafe {
                driver.call_funcref(
                    via,
                    f.vm_func_ref().as_ref(),
                    instance_ptr.as_ptr(),
                    &[ValRaw::i32(9), ValRaw::i64(-9)],
                )
            }
            .unwrap();
            assert_eq!((out[0].get_i64(), out[1].get_i32()), (-9, 10), "{via:?}");
        }
    }
    assert_eq!(seen.take(), vec![expected; 6]);
    drop(funcs);
    drop(instance);
}
