//! Finding a library from what a user typed: a path, a C file, or a bare name.
//!
//! A file is known by its first bytes, not its name: `\0asm` is a wasm module (for the
//! sandbox, whatever it is called: `libsodium.so` built by `wasmctypes cc -shared` is one),
//! `\x7fELF` a host shared object.
//!
//! - `x.c`: built on demand (at [`Search::opt`]) into a cache keyed by the source's content
//!   hash, the toolchain and the flags.
//! - `c`: the C library (the sandbox's libc module in wasm, `libc.so.6` natively).
//! - a path to a file of the backend's kind: that file.
//! - a path to a file of the other kind, or to no file: its build for this backend beside it.
//!   For the sandbox, a host library `P` has its wasm build at the place [`Search::map`] gives,
//!   else `P` without `.so` (and any version after it) plus `.wasm` (`_lib.abi3.so` ->
//!   `_lib.abi3.wasm`), else `NAME.wasm` for `libNAME.so`. Natively, `NAME.wasm` has its host
//!   build at `libNAME.so`.
//! - a bare name (`sodium`, `libsodium.so`): looked for in each `--lib-dir`, then in each
//!   directory of `$WASMCTYPES_PATH`, then in `target/guest`, as the name itself, `libNAME.so`,
//!   `NAME.wasm`, `libNAME.wasm` or `NAME.so`, of the backend's kind ([`find_library`]);
//!   failing that, `guest-c/NAME.c` is built on demand.

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
    /// Host libraries and their wasm builds, `(host path, wasm path)`: where the sandbox
    /// loads a library from when it is asked for the host one.
    pub map: Vec<(PathBuf, PathBuf)>,
}

/// The default output directory of `wasmctypes build`, searched last for bare names.
pub const DEFAULT_GUEST_DIR: &str = "target/guest";

/// What a file is, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A WebAssembly module (`\0asm`).
    Wasm,
    /// An ELF file, such as a host shared object.
    Elf,
    /// Anything else (a linker script, a text file, ...).
    Other,
}

/// The kind of the file at `path`, or `None` if it is not a readable regular file.
pub fn file_kind(path: &Path) -> Option<FileKind> {
    use std::io::Read;
    if !path.is_file() {
        return None;
    }
    let mut head = [0u8; 4];
    let mut f = std::fs::File::open(path).ok()?;
    let n = f.read(&mut head).ok()?;
    Some(match &head[..n] {
        b"\0asm" => FileKind::Wasm,
        b"\x7fELF" => FileKind::Elf,
        _ => FileKind::Other,
    })
}

/// Whether a file of kind `found` is what backend `kind` loads.
fn fits(found: Option<FileKind>, kind: BackendKind) -> bool {
    match kind {
        BackendKind::Wasm => found == Some(FileKind::Wasm),
        BackendKind::Native => matches!(found, Some(FileKind::Elf | FileKind::Other)),
    }
}

/// The directories bare names are looked for in, in order.
pub fn search_dirs(search: &Search) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = search.lib_dirs.clone();
    if let Some(p) = std::env::var_os("WASMCTYPES_PATH") {
        dirs.extend(std::env::split_paths(&p).filter(|d| !d.as_os_str().is_empty()));
    }
    dirs.push(PathBuf::from(DEFAULT_GUEST_DIR));
    dirs
}

/// The library's name without `lib` in front or a suffix (`.so`, `.so.26`, `.wasm`,
/// `.dylib`, `.dll`) behind: `sodium` for `libsodium.so.26`.
fn bare_name(file_name: &str) -> &str {
    let mut stem = file_name;
    if let Some(i) = stem.find(".so.") {
        stem = &stem[..i];
    }
    for suffix in [".so", ".wasm", ".dylib", ".dll"] {
        stem = stem.strip_suffix(suffix).unwrap_or(stem);
    }
    stem.strip_prefix("lib").unwrap_or(stem)
}

/// `ctypes.util.find_library(name)` for backend `kind`: the first file of the backend's kind
/// in [`search_dirs`] named `libNAME.so`, `NAME.wasm`, `libNAME.wasm` or `NAME.so`.
pub fn find_library(name: &str, kind: BackendKind, search: &Search) -> Option<PathBuf> {
    if name.is_empty() || name.contains('/') || name.contains('\0') {
        return None;
    }
    let candidates = [
        format!("lib{name}.so"),
        format!("{name}.wasm"),
        format!("lib{name}.wasm"),
        format!("{name}.so"),
    ];
    search_dirs(search).iter().find_map(|dir| {
        candidates
            .iter()
            .map(|c| dir.join(c))
            .find(|p| fits(file_kind(p), kind))
    })
}

/// Where the sandbox looks for the wasm build of the host library at `path`.
fn wasm_builds(path: &Path, search: &Search) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let canonical = path.canonicalize().ok();
    for (host, wasm) in &search.map {
        if host == path || (canonical.is_some() && host.canonicalize().ok() == canonical) {
            out.push(wasm.clone());
        }
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    if let Some(file) = path.file_name().and_then(|f| f.to_str()) {
        let cut = file
            .find(".so.")
            .or_else(|| file.strip_suffix(".so").map(str::len));
        if let Some(i) = cut {
            out.push(dir.join(format!("{}.wasm", &file[..i])));
        }
        out.push(dir.join(format!("{}.wasm", bare_name(file))));
    }
    out.dedup();
    out
}

/// Resolves `spec` to the file `kind` loads. See the module docs for the rules.
pub fn locate(spec: &str, kind: BackendKind, search: &Search) -> Result<PathBuf> {
    let path = Path::new(spec);
    if spec.ends_with(".c") {
        if !path.is_file() {
            return Err(Error::os(path, "No such file or directory"));
        }
        let built = Toolchain::find()?
            .with_opt_level(search.opt)
            .build_cached(path)?;
        return Ok(match kind {
            BackendKind::Wasm => built.wasm,
            BackendKind::Native => built.native,
        });
    }
    // The C library by name, as `find_library("c")`: the sandbox's libc module in wasm.
    if spec == crate::library::LIBC {
        return Ok(PathBuf::from(spec));
    }
    if spec.is_empty() || spec.contains('\0') {
        return Err(Error::os(path, "not a library name"));
    }
    let found = file_kind(path);
    if spec.contains('/') || found.is_some() {
        if fits(found, kind) {
            return Ok(path.to_path_buf());
        }
        let looked = match kind {
            BackendKind::Wasm => wasm_builds(path, search),
            BackendKind::Native => {
                let file = path.file_name().and_then(|f| f.to_str()).unwrap_or(spec);
                let dir = path.parent().unwrap_or(Path::new(""));
                vec![dir.join(format!("lib{}.so", bare_name(file)))]
            }
        };
        if let Some(build) = looked.iter().find(|p| fits(file_kind(p), kind)) {
            return Ok(build.clone());
        }
        let looked: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
        let what = match (found, kind) {
            (None, _) => "No such file or directory",
            (Some(_), BackendKind::Wasm) => "not a wasm module, and no wasm build of it",
            (Some(_), BackendKind::Native) => "a wasm module, and no host build of it",
        };
        return Err(Error::os(
            path,
            format!("{what} (looked for {})", looked.join(", ")),
        ));
    }
    // A bare name: the name itself in the search directories, then its library names.
    let dirs = search_dirs(search);
    if let Some(found) = dirs
        .iter()
        .map(|d| d.join(spec))
        .find(|p| fits(file_kind(p), kind))
    {
        return Ok(found);
    }
    let name = bare_name(spec);
    if let Some(found) = find_library(name, kind, search) {
        return Ok(found);
    }
    let source = Path::new("guest-c").join(format!("{name}.c"));
    if source.is_file() {
        return locate(&source.display().to_string(), kind, search);
    }
    let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(Error::os(
        Path::new(spec),
        format!(
            "library not found in {} (build it with `wasmctypes build {name}.c`, or put it \
             in a directory of $WASMCTYPES_PATH)",
            searched.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::{bare_name, file_kind, locate, FileKind, Search};
    use crate::backend::BackendKind;

    #[test]
    fn hostile_names_and_files_are_oserrors_never_loaded() {
        let dir = std::env::temp_dir().join(format!("wasmctypes-locate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("libdir.so")).unwrap();
        std::fs::write(dir.join("libempty.so"), b"").unwrap();
        std::fs::write(dir.join("libtext.so"), b"GROUP ( libc.so.6 )").unwrap();
        std::fs::write(dir.join("mod.so"), b"\0asm\x01\0\0\0").unwrap();
        let fifo = dir.join("libfifo.so");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // A FIFO is never opened (it would block), a directory is not a library.
        assert_eq!(file_kind(&fifo), None);
        assert_eq!(file_kind(&dir.join("libdir.so")), None);
        assert_eq!(file_kind(&dir.join("libempty.so")), Some(FileKind::Other));
        assert_eq!(file_kind(&dir.join("mod.so")), Some(FileKind::Wasm));
        let search = Search {
            lib_dirs: vec![dir.clone()],
            ..Search::default()
        };
        let long = "x".repeat(5000);
        for spec in [
            "",
            "\0",
            "a\0b",
            &long,
            "libdir.so",
            "libfifo.so",
            "libempty.so",
        ] {
            let e = locate(spec, BackendKind::Wasm, &search).unwrap_err();
            assert_eq!(e.kind(), "OSError", "{spec:?}: {e}");
        }
        // In the sandbox a text or empty file is not a module; natively dlopen judges it.
        let text = dir.join("libtext.so").display().to_string();
        assert!(locate(&text, BackendKind::Wasm, &search).is_err());
        assert_eq!(
            locate(&text, BackendKind::Native, &search).unwrap(),
            dir.join("libtext.so")
        );
        // A wasm module named .so is found by its bytes, by path or bare name.
        assert_eq!(
            locate("mod.so", BackendKind::Wasm, &search).unwrap(),
            dir.join("mod.so")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_library_is_known_by_its_bare_name() {
        for (file, name) in [
            ("libsodium.so", "sodium"),
            ("libsodium.so.26.2.0", "sodium"),
            ("sodium.wasm", "sodium"),
            ("libz.dylib", "z"),
            ("m", "m"),
        ] {
            assert_eq!(bare_name(file), name, "{file}");
        }
    }
}
