;; The bundled example module for `springboard check`: a small module whose
;; functions use varied signatures — every value type, many parameters
;; (spilled to the stack), multi-value results, imports the host provides,
;; exports and a funcref table the host can call into.
(module
  ;; Host functions (need wasm_to_native / wasm_to_array / native_to_array).
  (import "host" "log_i32" (func $log_i32 (param i32)))
  (import "host" "now" (func $now (result i64)))
  (import "host" "mix" (func $mix (param f32 f64 i64 i32) (result f64 f32)))
  (import "host" "lookup" (func $lookup (param externref i32) (result funcref)))

  (table $callbacks 4 funcref)
  (elem (table $callbacks) (i32.const 0) func $add $swap $dot $pick)

  ;; Exports (need array_to_wasm / native_to_wasm / entry).
  (func $add (export "add") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.add)

  (func $swap (export "swap") (param i64 f64) (result f64 i64)
    local.get 1 local.get 0)

  (func $dot (export "dot") (param v128 v128) (result v128)
    local.get 0 local.get 1 i32x4.mul)

  (func $pick (export "pick") (param funcref externref i32) (result externref funcref)
    local.get 1 local.get 0)

  ;; Twenty parameters of every scalar type: most travel on the stack.
  (func (export "many") (param i32 i64 f32 f64 i32 i64 f32 f64 i32 i64
                               f32 f64 i32 i64 f32 f64 i32 i64 f32 f64) (result f64)
    local.get 19)

  ;; Eight results of mixed types.
  (func (export "spread") (param i64) (result i32 i64 f32 f64 v128 i32 f64 i64)
    i32.const 1 local.get 0 f32.const -0.0 f64.const nan:0x4000000000001
    v128.const i64x2 -1 0 i32.const -2147483648 f64.const inf i64.const 9223372036854775807)

  (func (export "nothing"))

  (func (export "uses_imports") (param i32) (result i64)
    local.get 0 call $log_i32
    call $now))
