//! `wasmctypes build`: C sources compiled into a library for each backend.

use std::path::PathBuf;
use std::process::ExitCode;

use wasmctypes::{OptLevel, Toolchain};

use super::eprint_error;

/// What `wasmctypes build` was asked for.
pub(crate) struct BuildRequest<'a> {
    pub(crate) files: &'a [PathBuf],
    pub(crate) out: &'a std::path::Path,
    pub(crate) name: Option<&'a str>,
    pub(crate) flags: Vec<String>,
    pub(crate) opt: OptLevel,
    /// Leave out the DWARF (`--strip`).
    pub(crate) strip: bool,
}

pub(crate) fn cmd_build(req: BuildRequest) -> ExitCode {
    let tc = match Toolchain::find() {
        Ok(t) => t.with_opt_level(req.opt).with_debug_info(!req.strip),
        Err(e) => {
            eprint_error(&e);
            return ExitCode::from(2);
        }
    };
    let stem = |f: &PathBuf| {
        f.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let units: Vec<(String, &[PathBuf])> = match req.name {
        Some(name) => vec![(name.to_string(), req.files)],
        None => req
            .files
            .iter()
            .map(|f| (stem(f), std::slice::from_ref(f)))
            .collect(),
    };
    let mut code = ExitCode::SUCCESS;
    for (name, sources) in units {
        let f = sources
            .iter()
            .map(|s| s.display().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        match tc.build_module(sources, &req.flags, &name, req.out) {
            Ok(b) => println!("{} -> {}, {}", f, b.wasm.display(), b.native.display()),
            Err(e) => {
                eprint_error(&e);
                code = ExitCode::from(2);
            }
        }
    }
    code
}
