//! The `wasmctypes` command: a thin shell over the library. It parses arguments, calls the
//! library, and prints.

mod build;
mod build_tools;
mod demo;
mod diff;
mod sandbox_args;

use build::{cmd_build, BuildRequest};
use diff::{cmd_diff, cmd_diff_all, parse_shard};
use sandbox_args::SandboxArgs;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use wasmctypes::tools::invoke::{invoke_variadic, typed_call};
use wasmctypes::tools::locate::Search;
use wasmctypes::tools::print;
use wasmctypes::{
    locate, ArgSpec, BackendKind, CType, CallReport, Error, LoadOptions, OptLevel, PreparedCall,
    Sandbox, CDLL,
};

#[derive(Parser)]
#[command(
    name = "wasmctypes",
    version,
    about = "Python's ctypes for C libraries, sandboxed in WebAssembly or native"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile C files into NAME.wasm (for the sandbox) and libNAME.so (host), each file a
    /// library of its own, or all of them one library with --name.
    Build {
        /// C source files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output directory.
        #[arg(long, default_value = wasmctypes::tools::locate::DEFAULT_GUEST_DIR)]
        out: PathBuf,
        /// Build all FILES into one library NAME (NAME.wasm and libNAME.so).
        #[arg(long)]
        name: Option<String>,
        /// An include directory, as cc -I.
        #[arg(short = 'I', value_name = "DIR")]
        include: Vec<PathBuf>,
        /// A macro, as cc -D (NAME or NAME=VALUE).
        #[arg(short = 'D', value_name = "NAME[=VALUE]")]
        define: Vec<String>,
        /// A macro undefined, as cc -U.
        #[arg(short = 'U', value_name = "NAME")]
        undefine: Vec<String>,
        #[command(flatten)]
        opt: OptArg,
        /// Leave out the DWARF debug information (kept by default: it holds the library's C
        /// prototypes, which `inspect` prints and bindings are checked against).
        #[arg(long)]
        strip: bool,
    },
    /// The sandbox's C compiler, for build systems (as emcc): cc ARGS... as gcc takes them;
    /// -shared links a side module, a link without it a WASI command.
    Cc {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// LLVM's ar, for archives of the sandbox's objects.
    Ar {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// LLVM's ranlib.
    Ranlib {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run a configure script for the sandbox (as emconfigure): CC, AR, RANLIB set, and
    /// --host=wasm32-unknown-wasi unless given.
    Configure {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Run make with the sandbox's CC, AR and RANLIB (as emmake).
    Make {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run cmake with a toolchain file for the sandbox (as emcmake).
    Cmake {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Call one function and print its output and result.
    Call {
        #[command(flatten)]
        call: CallArgs,
        /// wasm (sandboxed, the default) or native.
        #[arg(long, env = "WASMCTYPES_BACKEND", default_value = "wasm")]
        backend: BackendKind,
    },
    /// Call one function on both backends and show the results side by side.
    /// Exits 0 when they agree, 1 when they differ, 2 on error.
    ///
    /// Without SYMBOL: runs every `test_*` function of LIB that takes no arguments on both
    /// backends, classifies every difference, and exits 0 only when none is unexplained.
    Diff {
        #[command(flatten)]
        call: CallArgs,
        /// Run native code isolated, so that a crash or a hang is reported, not fatal (the
        /// default): in worker processes for a corpus, in a forked child for one SYMBOL.
        #[arg(long, overrides_with = "no_isolate")]
        isolate: bool,
        /// Run native code in-process only, as ctypes does.
        #[arg(long, overrides_with = "isolate")]
        no_isolate: bool,
        /// Tests run in parallel, each job with its own native worker (default: the CPUs).
        #[arg(long, short = 'j', value_parser = clap::value_parser!(u64).range(1..=256))]
        jobs: Option<u64>,
        /// Run only shard K of N (`--shard 2/4`): every N-th test from the K-th.
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(usize, usize)>,
    },
    /// A native worker of `diff` (internal): runs the tests it is sent, in LIB.
    #[command(name = "__worker", hide = true)]
    Worker {
        /// The native library.
        lib: PathBuf,
    },
    /// List a library's exports, memory, table and data model.
    Inspect {
        /// A .wasm, .so or .c path, or a bare library name.
        lib: String,
        /// wasm or native.
        #[arg(long, env = "WASMCTYPES_BACKEND", default_value = "wasm")]
        backend: BackendKind,
        #[command(flatten)]
        search: SearchArgs,
        /// A library loaded into the sandbox before LIB (repeatable, in order).
        #[arg(long = "preload", value_name = "LIB")]
        preload: Vec<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Run the seed examples sandboxed and native, side by side.
    Demo {
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
    /// Time repeated calls of one function, like `python -m timeit`: median and min ns/call.
    Bench {
        #[command(flatten)]
        call: CallArgs,
        /// wasm (sandboxed, the default) or native.
        #[arg(long, env = "WASMCTYPES_BACKEND", default_value = "wasm")]
        backend: BackendKind,
        /// Calls per repeat (default: chosen so that one repeat takes at least 0.2 s).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        iterations: Option<u64>,
        /// Number of timed repeats after the warm-up (at least 1).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        repeats: u64,
    },
}

#[derive(Args)]
struct CallArgs {
    /// A .wasm, .so or .c path, or a bare library name.
    lib: String,
    /// The function to call.
    symbol: Option<String>,
    /// Arguments: TYPE:VALUE, TYPE[]:1,2,3, buf:TEXT, buf:N, null, an integer, or text.
    #[arg(allow_negative_numbers = true)]
    args: Vec<String>,
    /// The result type (void or None for none). Without it: the C prototype's when the
    /// library's debug information has one, else c_int.
    #[arg(long)]
    restype: Option<String>,
    /// Print one JSON object (the library's output is in it: not with --inherit-stdio, which
    /// would put it on stdout beside the object).
    #[arg(long, conflicts_with = "inherit_stdio")]
    json: bool,
    /// Show buffers in full (otherwise one over 4 KiB is shown by its length and a prefix).
    #[arg(long)]
    full: bool,
    #[command(flatten)]
    search: SearchArgs,
    /// A library loaded into the sandbox before LIB (repeatable, in order), whose symbols LIB
    /// can use, as `dlopen(..., RTLD_GLOBAL)`.
    #[arg(long = "preload", value_name = "LIB")]
    preload: Vec<String>,
    /// The number of fixed parameters of a variadic function (ctypes' `argtypes`): the
    /// arguments after them are passed as variadic arguments, promoted as in C.
    #[arg(long, value_name = "N")]
    fixed: Option<usize>,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

/// Where bare library names are found, and how C sources are built.
#[derive(Args)]
struct SearchArgs {
    /// Directories searched for bare library names.
    #[arg(long = "lib-dir")]
    lib_dirs: Vec<PathBuf>,
    #[command(flatten)]
    opt: OptArg,
}

/// How C sources are built.
#[derive(Args)]
struct OptArg {
    /// Optimisation level of a C source, the same for both compilers: 0, 1, 2, 3, s or z
    /// (`-O0` builds a large test corpus several times faster).
    #[arg(long = "opt-level", short = 'O', default_value = "2", value_parser = parse_opt)]
    opt: OptLevel,
}

impl SearchArgs {
    fn search(&self) -> Search {
        Search {
            lib_dirs: self.lib_dirs.clone(),
            opt: self.opt.opt,
            map: Vec::new(),
        }
    }
}

fn parse_opt(s: &str) -> Result<OptLevel, String> {
    s.parse().map_err(|e: Error| e.message())
}

/// Opens a library with output captured per call (natively: fd 1 and 2 redirected around it).
fn open(spec: &str, kind: BackendKind, search: &Search, preload: &[String]) -> Result<CDLL, Error> {
    open_with(
        spec,
        kind,
        search,
        preload,
        &LoadOptions {
            capture_output: Some(true),
            ..LoadOptions::default()
        },
    )
}

/// Opens LIB in a fresh sandbox, after the `--preload` libraries in order.
fn open_with(
    spec: &str,
    kind: BackendKind,
    search: &Search,
    preload: &[String],
    options: &LoadOptions,
) -> Result<CDLL, Error> {
    let path = locate(spec, kind, search)?;
    if preload.is_empty() {
        // SAFETY: running a library natively is what the user asked for with `--backend
        // native` (or `diff`): the CLI is ctypes' `CDLL(path)`, and the user vouches for it.
        return unsafe { CDLL::open_with(path, kind, options) };
    }
    let sandbox = Sandbox::open(kind, options)?;
    for p in preload.iter().map(|p| p.as_str()).chain([spec]) {
        let file = locate(p, kind, search)?;
        if p == wasmctypes::LIBC {
            continue;
        }
        // SAFETY: as above: the user named these libraries to run.
        let lib = unsafe { sandbox.load_unchecked(&file) }?;
        if p == spec {
            return Ok(lib);
        }
    }
    Ok(sandbox.libc())
}

/// The call's arguments, result type and fixed count: typed from the command line, and from
/// the library's C prototype where the command line does not say.
fn parse_call(call: &CallArgs, lib: &CDLL) -> Result<(Vec<ArgSpec>, CType, Option<usize>), Error> {
    typed_call(
        lib,
        call.symbol.as_deref().unwrap_or(""),
        &call.args,
        call.restype.as_deref(),
        call.fixed,
    )
}

fn run_one(call: &CallArgs, kind: BackendKind) -> Result<CallReport, Error> {
    let lib = open_with(
        &call.lib,
        kind,
        &call.search.search(),
        &call.preload,
        &call.sandbox.options(Some(true))?,
    )?;
    let (specs, restype, fixed) = parse_call(call, &lib)?;
    invoke_variadic(
        &lib,
        call.symbol.as_deref().unwrap_or(""),
        &specs,
        restype,
        fixed,
    )
}

/// Prints an error on stderr as one line (with a trap's backtrace).
fn eprint_error(e: &Error) {
    eprint!("{}", print::error_text(e));
}

/// Reports a failed command: the JSON object on stdout with `--json`, the text on stderr
/// otherwise; exit status 2.
fn fail(json: bool, kind: BackendKind, symbol: Option<&str>, e: &Error) -> ExitCode {
    if json {
        println!("{}", print::error_json(kind, symbol.unwrap_or(""), e));
    } else {
        eprint_error(e);
    }
    ExitCode::from(2)
}

fn cmd_call(call: &CallArgs, kind: BackendKind) -> ExitCode {
    match run_one(call, kind) {
        Ok(report) => {
            if call.json {
                println!("{}", report.to_json(call.full));
            } else {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&report.stdout);
                let _ = std::io::stderr().write_all(&report.stderr);
                for line in report.result_lines(call.full) {
                    let _ = writeln!(out, "{line}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(call.json, kind, call.symbol.as_deref(), &e),
    }
}

fn cmd_inspect(
    lib: &str,
    kind: BackendKind,
    search: &Search,
    preload: &[String],
    as_json: bool,
) -> ExitCode {
    let result = open(lib, kind, search, preload).and_then(|l| Ok((l.info()?, l)));
    let (info, l) = match result {
        Ok(x) => x,
        Err(e) => return fail(as_json, kind, None, &e),
    };
    if as_json {
        println!("{}", print::inspect_json(&l, &info));
    } else {
        print!("{}", print::inspect_text(&l, &info));
    }
    ExitCode::SUCCESS
}

fn cmd_bench(
    call: &CallArgs,
    kind: BackendKind,
    iterations: Option<u64>,
    repeats: usize,
) -> ExitCode {
    let timing = (|| {
        // The backends' default output handling: captured in wasm, passed through natively,
        // so that no per-call fd redirection is timed.
        let lib = open_with(
            &call.lib,
            kind,
            &call.search.search(),
            &call.preload,
            &call.sandbox.options(None)?,
        )?;
        let (specs, restype, fixed) = parse_call(call, &lib)?;
        let prepared = PreparedCall::variadic(
            &lib,
            call.symbol.as_deref().unwrap_or(""),
            &specs,
            restype,
            fixed,
        )?;
        let t =
            wasmctypes::tools::bench::timeit(iterations, repeats, || prepared.call().map(|_| ()))?;
        let _ = lib.take_output();
        Ok::<_, Error>(t)
    })();
    match timing {
        Ok(t) if call.json => println!(
            "{}",
            json!({
                "backend": kind.name(),
                "symbol": call.symbol,
                "ns_per_call_median": t.ns_per_call_median,
                "ns_per_call_min": t.ns_per_call_min,
                "iterations": t.iterations,
                "repeats": t.repeats,
            })
        ),
        Ok(t) => println!(
            "{} ({kind}): {} calls x {} repeats: median {:.1} ns/call, min {:.1} ns/call",
            call.symbol.as_deref().unwrap_or(""),
            t.iterations,
            t.repeats,
            t.ns_per_call_median,
            t.ns_per_call_min
        ),
        Err(e) => return fail(call.json, kind, call.symbol.as_deref(), &e),
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away (`| head`).
    // SAFETY: setting a signal disposition to its default before any threads start.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Never show a Rust backtrace: an internal failure is one line and exit status 2.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        eprintln!("error: internal error: {msg}");
    }));
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if let Some(code) = build_tools::dispatch(&argv) {
        return code;
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A usage error is reported like any other, as JSON when `--json` was asked for;
        // `--help` and `--version` print as clap prints them.
        Err(e) if e.use_stderr() && std::env::args().any(|a| a == "--json") => {
            let message = e.kind().to_string();
            println!(
                "{}",
                serde_json::json!({"error": {"kind": "UsageError", "message": message, "usage": e.to_string().trim()}})
            );
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &cli.command {
        Command::Build {
            files,
            out,
            name,
            include,
            define,
            undefine,
            opt,
            strip,
        } => cmd_build(BuildRequest {
            files,
            out,
            name: name.as_deref(),
            flags: include
                .iter()
                .map(|d| format!("-I{}", d.display()))
                .chain(define.iter().map(|d| format!("-D{d}")))
                .chain(undefine.iter().map(|u| format!("-U{u}")))
                .collect(),
            opt: opt.opt,
            strip: *strip,
        }),
        // Taken by `build_tools::dispatch` before parsing.
        Command::Cc { .. }
        | Command::Ar { .. }
        | Command::Ranlib { .. }
        | Command::Configure { .. }
        | Command::Make { .. }
        | Command::Cmake { .. } => ExitCode::from(2),
        Command::Call { call, backend } | Command::Bench { call, backend, .. }
            if call.symbol.is_none() =>
        {
            let e = Error::TypeError("a SYMBOL to call is required".into());
            fail(call.json, *backend, None, &e)
        }
        Command::Call { call, backend } => cmd_call(call, *backend),
        Command::Diff {
            call,
            no_isolate,
            jobs,
            shard,
            ..
        } => match &call.symbol {
            Some(_) => cmd_diff(call, !*no_isolate),
            None => cmd_diff_all(call, !*no_isolate, *jobs, *shard),
        },
        Command::Worker { lib } => {
            // SAFETY: a worker runs the library that `diff` was asked to run natively.
            match unsafe { wasmctypes::tools::isolate::serve(lib) } {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprint_error(&e);
                    ExitCode::from(2)
                }
            }
        }
        Command::Inspect {
            lib,
            backend,
            search,
            preload,
            json,
        } => cmd_inspect(lib, *backend, &search.search(), preload, *json),
        Command::Demo { sandbox } => demo::run(sandbox),
        Command::Bench {
            call,
            backend,
            iterations,
            repeats,
        } => cmd_bench(call, *backend, *iterations, *repeats as usize),
    }));
    run.unwrap_or(ExitCode::from(2))
}
