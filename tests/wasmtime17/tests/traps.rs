//! Trap semantics with Wasmtime 17 as the outer runtime: its raise
//! mechanism (`raise_user_trap`) plugged in as the engine's raise hook, its
//! catch point (`catch_traps`) around Springboard's entries, its backtraces
//! on, and Springboard's trampolines doing Wasmtime's entry and exit
//! bookkeeping — so that a failing Springboard host function stops
//! Wasmtime's wasm at once, and Wasmtime code trapping under Springboard's
//! entry returns Wasmtime's error instead of aborting in its stack walker.
#![cfg(target_arch = "x86_64")]

use springboard::vm::{PtrSize, VMFuncRef, VMOpaqueContext};
use springboard::{Bookkeeping, Config, Engine, Error, Func, WasmConv};
use springboard_wasmtime17_tests::{WasmtimeIndices, signature, under_wasmtime_traps};
use std::sync::{Arc, Mutex};

/// `run` calls the import, then writes 1 at address 0 — the marker — and
/// returns the import's result plus one. `trap` reaches `unreachable` two
/// calls deep.
const WAT: &str = r#"
(module
  (import "host" "f" (func $f (param i32 i64) (result i64)))
  (memory (export "memory") 1)
  (func (export "run") (param i32 i64) (result i64)
    (local $r i64)
    local.get 0 local.get 1 call $f local.set $r
    i32.const 0 i32.const 1 i32.store
    local.get $r i64.const 1 i64.add)
  (func $deep (param i32) (result i32) local.get 0 unreachable)
  (func $middle (param i32) (result i32) local.get 0 call $deep)
  (func (export "trap") (param i32) (result i32) local.get 0 call $middle)
)
"#;

/// Wasmtime 17's raise mechanism as a Springboard raise hook.
unsafe fn raise_into_wasmtime(error: Error) -> ! {
    // SAFETY: the engine's contract (`Config::raise_hook`): its host
    // functions fail only under generated code inside Wasmtime's
    // `catch_traps`, with no Rust frame that owns anything in between.
    unsafe { wasmtime_runtime::raise_user_trap(error.into(), true) }
}

/// A Wasmtime-17-convention engine with Wasmtime's raise hook, its type
/// numbering and, if `bookkeeping`, its bookkeeping offsets.
fn engine(wt: &wasmtime::Engine, bookkeeping: bool) -> Engine {
    let mut config = Config::new();
    config
        .wasm_conv(WasmConv::Wasmtime17)
        .type_indices(WasmtimeIndices::new(wt));
    // SAFETY: the hook is Wasmtime's own, and every call below runs inside
    // Wasmtime's catch point; every vmctx the trampolines are given is a
    // Wasmtime instance's, with its runtime limits where
    // `Bookkeeping::wasmtime17` says (no host call reaches a `wasm_to_*`
    // trampoline with the engine's own caller context).
    unsafe {
        config.raise_hook(raise_into_wasmtime);
        if bookkeeping {
            config.bookkeeping(Bookkeeping::wasmtime17(PtrSize::HOST));
        }
    }
    Engine::new(&config).unwrap()
}

/// A store with the module instantiated over `import`, the instance's
/// vmctx, and Springboard functions for its `run` and `trap` exports.
struct Setup {
    store: wasmtime::Store<()>,
    instance: wasmtime::Instance,
    vmctx: *mut VMOpaqueContext,
}

fn instantiate(
    wt: &wasmtime::Engine,
    import: impl FnOnce(&mut wasmtime::Store<()>) -> wasmtime::Func,
) -> Setup {
    let module = wasmtime::Module::new(wt, WAT).unwrap();
    let mut store = wasmtime::Store::new(wt, ());
    let import = import(&mut store);
    let instance = wasmtime::Instance::new(&mut store, &module, &[import.into()]).unwrap();
    let run = instance.get_func(&mut store, "run").unwrap();
    // SAFETY: the store lives in `Setup`; the funcref is only read.
    let raw = unsafe { run.to_raw(&mut store) }.cast::<VMFuncRef>();
    // SAFETY: a live Wasmtime 17 funcref, whose layout is vm-abi's.
    let vmctx = unsafe { (*raw).vmctx };
    Setup {
        store,
        instance,
        vmctx,
    }
}

impl Setup {
    /// The export `name` as a Springboard function of `engine`.
    fn export(&mut self, engine: &Engine, name: &str) -> Func {
        let f = self.instance.get_func(&mut self.store, name).unwrap();
        let sig = signature(&f.ty(&self.store));
        // SAFETY: as in `instantiate`.
        let raw = unsafe { f.to_raw(&mut self.store) }.cast::<VMFuncRef>();
        // SAFETY: Wasmtime 17 wasm code of `sig` in the engine's convention,
        // expecting its instance's vmctx; the store outlives the function.
        unsafe { Func::from_raw_wasm(engine, &sig, (*raw).wasm_call.unwrap(), (*raw).vmctx) }
            .unwrap()
    }

    /// The marker `run` writes after its import returns, and resets it.
    fn marker(&mut self) -> u8 {
        let memory = self.instance.get_memory(&mut self.store, "memory").unwrap();
        let m = memory.data(&self.store)[0];
        memory.data_mut(&mut self.store)[0] = 0;
        m
    }
}

/// A Springboard host function that fails on a negative argument, as a
/// Wasmtime import.
fn failing_import(engine: &Engine, store: &mut wasmtime::Store<()>) -> (Func, wasmtime::Func) {
    let f = Func::wrap(engine, |a: i32, b: i64| -> Result<i64, String> {
        if a < 0 {
            Err(format!("refused {a}"))
        } else {
            Ok(i64::from(a) + b)
        }
    })
    .unwrap();
    // SAFETY: a live funcref with Wasmtime's type index and conventions;
    // the test keeps `f` alive as long as the store.
    let wt =
        unsafe { wasmtime::Func::from_raw(&mut *store, f.vm_func_ref().as_ptr().cast()) }.unwrap();
    (f, wt)
}

#[test]
fn a_failing_springboard_import_stops_wasmtime_wasm_at_once() {
    let wt = wasmtime::Engine::default();
    let engine = engine(&wt, true);
    let keep = Arc::new(Mutex::new(None));
    let k = Arc::clone(&keep);
    let mut setup = instantiate(&wt, move |store| {
        let (f, wt) = failing_import(&engine, store);
        *k.lock().unwrap() = Some((f, engine));
        wt
    });
    let run = setup
        .instance
        .get_typed_func::<(i32, i64), i64>(&mut setup.store, "run")
        .unwrap();

    // Wasmtime enters: its own `Func::call`.
    assert_eq!(run.call(&mut setup.store, (2, 40)).unwrap(), 43);
    assert_eq!(
        setup.marker(),
        1,
        "the control: the code after the import runs"
    );
    let err = run.call(&mut setup.store, (-3, 40)).unwrap_err();
    assert_eq!(setup.marker(), 0, "wasm ran on after the import failed");
    let cause = err
        .downcast_ref::<Error>()
        .unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(cause.to_string(), "host function failed: refused -3");
    let trace = err
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .expect("a backtrace");
    assert_eq!(
        trace.frames().len(),
        1,
        "{trace:?}: `run`, from the exit Springboard recorded"
    );
    assert_eq!(trace.frames()[0].func_index(), 1, "{trace:?}");
    assert_eq!(
        run.call(&mut setup.store, (1, 1)).unwrap(),
        3,
        "usable after"
    );

    // Springboard enters, under Wasmtime's catch point.
    // The host function stays alive: the instance imports its funcref.
    let (_import, engine) = keep.lock().unwrap().take().unwrap();
    let ours = setup
        .export(&engine, "run")
        .typed::<(i32, i64), i64>()
        .unwrap();
    let vmctx = setup.vmctx;
    let o = ours.clone();
    let outcome = Arc::new(Mutex::new(Vec::new()));
    let out = Arc::clone(&outcome);
    under_wasmtime_traps(&mut setup.store, vmctx, move || {
        let r = o.call((5, 5));
        out.lock().unwrap().push(r.map_err(|e| e.to_string()));
    })
    .unwrap();
    assert_eq!(*outcome.lock().unwrap(), [Ok(11)]);
    assert_eq!(setup.marker(), 1);
    let o = ours.clone();
    let trap = under_wasmtime_traps(&mut setup.store, vmctx, move || {
        let _ = o.call((-7, 5));
        unreachable!("the failure never returns into Springboard's entry");
    })
    .unwrap_err();
    assert_eq!(setup.marker(), 0, "wasm ran on after the import failed");
    match trap.reason {
        wasmtime_runtime::TrapReason::User { error, .. } => {
            assert_eq!(error.to_string(), "host function failed: refused -7");
        }
        other => panic!("{other:?}"),
    }
    let frames = trap.backtrace.expect("backtraces are on").frames().count();
    assert_eq!(frames, 1, "`run`, between Springboard's entry and its exit");
}

#[test]
fn without_a_hook_springboards_own_entry_catches_under_wasmtime_wasm() {
    // The default: Springboard's catch point at its entry, and a failing
    // host function under Wasmtime's wasm jumps back to it.
    let wt = wasmtime::Engine::default();
    let mut config = Config::new();
    config
        .wasm_conv(WasmConv::Wasmtime17)
        .type_indices(WasmtimeIndices::new(&wt));
    let engine = Engine::new(&config).unwrap();
    let keep = Arc::new(Mutex::new(None));
    let k = Arc::clone(&keep);
    let e = engine.clone();
    let mut setup = instantiate(&wt, move |store| {
        let (f, wt) = failing_import(&e, store);
        *k.lock().unwrap() = Some(f);
        wt
    });
    let ours = setup.export(&engine, "run");
    let typed = ours.typed::<(i32, i64), i64>().unwrap();
    let t = typed.clone();
    let failures = springboard_wasmtime17_tests::inside_wasmtime(&mut setup.store, move || {
        let mut out = [springboard::Val::I64(0)];
        let args = [springboard::Val::I32(-2), springboard::Val::I64(1)];
        let untyped = ours.call(&args, &mut out).map_err(|e| e.to_string());
        (t.call((-3, 1)).map_err(|e| e.to_string()), untyped)
    });
    assert_eq!(
        failures.0,
        Err("host function failed: refused -3".to_owned())
    );
    assert_eq!(
        failures.1,
        Err("host function failed: refused -2".to_owned())
    );
    assert_eq!(setup.marker(), 0, "wasm ran on after the import failed");
    let control = springboard_wasmtime17_tests::inside_wasmtime(&mut setup.store, move || {
        typed.call((3, 1)).map_err(|e| e.to_string())
    });
    assert_eq!(control, Ok(5));
    assert_eq!(
        setup.marker(),
        1,
        "the control: the code after the import runs"
    );
    drop(keep);
}

/// A call through one Springboard entry.
type Entry = Box<dyn FnMut() + Send>;

/// Wasmtime's `trap` export entered through Springboard's `array_to_wasm`
/// (`Func::call`) and `native_to_wasm` (`TypedFunc::call`), under
/// Wasmtime's catch point: the trap's backtrace runs from `$deep` up to the
/// entry stack pointer Springboard's trampoline recorded.
fn trap_through_springboard(bookkeeping: bool) {
    let wt = wasmtime::Engine::default();
    let engine = engine(&wt, bookkeeping);
    let mut setup = instantiate(&wt, |s| wasmtime::Func::wrap(&mut *s, |_: i32, b: i64| b));
    let trap = setup.export(&engine, "trap");
    let vmctx = setup.vmctx;
    let typed = trap.typed::<i32, i32>().unwrap();
    let entries: [(&str, Entry); 2] = [
        (
            "Func::call",
            Box::new(move || {
                let mut out = [springboard::Val::I32(0)];
                let _ = trap.call(&[springboard::Val::I32(1)], &mut out);
            }),
        ),
        (
            "TypedFunc::call",
            Box::new(move || {
                let _ = typed.call(1);
            }),
        ),
    ];
    for (entry, call) in entries {
        let trap = under_wasmtime_traps(&mut setup.store, vmctx, call).expect_err(entry);
        assert!(
            matches!(trap.reason, wasmtime_runtime::TrapReason::Jit { .. }),
            "{entry}: {:?}",
            trap.reason
        );
        let frames = trap.backtrace.expect("backtraces are on").frames().count();
        assert_eq!(frames, 3, "{entry}: `$deep`, `$middle`, `trap`");
    }
}

#[test]
fn wasmtime_code_trapping_under_springboard_entries_returns_wasmtimes_error() {
    trap_through_springboard(true);
}

/// The control, in a child process: without the bookkeeping, Wasmtime's
/// stack walker finds no entry stack pointer and the process aborts.
#[test]
fn without_the_bookkeeping_wasmtimes_walker_aborts() {
    if std::env::var_os("SPRINGBOARD_TRAP_CHILD").is_some() {
        trap_through_springboard(false);
        return;
    }
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "without_the_bookkeeping_wasmtimes_walker_aborts",
            "--nocapture",
        ])
        .env("SPRINGBOARD_TRAP_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert!(!child.status.success(), "the child survived: {stderr}");
    assert!(
        stderr.contains("traphandlers/backtrace.rs") && stderr.contains("aborting"),
        "{stderr}"
    );
}

#[test]
fn the_wasmtime17_bookkeeping_offsets_are_wasmtimes() {
    use wasmtime_environ::PtrSize as _;
    for bytes in [4u8, 8] {
        let ours = Bookkeeping::wasmtime17(PtrSize::new(bytes).unwrap());
        let theirs = Bookkeeping {
            limits: u32::from(bytes.vmcontext_runtime_limits()),
            entry_sp: u32::from(bytes.vmruntime_limits_last_wasm_entry_sp()),
            exit_fp: u32::from(bytes.vmruntime_limits_last_wasm_exit_fp()),
            exit_pc: u32::from(bytes.vmruntime_limits_last_wasm_exit_pc()),
        };
        assert_eq!(ours, theirs, "{bytes}-byte pointers");
    }
}
