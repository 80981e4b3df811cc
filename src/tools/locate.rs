//! Finding a library from what a user typed: a path, a C file, or a bare name.
//!
//! - `x.wasm` / `libx.so`: that file; the other backend uses its sibling (`libx.so` / `x.wasm`).
//! - `x.c`: built on demand (at [`Search::opt`]) into a cache keyed by the source's content
//!   hash, the toolchain and the flags.
//! - `c`: the C library (the sandbox's libc module in wasm, `libc.so.6` natively).
//! - `x`: `x.wasm` or `libx.so` in each `--lib-dir`, then in each directory of
//!   `$WASMCTYPES_PATH`, then in `target/guest`; failing that, `guest-c/x.c` is built on demand.

use std::path::{Path, PathBuf};

use crate::backend::BackendKind;
use crate::error::{Error, Result};
use crate::toolchain::{OptLevel, Toolchain};

/// Where bare library names are looked for, and how C sources are built.
#[derive(Clone, Debug, Default)]
pub struct Search {
    /// Directories searched first for bare names (`--lib-dir`).
    pub lib_dirs: Vec<PathBuf>,
    /// The optimisation level of C sources built on demand (`-O`).
    pub opt: OptLevel,
}

/// The default output directory of `wasmctypes build`, searched last for bare names.
pub const DEFAULT_GUEST_DIR: &str = "target/guest";

/// Resolves `spec` to the file `kind` loads. See the module docs for the rules.
pub fn locate(spec: &str, kind: BackendKind, search: &Search) -> Result<PathBuf> {
    let path = Path::new(spec);
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let dir = path.parent().unwrap_or(Path::new(""));
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or(spec);
    match ext {
        "c" => {
            if !path.is_file() {
                return Err(Error::os(path, "No such file or directory"));
            }
            let built = Toolchain::find()?
                .with_opt_level(search.opt)
                .build_cached(path)?;
            Ok(match kind {
                BackendKind::Wasm => built.wasm,
                BackendKind::Native => built.native,
            })
        }
        "wasm" | "so" => {
            let name = if ext == "so" {
                stem.strip_prefix("lib").unwrap_or(stem)
            } else {
                stem
            };
            let wanted = dir.join(kind.file_name(name));
            let given = path.to_path_buf();
            let file = if (ext == "wasm") == (kind == BackendKind::Wasm) {
                given
            } else {
                wanted
            };
            if !file.exists() {
                return Err(Error::os(&file, "No such file or directory"));
            }
            Ok(file)
        }
        // The C library by name, as `find_library("c")`: the sandbox's libc module in wasm.
        _ if spec == crate::library::LIBC => Ok(PathBuf::from(spec)),
        _ if spec.contains('/') => Err(Error::os(
            path,
            "not a library: expected a .wasm, .so or .c path, or a bare library name",
        )),
        _ => {
            let mut dirs: Vec<PathBuf> = search.lib_dirs.clone();
            if let Some(p) = std::env::var_os("WASMCTYPES_PATH") {
                dirs.extend(std::env::split_paths(&p));
            }
            dirs.push(PathBuf::from(DEFAULT_GUEST_DIR));
            let file_name = kind.file_name(spec);
            if let Some(found) = dirs
                .iter()
                .map(|d| d.join(&file_name))
                .find(|p| p.is_file())
            {
                return Ok(found);
            }
            let source = Path::new("guest-c").join(format!("{spec}.c"));
            if source.is_file() {
                return locate(&source.display().to_string(), kind, search);
            }
            let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            Err(Error::os(
                file_name,
                format!(
                    "library not found in {} (build it with `wasmctypes build {spec}.c`)",
                    searched.join(", ")
                ),
            ))
        }
    }
}
