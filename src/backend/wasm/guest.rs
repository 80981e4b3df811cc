//! What a guest's store holds: its WASI context (nothing of the host unless the sandbox
//! grants it), its limits and the host's callbacks.

use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::WasiCtxBuilder;

use super::{Capture, Limiter, SeededRandom, VirtualClock, WasmCallback};
use crate::backend::sandbox::SandboxConfig;
use crate::error::{Error, Result};

/// Per-store state: the guest's WASI context, its limits and the host's callbacks.
pub(crate) struct GuestState {
    pub(crate) wasi: WasiP1Ctx,
    pub(super) limits: Limiter,
    /// Callbacks by id; a host function in the table finds its closure here.
    pub(super) callbacks: Vec<Option<WasmCallback>>,
    /// The error the last failing callback returned.
    pub(super) callback_error: Option<Error>,
    /// The sandbox's linear memory (the main module's), once instantiated.
    pub(super) memory: Option<wasmtime::Memory>,
    /// libc's `malloc` and `free`, once instantiated: what a callback allocates with.
    pub(super) allocator: Option<(wasmtime::TypedFunc<u32, u32>, wasmtime::TypedFunc<u32, ()>)>,
    /// The entries into the guest in flight, shared with the store's owner (see
    /// [`GuestStore`](super::store::GuestStore)); set once the store is made.
    pub(super) entries: Option<Shared>,
}

/// The store's share of [`Entries`](super::store::Entries).
pub(crate) struct Shared(pub(super) std::rc::Rc<super::store::Entries>);

// SAFETY: WASI's linker wants the store data to be `Send`. `Shared` lives only in the data of
// a store, which lives only in a `WasmLibrary`, which is not `Send` (see `WasmCallback`): the
// `Rc` stays on the thread that made it.
unsafe impl Send for Shared {}

/// The guest's WASI context: nothing of the host unless the sandbox grants it.
pub(super) fn wasi_context(
    sandbox: &SandboxConfig,
    clock: &VirtualClock,
    capture: Option<(&Capture, &Capture)>,
) -> Result<WasiP1Ctx> {
    let mut wasi = WasiCtxBuilder::new();
    match capture {
        Some((out, err)) => {
            wasi.stdout(out.clone()).stderr(err.clone());
        }
        None => {
            wasi.inherit_stdout().inherit_stderr();
        }
    }
    if !sandbox.real_clock {
        wasi.wall_clock(clock.clone())
            .monotonic_clock(clock.clone());
    }
    if !sandbox.real_random {
        wasi.secure_random(SeededRandom::new(sandbox.seed))
            .insecure_random(SeededRandom::new(sandbox.seed ^ 0x5eed))
            .insecure_random_seed(sandbox.seed as u128);
    }
    for (k, v) in &sandbox.env {
        wasi.env(k, v);
    }
    for d in &sandbox.dirs {
        let perms = if d.read_only {
            wasmtime_wasi::FsPerms::ReadOnly
        } else {
            wasmtime_wasi::FsPerms::ReadWrite
        };
        wasi.preopened_dir(&d.host, &d.guest, perms)
            .map_err(|e| Error::os(&d.host, format!("cannot grant the directory: {e}")))?;
    }
    Ok(wasi.build_p1())
}
