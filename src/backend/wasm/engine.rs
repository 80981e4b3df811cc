//! wasmtime engines, the epoch ticker that enforces timeouts, and compiled modules cached in
//! memory and on disk.
//!
//! One engine exists per configuration that changes compiled code (fuel metering, the stack
//! limit, NaN canonicalisation). Every engine has deterministic relaxed SIMD on and, unless
//! the sandbox turns it off, NaN canonicalisation, so the same inputs give the same bits on
//! every machine; and epoch interruption on, so a call can be stopped at its deadline. A compiled module is cached on disk under
//! [`crate::cache::cache_dir`], keyed by the module's content hash and the engine
//! configuration: a cache hit skips Cranelift. Instantiation is pre-linked (`InstancePre`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine, InstancePre, Linker, Module};

use super::dylink::{dylink, Dylink};
use super::sections;
use super::GuestState;
use crate::error::{Error, Result};

/// How often the epoch advances: the resolution of timeouts.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// What selects an engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct EngineKey {
    /// Fuel metering compiled in.
    pub(crate) fuel: bool,
    /// `max_wasm_stack`, in bytes.
    pub(crate) max_stack: usize,
    /// NaN canonicalisation compiled in.
    pub(crate) canonical_nans: bool,
}

impl EngineKey {
    /// The key of a sandbox's engine.
    pub(crate) fn of(sandbox: &crate::backend::sandbox::SandboxConfig) -> EngineKey {
        EngineKey {
            fuel: sandbox.fuel.is_some(),
            max_stack: sandbox.max_stack,
            canonical_nans: sandbox.canonical_nans,
        }
    }

    fn config(&self) -> Config {
        let mut config = Config::new();
        config.cranelift_nan_canonicalization(self.canonical_nans);
        config.relaxed_simd_deterministic(true);
        config.wasm_backtrace_max_frames(std::num::NonZeroUsize::new(64));
        config.epoch_interruption(true);
        config.consume_fuel(self.fuel);
        config.max_wasm_stack(self.max_stack);
        // A linear memory is reserved whole (4 GiB of address space on 64-bit hosts) and never
        // moves when it grows: a host address into it (`CDLL::host_pointer`, a Python
        // memoryview) stays valid.
        config.memory_may_move(false);
        config
    }

    fn text(&self) -> String {
        format!(
            "fuel={} stack={} nan-canon={} relaxed-det=1 epoch=1",
            self.fuel, self.max_stack, self.canonical_nans as u8
        )
    }
}

fn engines() -> &'static Mutex<HashMap<EngineKey, Engine>> {
    static ENGINES: OnceLock<Mutex<HashMap<EngineKey, Engine>>> = OnceLock::new();
    ENGINES.get_or_init(Default::default)
}

/// The engine for `key`, made on first use; the first engine also starts the epoch ticker.
pub(crate) fn engine(key: EngineKey) -> Result<Engine> {
    let mut all = engines().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = all.get(&key) {
        return Ok(e.clone());
    }
    let engine = Engine::new(&key.config())
        .map_err(|e| Error::Runtime(format!("cannot configure wasmtime: {e}")))?;
    all.insert(key, engine.clone());
    start_ticker();
    Ok(engine)
}

/// The wasmtime configuration a library loaded with `sandbox` is compiled and run with:
/// deterministic relaxed SIMD, epoch interruption, and NaN canonicalisation, fuel metering and
/// the stack limit as the sandbox asks. For comparisons with wasmtime alone, such as the benches'
/// floors on the sandbox's own configuration.
pub fn sandbox_config(sandbox: &crate::backend::sandbox::SandboxConfig) -> Config {
    EngineKey::of(sandbox).config()
}

/// Rounds of the ticker: bumped after every engine's epoch has advanced once.
static ROUNDS: AtomicU64 = AtomicU64::new(0);

/// The number of completed ticker rounds. While it stays the same, no engine's epoch has
/// advanced by more than one (the round in flight): a deadline set at some epoch can be kept,
/// rather than set again, at the cost of at most one tick (see `WasmLibrary::arm`).
#[inline]
pub(crate) fn ticker_rounds() -> u64 {
    ROUNDS.load(Ordering::Acquire)
}

/// Advances every engine's epoch each [`TICK`], from one background thread.
fn start_ticker() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let _ = std::thread::Builder::new()
            .name("wasmctypes-epoch".into())
            .spawn(|| loop {
                std::thread::sleep(TICK);
                let all: Vec<Engine> = engines()
                    .lock()
                    .map(|m| m.values().cloned().collect())
                    .unwrap_or_default();
                for e in all {
                    e.increment_epoch();
                }
                ROUNDS.fetch_add(1, Ordering::Release);
            });
    });
}

/// The number of ticks in a timeout (at least one).
pub(crate) fn ticks(timeout: Duration) -> u64 {
    (timeout.as_nanos().div_ceil(TICK.as_nanos()) as u64).max(1)
}

/// Where a loaded module came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadSource {
    /// Compiled by Cranelift now (and written to the disk cache).
    Compiled,
    /// Read from the disk cache: no compilation.
    DiskCache,
    /// Already loaded by this process.
    MemoryCache,
}

impl LoadSource {
    /// `compiled`, `disk cache`, `memory cache`.
    pub fn name(self) -> &'static str {
        match self {
            LoadSource::Compiled => "compiled",
            LoadSource::DiskCache => "disk cache",
            LoadSource::MemoryCache => "memory cache",
        }
    }
}

/// A module ready to instantiate.
#[derive(Clone)]
pub(crate) struct Loaded {
    pub(crate) engine: Engine,
    pub(crate) module: Module,
    /// A standalone module pre-linked with WASI; `None` for a side module, which the
    /// sandbox's dynamic linker links (see `link.rs`).
    pub(crate) pre: Option<InstancePre<GuestState>>,
    /// A side module's `dylink.0` section.
    pub(crate) dylink: Option<Dylink>,
    /// Its variadic functions and their fixed parameters, as the module lists them; `None`
    /// for a module that does not say.
    pub(crate) variadic: Option<std::sync::Arc<HashMap<String, u32>>>,
    /// Its libc's errno values by name, as the libc module lists them (see
    /// [`ERRNO`](super::sections::ERRNO)).
    pub(crate) errno: Option<std::sync::Arc<Vec<(String, i32)>>>,
    pub(crate) source: LoadSource,
    pub(crate) elapsed: Duration,
}

/// What the memory cache keeps of a module.
#[derive(Clone)]
struct Kept {
    module: Module,
    pre: Option<InstancePre<GuestState>>,
    dylink: Option<Dylink>,
    variadic: Option<std::sync::Arc<HashMap<String, u32>>>,
    errno: Option<std::sync::Arc<Vec<(String, i32)>>>,
}

type ModuleCache = HashMap<(EngineKey, [u8; 32]), Kept>;

fn modules() -> &'static Mutex<ModuleCache> {
    static MODULES: OnceLock<Mutex<ModuleCache>> = OnceLock::new();
    MODULES.get_or_init(Default::default)
}

/// Compiles (or finds in a cache) the module in `bytes`; a standalone module is pre-linked
/// with WASI.
pub(crate) fn load(
    path: &Path,
    bytes: &[u8],
    key: EngineKey,
    use_memory_cache: bool,
) -> Result<Loaded> {
    let start = Instant::now();
    let engine = engine(key)?;
    let hash: [u8; 32] = Sha256::digest(bytes).into();
    if use_memory_cache {
        if let Some(kept) = modules()
            .lock()
            .ok()
            .and_then(|m| m.get(&(key, hash)).cloned())
        {
            return Ok(Loaded {
                engine,
                module: kept.module,
                pre: kept.pre,
                dylink: kept.dylink,
                variadic: kept.variadic,
                errno: kept.errno,
                source: LoadSource::MemoryCache,
                elapsed: start.elapsed(),
            });
        }
    }
    let side =
        dylink(bytes).map_err(|e| Error::os(path, format!("invalid WebAssembly module: {e}")))?;
    let variadic = super::dylink::custom_section(bytes, sections::VARIADIC)
        .map(|c| std::sync::Arc::new(sections::parse_variadic(c)));
    let errno = super::dylink::custom_section(bytes, sections::ERRNO)
        .map(|c| std::sync::Arc::new(sections::parse_errno(c)));
    // What an entry is made from: this crate's version, the engine configuration and the
    // module. The entry's seal records it, so another module's artifact is never run.
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(key.text().as_bytes());
    h.update(hash);
    let source: [u8; 32] = h.finalize().into();
    let name: String = source.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let file = crate::cache::cache_dir()
        .and_then(|root| crate::cache::private_dir(&root.join("modules")))
        .map(|dir| dir.join(format!("{name}.cwasm")));
    let cached = file.as_ref().and_then(|file| {
        let entry = std::fs::read(file).ok()?;
        let artifact = crate::cache::unseal(&entry, &source)?;
        // SAFETY: the artifact is whole (its hash is checked) and was written, in a directory
        // only this user can write, from this very module compiled with this engine
        // configuration (both are in `source`, which the seal records); wasmtime checks the
        // engine's compatibility as well.
        unsafe { Module::deserialize(&engine, artifact) }.ok()
    });
    let (module, source_kind) = match cached {
        Some(m) => (m, LoadSource::DiskCache),
        None => {
            let m = Module::from_binary(&engine, bytes)
                .map_err(|e| Error::os(path, format!("invalid WebAssembly module: {e}")))?;
            if let (Some(file), Ok(serialized)) = (&file, m.serialize()) {
                let _ = crate::cache::write_private(
                    file,
                    &crate::cache::seal(&source, &serialized),
                    0o600,
                );
            }
            (m, LoadSource::Compiled)
        }
    };
    let pre = match side {
        Some(_) => None,
        None => Some(pre_link(path, &engine, &module)?),
    };
    if let Ok(mut m) = modules().lock() {
        m.insert(
            (key, hash),
            Kept {
                module: module.clone(),
                pre: pre.clone(),
                dylink: side.clone(),
                variadic: variadic.clone(),
                errno: errno.clone(),
            },
        );
    }
    Ok(Loaded {
        engine,
        module,
        pre,
        dylink: side,
        variadic,
        errno,
        source: source_kind,
        elapsed: start.elapsed(),
    })
}

/// A standalone module linked with WASI preview1, ready to instantiate.
fn pre_link(path: &Path, engine: &Engine, module: &Module) -> Result<InstancePre<GuestState>> {
    let mut linker: Linker<GuestState> = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut GuestState| &mut s.wasi)
        .map_err(|e| Error::Runtime(format!("cannot link WASI: {e}")))?;
    // WASI's own proc_exit refuses statuses past 125 with a generic trap, which hides a C
    // `exit(-1)` or `_exit(200)`. Any status ends the call as `GuestExit`, with the low byte
    // that the same exit gives natively.
    linker.allow_shadowing(true);
    linker
        .func_wrap(
            "wasi_snapshot_preview1",
            "proc_exit",
            |status: i32| -> wasmtime::Result<()> {
                Err(wasmtime_wasi::I32Exit(status & 0xff).into())
            },
        )
        .map_err(|e| Error::Runtime(format!("cannot link proc_exit: {e}")))?;
    linker
        .instantiate_pre(module)
        .map_err(|e| Error::os(path, format!("cannot link the module: {e:#}")))
}
