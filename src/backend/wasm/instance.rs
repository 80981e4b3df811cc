//! Instantiation: the sandbox's main module (the libc module, or a standalone module) loaded
//! from the module cache when it can, instantiated in a fresh store under the sandbox's
//! limits, its `_initialize` run, then the side modules linked in order; and `reset()`, which
//! does it all again.

use std::collections::HashMap;
use std::path::Path;

use wasmtime::{Global, Memory, Store, Table, TypedFunc, Val};

use super::link::Linked;
use super::store::GuestStore;
use super::{
    engine, trap_error, wasi_context, Capture, EngineKey, GuestState, Limiter, Loaded,
    VirtualClock, WasmLibrary, CAPTURE_LIMIT,
};
use crate::backend::sandbox::SandboxConfig;
use crate::backend::LoadOptions;
use crate::error::{Error, Result, TrapKind};

/// The live instance, in its own store, and the exports the runtime uses: all of it made
/// anew by [`WasmLibrary::reset`].
pub(super) struct Live {
    /// The store, used through [`GuestStore::cx`](super::store::GuestStore::cx).
    pub(super) guest: GuestStore,
    /// Every module in load order: the main module, then the side modules.
    pub(super) modules: Vec<Linked>,
    pub(super) memory: Memory,
    /// The main module's exported function table, shared by every module.
    pub(super) table: Option<Table>,
    /// The main module's `aligned_alloc`, which places side modules' data; only the libc
    /// module has it.
    pub(super) aligned_alloc: Option<TypedFunc<(u32, u32), u32>>,
    /// The table slot of each function whose address a `GOT.func` entry took.
    pub(super) func_slots: HashMap<String, u32>,
    pub(super) malloc: TypedFunc<u32, u32>,
    pub(super) free: TypedFunc<u32, ()>,
    pub(super) fflush: Option<TypedFunc<u32, i32>>,
    /// The `__stack_pointer` global and its value between calls, restored after a trap.
    pub(super) stack_pointer: Option<(Global, Val)>,
}

impl WasmLibrary {
    /// Opens `path` in a new sandbox: a side module is linked into a sandbox that starts from
    /// the libc module (it is module 1), a standalone module is the sandbox's main module (it
    /// is module 0). Returns the sandbox and the module's index.
    pub(crate) fn open(path: &Path, options: &LoadOptions) -> Result<(WasmLibrary, usize)> {
        let loaded = load_file(path, &options.sandbox)?;
        if loaded.dylink.is_none() {
            return Ok((WasmLibrary::start(path, loaded, options)?, 0));
        }
        let mut sandbox = WasmLibrary::new_sandbox(options)?;
        let id = sandbox.load_loaded(path, loaded)?;
        Ok((sandbox, id))
    }

    /// A sandbox with nothing but the libc module of `options` (which the layer above fills
    /// in: this one builds nothing).
    pub(crate) fn new_sandbox(options: &LoadOptions) -> Result<WasmLibrary> {
        let libc = options.libc.clone().ok_or_else(|| {
            Error::os(
                "libc",
                "a wasm sandbox starts from the libc module, and LoadOptions::libc names none",
            )
        })?;
        let loaded = load_file(&libc, &options.sandbox)?;
        if loaded.dylink.is_some() {
            return Err(Error::os(
                &libc,
                "the libc module must be a main module, not a side module",
            ));
        }
        WasmLibrary::start(&libc, loaded, options)
    }

    /// Links the side module at `path` into this sandbox, after the modules loaded before
    /// (`dlopen(path, RTLD_NOW | RTLD_GLOBAL)`); returns its module index.
    pub(crate) fn load_module(&mut self, path: &Path) -> Result<usize> {
        // As dlopen: a library already in the sandbox is not loaded twice (a second copy
        // would see the first one's data through the scope, not its own).
        let same = |p: &Path| match (p.canonicalize(), path.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => p == path,
        };
        if let Some(i) = self.sides.iter().position(|(p, _)| same(p)) {
            return Ok(i + 1);
        }
        let loaded = load_file(path, &self.sandbox)?;
        if loaded.dylink.is_none() {
            return Err(Error::os(
                path,
                "a standalone module (no dylink.0 section) has its own libc and memory: it \
                 loads in a sandbox of its own, not into this one",
            ));
        }
        self.load_loaded(path, loaded)
    }

    fn load_loaded(&mut self, path: &Path, loaded: Loaded) -> Result<usize> {
        self.arm();
        self.live.link(path, &loaded)?;
        self.sides.push((path.to_path_buf(), loaded));
        Ok(self.sides.len())
    }

    /// Starts a sandbox whose main module is `loaded`.
    fn start(path: &Path, loaded: Loaded, options: &LoadOptions) -> Result<WasmLibrary> {
        let sandbox = options.sandbox.clone();
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
            sides: Vec::new(),
            loaded,
            sandbox,
            clock,
            live: parts,
            deadline_ticks,
            generation: 0,
            protos: Vec::new(),
            proto_index: std::collections::HashMap::new(),
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
        sandbox: &SandboxConfig,
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
                memory: None,
                allocator: None,
                entries: None,
            },
        );
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(deadline_ticks);
        if let Some(fuel) = sandbox.fuel {
            let _ = store.set_fuel(fuel);
        }
        let pre = loaded
            .pre
            .as_ref()
            .ok_or_else(|| Error::os(path, "a side module cannot be a sandbox's main module"))?;
        let instance = pre
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
        store.data_mut().memory = Some(memory);
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
        store.data_mut().allocator = Some((malloc.clone(), free.clone()));
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
        let table = instance.get_table(&mut store, "__indirect_function_table");
        let aligned_alloc = instance
            .get_typed_func::<(u32, u32), u32>(&mut store, "aligned_alloc")
            .ok();
        Ok(Live {
            guest: GuestStore::new(store, deadline_ticks),
            modules: vec![Linked {
                instance,
                memory_base: 0,
            }],
            memory,
            table,
            aligned_alloc,
            func_slots: HashMap::new(),
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
        if self.live.guest.in_call() {
            return Err(Error::Runtime(
                "reset() from inside a call into the sandbox (a callback): the guest is \
                 running"
                    .into(),
            ));
        }
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
        // Everything kept from the old store is stale from here, also if a side module fails
        // to link again below.
        self.generation += 1;
        self.free_slots.clear();
        self.slot_ids.clear();
        for (path, loaded) in &self.sides {
            self.live.link(path, loaded)?;
        }
        let _ = self.stdout.drain();
        let _ = self.stderr.drain();
        // Each prepared prototype looks its export up again when it is next used
        // (`WasmLibrary::refresh`).
        Ok(())
    }
}

/// Reads and loads (from the module caches when it can) the module at `path`.
fn load_file(path: &Path, sandbox: &crate::backend::sandbox::SandboxConfig) -> Result<Loaded> {
    let bytes = std::fs::read(path).map_err(|e| Error::os(path, e))?;
    if !bytes.starts_with(b"\0asm") {
        return Err(Error::os(
            path,
            "not a WebAssembly module (no \\0asm header)",
        ));
    }
    engine::load(path, &bytes, EngineKey::of(sandbox), true)
}

impl Live {
    /// The function `name` as module `module` sees it: its own export, then the global scope
    /// (libc first), as `dlsym` on a library's handle also finds its dependencies' symbols.
    /// Module 0 sees the whole scope in load order, as `dlsym(RTLD_DEFAULT, name)`.
    pub(crate) fn function(&mut self, module: usize, name: &str) -> Option<wasmtime::Func> {
        use super::link::Symbol;
        // Module 0's own exports are the first the scope searches.
        if module != 0 {
            if let Some(Symbol::Func(f)) = self.export_of(module, name) {
                return Some(f);
            }
        }
        match self.resolve(name) {
            Some(Symbol::Func(f)) => Some(f),
            _ => None,
        }
    }

    /// The module that defines the function `name` as module `module` finds it (see
    /// [`Live::function`]).
    pub(crate) fn function_owner(&mut self, module: usize, name: &str) -> Option<usize> {
        use super::link::Symbol;
        if module != 0 {
            if let Some(Symbol::Func(_)) = self.export_of(module, name) {
                return Some(module);
            }
        }
        (0..self.modules.len()).find(|&i| matches!(self.export_of(i, name), Some(Symbol::Func(_))))
    }

    /// The function a C function pointer names: the entry `index` of the shared function
    /// table. An index outside the table, or an empty entry (NULL), is a `ValueError`, never
    /// a trap: the pointer came from outside.
    pub(crate) fn function_at(&mut self, index: u64) -> crate::error::Result<wasmtime::Func> {
        let missing = || {
            crate::error::Error::ValueError(format!(
                "no function at address 0x{index:x}: not an entry of the sandbox's function table"
            ))
        };
        let table = self.table.ok_or_else(missing)?;
        let entry = table.get(self.guest.cx()?, index).ok_or_else(missing)?;
        match entry.as_func() {
            Some(Some(f)) => Ok(*f),
            _ => Err(missing()),
        }
    }
}
