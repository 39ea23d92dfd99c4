//! `springboard`: see, build and verify every trampoline a WebAssembly module
//! needs.

mod check;
mod compile;
mod inspect;
mod output;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use springboard_check::module::{ModuleInfo, TypeUse};
use springboard_compiler::{Compiler, GcRefWidth, OptLevel, Signature, TrampolineKind, WasmConv};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// See, build and verify the host⇄wasm trampolines of a WebAssembly module.
#[derive(Parser)]
#[command(name = "springboard", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the module's distinct signatures, how its functions use each,
    /// which trampoline kinds it needs, and their code size.
    ///
    /// Example: springboard inspect examples/showcase.wat
    Inspect {
        /// A `.wasm` or `.wat` file.
        file: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write the ahead-of-time object (ELF) holding every trampoline the
    /// module needs.
    ///
    /// Example: springboard compile examples/showcase.wat -o showcase.o --target aarch64-unknown-linux-gnu
    Compile {
        /// A `.wasm` or `.wat` file.
        file: PathBuf,
        /// Where to write the object.
        #[arg(short, long)]
        output: PathBuf,
        /// Target triple (default: the host).
        #[arg(long)]
        target: Option<String>,
        /// Optimisation level: none, speed or speed_and_size.
        #[arg(long, default_value = "none", value_parser = parse_opt)]
        opt: OptLevel,
        /// The runtime's wasm convention: tail (Cranelift's, the default)
        /// or wasmtime17 (Wasmtime 17's default configuration; x86-64).
        #[arg(long, default_value = "tail", value_parser = parse_conv)]
        wasm_conv: WasmConv,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Compile and load every trampoline kind for every signature, call each
    /// through real generated code with edge and random values, check every
    /// value comes back bit-exact, and check that each signature is refused
    /// when called as another. Exits non-zero on any failure.
    ///
    /// Example: springboard check examples/showcase.wat --seed 7
    Check {
        /// A `.wasm` or `.wat` file.
        file: PathBuf,
        /// Seed of the random values (printed, so a failure reproduces).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Random rounds per signature, after the edge-value rounds.
        #[arg(long, default_value_t = 8)]
        rounds: u32,
        /// The wasm convention to check: tail (the default) or wasmtime17.
        #[arg(long, default_value = "tail", value_parser = parse_conv)]
        wasm_conv: WasmConv,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn parse_opt(s: &str) -> Result<OptLevel, String> {
    match s {
        "none" => Ok(OptLevel::None),
        "speed" => Ok(OptLevel::Speed),
        "speed_and_size" => Ok(OptLevel::SpeedAndSize),
        other => Err(format!(
            "unknown level `{other}` (none, speed, speed_and_size)"
        )),
    }
}

fn parse_conv(s: &str) -> Result<WasmConv, String> {
    WasmConv::from_name(s).ok_or_else(|| {
        let names: Vec<_> = WasmConv::ALL.iter().map(|c| c.name()).collect();
        format!("unknown convention `{s}` ({})", names.join(", "))
    })
}

fn main() -> ExitCode {
    output::fail_writes_past_size_limits();
    let cli = Cli::parse();
    let (file, result) = match cli.command {
        Command::Inspect { file, json } => {
            let r = inspect::run(&file, json);
            (file, r)
        }
        Command::Compile {
            file,
            output,
            target,
            opt,
            wasm_conv,
            json,
        } => {
            let options = compile::Options {
                target: target.as_deref(),
                opt,
                wasm_conv,
            };
            let r = compile::run(&file, &output, &options, json);
            (file, r)
        }
        Command::Check {
            file,
            seed,
            rounds,
            wasm_conv,
            json,
        } => {
            let r = check::run(&file, seed, rounds, wasm_conv, json);
            (file, r)
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        // Whoever reads the output stopped (`springboard inspect m | head`):
        // nothing to say to them; the status a shell gives a process that
        // SIGPIPE ended.
        Err(e)
            if e.downcast_ref::<StdoutError>()
                .is_some_and(|e| e.0.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::from(141)
        }
        Err(e) => {
            // One line naming the file and the problem.
            let message = format!("{e:#}").replace('\n', " ");
            eprintln!("springboard: error: {}: {message}", file.display());
            ExitCode::from(2)
        }
    }
}

/// A module read from disk: its analysis, and the distinct trampoline
/// types its function types travel as.
pub(crate) struct Module {
    pub(crate) info: ModuleInfo,
    /// Distinct trampoline types, each with the kinds the module needs of
    /// it (the union over its types) and the GC widths it serves.
    pub(crate) trampolines: Vec<TrampolineType>,
}

/// One distinct trampoline type of a module.
pub(crate) struct TrampolineType {
    pub(crate) signature: Signature,
    pub(crate) needed: Vec<TrampolineKind>,
    /// Under which GC reference widths the module's types travel as it.
    pub(crate) widths: Vec<GcRefWidth>,
}

impl Module {
    /// The trampoline types of the module's types under `width`.
    pub(crate) fn trampolines_for(
        &self,
        width: GcRefWidth,
    ) -> impl Iterator<Item = &TrampolineType> {
        self.trampolines
            .iter()
            .filter(move |t| t.widths.contains(&width))
    }
}

/// Reads a `.wasm` or `.wat` file and checks that every type is supported.
pub(crate) fn read_module(path: &Path) -> Result<Module> {
    let bytes = std::fs::read(path).context("cannot read file")?;
    let wasm = if bytes.starts_with(b"\0asm") {
        bytes
    } else if std::str::from_utf8(&bytes).is_ok() {
        let text = wat::parse_bytes(&bytes)
            .map_err(|e| anyhow::anyhow!("invalid WebAssembly text: {}", one_line(&e)))?;
        text.into_owned()
    } else {
        bail!("not a WebAssembly module (no `\\0asm` header, and not text)");
    };
    let info = ModuleInfo::parse(&wasm)?;
    let mut trampolines: Vec<TrampolineType> = Vec::new();
    let mut by_signature: HashMap<Signature, usize> = HashMap::new();
    for t in &info.types {
        let sig = t
            .signature
            .as_ref()
            .map_err(Clone::clone)
            .with_context(|| format!("type {}", wasm_text(t)))?;
        for width in [GcRefWidth::Bits32, GcRefWidth::Pointer] {
            let signature = sig.trampoline_type(width);
            let at = *by_signature.entry(signature.clone()).or_insert_with(|| {
                trampolines.push(TrampolineType {
                    signature,
                    needed: Vec::new(),
                    widths: Vec::new(),
                });
                trampolines.len() - 1
            });
            let entry = &mut trampolines[at];
            for kind in t.needed_kinds() {
                if !entry.needed.contains(&kind) {
                    entry.needed.push(kind);
                }
            }
            if !entry.widths.contains(&width) {
                entry.widths.push(width);
            }
        }
    }
    for t in &mut trampolines {
        t.needed.sort_by_key(|k| k.index());
    }
    Ok(Module { info, trampolines })
}

/// A `wat` error as one line: its message and where (`line:column`).
fn one_line(e: &wat::Error) -> String {
    let text = e.to_string();
    let message = text.lines().next().unwrap_or_default();
    match text.lines().find_map(|l| l.trim().strip_prefix("--> ")) {
        Some(at) => format!("{message} at {}", at.trim_start_matches("<anon>:")),
        None => message.to_owned(),
    }
}

/// A type in wasm text form, as wasmparser prints its parts (the type may
/// hold types Springboard's `Signature` cannot).
fn wasm_text(t: &TypeUse) -> String {
    let mut s = String::from("(func");
    for (keyword, tys) in [
        ("param", t.func_type.params()),
        ("result", t.func_type.results()),
    ] {
        if !tys.is_empty() {
            let names: Vec<String> = tys.iter().map(|t| t.to_string()).collect();
            s.push_str(&format!(" ({keyword} {})", names.join(" ")));
        }
    }
    s + ")"
}

/// `s` cut to `max` characters, with an ellipsis when cut.
pub(crate) fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    }
}

pub(crate) fn compiler(
    target: Option<&str>,
    opt: OptLevel,
    wasm_conv: WasmConv,
) -> Result<Compiler> {
    let mut builder = Compiler::builder().opt_level(opt).wasm_conv(wasm_conv);
    if let Some(triple) = target {
        builder = builder.target(triple);
    }
    Ok(builder.build()?)
}

/// A failed write to standard output.
#[derive(Debug)]
pub(crate) struct StdoutError(std::io::Error);

impl std::fmt::Display for StdoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "writing to standard output: {}", self.0)
    }
}

impl std::error::Error for StdoutError {}

/// `println!` that returns a failed write as a [`StdoutError`] where
/// `println!` would panic (a closed pipe, a full disk).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::StdoutError)
    }};
}
pub(crate) use outln;

/// Prints rows as aligned columns.
pub(crate) fn print_table(header: &[&str], rows: &[Vec<String>]) -> Result<(), StdoutError> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        outln!("  {}", padded.join("  ").trim_end())
    };
    line(header.to_vec())?;
    for row in rows {
        line(row.iter().map(String::as_str).collect())?;
    }
    Ok(())
}
