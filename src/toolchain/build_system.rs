//! `wasmctypes configure`, `make` and `cmake`: a library's own build system, run for the
//! sandbox, as Emscripten's `emconfigure`, `emmake` and `emcmake` run it.
//!
//! Each runs the given command with the sandbox's tools in its environment: `CC`, `AR`,
//! `RANLIB` (and `LD`, `NM`, `STRIP`, `OBJDUMP` of LLVM 19) name small links to this very
//! program (`wasmctypes-cc`, `wasmctypes-ar`, `wasmctypes-ranlib`), which act as
//! [`Driver::cc`](super::driver::Driver::cc) and friends, so that a Makefile written at
//! configure time keeps working in a later `make`. `configure` adds
//! `--host=wasm32-unknown-wasi` unless the command gives a `--host`, so that autoconf
//! cross-compiles (it cannot run the sandbox's test programs) and libtool knows the target.
//! `cmake` adds a toolchain file (`CMAKE_SYSTEM_NAME` `WASI`, shared libraries as side
//! modules named `libNAME.so`) unless the command gives one.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::driver::TARGET;
use crate::error::{Error, Result};

/// The names the links to this program have, and what each acts as.
pub const TOOL_NAMES: &[(&str, Tool)] = &[
    ("wasmctypes-cc", Tool::Cc),
    ("wasmctypes-ar", Tool::Ar),
    ("wasmctypes-ranlib", Tool::Ranlib),
];

/// A tool the links stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// `wasmctypes cc`.
    Cc,
    /// `wasmctypes ar`.
    Ar,
    /// `wasmctypes ranlib`.
    Ranlib,
}

/// The tool a program called by `argv0` stands for, if it is one of the links.
pub fn tool_of(argv0: &str) -> Option<Tool> {
    let name = Path::new(argv0).file_name()?.to_str()?;
    TOOL_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, tool)| *tool)
}

/// The directory of the links to `exe` and the CMake files, made (or refreshed) in the
/// cache (a private temporary directory without a trusted cache).
pub fn tools_dir(exe: &Path) -> Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let key: String = Sha256::digest(exe.as_os_str().as_encoded_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let root = crate::cache::cache_dir().unwrap_or_else(|| {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        std::env::temp_dir().join(format!("wasmctypes-tools-{uid}"))
    });
    let dir = root.join(format!("tools-{key}"));
    let platform = dir.join("Platform");
    std::fs::create_dir_all(&platform).map_err(|e| Error::os(&platform, e))?;
    for (name, _) in TOOL_NAMES {
        let link = dir.join(name);
        if std::fs::read_link(&link).ok().as_deref() != Some(exe) {
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(exe, &link).map_err(|e| Error::os(&link, e))?;
        }
    }
    write_if_changed(&platform.join("WASI.cmake"), PLATFORM_WASI)?;
    let toolchain = format!(
        "# wasm32-wasi for wasmctypes: written by `wasmctypes cmake`.\n\
         set(CMAKE_SYSTEM_NAME WASI)\n\
         set(CMAKE_SYSTEM_PROCESSOR wasm32)\n\
         list(APPEND CMAKE_MODULE_PATH \"{dir}\")\n\
         set(CMAKE_C_COMPILER \"{dir}/wasmctypes-cc\")\n\
         set(CMAKE_AR \"{dir}/wasmctypes-ar\" CACHE FILEPATH \"\")\n\
         set(CMAKE_RANLIB \"{dir}/wasmctypes-ranlib\" CACHE FILEPATH \"\")\n\
         set(CMAKE_C_COMPILER_TARGET {TARGET})\n\
         set(CMAKE_FIND_ROOT_PATH /usr/include/wasm32-wasi /usr/lib/wasm32-wasi)\n\
         set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)\n\
         set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)\n\
         set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)\n\
         set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)\n",
        dir = dir.display()
    );
    write_if_changed(&dir.join("toolchain.cmake"), &toolchain)?;
    Ok(dir)
}

/// CMake's platform file for WASI as the sandbox has it: Unix-like, with shared libraries
/// (side modules) and no `dl` library.
const PLATFORM_WASI: &str = "\
# The WASI platform for wasmctypes: written by `wasmctypes cmake`.
set(UNIX 1)
set_property(GLOBAL PROPERTY TARGET_SUPPORTS_SHARED_LIBS TRUE)
set(CMAKE_STATIC_LIBRARY_PREFIX \"lib\")
set(CMAKE_STATIC_LIBRARY_SUFFIX \".a\")
set(CMAKE_SHARED_LIBRARY_PREFIX \"lib\")
set(CMAKE_SHARED_LIBRARY_SUFFIX \".so\")
set(CMAKE_SHARED_MODULE_PREFIX \"lib\")
set(CMAKE_SHARED_MODULE_SUFFIX \".so\")
set(CMAKE_EXECUTABLE_SUFFIX \"\")
set(CMAKE_FIND_LIBRARY_PREFIXES \"lib\")
set(CMAKE_FIND_LIBRARY_SUFFIXES \".so\" \".a\")
set(CMAKE_SHARED_LIBRARY_C_FLAGS \"-fPIC\")
set(CMAKE_SHARED_LIBRARY_CREATE_C_FLAGS \"-shared\")
set(CMAKE_SHARED_MODULE_CREATE_C_FLAGS \"-shared\")
set(CMAKE_DL_LIBS \"\")
";

fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| Error::os(path, e))
}

/// The environment a build for the sandbox runs with, the tools in `dir`.
pub fn environment(dir: &Path) -> Vec<(String, String)> {
    let tool = |name: &str| dir.join(name).display().to_string();
    let mut env = vec![
        ("CC".to_string(), tool("wasmctypes-cc")),
        ("AR".to_string(), tool("wasmctypes-ar")),
        ("RANLIB".to_string(), tool("wasmctypes-ranlib")),
    ];
    for (var, llvm) in [
        ("NM", "llvm-nm-19"),
        ("STRIP", "llvm-strip-19"),
        ("OBJDUMP", "llvm-objdump-19"),
        ("LD", "wasm-ld-19"),
    ] {
        if let Some(path) = super::on_path(llvm) {
            env.push((var.to_string(), path.display().to_string()));
        }
    }
    // Host programs a build compiles and runs while building (code generators) still
    // need a host compiler.
    env.push(("CC_FOR_BUILD".into(), host_cc()));
    env.push(("BUILD_CC".into(), host_cc()));
    env
}

fn host_cc() -> String {
    ["cc", "gcc", "clang-19"]
        .iter()
        .find_map(|n| super::on_path(n))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "cc".into())
}

/// Runs `program args` with the sandbox's build environment; its exit status.
fn run(program: &str, args: &[String], env: &[(String, String)]) -> Result<i32> {
    let st = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .status()
        .map_err(|e| Error::os(Path::new(program), format!("cannot run it: {e}")))?;
    use std::os::unix::process::ExitStatusExt;
    Ok(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)))
}

/// `wasmctypes configure CMD ARGS...`: CMD (`./configure`, `sh configure`, ...) with the
/// build environment, and `--host=wasm32-unknown-wasi` unless given.
pub fn configure(exe: &Path, cmd: &[String]) -> Result<i32> {
    let (program, args) = cmd.split_first().ok_or_else(|| {
        Error::TypeError("wasmctypes configure: a command is required (./configure ...)".into())
    })?;
    let mut args = args.to_vec();
    if !args
        .iter()
        .any(|a| a == "--host" || a.starts_with("--host="))
    {
        args.push(format!("--host={TARGET}"));
    }
    run(program, &args, &environment(&tools_dir(exe)?))
}

/// `wasmctypes make ARGS...`: `make` with the build environment.
pub fn make(exe: &Path, args: &[String]) -> Result<i32> {
    run("make", args, &environment(&tools_dir(exe)?))
}

/// `wasmctypes cmake ARGS...`: `cmake` with the build environment and the sandbox's
/// toolchain file, unless the arguments name one (or only build or install, `--build` /
/// `--install`, which need none).
pub fn cmake(exe: &Path, args: &[String]) -> Result<i32> {
    let dir = tools_dir(exe)?;
    let mut args = args.to_vec();
    let configuring = !args
        .iter()
        .any(|a| a == "--build" || a == "--install" || a == "-E" || a == "-P");
    if configuring && !args.iter().any(|a| a.contains("CMAKE_TOOLCHAIN_FILE")) {
        args.insert(
            0,
            format!(
                "-DCMAKE_TOOLCHAIN_FILE={}",
                dir.join("toolchain.cmake").display()
            ),
        );
    }
    run("cmake", &args, &environment(&dir))
}
