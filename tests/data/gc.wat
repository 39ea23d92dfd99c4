;; WebAssembly 3.0 types: recursion groups, declared subtypes with finality,
;; struct and array types, typed function references, `exnref`, GC
;; references of the `any` hierarchy, and a type used only as a block type.
(module
  (rec
    (type $node (sub (struct (field $next (mut (ref null $node))) (field i32))))
    (type $visit (sub (func (param (ref $node)) (result i32)))))
  (type $leaf (sub final $node (struct (field (mut (ref null $node))) (field i32) (field i64))))
  ;; A subtype of $visit: its parameter widened to nullable.
  (type $visit_any (sub $visit (func (param (ref null $node)) (result i32))))
  (type $apply (func (param (ref $visit) (ref $node)) (result i32)))
  (type $catchy (func (param exnref anyref i31ref) (result (ref null exn) eqref)))
  ;; Only a block type: needs no trampoline.
  (type $block (func (result i32 exnref)))
  (type $bytes (array (mut i8)))
  (tag $oops (param i32))

  (import "host" "visit" (func $host_visit (type $visit)))
  (import "host" "catchy" (func $host_catchy (type $catchy)))

  (table $visitors 4 (ref null $visit))
  (elem declare func $first $count)

  (func $first (export "first") (type $visit_any) (param $n (ref null $node)) (result i32)
    (if (result i32) (ref.is_null (local.get $n))
      (then (i32.const -1))
      (else (struct.get $node 1 (ref.as_non_null (local.get $n))))))

  (func $count (export "count") (type $visit) (param $n (ref $node)) (result i32)
    (i32.add (i32.const 1) (call $host_visit (local.get $n))))

  (func (export "apply") (type $apply) (param $f (ref $visit)) (param $n (ref $node)) (result i32)
    (call_ref $visit (local.get $n) (local.get $f)))

  (func (export "via_table") (param $i i32) (param $n (ref $node)) (result i32)
    (table.set $visitors (i32.const 0) (ref.func $first))
    (table.set $visitors (i32.const 1) (ref.func $count))
    (call_indirect $visitors (type $visit) (local.get $n) (local.get $i)))

  (func (export "catchy") (type $catchy) (param exnref anyref i31ref) (result (ref null exn) eqref)
    (call $host_catchy (local.get 0) (local.get 1) (local.get 2)))

  (func (export "guarded") (result i32)
    (block $b (type $block)
      (try_table (catch_ref $oops $b)
        (throw $oops (i32.const 7)))
      (i32.const 0)
      (ref.null exn))
    (drop))

  (func (export "bytes") (param i32) (result (ref $bytes))
    (array.new_default $bytes (local.get 0)))
)
