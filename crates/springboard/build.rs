//! Sets `cfg(generic_entries)` on the hosts whose generic entries exist
//! (`src/generic/`): the one place that lists them.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(generic_entries)");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let vendor = std::env::var("CARGO_CFG_TARGET_VENDOR").unwrap_or_default();
    let generic_entries = match arch.as_str() {
        "x86_64" | "riscv64" => true,
        // Apple's aarch64 convention differs and is not described yet.
        "aarch64" => vendor != "apple",
        _ => false,
    };
    if generic_entries {
        println!("cargo::rustc-cfg=generic_entries");
    }
}
