//! Building C into a wasm32-wasi module and a host shared object, and the sandbox's libc.
//!
//! Each source is compiled twice, at the same optimisation level ([`OptLevel`], `-O2` unless
//! asked otherwise): `NAME.wasm` for wasm32-wasi and `libNAME.so` for the host (`-fPIC
//! -shared`), by the same clang unless `$CC` names another host compiler. With Debian's
//! clang 19 the module is a position-independent *side module* (`-fPIC`, `wasm-ld -shared
//! --experimental-pic`): it imports libc from the sandbox it is loaded into, as a `.so`
//! imports it from the process (see [`libc`] for the libc module). With `$WASI_SDK_PATH` or
//! `$CC_WASM` it is a standalone reactor that links its own copy of libc, which loads in a
//! sandbox of its own.
//!
//! The wasm compiler is found in this order: `$WASI_SDK_PATH` (a wasi-sdk install), `$CC_WASM`,
//! then Debian's `clang-19` with `lld-19`, `wasi-libc` and `libclang-rt-19-dev-wasm32`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::cache::{cache_dir, private_dir, seal, unseal};
use crate::error::{Error, Result};

/// The Debian packages that provide the guest toolchain.
pub const DEBIAN_PACKAGES: &str = "clang-19 lld-19 llvm-19 wasi-libc libclang-rt-19-dev-wasm32";

pub mod build_system;
pub mod driver;
pub mod libc;
pub mod variadic;

/// Compiler flags of a side module's object (then linked by [`SIDE_LINK_FLAGS`]).
pub const SIDE_FLAGS: &[&str] = &[
    "--target=wasm32-wasi",
    "-fPIC",
    "-fvisibility=default",
    "-c",
];

/// `wasm-ld` flags of a side module: a `dylink.0` section, its libc calls left as imports
/// that the sandbox's dynamic linker resolves, every default-visibility symbol exported.
pub const SIDE_LINK_FLAGS: &[&str] = &[
    "-shared",
    "--experimental-pic",
    "--unresolved-symbols=import-dynamic",
];

/// Flags that make a standalone reactor which exports what the runtime needs.
pub const WASM_FLAGS: &[&str] = &[
    "--target=wasm32-wasi",
    "-mexec-model=reactor",
    "-fvisibility=default",
    "-Wl,--export-dynamic",
    "-Wl,--export=malloc",
    "-Wl,--export=free",
    "-Wl,--export-table",
    "-Wl,--growable-table",
    // Flushed before output is taken, so buffered stdio is never lost.
    "-Wl,--export=fflush",
    // Restored after a trap, so the next call starts with a clean shadow stack.
    "-Wl,--export=__stack_pointer",
    "-Wl,--export-if-defined=errno",
    // The shadow stack sits below the data: overflowing it runs off address 0 and traps,
    // instead of silently overwriting globals.
    "-Wl,--stack-first",
];

/// Flags for the host shared object.
pub const HOST_FLAGS: &[&str] = &["-fPIC", "-shared"];

/// The optimisation level both compilers get (`-O2` unless asked otherwise): the same on
/// both sides, so that a difference between the builds is the platform's, not the
/// optimiser's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OptLevel {
    /// `-O0`: the fastest build (a large test corpus builds several times faster).
    O0,
    /// `-O1`.
    O1,
    /// `-O2`, the default.
    #[default]
    O2,
    /// `-O3`.
    O3,
    /// `-Os`.
    Os,
    /// `-Oz`.
    Oz,
}

impl OptLevel {
    /// The compiler flag.
    pub fn flag(self) -> &'static str {
        match self {
            OptLevel::O0 => "-O0",
            OptLevel::O1 => "-O1",
            OptLevel::O2 => "-O2",
            OptLevel::O3 => "-O3",
            OptLevel::Os => "-Os",
            OptLevel::Oz => "-Oz",
        }
    }
}

impl std::str::FromStr for OptLevel {
    type Err = Error;

    /// `0`, `1`, `2`, `3`, `s` or `z`, with or without the `-O` / `O` in front.
    fn from_str(s: &str) -> Result<OptLevel> {
        let level = s.strip_prefix('-').unwrap_or(s);
        let level = level.strip_prefix('O').unwrap_or(level);
        Ok(match level {
            "0" => OptLevel::O0,
            "1" => OptLevel::O1,
            "2" => OptLevel::O2,
            "3" => OptLevel::O3,
            "s" => OptLevel::Os,
            "z" => OptLevel::Oz,
            _ => {
                return Err(Error::ValueError(format!(
                    "optimisation level {s:?}: expected 0, 1, 2, 3, s or z"
                )))
            }
        })
    }
}

/// The two files built from one source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Built {
    /// `NAME.wasm`.
    pub wasm: PathBuf,
    /// `libNAME.so`.
    pub native: PathBuf,
}

/// A located pair of compilers.
#[derive(Clone, Debug)]
pub struct Toolchain {
    wasm_cc: PathBuf,
    wasm_extra: Vec<String>,
    /// `wasm-ld` of the same LLVM, when modules are side modules (Debian's clang 19).
    side_ld: Option<PathBuf>,
    /// `llvm-objcopy` of the same LLVM, which adds the list of variadic functions to a side
    /// module (see [`variadic`]).
    objcopy: Option<PathBuf>,
    host_cc: PathBuf,
    opt: OptLevel,
    /// Whether both builds keep DWARF (`-g`, the default): the library's own C prototypes,
    /// which `inspect` prints and bindings are checked against (see [`crate::prototype`]).
    debug: bool,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl Toolchain {
    /// Finds the compilers, or says exactly what to install.
    ///
    /// The host compiler is `$CC`; without it, Debian's `clang-19` when that also builds the
    /// modules (one compiler, one version and one set of flags on both sides, so that a
    /// difference between the builds is the platform's, not two optimisers'; it is also
    /// several times faster than gcc on a large test corpus), else `cc` or `gcc`.
    pub fn find() -> Result<Toolchain> {
        let env_cc = std::env::var_os("CC")
            .filter(|cc| !cc.is_empty())
            .map(PathBuf::from);
        let host_cc = env_cc
            .clone()
            .or_else(|| on_path("cc"))
            .or_else(|| on_path("gcc"))
            .or_else(|| on_path("clang-19"))
            .ok_or_else(|| {
                Error::Toolchain(
                    "no host C compiler found: install gcc (apt-get install gcc) or set CC".into(),
                )
            })?;
        if let Some(sdk) = std::env::var_os("WASI_SDK_PATH") {
            let sdk = PathBuf::from(sdk);
            let cc = sdk.join("bin").join("clang");
            if !cc.is_file() {
                return Err(Error::Toolchain(format!(
                    "WASI_SDK_PATH is set but {} does not exist",
                    cc.display()
                )));
            }
            let sysroot = sdk.join("share").join("wasi-sysroot");
            return Ok(Toolchain {
                wasm_cc: cc,
                wasm_extra: vec![format!("--sysroot={}", sysroot.display())],
                side_ld: None,
                objcopy: None,
                host_cc,
                opt: OptLevel::default(),
                debug: true,
            });
        }
        if let Some(cc) = std::env::var_os("CC_WASM") {
            return Ok(Toolchain {
                wasm_cc: PathBuf::from(cc),
                wasm_extra: Vec::new(),
                side_ld: None,
                objcopy: None,
                host_cc,
                opt: OptLevel::default(),
                debug: true,
            });
        }
        let missing = || {
            Error::Toolchain(format!(
                "no wasm32-wasi C toolchain found: install the Debian packages {DEBIAN_PACKAGES} \
                 (apt-get install {DEBIAN_PACKAGES}), or set WASI_SDK_PATH or CC_WASM"
            ))
        };
        let cc = on_path("clang-19").ok_or_else(missing)?;
        let ld = on_path("wasm-ld-19").ok_or_else(missing)?;
        if !Path::new(libc::WASI_LIBC).join("libc.a").is_file() {
            return Err(missing());
        }
        Ok(Toolchain {
            host_cc: env_cc.unwrap_or_else(|| cc.clone()),
            wasm_cc: cc,
            wasm_extra: Vec::new(),
            side_ld: Some(ld),
            objcopy: on_path("llvm-objcopy-19"),
            opt: OptLevel::default(),
            debug: true,
        })
    }

    /// This toolchain building at optimisation level `opt` (both compilers).
    pub fn with_opt_level(mut self, opt: OptLevel) -> Toolchain {
        self.opt = opt;
        self
    }

    /// This toolchain keeping DWARF in both builds (`-g`, the default) or not (`--strip`).
    /// The code is the same either way: the module keeps it in custom sections, the shared
    /// object in `.debug_*` sections.
    pub fn with_debug_info(mut self, on: bool) -> Toolchain {
        self.debug = on;
        self
    }

    /// The flags that say whether to keep DWARF.
    fn debug_flags(&self) -> Vec<String> {
        if self.debug {
            vec!["-g".into()]
        } else {
            vec!["-g0".into()]
        }
    }

    /// Whether [`Toolchain::build`] makes side modules (loaded into a sandbox with the libc
    /// module) rather than standalone reactors.
    pub fn makes_side_modules(&self) -> bool {
        self.side_ld.is_some()
    }

    /// A string that changes whenever the compilers or flags change; part of the cache key.
    pub fn identity(&self) -> String {
        format!(
            "{}|{}|{}|{:?}|{:?} {}|{}|{} {}|{}|{}|{}|{}",
            self.wasm_cc.display(),
            self.wasm_extra.join(" "),
            WASM_FLAGS.join(" "),
            self.side_ld,
            self.objcopy,
            variadic::SECTION,
            SIDE_FLAGS.join(" "),
            SIDE_LINK_FLAGS.join(" "),
            libc::BUILTINS,
            self.host_cc.display(),
            HOST_FLAGS.join(" "),
            self.opt.flag(),
            self.debug_flags().join(" ")
        )
    }

    fn run(&self, cc: &Path, args: &[String], source: &Path) -> Result<()> {
        let out = Command::new(cc)
            .args(args)
            .output()
            .map_err(|e| Error::Toolchain(format!("cannot run {}: {e}", cc.display())))?;
        if !out.status.success() {
            let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stdout));
            return Err(Error::Compile {
                file: source.to_path_buf(),
                output: text.trim_end().to_string(),
            });
        }
        Ok(())
    }

    /// Compiles `source` into `out_dir/NAME.wasm` and `out_dir/libNAME.so`.
    pub fn build(&self, source: &Path, out_dir: &Path) -> Result<Built> {
        let name = source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .ok_or_else(|| Error::os(source, "not a C file name"))?;
        self.build_module(&[source.to_path_buf()], &[], &name, out_dir)
    }

    /// Compiles `sources` together into one library, `out_dir/NAME.wasm` and
    /// `out_dir/libNAME.so`, each compile also given `flags` (`-I`, `-D`, `-U`, as a C
    /// compiler takes them).
    pub fn build_module(
        &self,
        sources: &[PathBuf],
        flags: &[String],
        name: &str,
        out_dir: &Path,
    ) -> Result<Built> {
        let first = sources
            .first()
            .ok_or_else(|| Error::TypeError("no C source to build".into()))?;
        for source in sources {
            if !source.is_file() {
                return Err(Error::os(source, "No such file or directory"));
            }
        }
        if name.is_empty() || name.contains('/') {
            return Err(Error::ValueError(format!("{name:?} is not a library name")));
        }
        std::fs::create_dir_all(out_dir).map_err(|e| Error::os(out_dir, e))?;
        let built = Built {
            wasm: out_dir.join(format!("{name}.wasm")),
            native: out_dir.join(format!("lib{name}.so")),
        };
        let mut host_args: Vec<String> = HOST_FLAGS.iter().map(|s| s.to_string()).collect();
        host_args.push(self.opt.flag().into());
        host_args.extend(self.debug_flags());
        host_args.extend(flags.iter().cloned());
        host_args.extend(["-o".into(), built.native.display().to_string()]);
        host_args.extend(sources.iter().map(|s| s.display().to_string()));
        // The two compilers run at once: a large source builds in the time of the slower.
        let (wasm, host) = std::thread::scope(|scope| {
            let wasm = scope.spawn(|| self.build_wasm(sources, flags, &built.wasm));
            let host = self.run(&self.host_cc, &host_args, first);
            (wasm.join(), host)
        });
        wasm.unwrap_or_else(|_| Err(Error::Toolchain("the wasm compile panicked".into())))?;
        host?;
        Ok(built)
    }

    /// Compiles `sources` into the module `out`: a side module with clang 19, a reactor
    /// otherwise.
    fn build_wasm(&self, sources: &[PathBuf], flags: &[String], out: &Path) -> Result<()> {
        let Some(ld) = &self.side_ld else {
            return self.reactor(sources, flags, out);
        };
        let mut objects = Vec::with_capacity(sources.len());
        let compiled = sources.iter().enumerate().try_for_each(|(i, source)| {
            let object = out.with_extension(format!("{i}.o"));
            let mut cc_args: Vec<String> = SIDE_FLAGS.iter().map(|s| s.to_string()).collect();
            cc_args.push(self.opt.flag().into());
            cc_args.extend(self.debug_flags());
            cc_args.extend(self.wasm_extra.iter().cloned());
            cc_args.extend(flags.iter().cloned());
            cc_args.extend([
                "-o".into(),
                object.display().to_string(),
                source.display().to_string(),
            ]);
            objects.push(object);
            self.run(&self.wasm_cc, &cc_args, source)
        });
        let linked = compiled.and_then(|()| {
            let mut ld_args: Vec<String> = SIDE_LINK_FLAGS.iter().map(|s| s.to_string()).collect();
            ld_args.extend(objects.iter().map(|o| o.display().to_string()));
            // compiler-rt's builtins in the module, as libgcc's are in a native `.so`.
            if Path::new(libc::BUILTINS).is_file() {
                ld_args.push(libc::BUILTINS.into());
            }
            ld_args.extend(["-o".into(), out.display().to_string()]);
            self.run(ld, &ld_args, &sources[0])
        });
        for object in &objects {
            let _ = std::fs::remove_file(object);
        }
        linked?;
        // The module says which of its functions are variadic (see `variadic`).
        if let Some(objcopy) = &self.objcopy {
            let mut args = vec![SIDE_FLAGS[0].to_string()];
            args.extend(self.wasm_extra.iter().cloned());
            args.extend(flags.iter().cloned());
            let mut functions = Vec::new();
            for source in sources {
                functions.extend(variadic::declared(&self.wasm_cc, &args, source)?);
            }
            functions.sort();
            functions.dedup_by(|a, b| a.0 == b.0);
            variadic::embed(objcopy, out, &functions)?;
        }
        Ok(())
    }

    fn reactor(&self, sources: &[PathBuf], flags: &[String], out: &Path) -> Result<()> {
        let mut args: Vec<String> = WASM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(self.opt.flag().into());
        args.extend(self.debug_flags());
        args.extend(self.wasm_extra.iter().cloned());
        args.extend(flags.iter().cloned());
        args.extend(["-o".into(), out.display().to_string()]);
        args.extend(sources.iter().map(|s| s.display().to_string()));
        self.run(&self.wasm_cc, &args, &sources[0])
    }

    /// Compiles `source` into a standalone reactor `out`, which links its own libc and loads
    /// in a sandbox of its own: the module format of other toolchains (wasi-sdk, Rust's
    /// `wasm32-wasip1`), kept loadable.
    pub fn build_reactor(&self, source: &Path, out: &Path) -> Result<()> {
        self.reactor(&[source.to_path_buf()], &[], out)
    }

    /// Builds `source` into a cache directory keyed by the source's content hash and the
    /// toolchain identity; a second call with the same content returns at once. The entry is
    /// sealed (see the `cache` module): outputs that do not hash to what was built, or an entry
    /// made from another source, are built again, never loaded. Without a trusted cache the
    /// outputs go to a fresh private directory of this process.
    pub fn build_cached(&self, source: &Path) -> Result<Built> {
        let content = std::fs::read(source).map_err(|e| Error::os(source, e))?;
        let mut h = Sha256::new();
        h.update(self.identity().as_bytes());
        h.update([0]);
        h.update(&content);
        let made_from: [u8; 32] = h.finalize().into();
        let key = entry_key(&made_from);
        let name = source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        static BUILDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(cache) = cache_dir().and_then(|root| private_dir(&root.join("c"))) else {
            let dir = std::env::temp_dir()
                .join(format!("wasmctypes-build-{}-{n}-{key}", std::process::id()));
            make_private_dir(&dir)?;
            return self.build_sealed(source, &dir, &made_from);
        };
        let dir = cache.join(format!("{name}-{key}"));
        let built = Built {
            wasm: dir.join(format!("{name}.wasm")),
            native: dir.join(format!("lib{name}.so")),
        };
        if verified(&dir, &built, &made_from) {
            return Ok(built);
        }
        // Build beside the final place, then rename: concurrent builders never see half an
        // entry. A stale or tampered entry is moved out of the way first.
        let tmp = dir.with_extension(format!("tmp{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        make_private_dir(&tmp)?;
        if let Err(e) = self.build_sealed(source, &tmp, &made_from) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if dir.exists() && !verified(&dir, &built, &made_from) {
            let _ = std::fs::remove_dir_all(&dir);
        }
        if std::fs::rename(&tmp, &dir).is_err() {
            // Another process won the race; its result is the same.
            let _ = std::fs::remove_dir_all(&tmp);
        }
        if verified(&dir, &built, &made_from) {
            Ok(built)
        } else {
            Err(Error::os(&dir, "build cache entry is incomplete"))
        }
    }

    /// [`Toolchain::build`] into the private directory `dir`, outputs made `0600` (the module)
    /// and `0700` (the shared object), with the seal of what they hash to.
    fn build_sealed(&self, source: &Path, dir: &Path, made_from: &[u8; 32]) -> Result<Built> {
        let built = self.build(source, dir)?;
        let mut manifest = Vec::with_capacity(64);
        for (file, mode) in [(&built.wasm, 0o600), (&built.native, 0o700)] {
            std::fs::set_permissions(file, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .map_err(|e| Error::os(file, e))?;
            manifest
                .extend_from_slice(&file_hash(file).ok_or_else(|| Error::os(file, "unreadable"))?);
        }
        crate::cache::write_private(&dir.join(SEAL), &seal(made_from, &manifest), 0o600)
            .map_err(|e| Error::os(dir, e))?;
        Ok(built)
    }
}

/// The name of a cache entry made from `made_from`: its first 12 bytes in hex.
fn entry_key(made_from: &[u8; 32]) -> String {
    made_from
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The file in a build cache entry that records what its outputs hash to.
const SEAL: &str = "outputs.sealed";

fn file_hash(path: &Path) -> Option<[u8; 32]> {
    Some(Sha256::digest(std::fs::read(path).ok()?).into())
}

/// Whether the entry in `dir` was built from `made_from` and its outputs are what was built.
fn verified(dir: &Path, built: &Built, made_from: &[u8; 32]) -> bool {
    let Ok(entry) = std::fs::read(dir.join(SEAL)) else {
        return false;
    };
    let Some(manifest) = unseal(&entry, made_from) else {
        return false;
    };
    let mut expected = manifest.chunks_exact(32);
    [&built.wasm, &built.native].iter().all(
        |file| matches!((expected.next(), file_hash(file)), (Some(want), Some(got)) if want == got),
    )
}

/// Creates `dir` with mode `0700` (its parents as usual).
fn make_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::os(parent, e))?;
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::os(dir, e))
}

#[cfg(test)]
mod tests {
    use super::OptLevel;

    #[test]
    fn optimisation_levels_parse_as_the_compilers_spell_them() {
        for (text, level) in [
            ("0", OptLevel::O0),
            ("-O1", OptLevel::O1),
            ("O2", OptLevel::O2),
            ("3", OptLevel::O3),
            ("s", OptLevel::Os),
            ("-Oz", OptLevel::Oz),
        ] {
            assert_eq!(text.parse::<OptLevel>().unwrap(), level, "{text}");
        }
        assert_eq!(OptLevel::default().flag(), "-O2");
        for bad in ["", "4", "-O", "fast", "02"] {
            assert_eq!(
                bad.parse::<OptLevel>().unwrap_err().kind(),
                "ValueError",
                "{bad}"
            );
        }
    }
}
