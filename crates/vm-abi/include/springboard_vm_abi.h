/*
 * springboard_vm_abi.h: the host<->wasm call ABI of the `springboard-vm-abi`
 * crate for C and C++ (bit-compatible with Wasmtime 17's VMFuncRef and
 * Wasmtime 8's VMTrampoline).
 *
 * With it, a host written in C calls Springboard funcrefs and links
 * Springboard's ahead-of-time objects without Rust. The Rust definitions are
 * the source of truth; crates/vm-abi/tests/c_header.rs checks every constant
 * and layout here against them, for every ISA the project targets.
 *
 * Calling conventions (see the crate's docs):
 *   array  - sb_array_call_fn: arguments in slots 0..params of a sb_val_raw
 *            buffer of at least max(params, results) slots, results written
 *            back to slots 0..results.
 *   native - the platform's C convention of the signature:
 *            (callee_vmctx, caller_vmctx, params...[, results_area]) -> result0.
 *            Cast native_call to that function type.
 *   wasm   - the runtime's Cranelift convention; only generated code calls it.
 * A caller compares type_index with the type it means to call before it
 * uses any entry point; calling with another signature is undefined.
 */
#ifndef SPRINGBOARD_VM_ABI_H
#define SPRINGBOARD_VM_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define SB_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#define SB_ALIGNAS(n) alignas(n)
#define SB_ALIGNOF(t) alignof(t)
extern "C" {
#else
#define SB_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#define SB_ALIGNAS(n) _Alignas(n)
#define SB_ALIGNOF(t) _Alignof(t)
#endif

/* Contexts: opaque to callers; each starts with a uint32_t magic. */
typedef struct sb_opaque_context sb_opaque_context; /* VMOpaqueContext */
typedef struct sb_vmcontext sb_vmcontext;           /* VMContext (16-aligned) */
/* Markers for the first byte of machine code of each convention. */
typedef struct sb_function_body sb_function_body;         /* VMFunctionBody */
typedef struct sb_native_call_function sb_native_call_function;
typedef struct sb_wasm_call_function sb_wasm_call_function;

/* Magics at offset 0 of a context: the little-endian reading of four ASCII
 * letters, stored as a uint32_t in the target's own byte order. */
#define SB_VMCONTEXT_MAGIC UINT32_C(0x65726f63)              /* "core" */
#define SB_HOST_CALLER_MAGIC UINT32_C(0x43484253)            /* "SBHC" */
#define SB_ARRAY_CALL_HOST_FUNC_MAGIC UINT32_C(0x46484341)   /* "ACHF" */
#define SB_NATIVE_CALL_HOST_FUNC_MAGIC UINT32_C(0x4648434e)  /* "NCHF" */

/* One untyped value of the array convention: 16 bytes, 16-aligned, always
 * little-endian whatever the host. i32/f32 use bytes 0..4, i64/f64 0..8,
 * references a pointer's width, v128 all 16; floats travel as raw bits. */
typedef struct sb_val_raw {
    SB_ALIGNAS(16) unsigned char bytes[16];
} sb_val_raw;

/* The engine-wide identity of a function type. */
typedef uint32_t sb_shared_signature_index;
#define SB_SHARED_SIGNATURE_INDEX_RESERVED UINT32_MAX

/* The array convention (VMArrayCallFunction). */
typedef void (*sb_array_call_fn)(sb_opaque_context *callee_vmctx,
                                 sb_opaque_context *caller_vmctx,
                                 sb_val_raw *values, size_t capacity);

/* Wasmtime 8's legacy host-to-wasm entry (VMTrampoline): calls `body`
 * (native convention) with the arguments in `values`, overwritten with the
 * results; the buffer holds max(params, results) slots. */
typedef void (*sb_trampoline_fn)(sb_opaque_context *callee_vmctx,
                                 sb_vmcontext *caller_vmctx,
                                 const sb_function_body *body,
                                 sb_val_raw *values);

/* The caller-checked function reference (VMFuncRef). native_call and
 * array_call are never null; wasm_call is null while no wasm-convention
 * entry exists. */
typedef struct sb_func_ref {
    sb_native_call_function *native_call;
    sb_array_call_fn array_call;
    sb_wasm_call_function *wasm_call;
    sb_shared_signature_index type_index;
    sb_opaque_context *vmctx;
} sb_func_ref;

/* The fixed header of a host function's context (VMHostFuncContext<T>);
 * the host's state follows at SB_HOST_FUNC_CONTEXT_HOST_STATE when it needs
 * at most pointer alignment. */
typedef struct sb_host_func_context {
    uint32_t magic; /* SB_ARRAY_CALL_ or SB_NATIVE_CALL_HOST_FUNC_MAGIC */
    sb_func_ref func_ref;
} sb_host_func_context;

/* The caller context Springboard's facade passes from the host
 * (VMHostCaller): with catch == SB_HOST_CALLER_CATCH, an entry trampoline
 * into `tail` wasm stores its frame pointer, stack pointer and exception
 * handler here before calling wasm. */
#define SB_HOST_CALLER_CATCH UINT32_C(1)
typedef struct sb_host_caller {
    SB_ALIGNAS(16) uint32_t magic; /* SB_HOST_CALLER_MAGIC */
    uint32_t catch_;               /* SB_HOST_CALLER_CATCH or 0 */
    uintptr_t entry_fp;
    uintptr_t entry_sp;
    uintptr_t entry_pc;
} sb_host_caller;

/* Offsets and sizes, for code generators; the same answers as the Rust
 * crate's PtrSize for this target's pointer width. */
#define SB_POINTER_SIZE sizeof(void *)
#define SB_FUNC_REF_NATIVE_CALL 0
#define SB_FUNC_REF_ARRAY_CALL (1 * SB_POINTER_SIZE)
#define SB_FUNC_REF_WASM_CALL (2 * SB_POINTER_SIZE)
#define SB_FUNC_REF_TYPE_INDEX (3 * SB_POINTER_SIZE)
#define SB_FUNC_REF_VMCTX (4 * SB_POINTER_SIZE)
#define SB_SIZE_OF_FUNC_REF (5 * SB_POINTER_SIZE)
#define SB_SIZE_OF_SHARED_SIGNATURE_INDEX 4
#define SB_SIZE_OF_VAL_RAW 16
#define SB_ALIGN_OF_VAL_RAW 16
#define SB_HOST_FUNC_CONTEXT_MAGIC 0
#define SB_HOST_FUNC_CONTEXT_FUNC_REF SB_POINTER_SIZE
#define SB_HOST_FUNC_CONTEXT_HOST_STATE (6 * SB_POINTER_SIZE)
#define SB_HOST_CALLER_CATCH_OFFSET 4
#define SB_HOST_CALLER_ENTRY_FP 8
#define SB_HOST_CALLER_ENTRY_SP (8 + SB_POINTER_SIZE)
#define SB_HOST_CALLER_ENTRY_PC (8 + 2 * SB_POINTER_SIZE)

SB_STATIC_ASSERT(SB_POINTER_SIZE == 4 || SB_POINTER_SIZE == 8, "32- or 64-bit targets only");
SB_STATIC_ASSERT(sizeof(sb_val_raw) == SB_SIZE_OF_VAL_RAW, "sb_val_raw size");
SB_STATIC_ASSERT(SB_ALIGNOF(sb_val_raw) == SB_ALIGN_OF_VAL_RAW, "sb_val_raw alignment");
SB_STATIC_ASSERT(sizeof(sb_shared_signature_index) == SB_SIZE_OF_SHARED_SIGNATURE_INDEX,
                 "sb_shared_signature_index size");
SB_STATIC_ASSERT(offsetof(sb_func_ref, native_call) == SB_FUNC_REF_NATIVE_CALL, "native_call");
SB_STATIC_ASSERT(offsetof(sb_func_ref, array_call) == SB_FUNC_REF_ARRAY_CALL, "array_call");
SB_STATIC_ASSERT(offsetof(sb_func_ref, wasm_call) == SB_FUNC_REF_WASM_CALL, "wasm_call");
SB_STATIC_ASSERT(offsetof(sb_func_ref, type_index) == SB_FUNC_REF_TYPE_INDEX, "type_index");
SB_STATIC_ASSERT(offsetof(sb_func_ref, vmctx) == SB_FUNC_REF_VMCTX, "vmctx");
SB_STATIC_ASSERT(sizeof(sb_func_ref) == SB_SIZE_OF_FUNC_REF, "sb_func_ref size");
SB_STATIC_ASSERT(SB_ALIGNOF(sb_func_ref) == SB_POINTER_SIZE, "sb_func_ref alignment");
SB_STATIC_ASSERT(offsetof(sb_host_func_context, magic) == SB_HOST_FUNC_CONTEXT_MAGIC, "magic");
SB_STATIC_ASSERT(offsetof(sb_host_func_context, func_ref) == SB_HOST_FUNC_CONTEXT_FUNC_REF,
                 "func_ref");
SB_STATIC_ASSERT(sizeof(sb_host_func_context) == SB_HOST_FUNC_CONTEXT_HOST_STATE,
                 "host state follows the header");
SB_STATIC_ASSERT(sizeof(sb_array_call_fn) == SB_POINTER_SIZE, "code pointers are data-sized");
SB_STATIC_ASSERT(offsetof(sb_host_caller, catch_) == SB_HOST_CALLER_CATCH_OFFSET, "catch");
SB_STATIC_ASSERT(offsetof(sb_host_caller, entry_fp) == SB_HOST_CALLER_ENTRY_FP, "entry_fp");
SB_STATIC_ASSERT(offsetof(sb_host_caller, entry_sp) == SB_HOST_CALLER_ENTRY_SP, "entry_sp");
SB_STATIC_ASSERT(offsetof(sb_host_caller, entry_pc) == SB_HOST_CALLER_ENTRY_PC, "entry_pc");

#ifdef __cplusplus
}
#endif
#endif /* SPRINGBOARD_VM_ABI_H */
