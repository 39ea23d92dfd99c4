//! The crates' dependency boundaries, from `cargo tree -e normal`: what a
//! runtime gets when it depends on one crate alone.

/// `None` (saying so, as a skip) where cargo cannot be started from the
/// test: a Windows build run under Wine.
fn normal_tree(package: &str) -> Option<String> {
    let out = match std::process::Command::new(env!("CARGO"))
        .args(["tree", "-e", "normal", "-p", package, "--prefix", "none"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
    {
        Ok(out) => out,
        Err(e) if cfg!(windows) => {
            println!("skipped: cargo cannot be started from this process ({e})");
            return None;
        }
        Err(e) => panic!("cargo: {e}"),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(tree.contains(package), "{tree}");
    Some(tree)
}

/// Whether `tree` lists the crate `name` (not merely a crate that starts so).
fn has(tree: &str, name: &str) -> bool {
    tree.lines()
        .any(|line| line.split(' ').next() == Some(name))
}

#[test]
fn loader_does_not_depend_on_cranelift() {
    let Some(tree) = normal_tree("springboard-loader") else {
        return;
    };
    assert!(
        !tree.to_lowercase().contains("cranelift"),
        "the loader pulls in Cranelift:\n{tree}"
    );
    assert!(!has(&tree, "wasmparser"), "{tree}");
}

#[test]
fn compiler_does_not_depend_on_the_loader_or_executable_memory() {
    let Some(tree) = normal_tree("springboard-compiler") else {
        return;
    };
    for name in [
        "springboard-loader",
        "region",
        "wasmtime-jit-icache-coherence",
        "wasmparser",
    ] {
        assert!(!has(&tree, name), "the compiler pulls in {name}:\n{tree}");
    }
    assert!(has(&tree, "springboard-environ"), "{tree}");
}

#[test]
fn the_contract_crates_stay_small() {
    let Some(tree) = normal_tree("springboard-environ") else {
        return;
    };
    for name in [
        "cranelift-codegen",
        "springboard-loader",
        "region",
        "wasmparser",
    ] {
        assert!(!has(&tree, name), "environ pulls in {name}:\n{tree}");
    }
    let Some(tree) = normal_tree("springboard-vm-abi") else {
        return;
    };
    assert_eq!(
        tree.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "vm-abi has dependencies:\n{tree}"
    );
}
