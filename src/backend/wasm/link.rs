//! The sandbox's dynamic linker: a position-independent side module loaded into the live
//! sandbox, as `dlopen(path, RTLD_NOW | RTLD_GLOBAL)` loads a `.so` into a process.
//!
//! It follows the WebAssembly tool conventions (`DynamicLinking.md`), as Emscripten's and
//! Pyodide's loaders do: the module's data is allocated with the libc module's
//! `aligned_alloc` and zeroed (`__memory_base`), the shared table grows by the module's
//! `table_size` (`__table_base`), `env.memory`, `env.__indirect_function_table` and
//! `env.__stack_pointer` are the libc module's own, every `env.*` function import is resolved
//! in load order (libc first, then the libraries loaded before), every `GOT.mem.*` /
//! `GOT.func.*` global is filled with a symbol's address or table slot (the module's own
//! definitions fill what the scope lacks, after instantiation), and then
//! `__wasm_apply_data_relocs` and `__wasm_call_ctors` run. A symbol found nowhere is an
//! `OSError` naming it, as `dlopen` reports it.

use std::path::Path;

use wasmtime::{
    Extern, ExternType, Func, Global, GlobalType, Instance, Mutability, Ref, StoreContextMut, Val,
    ValType,
};

use super::engine::Loaded;
use super::instance::Live;
use super::{trap_error, GuestState};
use crate::error::{Error, Result};

/// A library linked into the sandbox.
#[derive(Clone)]
pub(crate) struct Linked {
    pub(crate) instance: Instance,
    /// Where its data starts: the value of its exported data symbols is relative to it.
    pub(crate) memory_base: u32,
}

/// A GOT entry to fill from the module's own exports once it is instantiated.
struct Pending {
    global: Global,
    name: String,
    func: bool,
    /// An undefined weak symbol: null if the module does not define it either.
    weak: bool,
}

/// A function import the scope lacks but the module defines itself (a weak definition,
/// which `wasm-ld` imports so that another library's strong one could take its place): a
/// forwarder to the module's own export, set once the module is instantiated.
struct Forward {
    name: String,
    target: std::sync::Arc<std::sync::OnceLock<Func>>,
}

/// What a symbol of the sandbox's scope is.
pub(crate) enum Symbol {
    Func(Func),
    Data(u32),
}

impl Live {
    /// `name` in the sandbox's global scope: the modules in load order, libc first.
    pub(crate) fn resolve(&mut self, name: &str) -> Option<Symbol> {
        for i in 0..self.modules.len() {
            if let Some(s) = self.export_of(i, name) {
                return Some(s);
            }
        }
        None
    }

    /// `name` as module `i` exports it: a function, or a data symbol's absolute address.
    pub(crate) fn export_of(&mut self, i: usize, name: &str) -> Option<Symbol> {
        let m = self.modules.get(i)?.clone();
        let mut cx = self.guest.cx().ok()?;
        match m.instance.get_export(&mut cx, name)? {
            Extern::Func(f) => Some(Symbol::Func(f)),
            Extern::Global(g) => {
                if g.ty(&cx).mutability() == Mutability::Var {
                    return None;
                }
                match g.get(&mut cx) {
                    Val::I32(v) => Some(Symbol::Data(m.memory_base.wrapping_add(v as u32))),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The table slot of `func`, known by `name` (a function pointer to it, as C's `&name`
    /// gives it): the slot the scope's function of that name has, shared by every library,
    /// so that pointers to it compare equal; a module's own function that the scope's name
    /// shadows gets a slot of its own.
    pub(crate) fn function_slot(&mut self, name: &str, func: Func) -> Result<u32> {
        let mine = self.guest.cx()?.to_raw_func(func);
        match self.resolve(name) {
            Some(Symbol::Func(scope)) if self.guest.cx()?.to_raw_func(scope) == mine => {
                self.slot_of(name, func)
            }
            _ => self.slot_of(&format!("\0{name}@{mine:p}"), func),
        }
    }

    /// The table slot of `func`, known by `name`: one slot per function, so that a function
    /// pointer compares equal in every library.
    fn slot_of(&mut self, name: &str, func: Func) -> Result<u32> {
        if let Some(slot) = self.func_slots.get(name) {
            return Ok(*slot);
        }
        let table = self.table.ok_or_else(|| {
            Error::os(
                "libc module",
                "exports no __indirect_function_table to hold function pointers",
            )
        })?;
        let slot = table
            .grow(self.guest.cx()?, 1, Ref::Func(Some(func)))
            .map_err(|e| Error::MemoryError(format!("cannot grow the function table: {e}")))?;
        let slot = u32::try_from(slot)
            .map_err(|_| Error::MemoryError("function table index past 32 bits".into()))?;
        self.func_slots.insert(name.to_string(), slot);
        Ok(slot)
    }

    /// Links the side module `loaded` (from `path`) into the sandbox and runs its
    /// constructors; it joins the global scope after the modules loaded before.
    pub(crate) fn link(&mut self, path: &Path, loaded: &Loaded) -> Result<Linked> {
        let info = loaded
            .dylink
            .clone()
            .ok_or_else(|| Error::os(path, "not a side module (no dylink.0 section)"))?;
        let aligned_alloc = self.aligned_alloc.clone().ok_or_else(|| {
            Error::os(
                path,
                "a side module loads only into a sandbox with the libc module; this sandbox \
                 runs a standalone module",
            )
        })?;
        let size = info.memory_size;
        let memory_base = if size > 0 {
            let align = (1u32 << info.memory_align).max(4);
            let rounded = size.div_ceil(align).saturating_mul(align);
            let addr = aligned_alloc
                .call(self.guest.cx()?, (align, rounded))
                .map_err(|e| Error::os(path, format!("cannot allocate its data: {e}")))?;
            if addr == 0 {
                return Err(Error::MemoryError(format!(
                    "{}: cannot allocate {size} bytes for its data",
                    path.display()
                )));
            }
            let mem = self.memory.data_mut(self.guest.cx()?);
            let range = super::range_in(mem.len(), addr as u64, size as usize)?;
            mem[range].fill(0);
            addr
        } else {
            0
        };
        let linked = self.link_at(path, loaded, &info, memory_base);
        if linked.is_err() && memory_base != 0 {
            // A failed link leaves no data block behind (table slots cannot be given back).
            let free = self.free.clone();
            if let Ok(cx) = self.guest.cx() {
                let _ = free.call(cx, memory_base);
            }
        }
        linked
    }

    /// [`Live::link`] once the module's data block is at `memory_base`.
    fn link_at(
        &mut self,
        path: &Path,
        loaded: &Loaded,
        info: &super::dylink::Dylink,
        memory_base: u32,
    ) -> Result<Linked> {
        let table_base = match self.table {
            Some(table) if info.table_size > 0 => table
                .grow(self.guest.cx()?, info.table_size as u64, Ref::Func(None))
                .map_err(|e| {
                    Error::MemoryError(format!(
                        "{}: cannot grow the function table by {}: {e}",
                        path.display(),
                        info.table_size
                    ))
                })?,
            Some(table) => table.size(self.guest.cx()?),
            None if info.table_size == 0 => 0,
            None => return Err(Error::os(path, "the sandbox has no function table")),
        };
        let table_base = u32::try_from(table_base)
            .map_err(|_| Error::MemoryError("function table index past 32 bits".into()))?;
        let constant = |store: StoreContextMut<'_, GuestState>, v: u32| {
            Global::new(
                store,
                GlobalType::new(ValType::I32, Mutability::Const),
                Val::I32(v as i32),
            )
        };
        let mut imports = Vec::new();
        let mut pending = Vec::new();
        let mut forwards = Vec::new();
        let own_functions: std::collections::HashSet<&str> = loaded
            .module
            .exports()
            .filter(|e| matches!(e.ty(), ExternType::Func(_)))
            .map(|e| e.name())
            .collect();
        for import in loaded.module.imports() {
            let (module, name) = (import.module(), import.name());
            let unsupported = || {
                Error::os(
                    path,
                    format!("unsupported import {module}.{name}: not a side module this sandbox can link"),
                )
            };
            let ext: Extern = match (module, name, import.ty()) {
                ("env", "memory", ExternType::Memory(_)) => self.memory.into(),
                ("env", "__indirect_function_table", ExternType::Table(_)) => {
                    self.table.ok_or_else(unsupported)?.into()
                }
                ("env", "__memory_base", ExternType::Global(_)) => {
                    constant(self.guest.cx()?, memory_base)
                        .map_err(|_| unsupported())?
                        .into()
                }
                ("env", "__table_base", ExternType::Global(_)) => {
                    constant(self.guest.cx()?, table_base)
                        .map_err(|_| unsupported())?
                        .into()
                }
                ("env", "__stack_pointer", ExternType::Global(_)) => self
                    .stack_pointer
                    .as_ref()
                    .map(|(g, _)| *g)
                    .ok_or_else(unsupported)?
                    .into(),
                ("GOT.mem" | "GOT.func", _, ExternType::Global(_)) => {
                    let func = module == "GOT.func";
                    let value = match (self.resolve(name), func) {
                        (Some(Symbol::Data(addr)), false) => Some(addr),
                        (Some(Symbol::Func(f)), true) => Some(self.slot_of(name, f)?),
                        _ => None,
                    };
                    let global = Global::new(
                        self.guest.cx()?,
                        GlobalType::new(ValType::I32, Mutability::Var),
                        Val::I32(value.unwrap_or(0) as i32),
                    )
                    .map_err(|_| unsupported())?;
                    if value.is_none() {
                        pending.push(Pending {
                            global,
                            name: name.to_string(),
                            func,
                            weak: info.weak.iter().any(|w| w == name),
                        });
                    }
                    global.into()
                }
                ("env", _, ExternType::Func(want)) => match self.resolve(name) {
                    Some(Symbol::Func(f)) => {
                        let ty = f.ty(self.guest.cx()?);
                        if !ty.matches(&want) {
                            return Err(Error::os(
                                path,
                                format!(
                                    "symbol {name} has type {} but the library imports it as {}",
                                    super::func_signature(&ty),
                                    super::func_signature(&want)
                                ),
                            ));
                        }
                        f.into()
                    }
                    _ if own_functions.contains(name) => {
                        let target = std::sync::Arc::new(std::sync::OnceLock::<Func>::new());
                        let to = target.clone();
                        let forwarder = Func::new(
                            self.guest.cx()?,
                            want.clone(),
                            move |mut caller, params, results| match to.get() {
                                Some(f) => f.call(&mut caller, params, results),
                                None => Err(wasmtime::Error::msg(
                                    "a weak function was called before its library was loaded",
                                )),
                            },
                        );
                        forwards.push(Forward {
                            name: name.to_string(),
                            target,
                        });
                        forwarder.into()
                    }
                    _ => return Err(undefined(path, name)),
                },
                _ => return Err(unsupported()),
            };
            imports.push(ext);
        }
        let instance = Instance::new(self.guest.cx()?, &loaded.module, &imports)
            .map_err(|e| Error::os(path, format!("cannot instantiate: {}", trap_error(e))))?;
        for forward in forwards {
            let own = instance
                .get_func(self.guest.cx()?, &forward.name)
                .ok_or_else(|| undefined(path, &forward.name))?;
            let _ = forward.target.set(own);
        }
        let linked = Linked {
            instance,
            memory_base,
        };
        // The module's own definitions fill the GOT entries the scope before it lacked.
        self.modules.push(linked.clone());
        let me = self.modules.len() - 1;
        let outcome = self.finish(path, me, &pending);
        if outcome.is_err() {
            self.modules.pop();
        }
        outcome.map(|()| linked)
    }

    /// Fills the pending GOT entries from module `me`, applies its data relocations and runs
    /// its constructors.
    fn finish(&mut self, path: &Path, me: usize, pending: &[Pending]) -> Result<()> {
        for p in pending {
            let value = match (self.export_of(me, &p.name), p.func) {
                (Some(Symbol::Data(addr)), false) => addr,
                (Some(Symbol::Func(f)), true) => self.slot_of(&p.name, f)?,
                // An undefined weak symbol's address is null, as natively.
                _ if p.weak => 0,
                _ => return Err(undefined(path, &p.name)),
            };
            p.global
                .set(self.guest.cx()?, Val::I32(value as i32))
                .map_err(|e| Error::os(path, e))?;
        }
        let instance = self.modules[me].instance;
        for init in ["__wasm_apply_data_relocs", "__wasm_call_ctors"] {
            let mut cx = self.guest.cx()?;
            if let Ok(f) = instance.get_typed_func::<(), ()>(&mut cx, init) {
                // The shadow stack as it is now (a library may be loaded from a callback,
                // with a call in flight), put back if the function traps.
                let sp = self
                    .stack_pointer
                    .as_ref()
                    .map(|(g, _)| (*g, g.get(&mut cx)));
                f.call(&mut cx, ()).map_err(|e| {
                    let e = trap_error(e);
                    if let Some((global, value)) = sp {
                        let _ = global.set(&mut cx, value);
                    }
                    Error::os(path, format!("{init} failed: {e}"))
                })?;
            }
        }
        Ok(())
    }
}

/// `dlopen`'s error for a symbol nothing defines.
fn undefined(path: &Path, name: &str) -> Error {
    Error::os(path, format!("undefined symbol: {name}"))
}

/// A function's identity in its store (its `VMFuncRef`): the same for every handle on it.
trait RawFunc {
    fn to_raw_func(&mut self, f: Func) -> *mut std::ffi::c_void;
}

impl RawFunc for StoreContextMut<'_, GuestState> {
    fn to_raw_func(&mut self, f: Func) -> *mut std::ffi::c_void {
        f.to_raw(self)
    }
}
