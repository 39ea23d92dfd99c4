//! The `springboard` binary on the bundled example, on real-world modules,
//! and on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The binary, through `SPRINGBOARD_TEST_RUNNER` (e.g. `qemu-aarch64`) when
/// the tests run under emulation (`.ci/cross-test`).
fn runner() -> Option<String> {
    std::env::var("SPRINGBOARD_TEST_RUNNER")
        .ok()
        .filter(|r| !r.is_empty())
}

fn command(args: &[&str]) -> Command {
    let exe = env!("CARGO_BIN_EXE_springboard");
    let mut command = match runner() {
        Some(runner) => {
            let mut command = Command::new(runner);
            command.arg(exe);
            command
        }
        None => Command::new(exe),
    };
    command.args(args).current_dir(root());
    command
}

fn springboard(args: &[&str]) -> Output {
    command(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// How many of the bundled example's 12 signatures this host's compiler
/// refuses (docs/ABI.md, "Per ISA": `v128` and more than 8 float parameters
/// on riscv64, two `v128` parameters on s390x).
const SHOWCASE_REFUSED: usize = if cfg!(target_arch = "riscv64") {
    3
} else if cfg!(target_arch = "s390x") {
    1
} else {
    0
};

#[test]
fn check_passes_on_the_bundled_example() {
    let out = springboard(&["check", "examples/showcase.wat", "--seed", "7"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    let checked = 12 - SHOWCASE_REFUSED;
    assert!(
        text.contains(&format!(
            "check passed: {} trampolines (6 kinds x {checked} signatures)",
            6 * checked
        )),
        "{text}"
    );
    let refused = SHOWCASE_REFUSED;
    assert_eq!(
        text.contains(&format!("{refused} signatures this target refuses")),
        refused != 0,
        "{text}"
    );
    assert!(text.contains("0 failures"), "{text}");
}

#[test]
fn check_passes_on_every_real_world_module() {
    let fixtures = [
        "sqljs-1.16.0-sql-wasm.wasm",
        "lz4-wasm-nodejs-0.9.2.wasm",
        "as-sha256-1.2.5-simd.wasm",
    ];
    for name in fixtures {
        let path = format!("tests/data/{name}");
        let out = springboard(&["check", &path, "--json", "--rounds", "2"]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["failures"], 0, "{name}");
        let sigs = report["signatures"].as_array().unwrap().len();
        assert!(sigs > 0);
        let refused = report["unsupported"].as_u64().unwrap() as usize;
        assert_eq!(report["trampolines"], (sigs - refused) * 6, "{name}");
        assert!(
            report["values"].as_u64().unwrap() > 0
                && report["refusals"].as_u64().unwrap() >= sigs as u64
        );
    }
}

/// The WebAssembly 3.0 fixture: recursion groups, subtypes, typed function
/// references, `exnref`, a block-type-only type.
#[test]
fn gc_module_is_inspected_and_checked() {
    let out = springboard(&["inspect", "tests/data/gc.wat", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sigs = report["signatures"].as_array().unwrap();
    let find = |text: &str| {
        sigs.iter()
            .find(|s| s["signature"] == text)
            .unwrap_or_else(|| panic!("{text}: {sigs:?}"))
    };
    let block = find("(func (result i32 exnref))");
    assert_eq!(block["block_type_only"], true);
    assert_eq!(block["kinds"].as_array().unwrap().len(), 0);
    // $node is a struct (a GC reference), $visit a function type.
    let visit = find("(func (param (ref 0)) (result i32))");
    assert_eq!(visit["trampoline_type"], "(func (param i32) (result i32))");
    assert_eq!(
        visit["kinds"].as_array().unwrap().len(),
        6,
        "imported and reachable"
    );
    let apply = find("(func (param (ref 1) (ref 0)) (result i32))");
    assert_eq!(
        apply["trampoline_type"],
        "(func (param funcref i32) (result i32))"
    );
    let gc = find("(func (param exnref anyref i31ref) (result exnref eqref))");
    assert_eq!(
        gc["trampoline_type"],
        "(func (param i32 i32 i32) (result i32 i32))"
    );

    let out = springboard(&["check", "tests/data/gc.wat", "--json"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["failures"], 0);
    // Both GC widths: the 32-bit and the pointer-sized trampoline types.
    let checked: Vec<&str> = report["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["signature"].as_str().unwrap())
        .collect();
    for want in [
        "(func (param i32 i32 i32) (result i32 i32))",
        "(func (param externref externref externref) (result externref externref))",
    ] {
        assert!(checked.contains(&want), "{want}: {checked:?}");
    }
    let sub = &report["subtyping"];
    assert_eq!(sub["pairs"], 81);
    assert_eq!(sub["accepted"], 1, "$visit_any as $visit");
    assert_eq!(sub["failures"].as_array().unwrap().len(), 0);
}

#[test]
fn inspect_lists_signatures_and_needs() {
    let out = springboard(&["inspect", "examples/showcase.wat", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sigs = report["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 12);
    let refused = sigs.iter().filter(|s| !s["unsupported"].is_null()).count();
    assert_eq!(refused, SHOWCASE_REFUSED);
    let import = sigs
        .iter()
        .find(|s| s["signature"] == "(func (param i32))")
        .unwrap();
    assert_eq!(import["imported"], 1);
    assert_eq!(
        import["kinds"],
        serde_json::json!(["wasm_to_native", "wasm_to_array", "native_to_array"])
    );
    let export = sigs
        .iter()
        .find(|s| s["signature"] == "(func (param i32 i32) (result i32))")
        .unwrap();
    assert_eq!(
        export["kinds"],
        serde_json::json!(["array_to_wasm", "native_to_wasm", "entry"])
    );
    assert_eq!(report["trampolines"], 36);
    let text = stdout(&springboard(&["inspect", "examples/showcase.wat"]));
    assert!(
        text.contains("12 functions, 12 distinct signatures"),
        "{text}"
    );
}

/// A reader that stops early (`springboard inspect m | head`): every
/// command and output form exits quietly with the status of a process
/// SIGPIPE ended (141), leaving no panic, however early the pipe closes.
#[test]
fn a_closed_output_pipe_ends_quietly() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("closed-pipe");
    std::fs::create_dir_all(&dir).unwrap();
    let object = dir.join("showcase.o");
    let object = object.to_str().unwrap();
    for args in [
        &["inspect", "examples/showcase.wat"][..],
        &["inspect", "examples/showcase.wat", "--json"],
        &["check", "examples/showcase.wat", "--rounds", "1"],
        &["compile", "examples/showcase.wat", "-o", object],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = command(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(141), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

/// Functions handed out through `ref.func` in expression-form element
/// segments and global initialisers need their wasm-side trampolines, as
/// `inspect` and `check` both report.
#[test]
fn inspect_and_check_count_every_ref_func_form() {
    let file = "tests/data/ref-func-forms.wat";
    let out = springboard(&["inspect", file, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reachable: u64 = report["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reachable"].as_u64().unwrap())
        .sum();
    assert_eq!(reachable, 5, "{report}");
    // Five reachable types need 3 kinds each, the imported one 3.
    assert_eq!(report["trampolines"], 18, "{report}");
    let out = springboard(&["check", file, "--json", "--rounds", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["needed_trampolines"], 18, "{report}");
    let declared = report["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["signature"] == "(func (param f32 f32))")
        .unwrap();
    assert_eq!(
        declared["needed"],
        serde_json::json!(["array_to_wasm", "native_to_wasm", "entry"])
    );
}

#[test]
fn compile_writes_an_object_the_loader_accepts() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let object = dir.join("showcase.o");
    let out = springboard(&[
        "compile",
        "examples/showcase.wat",
        "-o",
        object.to_str().unwrap(),
        "--opt",
        "speed_and_size",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let refused = report["refused"].as_array().unwrap().len();
    assert_eq!(refused, SHOWCASE_REFUSED);
    let trampolines = report["trampolines"].as_u64().unwrap() as usize;
    assert!(trampolines == 36 || (refused > 0 && trampolines < 36));
    let bytes = std::fs::read(&object).unwrap();
    assert_eq!(report["object_bytes"], bytes.len());
    let parsed = springboard_loader::ObjectFile::parse(&bytes).unwrap();
    assert_eq!(parsed.entries().len(), trampolines);
    for entry in parsed.entries() {
        parsed.get(entry.kind, &entry.signature).unwrap();
    }
}

/// An object records its wasm convention; an engine of another one refuses
/// it, and `check` proves the convention on real generated code.
#[test]
fn the_wasm_convention_is_chosen_recorded_and_checked() {
    if !cfg!(target_arch = "x86_64") {
        springboard_testing::skip("the wasmtime17 convention is x86-64 only");
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let object = dir.join("showcase-wasmtime17.o");
    let out = springboard(&[
        "compile",
        "examples/showcase.wat",
        "-o",
        object.to_str().unwrap(),
        "--wasm-conv",
        "wasmtime17",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["wasm_conv"], "wasmtime17");
    let bytes = std::fs::read(&object).unwrap();
    let parsed = springboard_loader::ObjectFile::parse(&bytes).unwrap();
    assert_eq!(parsed.wasm_conv(), springboard::WasmConv::Wasmtime17);
    let err = springboard::Engine::default()
        .load_object(&bytes)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`wasmtime17`") && err.contains("`tail`"),
        "{err}"
    );
    let mut config = springboard::Config::new();
    config.wasm_conv(springboard::WasmConv::Wasmtime17);
    let engine = springboard::Engine::new(&config).unwrap();
    assert_eq!(engine.load_object(&bytes).unwrap(), 36);

    let out = springboard(&[
        "check",
        "examples/showcase.wat",
        "--wasm-conv",
        "wasmtime17",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("check passed"), "{}", stdout(&out));
    let out = springboard(&["check", "examples/showcase.wat", "--wasm-conv", "fast"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown convention `fast`"),
        "{}",
        stderr(&out)
    );
}

/// Runs a command that must fail on `file`: exit status 2 (not a panic's
/// 101), one line on stderr naming the file and containing `problem`.
fn assert_refused(args: &[&str], file: &str, problem: &str) {
    let out = springboard(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    assert!(
        err.starts_with(&format!("springboard: error: {file}: ")),
        "{err}"
    );
    assert!(
        err.contains(problem),
        "{args:?}: expected `{problem}` in {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_is_one_clear_line_and_a_failure() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let real = std::fs::read(root().join("tests/data/lz4-wasm-nodejs-0.9.2.wasm")).unwrap();
    let truncated = write("truncated.wasm", &real[..real.len() / 2]);
    let not_wasm = write(
        "random.bin",
        &[0xff, 0xfe, 0x00, 0x80, 0x13, 0x37, 0xc3, 0x28],
    );
    let text = write("notes.wasm", b"this is not a module");
    // Shared-everything threads are beyond WebAssembly 3.0.
    let shared = write("shared.wat", b"(module (type (shared (func))))");
    let missing = dir.join("missing.wasm").to_str().unwrap().to_owned();
    for command in ["inspect", "check"] {
        assert_refused(&[command, &missing], &missing, "cannot read file");
        assert_refused(
            &[command, &truncated],
            &truncated,
            "invalid WebAssembly module",
        );
        assert_refused(&[command, &not_wasm], &not_wasm, "not a WebAssembly module");
        assert_refused(&[command, &text], &text, "invalid WebAssembly text");
        assert_refused(
            &[command, &shared],
            &shared,
            "type 0: unsupported value type",
        );
    }
    let o = dir.join("x.o");
    let o = o.to_str().unwrap();
    assert_refused(
        &["compile", &shared, "-o", o],
        &shared,
        "type 0: unsupported value type",
    );
    assert_refused(
        &[
            "compile",
            "examples/showcase.wat",
            "-o",
            o,
            "--target",
            "nonsense-triple",
        ],
        "examples/showcase.wat",
        "unsupported target",
    );
}

#[test]
fn help_explains_each_command_with_an_example() {
    for command in ["inspect", "compile", "check"] {
        let out = springboard(&[command, "--help"]);
        assert!(out.status.success());
        let text = stdout(&out);
        assert!(
            text.contains(&format!("Example: springboard {command}")),
            "{command}: {text}"
        );
    }
    let text = stdout(&springboard(&["--help"]));
    for command in ["inspect", "compile", "check"] {
        assert!(text.contains(command), "{text}");
    }
}

#[test]
fn compile_targets_foreign_isas_and_says_what_it_leaves_out() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (triple, machine, left_out) in [
        ("aarch64-unknown-linux-gnu", "aarch64", 0),
        ("riscv64gc-unknown-linux-gnu", "riscv64", 3),
        ("s390x-unknown-linux-gnu", "s390x", 1),
    ] {
        let object = dir.join(format!("showcase-{machine}.o"));
        let out = springboard(&[
            "compile",
            "examples/showcase.wat",
            "-o",
            object.to_str().unwrap(),
            "--target",
            triple,
            "--json",
        ]);
        assert!(out.status.success(), "{triple}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            report["refused"].as_array().unwrap().len(),
            left_out,
            "{triple}"
        );
        // This host's loader refuses the object, naming both machines (or,
        // for the host's own ISA, loads it).
        let bytes = std::fs::read(&object).unwrap();
        if machine == std::env::consts::ARCH {
            springboard_loader::ObjectFile::parse(&bytes).unwrap();
            continue;
        }
        let err = springboard_loader::ObjectFile::parse(&bytes)
            .err()
            .expect("a foreign object");
        assert!(
            err.to_string()
                .contains(&format!("object is for {machine}")),
            "{err}"
        );
    }
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `compile -o` writes whole or not at all: past a file-size limit, into a
/// missing folder, or terminated at any moment, it leaves no temporary
/// file, and the output is the old one or a complete new one.
#[cfg(unix)]
#[test]
fn a_failed_compile_leaves_nothing_behind_and_the_old_output_intact() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("atomic");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let output = dir.join("out.o");
    std::fs::write(&output, b"the previous object").unwrap();
    let module = root().join("tests/data/lz4-wasm-nodejs-0.9.2.wasm");
    let compile = format!(
        "exec {}'{}' compile '{}' -o '{}'",
        runner().map_or(String::new(), |r| format!("{r} ")),
        env!("CARGO_BIN_EXE_springboard"),
        module.display(),
        output.display()
    );

    // A file-size limit of 1 or 2 KiB (`ulimit -f` counts 512-byte blocks
    // in POSIX sh, 1 KiB in some shells): below the 5 KiB object.
    if runner().is_some() {
        // qemu-user leaves SIGXFSZ at its default (terminate) for itself.
        springboard_testing::skip(
            "the file-size-limit case: SIGXFSZ kills qemu-user, not the program it runs",
        );
    } else {
        let out = Command::new("sh")
            .args(["-c", &format!("ulimit -f 2 && {compile}")])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("cannot write"), "{}", stderr(&out));
        assert_eq!(listing(&dir), ["out.o"]);
        assert_eq!(std::fs::read(&output).unwrap(), b"the previous object");
    }

    // A folder that does not exist.
    let missing = dir.join("no/such/folder/out.o");
    let out = springboard(&[
        "compile",
        "examples/showcase.wat",
        "-o",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(listing(&dir), ["out.o"]);

    // SIGTERM at moments spread over a whole run (from before the process
    // starts to after it ends): each leaves the old output or a complete
    // object, never a temporary file.
    let quiet = |command: &mut Command| -> std::process::Child {
        command.stdout(std::process::Stdio::null()).spawn().unwrap()
    };
    let whole = std::time::Instant::now();
    assert!(
        quiet(Command::new("sh").args(["-c", &compile]))
            .wait()
            .unwrap()
            .success()
    );
    let run = whole.elapsed();
    let (mut old, mut new) = (0, 0);
    for step in 0..12u32 {
        std::fs::write(&output, b"the previous object").unwrap();
        let mut child = quiet(Command::new("sh").args(["-c", &compile]));
        std::thread::sleep(run * step / 10);
        // SAFETY: `kill` with a live child's pid and a valid signal.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().unwrap();
        assert_eq!(listing(&dir), ["out.o"], "after SIGTERM at step {step}");
        let bytes = std::fs::read(&output).unwrap();
        if bytes == b"the previous object" {
            old += 1;
        } else {
            springboard_loader::ObjectFile::parse(&bytes).unwrap();
            new += 1;
        }
    }
    // How many of each depends on the machine's load: not asserted.
    println!("terminated 12 runs: {old} left the old output, {new} a complete object");
}

/// A module of `n` distinct function types (parameters spell `i + 1` in
/// base 4 over the four number types).
fn many_types(n: usize) -> String {
    let mut text = String::from("(module\n");
    for i in 0..n {
        let mut params = Vec::new();
        let mut k = i + 1;
        while k > 0 {
            params.push(["i32", "i64", "f32", "f64"][k % 4]);
            k /= 4;
        }
        text += &format!(
            "  (type (func (param {}) (result i32)))\n",
            params.join(" ")
        );
    }
    text + ")\n"
}

/// Beyond 250,000 cross-type pairs `check` refuses each signature as a
/// seeded sample of others, and says so; below, as every other.
#[test]
fn check_samples_cross_type_refusals_of_many_types_and_says_so() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (n, sampled) in [(40, false), (600, true)] {
        let path = dir.join(format!("types-{n}.wat"));
        std::fs::write(&path, many_types(n)).unwrap();
        let out = springboard(&["check", path.to_str().unwrap(), "--json", "--rounds", "1"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let pairs = (n * (n - 1)) as u64;
        assert_eq!(report["cross_type_pairs"], pairs);
        assert_eq!(report["refusals_sampled"], sampled);
        // Each signature: the sampled (or every) other type, and one more
        // made from it.
        let per_signature = if sampled { 250_000 / n } else { n - 1 } + 1;
        assert_eq!(report["refusals"], n * per_signature);
        assert_eq!(report["failures"], 0);
    }
}

/// `compile -o` onto what is not a regular file: a device is written in
/// place (a `/dev/full` twin: `ENOSPC`, one line, the node still a device),
/// a FIFO is written in place, and a symbolic link is followed (the link
/// stays, its target gets the object). Nodes, FIFOs and links are made in a
/// temporary folder.
#[cfg(unix)]
#[test]
fn compile_writes_through_devices_fifos_and_links_without_replacing_them() {
    use std::os::unix::fs::FileTypeExt;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("special-outputs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let compile_to = |output: &Path| {
        springboard(&[
            "compile",
            "examples/showcase.wat",
            "-o",
            output.to_str().unwrap(),
        ])
    };
    let is_object = |bytes: &[u8]| springboard_loader::ObjectFile::parse(bytes).is_ok();

    // A twin of /dev/full (character device 1, 7).
    let full = dir.join("full");
    let path = std::ffi::CString::new(full.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mknod only creates a node.
    let made = unsafe { libc::mknod(path.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 7)) };
    if made == 0 {
        let out = compile_to(&full);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let message = stderr(&out);
        assert_eq!(message.trim_end().lines().count(), 1, "{message}");
        assert!(message.contains("No space left on device"), "{message}");
        let meta = std::fs::symlink_metadata(&full).unwrap();
        assert!(meta.file_type().is_char_device(), "the node was replaced");
    } else {
        springboard_testing::skip(format_args!(
            "the device case: mknod needs root ({})",
            std::io::Error::last_os_error()
        ));
    }

    // A FIFO with a reader: the object goes through it, the FIFO stays.
    let fifo = dir.join("pipe");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let out = compile_to(&fifo);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        is_object(&reader.join().unwrap()),
        "the object through the FIFO"
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );

    // Symbolic links, relative and absolute, to a file that exists and to
    // one that does not yet: the link stays a link, its target is written.
    let target = dir.join("real.o");
    for (link, points_to) in [
        ("relative-link.o", PathBuf::from("real.o")),
        ("absolute-link.o", target.clone()),
    ] {
        for exists in [false, true] {
            let _ = std::fs::remove_file(&target);
            if exists {
                std::fs::write(&target, b"old").unwrap();
            }
            let link = dir.join(link);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&points_to, &link).unwrap();
            let out = compile_to(&link);
            assert!(out.status.success(), "{}", stderr(&out));
            let meta = std::fs::symlink_metadata(&link).unwrap();
            assert!(meta.file_type().is_symlink(), "{link:?} was replaced");
            assert!(is_object(&std::fs::read(&target).unwrap()), "{link:?}");
        }
    }
    // Nothing else was left in the folder.
    let mut names = listing(&dir);
    names.sort();
    assert_eq!(
        names,
        [
            "absolute-link.o",
            "full",
            "pipe",
            "real.o",
            "relative-link.o"
        ]
        .into_iter()
        .filter(|n| made == 0 || *n != "full")
        .collect::<Vec<_>>()
    );
}
