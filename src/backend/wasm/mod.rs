//! The sandboxed backend: a wasm32-wasi reactor module on wasmtime, with WASI preview1 from
//! `wasmtime_wasi::p1`.
//!
//! Every pointer is an offset into the guest's linear memory. Every host-side read or write is
//! bounds-checked against the memory's current size, so it stays correct after `memory.grow`.
//! A trap becomes [`Error::Trap`] and leaves the library usable: the guest's shadow stack pointer
//! is put back where it was before the call.

use std::path::PathBuf;

use wasmtime::{Func, TypedFunc};

mod abi;
mod bounds;
mod budget;
mod call;
mod callback;
pub(crate) mod capture;
mod clock;
mod dylink;
pub(crate) mod sections;
pub(crate) use dylink::is_side_module;
pub(crate) mod engine;
mod guest;
mod inspect;
mod instance;
mod limiter;
mod link;
mod random;
mod slot;
pub(crate) mod store;
mod trap;

use crate::backend::sandbox::SandboxConfig;
use crate::backend::{
    note_dropped, Backend, BackendKind, Callee, LibraryInfo, Output, Passing, ProtoId, RawCall,
};
use crate::error::{Error, Result};
use abi::WasmProto;
use bounds::range_in;
pub(crate) use call::{call_slots, call_typed, WasmCall};
use callback::WasmCallback;
use capture::Capture;
use clock::VirtualClock;
use engine::{EngineKey, LoadSource, Loaded};
use guest::wasi_context;
pub(crate) use guest::GuestState;
use instance::Live;
pub(crate) use limiter::LimitExceeded;
use limiter::Limiter;
use random::SeededRandom;
use slot::{func_signature, slots_signature, valtype, Slot};
pub(crate) use trap::trap_error;

/// The most arguments a call may have (ctypes allows 1024; C code in practice uses far fewer).
pub(crate) const MAX_ARGS: usize = crate::backend::MAX_ARGS;

pub(crate) use crate::backend::CAPTURE_LIMIT;

/// Something that belongs to one store (an export, a `TypedFunc`), kept outside the library
/// with the instance generation it was made for: [`WasmLibrary::current`] gives it back only
/// while that instance is live (a `reset()` replaces the store).
#[derive(Clone, Copy)]
pub(crate) struct OfInstance<F> {
    generation: u64,
    func: F,
}

impl<F> OfInstance<F> {
    /// What it keeps, for whichever instance it was made: the caller checks that with
    /// [`WasmLibrary::current`].
    #[inline(always)]
    pub(crate) fn kept(&self) -> &F {
        &self.func
    }
}

/// A scalar prototype's export, as [`WasmLibrary::cached_scalar_func`] keeps it.
pub(crate) type ScalarFunc = OfInstance<Func>;

/// A scalar export as wasmtime's `TypedFunc`, as [`WasmLibrary::typed_func`] makes it.
pub(crate) type WasmTyped<P, R> = OfInstance<TypedFunc<P, R>>;

/// Parameters a scalar call keeps in its stack slots (the library's fast path uses up to 14).
pub(crate) const SCALAR_SLOTS: usize = 16;

/// A sandbox: one wasmtime store with one linear memory and one function table, its main
/// module (the libc module, or a standalone module) and the side modules linked into it.
pub(crate) struct WasmLibrary {
    /// Keeps a `WasmLibrary` on its thread (not `Send`): its store holds the callbacks' `Rc`s.
    _thread: std::marker::PhantomData<*const ()>,
    /// The main module's file (module 0).
    path: PathBuf,
    /// The side modules, in load order (module `i` is `sides[i - 1]`), as `reset()` links
    /// them again.
    sides: Vec<(PathBuf, Loaded)>,
    loaded: Loaded,
    sandbox: SandboxConfig,
    clock: VirtualClock,
    live: Live,
    /// Ticks before a call's deadline (`u64::MAX / 2` for none).
    deadline_ticks: u64,
    /// Bumped by every [`WasmLibrary::reset`]: the store, and every `TypedFunc` of the old
    /// one, is replaced.
    generation: u64,
    protos: Vec<WasmProto>,
    /// The prototypes of each (module, callee), so that one prepared again is not kept twice.
    proto_index: std::collections::HashMap<(usize, abi::Target), Vec<usize>>,
    /// Table slots released by dropped callbacks, reused before the table grows.
    free_slots: Vec<u64>,
    /// Table slot -> callback id.
    slot_ids: std::collections::HashMap<u64, usize>,
    stdout: Capture,
    stderr: Capture,
    capture: bool,
}

impl WasmLibrary {
    /// Moves the guest's virtual clocks forward.
    pub(crate) fn advance_clock(&self, by: std::time::Duration) {
        self.clock.advance(by);
    }

    /// Where module `module` came from and how long loading it took.
    pub(crate) fn load_stats(&self, module: usize) -> Option<(LoadSource, std::time::Duration)> {
        match module.checked_sub(1) {
            None => Some((self.loaded.source, self.loaded.elapsed)),
            Some(side) => self.sides.get(side).map(|(_, l)| (l.source, l.elapsed)),
        }
    }

    fn library_name(&self, module: usize) -> String {
        match module.checked_sub(1) {
            None => self.path.display().to_string(),
            Some(side) => self
                .sides
                .get(side)
                .map(|(p, _)| p.display().to_string())
                .unwrap_or_default(),
        }
    }
}

impl Backend for WasmLibrary {
    fn kind(&self) -> BackendKind {
        BackendKind::Wasm
    }

    fn has_function(&mut self, module: usize, name: &str) -> bool {
        self.live.function(module, name).is_some()
    }

    fn load(&mut self, path: &std::path::Path) -> Result<usize> {
        self.load_module(path)
    }

    fn prepare(
        &mut self,
        module: usize,
        callee: Callee<'_>,
        args: &[Passing],
        ret: &Passing,
        fixed: Option<usize>,
    ) -> Result<ProtoId> {
        self.prepare_proto(module, callee, args, ret, fixed)
    }

    fn begin_call(&mut self, proto: ProtoId, args: &[u64], ret_addr: u64) -> Result<RawCall> {
        self.begin(proto, args, ret_addr).map(RawCall::Wasm)
    }

    fn end_call(&mut self, call: RawCall) -> Result<u64> {
        match call {
            RawCall::Wasm(call) => self.end(call),
            RawCall::Native(_) => Err(Error::Runtime("a native call ended in a sandbox".into())),
        }
    }

    fn describe_call(&self, proto: ProtoId) -> String {
        match self.protos.get(proto.0) {
            Some(p) if p.scalar => "call_unchecked (scalar slots)".into(),
            Some(_) => "call_unchecked".into(),
            None => "unprepared".into(),
        }
    }

    fn malloc(&mut self, size: usize) -> Result<u64> {
        let size32 = u32::try_from(size).map_err(|_| {
            Error::ValueError(format!("cannot allocate {size} bytes in a 32-bit guest"))
        })?;
        self.arm();
        let malloc = self.live.malloc.clone();
        match self.guest_op(|cx| malloc.call(cx, size32))? {
            0 => Err(Error::ValueError(format!(
                "guest malloc({size}) returned NULL: out of memory"
            ))),
            addr => Ok(addr as u64),
        }
    }

    fn free(&mut self, addr: u64) -> Result<()> {
        let addr = u32::try_from(addr)
            .map_err(|_| Error::OutOfBounds(format!("free(0x{addr:x}): not a guest address")))?;
        self.arm();
        let free = self.live.free.clone();
        self.guest_op(|cx| free.call(cx, addr))
    }

    fn read(&mut self, addr: u64, out: &mut [u8]) -> Result<()> {
        let memory = self.live.memory;
        let cx = self.live.guest.cx()?;
        let mem = memory.data(&cx);
        out.copy_from_slice(&mem[range_in(mem.len(), addr, out.len())?]);
        Ok(())
    }

    fn host_pointer(&mut self, addr: u64, len: usize) -> Result<*mut u8> {
        let memory = self.live.memory;
        let mem = memory.data_mut(self.live.guest.cx()?);
        let range = range_in(mem.len(), addr, len)?;
        Ok(mem[range].as_mut_ptr())
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        let memory = self.live.memory;
        let mem = memory.data_mut(self.live.guest.cx()?);
        let range = range_in(mem.len(), addr, data.len())?;
        mem[range].copy_from_slice(data);
        Ok(())
    }

    fn write_terminated(&mut self, addr: u64, data: &[u8], nul: usize) -> Result<()> {
        // One look-up of the memory and one bounds check for the string and its terminator.
        let memory = self.live.memory;
        let mem = memory.data_mut(self.live.guest.cx()?);
        let range = range_in(mem.len(), addr, data.len() + nul.min(4))?;
        let (text, zeros) = mem[range].split_at_mut(data.len());
        text.copy_from_slice(data);
        // A C string's one NUL as a store, not a call of memset for one byte.
        match zeros {
            [nul] => *nul = 0,
            _ => zeros.fill(0),
        }
        Ok(())
    }

    fn strlen(&mut self, addr: u64, width: usize) -> Result<usize> {
        let start = self.check_range(addr, 0)?.start;
        let memory = self.live.memory;
        let cx = self.live.guest.cx()?;
        let mem = &memory.data(&cx)[start..];
        mem.chunks_exact(width)
            .position(|unit| unit.iter().all(|b| *b == 0))
            .ok_or_else(|| {
                Error::OutOfBounds(format!(
                    "string at 0x{addr:x} runs past the end of guest memory without a terminator"
                ))
            })
    }

    fn set_capture(&mut self, capture: bool) {
        // Capture is fixed when the WASI context is built; the CLI asks before opening.
        let _ = capture;
    }

    fn take_output(&mut self) -> Output {
        self.arm();
        if let Some(fflush) = self.live.fflush.clone() {
            let _ = self.guest_op(|cx| fflush.call(cx, 0));
        }
        if !self.capture {
            return Output::default();
        }
        let (mut stdout, dropped_out) = self.stdout.drain();
        let (mut stderr, dropped_err) = self.stderr.drain();
        note_dropped(&mut stdout, dropped_out);
        note_dropped(&mut stderr, dropped_err);
        Output { stdout, stderr }
    }

    fn function_address(&mut self, module: usize, name: &str) -> Result<u64> {
        let func = self
            .live
            .function(module, name)
            .ok_or_else(|| Error::AttributeError {
                library: self.library_name(module),
                symbol: name.to_string(),
            })?;
        self.live.function_slot(name, func).map(u64::from)
    }

    fn data_address(&mut self, module: usize, name: &str) -> Result<u64> {
        // A module's own data first, then the scope's (libc's `errno`, `stdout`), as dlsym.
        match self.live.export_of(module, name) {
            Some(link::Symbol::Data(addr)) => return Ok(addr as u64),
            Some(link::Symbol::Func(_)) => {}
            None => {
                if let Some(link::Symbol::Data(addr)) = self.live.resolve(name) {
                    return Ok(addr as u64);
                }
            }
        }
        Err(Error::AttributeError {
            library: self.library_name(module),
            symbol: name.to_string(),
        })
    }

    fn make_callback(
        &mut self,
        args: &[crate::backend::CallbackArg],
        ret: crate::types::CType,
        f: std::rc::Rc<crate::backend::CallbackFn>,
    ) -> Result<u64> {
        self.add_callback(args, ret, f)
    }

    fn free_callback(&mut self, ptr: u64) {
        self.remove_callback(ptr)
    }

    fn errno_location(&mut self) -> Result<u64> {
        self.data_address(0, "errno").map_err(|_| {
            Error::AttributeError {
                library: self.library_name(0),
                symbol: "errno (build the module with -Wl,--export-if-defined=errno, as wasmctypes build does)".into(),
            }
        })
    }

    fn reset(&mut self) -> Result<()> {
        WasmLibrary::reset(self)
    }

    fn advance_clock(&mut self, by: std::time::Duration) -> Result<()> {
        WasmLibrary::advance_clock(self, by);
        Ok(())
    }

    fn load_stats(&self, module: usize) -> Option<(LoadSource, std::time::Duration)> {
        WasmLibrary::load_stats(self, module)
    }

    fn errno_names(&self) -> Option<Vec<(String, i32)>> {
        self.loaded.errno.as_ref().map(|e| e.to_vec())
    }

    fn info(&mut self, module: usize) -> LibraryInfo {
        self.library_info(module)
    }
}

impl WasmLibrary {
    fn table(&mut self) -> Result<wasmtime::Table> {
        self.live.table.ok_or_else(|| {
            Error::TypeError(
                "the module exports no function table: build it with -Wl,--export-table".into(),
            )
        })
    }
}

impl Drop for WasmLibrary {
    fn drop(&mut self) {
        if !self.capture {
            let _ = self.take_output();
        }
    }
}
