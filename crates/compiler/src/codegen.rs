//! The code generation driver: one Cranelift function in, bytes and
//! relocations out, in a context reused per thread, with Cranelift's panics
//! turned into errors.

use crate::abi::Abi;
use crate::{CodeKind, CompiledTrampoline, Compiler, Error, Signature};
use core::cell::Cell;
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir;
use springboard_environ::{RelocKind, RelocTarget, Relocation};

thread_local! {
    /// The Cranelift context this thread compiles in, between compilations.
    static CONTEXT: Cell<Option<cranelift_codegen::Context>> = const { Cell::new(None) };
}

/// Builds the function `build` makes for `signature` and compiles it.
pub(crate) fn finish(
    compiler: &Compiler,
    kind: CodeKind,
    signature: &Signature,
    build: impl FnOnce(&Abi) -> ir::Function,
) -> Result<CompiledTrampoline, Error> {
    // References travel as their representation: compile the trampoline type.
    let signature = &signature.trampoline_type(compiler.gc_refs());
    crate::isa::check_supported(compiler, signature)?;
    let func = build(&Abi {
        isa: compiler.isa(),
        wasm_conv: compiler.wasm_conv(),
        bookkeeping: compiler.bookkeeping(),
        sig: signature,
    });
    let codegen_error = |message: String| Error::Codegen {
        kind,
        signature: signature.clone(),
        message,
    };
    // A context keeps its allocations (the register allocator's above
    // all) between functions; reusing one per thread saves a good part
    // of the cost of compiling a small trampoline.
    let mut ctx = CONTEXT
        .take()
        .unwrap_or_else(cranelift_codegen::Context::new);
    ctx.func = func;
    // Cranelift reports bad IR as errors, but a bug in a backend may
    // panic: never let that take the host process down.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let compiled = ctx
            .compile(compiler.isa(), &mut ControlPlane::default())
            .map_err(|e| format!("{:?}", e.inner))?;
        let relocations = compiled
            .buffer
            .relocs()
            .iter()
            .map(|r| match r.kind {
                Reloc::Abs8 => Ok(Relocation {
                    offset: r.offset,
                    kind: RelocKind::Abs8,
                    target: RelocTarget::Callee,
                    addend: r.addend,
                }),
                other => Err(format!("unexpected relocation {other:?}")),
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok((
            compiled.code_buffer().to_vec(),
            relocations,
            compiled.buffer.alignment,
        ))
    }));
    let (code, relocations, align) = match outcome {
        Ok(result) => {
            ctx.clear();
            CONTEXT.set(Some(ctx));
            result.map_err(codegen_error)?
        }
        // After a panic the context may be inconsistent: drop it.
        Err(panic) => {
            let message = springboard_environ::panic_message(&*panic);
            return Err(codegen_error(format!("Cranelift panicked: {message}")));
        }
    };
    Ok(CompiledTrampoline {
        kind,
        signature: signature.clone(),
        code,
        relocations,
        align,
    })
}
