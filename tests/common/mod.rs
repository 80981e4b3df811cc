//! Helpers shared by the integration tests: build a guest once, open it on both backends.
#![allow(dead_code)]

use std::path::PathBuf;

use wasmctypes::{BackendKind, Built, LoadOptions, Toolchain, CDLL};

/// The repository's `guest-c/NAME.c`.
pub fn source(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("guest-c")
        .join(format!("{name}.c"))
}

/// `guest-c/NAME.c` built for both targets (cached by content hash).
pub fn built(name: &str) -> Built {
    Toolchain::find()
        .and_then(|t| t.build_cached(&source(name)))
        .unwrap_or_else(|e| panic!("building {name}: {e}"))
}

/// The library `guest-c/NAME.c` opened on one backend, with output captured.
pub fn open(name: &str, kind: BackendKind) -> CDLL {
    let b = built(name);
    let path = match kind {
        BackendKind::Wasm => b.wasm,
        BackendKind::Native => b.native,
    };
    CDLL::open_with(
        path,
        kind,
        &LoadOptions {
            capture_output: Some(true),
        },
    )
    .unwrap_or_else(|e| panic!("opening {name} ({kind}): {e}"))
}

/// The library on both backends, sandbox first.
pub fn both(name: &str) -> [CDLL; 2] {
    [
        open(name, BackendKind::Wasm),
        open(name, BackendKind::Native),
    ]
}
