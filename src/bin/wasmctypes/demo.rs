//! `wasmctypes demo`: the seed examples, sandboxed and native, side by side.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::sandbox_args::SandboxArgs;

use wasmctypes::tools::invoke::BufferSpec;
use wasmctypes::{invoke, ArgSpec, BackendKind, CType, Error, LoadOptions, Toolchain, Value, CDLL};

const SEEDS: &[&str] = &["greeting", "sum", "upper", "dupstr"];

fn guest_dir() -> PathBuf {
    let here = Path::new("guest-c");
    if here.is_dir() {
        here.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("guest-c")
    }
}

fn load(name: &str, kind: BackendKind, options: &LoadOptions) -> Result<CDLL, Error> {
    let path = Path::new(wasmctypes::tools::locate::DEFAULT_GUEST_DIR).join(kind.file_name(name));
    // SAFETY: the seed examples are this project's own C, built by `./run demo`.
    unsafe { CDLL::open_with(path, kind, options) }
}

/// Prints whether the backends agreed, and passes the answer on.
fn verdict(same: bool) -> bool {
    println!(
        "  {}",
        if same {
            "same on both backends"
        } else {
            "DIFFERENT"
        }
    );
    same
}

/// One example on both backends: prints a row per backend and whether they agree.
fn example(
    opts: &LoadOptions,
    title: &str,
    lib: &str,
    symbol: &str,
    args: &[ArgSpec],
    restype: CType,
) -> bool {
    println!(
        "\n{title}\n  C: {symbol}({})",
        args.iter()
            .map(|a| a.label())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let results: Vec<_> = BackendKind::ALL
        .iter()
        .map(|k| load(lib, *k, opts).and_then(|l| invoke(&l, symbol, args, restype)))
        .collect();
    for (k, r) in BackendKind::ALL.iter().zip(&results) {
        println!(
            "  {:<7} {}",
            k.name(),
            wasmctypes::tools::print::call_summary(r)
        );
    }
    verdict(matches!((&results[0], &results[1]), (Ok(a), Ok(b)) if a.agrees_with(b)))
}

/// strdup/freeme: read the malloc'd string, then free it with the library's own free.
fn strdup_example(opts: &LoadOptions) -> bool {
    println!("\nmalloc'd memory from C, released with the library's own free\n  C: char *dupstr(const char *); void freeme(char *)");
    let mut all = Vec::new();
    for kind in BackendKind::ALL {
        let r = (|| -> Result<String, Error> {
            let lib = load("dupstr", kind, opts)?;
            let mut dup = lib.function("dupstr")?;
            dup.set_argtypes(&[CType::CharP])?
                .set_restype(CType::VoidP)?;
            let addr = match dup.call(&[Value::Bytes(b"copied by C".to_vec())])? {
                Value::Int(a) => a as u64,
                other => return Err(Error::ValueError(format!("dupstr returned {other}"))),
            };
            let text = lib.string_at(addr)?;
            let mut free = lib.function("freeme")?;
            free.set_argtypes(&[CType::VoidP])?
                .set_restype(CType::Void)?;
            free.call(&[Value::Int(addr as i128)])?;
            Ok(wasmctypes::bytes_repr(&text))
        })();
        let line = match &r {
            Ok(t) => format!("string_at(dupstr(...)) = {t}, then freeme()"),
            Err(e) => format!("error {}: {}", e.kind(), e.message()),
        };
        println!("  {:<7} {line}", kind.name());
        all.push(r.ok());
    }
    verdict(all[0].is_some() && all[0] == all[1])
}

pub fn run(sandbox: &SandboxArgs) -> ExitCode {
    let opts = match sandbox.options(Some(true)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let dir = guest_dir();
    let out = Path::new(wasmctypes::tools::locate::DEFAULT_GUEST_DIR);
    let tc = match Toolchain::find() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!("wasmctypes demo: the seed examples, sandboxed (wasm) and native, side by side");
    for seed in SEEDS {
        let src = dir.join(format!("{seed}.c"));
        if let Err(e) = tc.build(&src, out) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    println!("built {} into {}", SEEDS.join(", "), out.display());
    let text = |s: &str| ArgSpec::Scalar(CType::CharP, Value::Bytes(s.as_bytes().to_vec()));
    let int = |i: i128| ArgSpec::Scalar(CType::Int, Value::Int(i));
    let mut ok = true;
    ok &= example(
        &opts,
        "Hello, World",
        "greeting",
        "greet",
        &[text("World")],
        CType::Void,
    );
    ok &= example(
        &opts,
        "An array passed by pointer",
        "sum",
        "our_function",
        &[
            int(3),
            ArgSpec::Array(CType::Int, vec![1.into(), 2.into(), 3.into()]),
        ],
        CType::Int,
    );
    ok &= example(
        &opts,
        "A mutable buffer, changed in place (create_string_buffer)",
        "upper",
        "upper",
        &[
            ArgSpec::Buffer(BufferSpec::Text(b"abc123".to_vec())),
            int(6),
        ],
        CType::Void,
    );
    ok &= example(
        &opts,
        "Immutable bytes: C gets a copy, the caller's bytes stay as they were",
        "upper",
        "upper",
        &[text("abc123"), int(6)],
        CType::Void,
    );
    ok &= strdup_example(&opts);
    let (w, n) = (
        BackendKind::Wasm.data_model(),
        BackendKind::Native.data_model(),
    );
    println!("\nThe data model differs, by design:");
    for t in [
        CType::Int,
        CType::Long,
        CType::SizeT,
        CType::VoidP,
        CType::LongLong,
    ] {
        println!(
            "  sizeof({:<11}) wasm {}  native {}",
            t.name(),
            w.sizeof(t),
            n.sizeof(t)
        );
    }
    println!(
        "\n{}",
        if ok {
            "all seed examples agree on both backends"
        } else {
            "some examples differ"
        }
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
