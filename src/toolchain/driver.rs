//! `wasmctypes cc`, `ar` and `ranlib`: the sandbox's C compiler as build systems drive it,
//! as Emscripten's `emcc` stands in for `gcc`.
//!
//! [`Driver::cc`] takes what `./configure`, `make`, libtool and CMake pass to gcc or clang
//! and runs Debian's clang 19 for wasm32-wasi:
//! - compiling (`-c`, `-S`, `-E`, `-M*`, `-fsyntax-only`) makes position-independent objects
//!   (`-fPIC`) with wasi-libc's headers and nothing of the host's (`-nostdlibinc`), bulk
//!   memory (`memcpy`/`memset` as `memory.copy`/`memory.fill`, not calls into libc) and
//!   SIMD128 enabled, DWARF kept (`-g`; `--strip` drops it), and default visibility unless
//!   the build asks otherwise;
//! - `-shared` links a *side module* with `wasm-ld` (whatever the output's name: `-o
//!   libfoo.so` is a wasm module), libc left as imports that the sandbox resolves, defined
//!   symbols bound locally (`-Bsymbolic`), compiler-rt's builtins linked in (as libgcc is
//!   into a native `.so`); `-Wl,--whole-archive libfoo.a` makes an archive into one;
//! - a link without `-shared` makes a WASI command module, as configure's checks expect;
//! - queries (`--version`, `-dumpmachine`, `-print-*`) are clang's answers for the target.
//!
//! What the sandbox cannot give is an error naming it: `-pthread` and `-fopenmp` (one
//! thread), and flags of a side-module link that `wasm-ld` has no equivalent for.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::libc::{BUILTINS, WASI_LIBC};
use super::DEBIAN_PACKAGES;
use crate::error::{Error, Result};

/// The target triple, as `-dumpmachine` prints it and `--host` takes it.
pub const TARGET: &str = "wasm32-unknown-wasi";

/// Where Debian's wasi-libc keeps its headers.
pub const WASI_INCLUDE: &str = "/usr/include/wasm32-wasi";

/// Flags every compile gets first, so that the build's own flags override them.
pub const COMPILE_FLAGS: &[&str] = &[
    "--target=wasm32-wasi",
    "-nostdlibinc",
    "-isystem",
    WASI_INCLUDE,
    "-fPIC",
    "-fvisibility=default",
    "-mbulk-memory",
    "-msimd128",
    // DWARF, in custom sections the module's code never reads: the library's own C
    // prototypes (see `crate::prototype`). `--strip` (or the build's own `-g0`) drops it.
    "-g",
];

/// `wasm-ld` flags of a side module made by [`Driver::cc`].
pub const SIDE_MODULE_FLAGS: &[&str] = &[
    "-shared",
    "--experimental-pic",
    "--unresolved-symbols=import-dynamic",
    "-Bsymbolic",
];

/// Libraries a side module gets from the sandbox's libc module, not from the link.
const SANDBOX_LIBS: &[&str] = &["c", "m", "dl", "rt", "util", "gcc", "gcc_s"];

/// Headers wasi-libc lacks, each an `#error` that names what the sandbox does not have, so
/// that a build (or a configure check) that includes one fails with the reason. They are
/// searched after wasi-libc's own (`-idirafter`), so a wasi-libc that has one wins.
const MISSING_HEADERS: &[(&str, &str)] = &[
    (
        "setjmp.h",
        "setjmp/longjmp are not available in the sandbox: this wasi-libc has neither setjmp.h \
         nor the runtime that clang's wasm lowering of setjmp calls",
    ),
    (
        "pthread.h",
        "threads are not available in the sandbox: a sandbox runs one thread",
    ),
];

/// The LLVM tools the driver runs.
#[derive(Clone, Debug)]
pub struct Driver {
    clang: PathBuf,
    wasm_ld: PathBuf,
    ar: PathBuf,
    ranlib: PathBuf,
    /// The directory of [`MISSING_HEADERS`].
    missing: Option<PathBuf>,
}

/// Writes [`MISSING_HEADERS`] into a directory of the cache; `None` if it cannot.
fn missing_headers_dir() -> Option<PathBuf> {
    let root = crate::cache::cache_dir()?;
    let dir = root.join("include-missing");
    std::fs::create_dir_all(&dir).ok()?;
    for (name, why) in MISSING_HEADERS {
        let text = format!("#error \"{why}\"\n");
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).ok()?;
        }
    }
    Some(dir)
}

fn find_tool(name: &str) -> Result<PathBuf> {
    super::on_path(name).ok_or_else(|| {
        Error::Toolchain(format!(
            "{name} not found: install the Debian packages {DEBIAN_PACKAGES} \
             (apt-get install {DEBIAN_PACKAGES})"
        ))
    })
}

/// What a command line asks the compiler to do.
#[derive(Debug, PartialEq, Eq)]
enum Mode {
    /// Compile, preprocess or answer a query: clang alone.
    Compile,
    /// Link a side module.
    SideModule,
    /// Link a WASI command.
    Command,
}

/// Whether `arg` is a C-family source clang compiles (rather than an object or archive).
fn is_source(arg: &str) -> bool {
    !arg.starts_with('-')
        && [".c", ".i", ".s", ".S", ".h"]
            .iter()
            .any(|ext| arg.ends_with(ext))
}

/// Flags followed by a separate value (`-o out`, `-I dir`, `-MF file`, ...).
fn takes_value(flag: &str) -> bool {
    matches!(
        flag,
        "-o" | "-I"
            | "-D"
            | "-U"
            | "-L"
            | "-l"
            | "-include"
            | "-isystem"
            | "-iquote"
            | "-idirafter"
            | "-imacros"
            | "-x"
            | "-MF"
            | "-MT"
            | "-MQ"
            | "-Xlinker"
            | "-Xclang"
            | "-arch"
            | "-target"
    )
}

impl Driver {
    /// Finds clang 19, wasm-ld 19, llvm-ar 19 and llvm-ranlib 19 and wasi-libc, or says
    /// what to install.
    pub fn find() -> Result<Driver> {
        let driver = Driver {
            clang: find_tool("clang-19")?,
            wasm_ld: find_tool("wasm-ld-19")?,
            ar: find_tool("llvm-ar-19")?,
            ranlib: find_tool("llvm-ranlib-19")?,
            missing: missing_headers_dir(),
        };
        if !Path::new(WASI_INCLUDE).join("stdio.h").is_file()
            || !Path::new(WASI_LIBC).join("libc.a").is_file()
        {
            return Err(Error::Toolchain(format!(
                "wasi-libc not found in {WASI_INCLUDE}: install the Debian packages \
                 {DEBIAN_PACKAGES}"
            )));
        }
        Ok(driver)
    }

    /// `llvm-ar` with `args`; its exit status.
    pub fn ar(&self, args: &[String]) -> Result<i32> {
        status(Command::new(&self.ar).args(args), &self.ar)
    }

    /// `llvm-ranlib` with `args`; its exit status.
    pub fn ranlib(&self, args: &[String]) -> Result<i32> {
        status(Command::new(&self.ranlib).args(args), &self.ranlib)
    }

    /// Compiles or links as `cc ARGS` would, for the sandbox; the exit status (the tools'
    /// output goes to this process's stdout and stderr). See the module docs.
    pub fn cc(&self, args: &[String]) -> Result<i32> {
        let mut args = expand_response_files(args, 0)?;
        // `--strip`: no DWARF, as a build without `-g` (the default keeps it).
        if args.iter().any(|a| a == "--strip") {
            args.retain(|a| a != "--strip");
            args.push("-g0".into());
        }
        refuse_unsupported(&args)?;
        match mode(&args) {
            Mode::Compile | Mode::Command => {
                let mut cmd = self.clang();
                cmd.args(&args);
                status(&mut cmd, &self.clang)
            }
            Mode::SideModule => self.side_module(&args),
        }
    }

    /// clang with the sandbox's compile flags.
    fn clang(&self) -> Command {
        let mut cmd = Command::new(&self.clang);
        cmd.args(COMPILE_FLAGS);
        if let Some(dir) = &self.missing {
            cmd.arg("-idirafter").arg(dir);
        }
        cmd
    }

    /// `cc -shared ARGS`: sources compiled with the same flags, then everything linked by
    /// `wasm-ld` into a side module.
    fn side_module(&self, args: &[String]) -> Result<i32> {
        let mut compile: Vec<String> = Vec::new();
        let mut link: Vec<String> = Vec::new();
        let mut sources: Vec<String> = Vec::new();
        let mut out = "a.out".to_string();
        let mut it = args.iter().peekable();
        while let Some(arg) = it.next() {
            let a = arg.as_str();
            let mut value = || {
                it.next().cloned().ok_or_else(|| {
                    Error::ValueError(format!("wasmctypes cc: {a} needs a value after it"))
                })
            };
            match a {
                "-o" => out = value()?,
                "-shared" | "-fPIC" | "-fpic" | "-pipe" | "-rdynamic" | "-nostdlib"
                | "-nodefaultlibs" | "-static-libgcc" | "-pie" | "-no-pie" => {}
                "-s" => link.push("--strip-all".into()),
                "-L" => link.extend(["-L".to_string(), value()?]),
                "-l" => push_lib(&mut link, &value()?),
                "-Xlinker" => linker_args(&mut link, &[value()?])?,
                "-I" | "-D" | "-U" | "-include" | "-isystem" | "-iquote" | "-idirafter"
                | "-imacros" | "-x" | "-MF" | "-MT" | "-MQ" | "-Xclang" | "-target" | "-arch" => {
                    compile.extend([a.to_string(), value()?])
                }
                _ if a.starts_with("-Wl,") => {
                    let parts: Vec<String> = a[4..].split(',').map(String::from).collect();
                    linker_args(&mut link, &parts)?;
                }
                _ if a.starts_with("-L") => link.push(a.to_string()),
                _ if a.starts_with("-l") => push_lib(&mut link, &a[2..]),
                _ if a.starts_with('-') => compile.push(a.to_string()),
                _ if is_source(a) => sources.push(a.to_string()),
                _ => link.push(a.to_string()),
            }
        }
        let mut objects = Vec::new();
        let dir = scratch_dir()?;
        let result = (|| {
            for (i, source) in sources.iter().enumerate() {
                let object = dir.join(format!("{i}.o"));
                let mut cmd = self.clang();
                cmd.args(&compile).args(["-c", source.as_str(), "-o"]);
                cmd.arg(&object);
                let code = status(&mut cmd, &self.clang)?;
                if code != 0 {
                    return Ok(code);
                }
                objects.push(object);
            }
            let mut cmd = Command::new(&self.wasm_ld);
            cmd.args(SIDE_MODULE_FLAGS)
                .args(&objects)
                .args(&link)
                .args(["-o", out.as_str()]);
            // compiler-rt's builtins (`__multi3`, long double arithmetic) linked in, as a
            // native shared library links libgcc's: calls to them stay in the module.
            if Path::new(BUILTINS).is_file() {
                cmd.arg(BUILTINS);
            }
            status(&mut cmd, &self.wasm_ld)
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result
    }
}

/// What `args` ask for.
fn mode(args: &[String]) -> Mode {
    let mut shared = false;
    let mut inputs = false;
    let mut skip = false;
    for a in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        match a.as_str() {
            "-c" | "-S" | "-E" | "-M" | "-MM" | "-fsyntax-only" | "--version" | "-v"
            | "-dumpmachine" | "-dumpversion" | "--help" => return Mode::Compile,
            _ if a.starts_with("-print-") || a.starts_with("--print-") => return Mode::Compile,
            "-shared" => shared = true,
            _ if takes_value(a) => skip = true,
            _ if !a.starts_with('-') => inputs = true,
            _ => {}
        }
    }
    match (inputs, shared) {
        (false, _) => Mode::Compile,
        (true, true) => Mode::SideModule,
        (true, false) => Mode::Command,
    }
}

/// The flags whose feature the sandbox lacks, named.
fn refuse_unsupported(args: &[String]) -> Result<()> {
    for a in args {
        let why = match a.as_str() {
            "-pthread" | "-pthreads" | "-lpthread" | "-mthread-model=posix" => {
                "threads: a sandbox runs one thread (wasi-libc here has no pthread_create)"
            }
            _ if a.starts_with("-fopenmp") => "OpenMP: a sandbox runs one thread",
            "-fsanitize=address" | "-fsanitize=thread" | "-fsanitize=memory" => {
                "sanitizer runtimes: there are none for wasm32-wasi"
            }
            "-static" if args.iter().any(|a| a == "-shared") => {
                "-static with -shared: a side module is always linked at load time"
            }
            _ => continue,
        };
        return Err(Error::ValueError(format!(
            "wasmctypes cc: {a} is not supported: {why}"
        )));
    }
    Ok(())
}

/// `-lNAME` for a side module: libc's parts come from the sandbox, anything else is linked.
fn push_lib(link: &mut Vec<String>, name: &str) {
    if !SANDBOX_LIBS.contains(&name) {
        link.push(format!("-l{name}"));
    }
}

/// The linker options of `-Wl,...` / `-Xlinker` for `wasm-ld`: ELF-only ones with no
/// meaning for a side module (`-soname`, `-rpath`, version scripts, `-z`, `--as-needed`)
/// are dropped, those `wasm-ld` has are kept, and any other is an error naming it.
fn linker_args(link: &mut Vec<String>, parts: &[String]) -> Result<()> {
    let mut it = parts.iter();
    while let Some(p) = it.next() {
        let p = p.as_str();
        let bare = p.trim_start_matches('-');
        match bare {
            "soname"
            | "h"
            | "rpath"
            | "R"
            | "rpath-link"
            | "version-script"
            | "z"
            | "retain-symbols-file"
            | "dynamic-list"
            | "hash-style" => {
                let _ = it.next();
            }
            _ if [
                "soname=",
                "rpath=",
                "rpath-link=",
                "version-script=",
                "hash-style=",
                "dynamic-list=",
            ]
            .iter()
            .any(|k| bare.starts_with(k)) => {}
            "no-undefined" | "as-needed" | "no-as-needed" | "enable-new-dtags"
            | "disable-new-dtags" | "export-dynamic" | "E" | "Bdynamic" | "Bstatic"
            | "eh-frame-hdr" | "relax" | "no-relax" | "warn-common" | "O1" | "O2" | "O0"
            | "fatal-warnings" | "no-fatal-warnings" | "start-group" | "end-group" | "(" | ")" => {}
            "whole-archive" | "no-whole-archive" | "gc-sections" | "no-gc-sections"
            | "strip-all" | "strip-debug" | "s" | "S" | "Bsymbolic" | "build-id"
            | "allow-undefined" | "no-entry" | "export-all" | "verbose" => link.push(p.into()),
            _ if bare.starts_with("export=")
                || bare.starts_with("export-if-defined=")
                || bare.starts_with("build-id=")
                || bare.starts_with("Map=")
                || bare.starts_with("-Map=") =>
            {
                link.push(p.into())
            }
            "export" | "export-if-defined" | "L" | "Map" => {
                link.push(p.into());
                if let Some(v) = it.next() {
                    link.push(v.clone());
                }
            }
            _ if !p.starts_with('-') => link.push(p.into()),
            _ => {
                return Err(Error::ValueError(format!(
                    "wasmctypes cc: the linker option {p} has no equivalent for a side module"
                )))
            }
        }
    }
    Ok(())
}

/// `args` with each `@file` replaced by the arguments in that file (whitespace-separated,
/// with single and double quotes and backslash escapes, as gcc reads them), nested to a
/// depth of 8.
fn expand_response_files(args: &[String], depth: u32) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        let Some(file) = a.strip_prefix('@').filter(|f| !f.is_empty()) else {
            out.push(a.clone());
            continue;
        };
        if depth >= 8 {
            return Err(Error::ValueError(format!(
                "wasmctypes cc: response files nested too deeply at {a}"
            )));
        }
        let text = std::fs::read_to_string(file).map_err(|e| Error::os(Path::new(file), e))?;
        out.extend(expand_response_files(&split_words(&text), depth + 1)?);
    }
    Ok(out)
}

/// Splits a response file's text into arguments.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if std::mem::take(&mut in_word) {
                    words.push(std::mem::take(&mut word));
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// A fresh private directory for intermediate objects.
fn scratch_dir() -> Result<PathBuf> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("wasmctypes-cc-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    super::make_private_dir(&dir)?;
    Ok(dir)
}

/// Runs `cmd` with this process's stdio; its exit status (128 + the signal if killed).
fn status(cmd: &mut Command, tool: &Path) -> Result<i32> {
    let st = cmd
        .status()
        .map_err(|e| Error::Toolchain(format!("cannot run {}: {e}", tool.display())))?;
    use std::os::unix::process::ExitStatusExt;
    Ok(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_mode_is_what_gcc_would_do() {
        assert_eq!(mode(&v(&["-c", "a.c", "-o", "a.o"])), Mode::Compile);
        assert_eq!(mode(&v(&["-E", "a.c"])), Mode::Compile);
        assert_eq!(mode(&v(&["--version"])), Mode::Compile);
        assert_eq!(mode(&v(&["-dumpmachine"])), Mode::Compile);
        assert_eq!(
            mode(&v(&["-shared", "a.o", "-o", "liba.so"])),
            Mode::SideModule
        );
        assert_eq!(mode(&v(&["conftest.c", "-o", "conftest"])), Mode::Command);
        // `-o x` alone has no input.
        assert_eq!(mode(&v(&["-o", "x"])), Mode::Compile);
    }

    #[test]
    fn what_the_sandbox_lacks_is_named() {
        for (flag, word) in [
            ("-pthread", "threads"),
            ("-fopenmp", "OpenMP"),
            ("-fsanitize=address", "sanitizer"),
        ] {
            let e = refuse_unsupported(&v(&["-c", "a.c", flag])).unwrap_err();
            assert_eq!(e.kind(), "ValueError");
            assert!(
                e.message().contains(flag) && e.message().contains(word),
                "{e}"
            );
        }
        assert!(refuse_unsupported(&v(&["-c", "a.c", "-O2", "-fPIC"])).is_ok());
    }

    #[test]
    fn linker_options_are_kept_dropped_or_refused() {
        let mut link = Vec::new();
        linker_args(
            &mut link,
            &v(&[
                "-soname",
                "libx.so.1",
                "--whole-archive",
                "x.a",
                "--no-whole-archive",
            ]),
        )
        .unwrap();
        linker_args(&mut link, &v(&["--version-script=x.map", "-z", "defs"])).unwrap();
        assert_eq!(link, v(&["--whole-archive", "x.a", "--no-whole-archive"]));
        let e = linker_args(&mut link, &v(&["--wrap=malloc"])).unwrap_err();
        assert!(e.message().contains("--wrap=malloc"), "{e}");
    }

    #[test]
    fn response_files_split_as_gcc_reads_them() {
        assert_eq!(
            split_words("-DA=1 'b c' \"d\\\"e\"\n-I dir\\ x"),
            v(&["-DA=1", "b c", "d\"e", "-I", "dir x"])
        );
        assert_eq!(split_words("''"), v(&[""]));
    }
}
