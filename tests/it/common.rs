//! Helpers shared by the integration tests: build a guest once, open it on both backends.
#![allow(dead_code)]

use std::path::PathBuf;

use wasmctypes::{BackendKind, Built, CType, Function, LoadOptions, Toolchain, Value, CDLL};

/// The repository's `guest-c/NAME.c`, or the Python package's own C source of that name
/// (`ctypes_test.c`, CPython's C test library, installed with the package).
pub fn source(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let guest = root.join("guest-c").join(format!("{name}.c"));
    if guest.is_file() {
        return guest;
    }
    root.join("python/wasmctypes").join(format!("{name}.c"))
}

/// `guest-c/NAME.c` built for both targets (cached by content hash).
pub fn built(name: &str) -> Built {
    Toolchain::find()
        .and_then(|t| t.build_cached(&source(name)))
        .unwrap_or_else(|e| panic!("building {name}: {e}"))
}

/// The library `guest-c/NAME.c` opened on one backend with the default output handling
/// (captured in wasm, passed through natively: capturing fd 1 natively would also catch the
/// test harness's own reports from other threads).
pub fn open(name: &str, kind: BackendKind) -> CDLL {
    open_with(name, kind, LoadOptions::default())
}

/// The same with explicit options.
pub fn open_with(name: &str, kind: BackendKind, options: LoadOptions) -> CDLL {
    let b = built(name);
    let path = match kind {
        BackendKind::Wasm => b.wasm,
        BackendKind::Native => b.native,
    };
    load_with(path, kind, &options).unwrap_or_else(|e| panic!("opening {name} ({kind}): {e}"))
}

/// `CDLL::open(path, kind)` for the tests' own libraries.
pub fn load(path: impl AsRef<std::path::Path>, kind: BackendKind) -> wasmctypes::Result<CDLL> {
    load_with(path, kind, &LoadOptions::default())
}

/// `CDLL::open_with(path, kind, options)` for the tests' own libraries.
pub fn load_with(
    path: impl AsRef<std::path::Path>,
    kind: BackendKind,
    options: &LoadOptions,
) -> wasmctypes::Result<CDLL> {
    // SAFETY: the tests load only this project's own C (guest-c/ and files they write), built
    // by the project's toolchain, and call it as its source declares.
    unsafe { CDLL::open_with(path, kind, options) }
}

/// The library on both backends, sandbox first.
pub fn both(name: &str) -> [CDLL; 2] {
    [
        open(name, BackendKind::Wasm),
        open(name, BackendKind::Native),
    ]
}

/// The library on both backends with stdout and stderr captured per call.
pub fn both_captured(name: &str) -> [CDLL; 2] {
    let opts = || LoadOptions {
        capture_output: Some(true),
        ..LoadOptions::default()
    };
    [
        open_with(name, BackendKind::Wasm, opts()),
        open_with(name, BackendKind::Native, opts()),
    ]
}

/// testlib's `double mix(int, double, float, long long, char, double)` with its prototype set.
pub fn mix(lib: &CDLL) -> Function {
    use CType::*;
    let mut mix = lib.function("mix").unwrap();
    mix.set_argtypes(&[Int, Double, Float, LongLong, Char, Double])
        .unwrap()
        .set_restype(Double)
        .unwrap();
    mix
}

/// Arguments for [`mix`]: it returns 16.25 for them.
pub fn mix_args() -> [Value; 6] {
    [
        Value::Int(1),
        Value::Float(2.5),
        Value::Float(0.5),
        Value::Int(10),
        Value::Int(2),
        Value::Float(0.25),
    ]
}

/// `guest-c/NAME.c` built as a standalone reactor (its own libc and memory), the module
/// format before side modules: what benchmarks compare side modules with, and what raw
/// wasmtime floors instantiate without a dynamic linker.
pub fn reactor(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("reactors");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("{}.wasm", name.replace('/', "_")));
    Toolchain::find()
        .and_then(|t| t.build_reactor(&source(name), &out))
        .unwrap_or_else(|e| panic!("building the reactor {name}: {e}"));
    out
}
