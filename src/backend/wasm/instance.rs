//! Instantiation: a module loaded (from the module cache when it can), instantiated in a
//! fresh store under the sandbox's limits, its `_initialize` run; and `reset()`, which does it
//! again.

use std::path::Path;

use wasmtime::{Global, Instance, Memory, Store, TypedFunc, Val};

use super::{
    engine, trap_error, wasi_context, Capture, EngineKey, GuestState, Limiter, Loaded,
    VirtualClock, WasmLibrary, CAPTURE_LIMIT,
};
use crate::backend::sandbox::Sandbox;
use crate::backend::LoadOptions;
use crate::error::{Error, Result, TrapKind};

/// The live instance, in its own store, and the exports the runtime uses: all of it made
/// anew by [`WasmLibrary::reset`].
pub(super) struct Live {
    pub(super) store: Store<GuestState>,
    pub(super) instance: Instance,
    pub(super) memory: Memory,
    pub(super) malloc: TypedFunc<u32, u32>,
    pub(super) free: TypedFunc<u32, ()>,
    pub(super) fflush: Option<TypedFunc<u32, i32>>,
    /// The `__stack_pointer` global and its value between calls, restored after a trap.
    pub(super) stack_pointer: Option<(Global, Val)>,
}

impl WasmLibrary {
    /// Loads a reactor module (from the module cache when it can), instantiates it under the
    /// sandbox of `options`, and runs its `_initialize` once.
    pub(crate) fn open(path: &Path, options: &LoadOptions) -> Result<WasmLibrary> {
        let bytes = std::fs::read(path).map_err(|e| Error::os(path, e))?;
        if !bytes.starts_with(b"\0asm") {
            return Err(Error::os(
                path,
                "not a WebAssembly module (no \\0asm header)",
            ));
        }
        let sandbox = options.sandbox.clone();
        let key = EngineKey::of(&sandbox);
        let loaded = engine::load(path, &bytes, key, true)?;
        let capture = options.capture_output.unwrap_or(true);
        let stdout = Capture::new(CAPTURE_LIMIT);
        let stderr = Capture::new(CAPTURE_LIMIT);
        let clock = VirtualClock::default();
        let deadline_ticks = sandbox.timeout.map(engine::ticks).unwrap_or(u64::MAX / 2);
        let parts = WasmLibrary::instantiate(
            path,
            &loaded,
            &sandbox,
            &clock,
            capture.then_some((&stdout, &stderr)),
            deadline_ticks,
        )?;
        Ok(WasmLibrary {
            _thread: std::marker::PhantomData,
            path: path.to_path_buf(),
            loaded,
            sandbox,
            clock,
            live: parts,
            deadline_ticks,
            armed_round: u64::MAX,
            generation: 0,
            protos: Vec::new(),
            free_slots: Vec::new(),
            slot_ids: std::collections::HashMap::new(),
            stdout,
            stderr,
            capture,
        })
    }

    pub(super) fn instantiate(
        path: &Path,
        loaded: &Loaded,
        sandbox: &Sandbox,
        clock: &VirtualClock,
        capture: Option<(&Capture, &Capture)>,
        deadline_ticks: u64,
    ) -> Result<Live> {
        let mut store = Store::new(
            &loaded.engine,
            GuestState {
                wasi: wasi_context(sandbox, clock, capture)?,
                limits: Limiter {
                    max_memory: sandbox.max_memory,
                    max_table_elements: sandbox.max_table_elements,
                },
                callbacks: Vec::new(),
                callback_error: None,
            },
        );
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(deadline_ticks);
        if let Some(fuel) = sandbox.fuel {
            let _ = store.set_fuel(fuel);
        }
        let instance = loaded
            .pre
            .instantiate(&mut store)
            .map_err(|e| match trap_error(e) {
                Error::Trap {
                    kind: TrapKind::MemoryLimit,
                    message,
                    ..
                } => Error::Trap {
                    kind: TrapKind::MemoryLimit,
                    message: format!("cannot instantiate {}: {message}", path.display()),
                    backtrace: String::new(),
                    status: None,
                },
                other => Error::os(path, format!("cannot instantiate: {}", other.message())),
            })?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| Error::os(path, "module exports no memory named \"memory\""))?;
        let malloc = instance
            .get_typed_func::<u32, u32>(&mut store, "malloc")
            .map_err(|_| {
                Error::os(
                    path,
                    "module does not export malloc(i32) -> i32; build it with -Wl,--export=malloc",
                )
            })?;
        let free = instance
            .get_typed_func::<u32, ()>(&mut store, "free")
            .map_err(|_| {
                Error::os(
                    path,
                    "module does not export free(i32); build it with -Wl,--export=free",
                )
            })?;
        let fflush = instance
            .get_typed_func::<u32, i32>(&mut store, "fflush")
            .ok();
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ()).map_err(|e| match trap_error(e) {
                Error::Trap {
                    kind,
                    message,
                    backtrace,
                    status,
                } if kind != TrapKind::Other => Error::Trap {
                    kind,
                    message: format!("_initialize failed: {message}"),
                    backtrace,
                    status,
                },
                other => Error::os(path, format!("_initialize failed: {other}")),
            })?;
        }
        let stack_pointer = instance.get_global(&mut store, "__stack_pointer").map(|g| {
            let v = g.get(&mut store);
            (g, v)
        });
        Ok(Live {
            store,
            instance,
            memory,
            malloc,
            free,
            fflush,
            stack_pointer,
        })
    }

    /// Throws the instance away and makes a fresh one from the same (cached) module: the
    /// library's memory, globals and table are as after loading. Prepared prototypes stay
    /// valid; callbacks and memory objects made before are gone.
    pub(crate) fn reset(&mut self) -> Result<()> {
        let capture = self.capture.then_some((&self.stdout, &self.stderr));
        let parts = WasmLibrary::instantiate(
            &self.path,
            &self.loaded,
            &self.sandbox,
            &self.clock,
            capture,
            self.deadline_ticks,
        )?;
        self.live = parts;
        self.armed_round = u64::MAX;
        self.generation += 1;
        self.free_slots.clear();
        self.slot_ids.clear();
        let _ = self.stdout.drain();
        let _ = self.stderr.drain();
        for p in &mut self.protos {
            p.func = self
                .live
                .instance
                .get_func(&mut self.live.store, &p.name)
                .ok_or_else(|| Error::Runtime(format!("{} vanished after reset", p.name)))?;
        }
        Ok(())
    }
}
