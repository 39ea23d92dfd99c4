//! Cross-crate integration tests of Springboard, and what they share: the
//! real-world fixtures under `tests/data/` and a generator of C harnesses
//! that link against ahead-of-time objects.

pub mod abi_fuzz;
pub mod c_harness;
pub mod fuzz;
pub mod subtyping;

use springboard_check::module::ModuleInfo;
use springboard_compiler::Signature;
use std::path::PathBuf;

/// The folder of fixtures, `tests/data/`.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Every `.wasm` fixture, sorted by name.
pub fn wasm_fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("tests/data exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    files
}

/// The distinct supported signatures of every fixture, in a stable order.
pub fn fixture_signatures() -> Vec<Signature> {
    let mut sigs: Vec<Signature> = wasm_fixtures()
        .iter()
        .flat_map(|path| {
            let bytes = std::fs::read(path).expect("readable fixture");
            ModuleInfo::parse(&bytes).expect("valid fixture").types
        })
        .filter_map(|t| t.signature.ok())
        .collect();
    sigs.sort();
    sigs.dedup();
    sigs
}

/// The bundled example module, `examples/showcase.wat`, as binary.
pub fn example_module() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/showcase.wat");
    wat::parse_file(&path).expect("the bundled example parses")
}

/// The distinct signatures of the bundled example, in declaration order.
pub fn example_signatures() -> Vec<Signature> {
    ModuleInfo::parse(&example_module())
        .expect("valid example")
        .types
        .into_iter()
        .map(|t| t.signature.expect("supported types"))
        .collect()
}
