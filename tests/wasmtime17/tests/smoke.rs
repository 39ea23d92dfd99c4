#[test]
fn wasmtime_17_runs() {
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(
        &engine,
        "(module (func (export \"f\") (result i32) i32.const 7))",
    )
    .unwrap();
    let mut store = wasmtime::Store::new(&engine, ());
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
    let f = instance.get_typed_func::<(), i32>(&mut store, "f").unwrap();
    assert_eq!(f.call(&mut store, ()).unwrap(), 7);
}
