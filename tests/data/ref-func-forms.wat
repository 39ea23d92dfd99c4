;; Every way a module hands a function to the outside without exporting it,
;; one type per form, so that a count per type says which form was seen.
;; Current toolchains emit the expression forms once reference types are on.
(module
  (type $active_expr (func (param i32) (result i32)))
  (type $passive_expr (func (result f64)))
  (type $declared (func (param f32 f32)))
  (type $global_init (func (param i64) (result i64)))
  (type $index_form (func (param f64)))
  (type $unreached (func (param i32 i64) (result f32)))
  (type $imported (func (param externref)))
  (type $user (func))

  (import "env" "host" (func $host (type $imported)))

  (func $a (type $active_expr) local.get 0)
  (func $p (type $passive_expr) f64.const 1)
  (func $d (type $declared))
  (func $g (type $global_init) local.get 0)
  (func $i (type $index_form))
  (func $u (type $unreached) f32.const 0)
  ;; `ref.func` in code needs the declarative segment below.
  (func $uses (type $user) ref.func $d drop)

  (table 4 funcref)
  ;; Active, expression form (with a null that names no function).
  (elem (i32.const 0) funcref (ref.func $a) (ref.null func))
  ;; Passive, expression form.
  (elem funcref (ref.func $p))
  ;; Declarative, expression form.
  (elem declare funcref (ref.func $d))
  ;; Active, function-index form.
  (elem (i32.const 2) func $i)
  ;; A global initialised with a funcref.
  (global funcref (ref.func $g))
)
