//! Test helpers: wasm bodies, call logs and value comparison. Calls through
//! any entry point go through `springboard_check::Driver`.
#![allow(dead_code)]

use core::ptr::NonNull;
use springboard::vm::ValRaw;
use springboard::{Signature, ValType};
use springboard_compiler::{CallConv, Compiler};
use springboard_loader::{CodeItem, CodeMemory};
use std::sync::{Arc, Mutex};

/// A wasm body for tests: a compiled wasm-convention probe (see
/// `Compiler::compile_probe`), mapped.
pub struct WasmProbe {
    pub memory: CodeMemory,
}

impl WasmProbe {
    pub fn new(compiler: &Compiler, sig: &Signature) -> WasmProbe {
        let probe = compiler.compile_probe(CallConv::Wasm, sig).unwrap();
        WasmProbe {
            memory: CodeMemory::new(&[CodeItem::new(&probe, None)]).unwrap(),
        }
    }

    pub fn body(&self) -> NonNull<springboard::vm::VMWasmCallFunction> {
        self.memory.entry(0).unwrap().cast()
    }
}

/// What host closures received, call by call.
#[derive(Clone, Default)]
pub struct Log(pub Arc<Mutex<Vec<Vec<ValRaw>>>>);

impl Log {
    pub fn push(&self, args: Vec<ValRaw>) {
        self.0.lock().unwrap().push(args);
    }

    pub fn take(&self) -> Vec<Vec<ValRaw>> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Asserts `got` carries exactly the values `want` of `tys`.
pub fn assert_same(what: &str, tys: &[ValType], got: &[ValRaw], want: &[ValRaw]) {
    assert_eq!(got.len(), want.len(), "{what}: count");
    for (i, ((&t, &g), &w)) in tys.iter().zip(got).zip(want).enumerate() {
        assert!(
            springboard_check::values::same_bits(t, g, w),
            "{what} {i} ({t}): expected {w:?}, got {g:?}"
        );
    }
}

/// The context of an [`ImportCaller`] body.
#[repr(C)]
pub struct CallerContext {
    /// The function it calls.
    pub import: *const springboard::vm::VMFuncRef,
    /// Set to 1 after the import returns.
    pub marker: std::sync::atomic::AtomicU64,
}

/// A wasm body built with Cranelift in Springboard's default wasm
/// convention (`tail`): given a [`CallerContext`] as its vmctx, it calls
/// the import's `wasm_call` with its own arguments and its own vmctx as
/// the caller, then writes 1 to the marker, then returns the import's
/// results — the shape of any wasm function that calls an import.
pub struct ImportCaller {
    pub memory: CodeMemory,
}

impl ImportCaller {
    pub fn new(sig: &Signature) -> ImportCaller {
        use cranelift_codegen::ir::{self, AbiParam, InstBuilder, MemFlagsData, types};
        use cranelift_codegen::isa;
        use cranelift_codegen::settings::{self, Configurable};
        use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
        use springboard::vm::PtrSize;

        let mut flags = settings::builder();
        flags.set("preserve_frame_pointers", "true").unwrap();
        flags.set("enable_multi_ret_implicit_sret", "true").unwrap();
        let isa = cranelift_native::builder()
            .unwrap()
            .finish(settings::Flags::new(flags))
            .unwrap();
        let ptr = isa.pointer_type();
        let clif = |t: ValType| match t {
            ValType::I32 => types::I32,
            ValType::I64 => types::I64,
            ValType::F32 => types::F32,
            ValType::F64 => types::F64,
            ValType::V128 => types::I8X16,
            ValType::Ref(_) => ptr,
        };
        let mut wasm_sig = ir::Signature::new(isa::CallConv::Tail);
        wasm_sig
            .params
            .extend([AbiParam::new(ptr), AbiParam::new(ptr)]);
        wasm_sig
            .params
            .extend(sig.params().iter().map(|&t| AbiParam::new(clif(t))));
        wasm_sig
            .returns
            .extend(sig.results().iter().map(|&t| AbiParam::new(clif(t))));

        let mut func =
            ir::Function::with_name_signature(ir::UserFuncName::default(), wasm_sig.clone());
        let mut fctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut fctx);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        let args = b.block_params(block).to_vec();
        let vmctx = args[0];
        let trusted = MemFlagsData::trusted();
        let p = PtrSize::HOST;
        let import = b.ins().load(ptr, trusted, vmctx, 0);
        let wasm_call = b
            .ins()
            .load(ptr, trusted, import, i32::from(p.vm_func_ref_wasm_call()));
        let import_vmctx = b
            .ins()
            .load(ptr, trusted, import, i32::from(p.vm_func_ref_vmctx()));
        let sigref = b.import_signature(wasm_sig);
        let mut call_args = vec![import_vmctx, vmctx];
        call_args.extend(&args[2..]);
        let call = b.ins().call_indirect(sigref, wasm_call, &call_args);
        let results = b.inst_results(call).to_vec();
        let one = b.ins().iconst(types::I64, 1);
        let marker = core::mem::offset_of!(CallerContext, marker) as i32;
        b.ins().store(trusted, one, vmctx, marker);
        b.ins().return_(&results);
        b.seal_all_blocks();
        b.finalize(isa.frontend_config());

        let mut ctx = cranelift_codegen::Context::for_function(func);
        let compiled = ctx
            .compile(&*isa, &mut Default::default())
            .map_err(|e| format!("{:?}", e.inner))
            .unwrap();
        let code = springboard_compiler::CompiledTrampoline {
            kind: springboard_compiler::CodeKind::Probe(CallConv::Wasm),
            signature: sig.clone(),
            code: compiled.code_buffer().to_vec(),
            relocations: Vec::new(),
            align: 16,
        };
        ImportCaller {
            memory: CodeMemory::new(&[CodeItem::new(&code, None)]).unwrap(),
        }
    }

    pub fn body(&self) -> NonNull<springboard::vm::VMWasmCallFunction> {
        self.memory.entry(0).unwrap().cast()
    }
}

/// A wasm function of `import`'s type that calls `import`, then writes its
/// marker. Keeps everything it points into alive.
pub struct Body {
    pub func: springboard::Func,
    pub context: Box<CallerContext>,
    _code: ImportCaller,
    _import: springboard::Func,
    /// Keeps the import's compiled trampolines (a tiered-up engine's).
    _compiled: Vec<springboard::SharedSignature>,
}

impl Body {
    pub fn new(engine: &springboard::Engine, import: &springboard::Func) -> Body {
        let code = ImportCaller::new(import.ty());
        let context = Box::new(CallerContext {
            import: import.vm_func_ref().as_ptr(),
            marker: 0.into(),
        });
        // SAFETY: the body is wasm code of the import's type expecting a
        // `CallerContext`; code, context and import live in `Body`.
        let func = unsafe {
            springboard::Func::from_raw_wasm(
                engine,
                import.ty(),
                code.body(),
                (&raw const *context).cast_mut().cast(),
            )
        }
        .unwrap();
        Body {
            func,
            context,
            _code: code,
            _import: import.clone(),
            _compiled: Vec::new(),
        }
    }

    /// Whether the code after the import call ran, and resets it.
    pub fn marker(&self) -> bool {
        self.context
            .marker
            .swap(0, std::sync::atomic::Ordering::SeqCst)
            == 1
    }
}

/// How an engine's host functions are entered from generated code.
#[cfg(feature = "compiler")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entries {
    /// Generic entries only (they never tier up here).
    Generic,
    /// Compiled trampolines, made when each function is created.
    Compiled,
    /// Generic entries that forward to the compiled trampolines, compiled
    /// after the function was created (what tier-up leaves).
    TieredUp,
}

/// An engine whose host functions are entered as `entries` says. (Where
/// the host has no generic entries, every kind is compiled.)
#[cfg(feature = "compiler")]
#[derive(Clone)]
pub struct TestEngine {
    engine: springboard::Engine,
    entries: Entries,
}

#[cfg(feature = "compiler")]
impl TestEngine {
    pub fn new(entries: Entries) -> TestEngine {
        let calls = match entries {
            Entries::Generic | Entries::TieredUp => u32::MAX,
            Entries::Compiled => 0,
        };
        let config = springboard::Config::new().tier_up_after(calls).clone();
        TestEngine {
            engine: springboard::Engine::new(&config).unwrap(),
            entries,
        }
    }

    /// [`Body::new`] of `import`; on a tiered-up engine, the import's type
    /// is compiled now, after the import was made, so that its generic
    /// entries forward to the compiled trampolines.
    pub fn body(&self, import: &springboard::Func) -> Body {
        let mut body = Body::new(&self.engine, import);
        if self.entries == Entries::TieredUp {
            body._compiled = self.engine.precompile(&[import.ty().clone()]).unwrap();
        }
        body
    }
}

#[cfg(feature = "compiler")]
impl core::ops::Deref for TestEngine {
    type Target = springboard::Engine;
    fn deref(&self) -> &springboard::Engine {
        &self.engine
    }
}

/// For each test function `name(engine: TestEngine)`, the tests
/// `name::generic`, `name::compiled` and `name::tiered_up`.
#[macro_export]
macro_rules! on_every_kind_of_entry {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::common::{Entries, TestEngine};
                #[test]
                fn generic() {
                    super::$name(TestEngine::new(Entries::Generic))
                }
                #[test]
                fn compiled() {
                    super::$name(TestEngine::new(Entries::Compiled))
                }
                #[test]
                fn tiered_up() {
                    super::$name(TestEngine::new(Entries::TieredUp))
                }
            }
        )*
    };
}

/// Whether `f`'s `wasm_call` is its `native_call` (where both conventions
/// put every value of its type in the same place, no `wasm_call` of its
/// own is made).
pub fn wasm_is_native(f: &springboard::Func) -> bool {
    // SAFETY: a live function's funcref.
    let r = unsafe { f.vm_func_ref().as_ref() };
    r.wasm_call.map(|w| w.cast::<u8>()) == Some(r.native_call.cast::<u8>())
}
