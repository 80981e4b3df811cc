//! The sandbox's libc: Debian's wasi-libc linked as the *main module* that every side module
//! is loaded into, as glibc is the `libc.so.6` every native library is linked against.
//!
//! The module is a reactor that exports its linear memory, its growable function table,
//! `__stack_pointer`, `_initialize` and the public libc API: every defined external symbol of
//! `libc.a` whose name does not start with `__` (`_Exit` and `_CLOCK_REALTIME`, which
//! `CLOCK_REALTIME` names, are public), the few `__` names that public header macros
//! expand to (`assert`'s `__assert_fail`, `fpclassify`'s `__fpclassify`, ...), and compiler-rt's
//! builtins (`__multi3`, `__addtf3`, ...), which position-independent code calls as imports. It
//! is never `--export-all`: wasi-libc's internals stay private.
//!
//! It is built the first time a sandbox needs it (`wasm-ld-19` and `llvm-nm-19`, about 0.1 s)
//! and kept in the build cache, sealed like any build (see the `cache` module).
//! `$WASMCTYPES_LIBC` names a prebuilt libc module instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

use crate::cache::{cache_dir, private_dir, seal, unseal, write_private};
use crate::error::{Error, Result};

/// Where Debian's `wasi-libc` installs `libc.a` and the reactor start file.
pub const WASI_LIBC: &str = "/usr/lib/wasm32-wasi";

/// compiler-rt's builtins for wasm32 (Debian's `libclang-rt-19-dev-wasm32`).
pub const BUILTINS: &str = "/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a";

/// `__` names of libc that public headers' macros and inline functions call.
const HEADER_INTERNALS: &[&str] = &[
    "__assert_fail",
    "__ctype_b_loc",
    "__ctype_get_mb_cur_max",
    "__ctype_tolower_loc",
    "__ctype_toupper_loc",
    // Destructors of a side module are registered with it by its constructors.
    "__cxa_atexit",
    "__cxa_finalize",
    "__errno_location",
    "__fpclassify",
    "__fpclassifyf",
    "__fpclassifyl",
    "__signbit",
    "__signbitf",
    "__signbitl",
    "__isnan",
    "__isnanf",
    "__isnanl",
];

/// What the libc module adds to wasi-libc, compiled with it: the stack protector's guard and
/// failure handler (`-fstack-protector`, which many builds turn on: a smashed stack traps),
/// the guard drawn from the sandbox's random stream at start-up, as glibc draws it from
/// `AT_RANDOM`.
const SUPPORT_C: &str = r#"
#include <stdint.h>
#include <unistd.h>
uintptr_t __stack_chk_guard = 0x5e3a91d7u;
_Noreturn void __stack_chk_fail(void) { __builtin_trap(); }
__attribute__((constructor)) static void __wasmctypes_guard(void) {
    uintptr_t g;
    if (getentropy(&g, sizeof g) == 0 && g != 0) __stack_chk_guard = g;
}
"#;

/// The names of [`SUPPORT_C`] the module exports.
const SUPPORT_EXPORTS: &[&str] = &["__stack_chk_guard", "__stack_chk_fail"];

/// The libc module: `$WASMCTYPES_LIBC` when set, otherwise built (once per process, and
/// once per toolchain and `libc.a` in the cache) from the installed wasi-libc.
pub fn libc_module() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("WASMCTYPES_LIBC") {
        return Ok(PathBuf::from(path));
    }
    static BUILT: OnceLock<Mutex<Option<PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.as_ref().filter(|p| p.is_file()) {
        return Ok(path.clone());
    }
    let path = build_cached()?;
    *built = Some(path.clone());
    Ok(path)
}

fn tool(name: &str) -> Result<PathBuf> {
    super::on_path(name).ok_or_else(|| {
        Error::Toolchain(format!(
            "{name} not found: the sandbox's libc module is linked with LLVM 19; install the \
             Debian packages {} (apt-get install {})",
            super::DEBIAN_PACKAGES,
            super::DEBIAN_PACKAGES
        ))
    })
}

/// Builds the libc module into the build cache, or finds it there with its seal intact.
fn build_cached() -> Result<PathBuf> {
    let ld = tool("wasm-ld-19")?;
    let nm = tool("llvm-nm-19")?;
    let libc_a = Path::new(WASI_LIBC).join("libc.a");
    let reactor = Path::new(WASI_LIBC).join("crt1-reactor.o");
    // The inputs are known by path, size, modification time and inode, as make and ccache
    // know theirs: a reinstalled package changes them, and reading megabytes of libc.a to
    // hash them cost every process several milliseconds. The output is still checked
    // against its seal before it is used.
    let mut h = Sha256::new();
    for input in [&libc_a, &reactor, Path::new(BUILTINS)] {
        let meta = std::fs::metadata(input).map_err(|e| {
            Error::Toolchain(format!(
                "cannot read {}: {e}; install the Debian packages {}",
                input.display(),
                super::DEBIAN_PACKAGES
            ))
        })?;
        h.update(crate::cache::file_identity(input, &meta).as_bytes());
    }
    h.update(
        format!(
            "{}|{}|{}|{:?}|{:?}|{}|{}",
            SUPPORT_C,
            ld.display(),
            nm.display(),
            HEADER_INTERNALS,
            HEADERS,
            super::variadic::SECTION,
            ERRNO_SECTION
        )
        .as_bytes(),
    );
    let made_from: [u8; 32] = h.finalize().into();
    let key = super::entry_key(&made_from);
    let dir = match cache_dir().and_then(|root| private_dir(&root.join("libc"))) {
        Some(dir) => dir,
        None => {
            let dir = std::env::temp_dir().join(format!("wasmctypes-libc-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            super::make_private_dir(&dir)?;
            dir
        }
    };
    let out = dir.join(format!("libc-{key}.wasm"));
    let sealed = dir.join(format!("libc-{key}.sealed"));
    let intact = |out: &Path| {
        let entry = std::fs::read(&sealed).ok()?;
        let want = unseal(&entry, &made_from)?.to_vec();
        let got: [u8; 32] = Sha256::digest(std::fs::read(out).ok()?).into();
        (want == got).then_some(())
    };
    if intact(&out).is_some() {
        return Ok(out);
    }
    let symbols = exported_symbols(&nm, &libc_a)?;
    let tmp = dir.join(format!("libc-{key}.{}.tmp", std::process::id()));
    let support = dir.join(format!("support-{key}.{}.o", std::process::id()));
    compile_support(&dir, &key, &support)?;
    let mut args: Vec<String> = vec![
        "--no-entry".into(),
        "--export-table".into(),
        "--growable-table".into(),
        "--stack-first".into(),
        "--strip-debug".into(),
        "--export=__stack_pointer".into(),
        "--export=_initialize".into(),
        "--export=malloc".into(),
        "--export=free".into(),
        "--export=aligned_alloc".into(),
    ];
    args.extend(symbols.iter().map(|s| format!("--export-if-defined={s}")));
    args.extend(SUPPORT_EXPORTS.iter().map(|s| format!("--export={s}")));
    args.extend([
        reactor.display().to_string(),
        support.display().to_string(),
        libc_a.display().to_string(),
        BUILTINS.to_string(),
        "-o".into(),
        tmp.display().to_string(),
    ]);
    let output = Command::new(&ld)
        .args(&args)
        .output()
        .map_err(|e| Error::Toolchain(format!("cannot run {}: {e}", ld.display())));
    let _ = std::fs::remove_file(&support);
    let output = output?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::Toolchain(format!(
            "linking the libc module failed: {}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    // The module says which of its functions are variadic, as its headers declare them, and
    // what its errno values are called.
    let objcopy = tool("llvm-objcopy-19")?;
    let described = headers_variadic(&dir, &key)
        .and_then(|variadic| super::variadic::embed(&objcopy, &tmp, &variadic))
        .and_then(|()| errno_values(&dir, &key))
        .and_then(|errno| super::variadic::add_section(&objcopy, &tmp, ERRNO_SECTION, &errno));
    if let Err(e) = described {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let bytes = std::fs::read(&tmp).map_err(|e| Error::os(&tmp, e))?;
    let _ = std::fs::remove_file(&tmp);
    let hash: [u8; 32] = Sha256::digest(&bytes).into();
    // Written whole under a temporary name and renamed: a concurrent builder never reads half
    // a module, and the seal is written last.
    let staged = dir.join(format!("libc-{key}.{}.staged", std::process::id()));
    write_private(&staged, &bytes, 0o600).map_err(|e| Error::os(&staged, e))?;
    std::fs::rename(&staged, &out).map_err(|e| Error::os(&out, e))?;
    write_private(&sealed, &seal(&made_from, &hash), 0o600).map_err(|e| Error::os(&sealed, e))?;
    Ok(out)
}

/// Compiles [`SUPPORT_C`] into the object `out`.
fn compile_support(dir: &Path, key: &str, out: &Path) -> Result<()> {
    let cc = tool("clang-19")?;
    let source = dir.join(format!("support-{key}.{}.c", std::process::id()));
    write_private(&source, SUPPORT_C.as_bytes(), 0o600).map_err(|e| Error::os(&source, e))?;
    let output = Command::new(&cc)
        .args(super::driver::COMPILE_FLAGS)
        .args(["-O2", "-fno-stack-protector", "-c", "-o"])
        .arg(out)
        .arg(&source)
        .output()
        .map_err(|e| Error::Toolchain(format!("cannot run {}: {e}", cc.display())));
    let _ = std::fs::remove_file(&source);
    let output = output?;
    if !output.status.success() {
        return Err(Error::Toolchain(format!(
            "compiling the libc module's support failed: {}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    Ok(())
}

/// The standard headers whose variadic functions the libc module lists: those of them that
/// wasi-libc has and that compile alone (`signal.h` asks for `_WASI_EMULATED_SIGNAL`).
const HEADERS: &[&str] = &[
    "stdio.h",
    "fcntl.h",
    "sys/ioctl.h",
    "wchar.h",
    "syslog.h",
    "unistd.h",
    "err.h",
    "stdlib.h",
    "string.h",
    "time.h",
    "sys/socket.h",
    "semaphore.h",
    "mqueue.h",
    "spawn.h",
    "signal.h",
    "search.h",
    "monetary.h",
    "locale.h",
];

/// The variadic functions libc's headers declare (see the `variadic` module), from a
/// translation unit of the [`HEADERS`] wasi-libc has.
fn headers_variadic(dir: &Path, key: &str) -> Result<Vec<(String, u32)>> {
    let cc = tool("clang-19")?;
    let include = Path::new("/usr/include/wasm32-wasi");
    let unit = dir.join(format!("libc-{key}.{}.headers.c", std::process::id()));
    let compiles = |source: &str| -> bool {
        write_private(&unit, source.as_bytes(), 0o600).is_ok()
            && Command::new(&cc)
                .args(["--target=wasm32-wasi", "-fsyntax-only"])
                .arg(&unit)
                .output()
                .is_ok_and(|o| o.status.success())
    };
    let source: String = HEADERS
        .iter()
        .filter(|h| include.join(h).is_file())
        .map(|h| format!("#include <{h}>\n"))
        .filter(|line| compiles(line))
        .collect();
    let found = write_private(&unit, source.as_bytes(), 0o600)
        .map_err(|e| Error::os(&unit, e))
        .and_then(|()| super::variadic::declared(&cc, &["--target=wasm32-wasi".into()], &unit));
    let _ = std::fs::remove_file(&unit);
    found
}

/// The libc module's custom section of errno values: one `NAME VALUE` line per `E*` constant
/// of its `<errno.h>` (wasi-libc's `ENOENT` is 44, glibc's 2), so that the host can give a
/// Python program the host's numbers (`ctypes.get_errno() == errno.ENOENT`).
pub const ERRNO_SECTION: &str = crate::backend::wasm::sections::ERRNO;

/// The errno constants of wasi-libc's `<errno.h>`, as `NAME VALUE` lines: their names from
/// `clang -E -dM`, their values from expanding each (they are defined through WASI's own
/// constants).
fn errno_values(dir: &Path, key: &str) -> Result<Vec<u8>> {
    let cc = tool("clang-19")?;
    let unit = dir.join(format!("libc-{key}.{}.errno.c", std::process::id()));
    let preprocess = |source: String, flags: &[&str]| -> Result<String> {
        write_private(&unit, source.as_bytes(), 0o600).map_err(|e| Error::os(&unit, e))?;
        let out = Command::new(&cc)
            .args(["--target=wasm32-wasi"])
            .args(flags)
            .arg(&unit)
            .output()
            .map_err(|e| Error::Toolchain(format!("cannot run {}: {e}", cc.display())));
        let _ = std::fs::remove_file(&unit);
        Ok(String::from_utf8_lossy(&out?.stdout).into_owned())
    };
    let defines = preprocess("#include <errno.h>\n".into(), &["-E", "-dM"])?;
    let names: Vec<&str> = defines
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            match (words.next(), words.next()) {
                (Some("#define"), Some(name))
                    if name.len() > 1
                        && name.starts_with('E')
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
                {
                    Some(name)
                }
                _ => None,
            }
        })
        .collect();
    let mut unit_text = String::from("#include <errno.h>\n");
    for name in &names {
        unit_text.push_str(&format!("errno_value_{name} {name}\n"));
    }
    let expanded = preprocess(unit_text, &["-E", "-P"])?;
    let mut lines = String::new();
    for l in expanded.lines() {
        let Some(rest) = l.strip_prefix("errno_value_") else {
            continue;
        };
        let Some((name, value)) = rest.split_once(' ') else {
            continue;
        };
        let digits: String = value.chars().filter(|c| c.is_ascii_digit()).collect();
        if let Ok(v) = digits.parse::<i32>() {
            lines.push_str(&format!("{name} {v}\n"));
        }
    }
    Ok(lines.into_bytes())
}

/// The names the libc module exports: `libc.a`'s public defined symbols, the header
/// internals, and compiler-rt's builtins but those built with a stack protector, whose
/// `__stack_chk_guard` wasi-libc does not define.
fn exported_symbols(nm: &Path, libc_a: &Path) -> Result<Vec<String>> {
    // `archive:member: [address] KIND name`, one line per symbol.
    let symbols = |archive: &Path| -> Result<Vec<(String, String, String)>> {
        let out = Command::new(nm)
            .args(["--extern-only", "--print-file-name"])
            .arg(archive)
            .output()
            .map_err(|e| Error::Toolchain(format!("cannot run {}: {e}", nm.display())))?;
        if !out.status.success() {
            return Err(Error::Toolchain(format!(
                "{} {} failed: {}",
                nm.display(),
                archive.display(),
                String::from_utf8_lossy(&out.stderr).trim_end()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (member, sym) = l.rsplit_once(": ")?;
                let mut words = sym.split_whitespace().rev();
                let name = words.next()?.to_string();
                let kind = words.next()?.to_string();
                Some((member.to_string(), kind, name))
            })
            .collect())
    };
    let defined = |kind: &str| kind != "U" && kind != "w" && kind != "v";
    let mut names: Vec<String> = symbols(libc_a)?
        .into_iter()
        .filter(|(_, kind, s)| {
            defined(kind) && (!s.starts_with("__") || HEADER_INTERNALS.contains(&s.as_str()))
        })
        .map(|(_, _, s)| s)
        .collect();
    let builtins = symbols(Path::new(BUILTINS))?;
    let guarded: std::collections::HashSet<&str> = builtins
        .iter()
        .filter(|(_, kind, s)| kind == "U" && s == "__stack_chk_guard")
        .map(|(m, _, _)| m.as_str())
        .collect();
    names.extend(
        builtins
            .iter()
            .filter(|(m, kind, _)| defined(kind) && !guarded.contains(m.as_str()))
            .map(|(_, _, s)| s.clone()),
    );
    names.sort();
    names.dedup();
    Ok(names)
}
