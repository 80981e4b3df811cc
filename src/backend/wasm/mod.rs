//! The sandboxed backend: a wasm32-wasi reactor module on wasmtime, with WASI preview1 from
//! `wasmtime_wasi::p1`.
//!
//! Every pointer is an offset into the guest's linear memory. Every host-side read or write is
//! bounds-checked against the memory's current size, so it stays correct after `memory.grow`.
//! A trap becomes [`Error::Trap`] and leaves the library usable: the guest's shadow stack pointer
//! is put back where it was before the call.

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::path::PathBuf;

use wasmtime::{Func, TypedFunc, ValRaw, WasmParams, WasmResults};

mod abi;
mod bounds;
mod budget;
mod callback;
pub(crate) mod capture;
mod clock;
mod dylink;
pub(crate) use dylink::is_side_module;
pub(crate) mod engine;
mod guest;
mod inspect;
mod instance;
mod limiter;
mod link;
mod random;
mod slot;
mod trap;

use crate::backend::sandbox::SandboxConfig;
use crate::backend::{
    note_dropped, Backend, BackendKind, Callee, LibraryInfo, Output, Passing, ProtoId,
};
use crate::error::{Error, Result};
use abi::{ArgPlan, RetPlan, WasmProto};
use bounds::range_in;
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
    /// The ticker round at which the deadline was last set (`u64::MAX` for not since the
    /// store was made, and always with fuel): see [`WasmLibrary::arm`].
    armed_round: u64,
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
    /// The scalar prototype `proto` as wasmtime's `TypedFunc<P, R>`, if its export has exactly
    /// that wasm signature: what [`TypedFunction`](crate::TypedFunction) calls in wasm.
    pub(crate) fn typed_func<P: WasmParams, R: WasmResults>(
        &mut self,
        proto: ProtoId,
    ) -> Option<WasmTyped<P, R>> {
        self.refresh(proto).ok()?;
        let p = self.protos.get(proto.0).filter(|p| p.scalar)?;
        Some(self.of_instance(p.func.typed::<P, R>(&self.live.store).ok()?))
    }

    /// `func`, stamped with the current instance's generation.
    fn of_instance<F>(&self, func: F) -> OfInstance<F> {
        OfInstance {
            generation: self.generation,
            func,
        }
    }

    /// What `kept` holds, if it was made for the current instance.
    #[inline(always)]
    fn current<'k, F>(&self, kept: &'k OfInstance<F>) -> Option<&'k F> {
        (kept.generation == self.generation).then_some(&kept.func)
    }

    /// Calls a `TypedFunc` made by [`WasmLibrary::typed_func`], as the scalar path calls its
    /// export: the deadline armed, a trap or a callback's error turned into the call's error.
    /// `None` if the library was reset since, and the `TypedFunc` belongs to the old store.
    #[inline(always)]
    pub(crate) fn call_typed<P: WasmParams, R: WasmResults>(
        &mut self,
        typed: &WasmTyped<P, R>,
        params: P,
    ) -> Option<std::result::Result<R, Box<Error>>> {
        let func = self.current(typed)?;
        self.arm();
        Some(match func.call(&mut self.live.store, params) {
            Ok(r) => Ok(r),
            Err(e) => Err(self.scalar_failure(Err(e))),
        })
    }

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

    /// The export of a prepared scalar prototype of `n` arguments, for
    /// [`WasmLibrary::call_slots`]; `None` if the prototype is not scalar or takes another
    /// number of arguments.
    /// `None` also after a `reset()` until the general path has looked the export up again
    /// ([`WasmLibrary::refresh`]).
    #[inline(always)]
    pub(crate) fn scalar_func(&self, proto: ProtoId, n: usize) -> Option<Func> {
        let p = self.protos.get(proto.0)?;
        (p.scalar && p.params.len() == n && p.generation == self.generation).then_some(p.func)
    }

    /// The export of a scalar prototype of `n` arguments ([`WasmLibrary::scalar_func`]) as
    /// `cache` keeps it for the current instance, so that a call does not look the prototype
    /// up. `None` when `cache` keeps none for this instance (the first call, the first after
    /// a `reset()`): it is filled for the next call, and this one takes the general path. (A
    /// miss that returned the export it just filled would merge with the hit, which the
    /// caller would then test again.)
    #[inline(always)]
    pub(crate) fn cached_scalar_func(
        &self,
        cache: &Cell<Option<ScalarFunc>>,
        proto: ProtoId,
        n: usize,
    ) -> Option<Func> {
        if let Some(func) = cache.get().as_ref().and_then(|c| self.current(c)) {
            return Some(*func);
        }
        self.fill_scalar_func(cache, proto, n);
        None
    }

    #[cold]
    #[inline(never)]
    fn fill_scalar_func(&self, cache: &Cell<Option<ScalarFunc>>, proto: ProtoId, n: usize) {
        if let Some(func) = self.scalar_func(proto, n) {
            cache.set(Some(self.of_instance(func)));
        }
    }

    /// Calls `func` (from [`WasmLibrary::scalar_func`] for `n` arguments) with its arguments
    /// already in wasmtime's raw slots `slots[..n]`: [`Backend::call_scalar`] without the
    /// intermediate array, for [`Function::call`](crate::Function::call)'s fast path. The
    /// result is the raw slot: its low bits at the result's width hold the result, the rest
    /// (and the whole slot for void) are unspecified.
    ///
    /// # Safety
    /// `slots[..n]` is initialised with one value of the right type for each parameter.
    #[inline(always)]
    pub(crate) unsafe fn call_slots(
        &mut self,
        func: Func,
        slots: &mut [MaybeUninit<ValRaw>; SCALAR_SLOTS],
        n: usize,
    ) -> std::result::Result<u64, Box<Error>> {
        if n == 0 {
            slots[0].write(ValRaw::i64(0));
        }
        self.arm();
        let raw = std::ptr::slice_from_raw_parts_mut(slots.as_mut_ptr().cast::<ValRaw>(), n.max(1));
        // SAFETY: `slots[..n]` holds one value of the right type for every parameter of `func`
        // (the caller's promise; the prototype was checked against the signature in
        // `prepare`), slot 0 is initialised and has room for its one result, and `func`
        // belongs to `self.live.store`.
        let outcome = unsafe { func.call_unchecked(&mut self.live.store, raw) };
        // A failing callback returns an error from its host function, which stops the guest:
        // a call that returned normally had no failing callback.
        if outcome.is_err() {
            return Err(self.scalar_failure(outcome));
        }
        // SAFETY: slot 0 was initialised above and holds the result after the call.
        Ok(unsafe { slots[0].assume_init() }.get_u64())
    }

    /// [`Backend::call_scalar`] for a prototype that is not scalar: the general call. Out of
    /// line, so that the scalar path keeps a small frame.
    #[cold]
    #[inline(never)]
    fn call_scalar_general(
        &mut self,
        proto: ProtoId,
        args: &[u64],
    ) -> std::result::Result<u64, Box<Error>> {
        let outcome = self.call(proto, args, 0);
        match self.take_callback_error() {
            Some(e) => Err(Box::new(e)),
            None => outcome.map_err(Box::new),
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

    fn call(&mut self, proto: ProtoId, args: &[u64], ret_addr: u64) -> Result<u64> {
        self.refresh(proto)?;
        let p = &self.protos[proto.0];
        let n = p
            .params
            .len()
            .max(!matches!(p.result, RetPlan::None) as usize);
        if n > MAX_ARGS {
            return Err(Error::TypeError(format!(
                "too many arguments (at most {MAX_ARGS})"
            )));
        }
        // Only the slots the call uses are written (see `call_with`).
        let mut slots = [MaybeUninit::<ValRaw>::uninit(); MAX_ARGS];
        let va_buffer = if p.va_size > 0 {
            let (varargs, va_size) = (p.varargs.clone(), p.va_size);
            let addr = self.malloc(va_size)?;
            let mut buf = vec![0u8; va_size];
            for (i, slot, offset) in varargs {
                let size = if matches!(slot, Slot::I32 | Slot::F32) {
                    4
                } else {
                    8
                };
                buf[offset..offset + size].copy_from_slice(&args[i].to_le_bytes()[..size]);
            }
            if let Err(e) = self.write(addr, &buf) {
                let _ = self.free(addr);
                return Err(e);
            }
            addr
        } else {
            0
        };
        self.arm();
        let outcome = self.call_with(proto, args, ret_addr, va_buffer, &mut slots, n);
        if va_buffer != 0 {
            let _ = self.free(va_buffer);
        }
        outcome
    }

    fn call_scalar(
        &mut self,
        proto: ProtoId,
        args: &[u64],
    ) -> std::result::Result<u64, Box<Error>> {
        let Some(func) = self.scalar_func(proto, args.len()) else {
            return self.call_scalar_general(proto, args);
        };
        let mut slots = [MaybeUninit::<ValRaw>::uninit(); SCALAR_SLOTS];
        // ValRaw holds its value little-endian from the first byte, so the 64-bit slot, whose
        // low bits are the value at its own width (an i32, or an f32's bits), reads as the
        // parameter's type without a per-type conversion.
        for (slot, &bits) in slots.iter_mut().zip(args) {
            slot.write(ValRaw::u64(bits));
        }
        // SAFETY: `slots[..args.len()]` is written, one slot per parameter (`scalar_func`).
        unsafe { self.call_slots(func, &mut slots, args.len()) }
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
        match self.live.malloc.call(&mut self.live.store, size32) {
            Ok(0) => Err(Error::ValueError(format!(
                "guest malloc({size}) returned NULL: out of memory"
            ))),
            Ok(addr) => Ok(addr as u64),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn free(&mut self, addr: u64) -> Result<()> {
        let addr = u32::try_from(addr)
            .map_err(|_| Error::OutOfBounds(format!("free(0x{addr:x}): not a guest address")))?;
        self.arm();
        self.live
            .free
            .call(&mut self.live.store, addr)
            .map_err(|e| self.fail(e))
    }

    fn read(&mut self, addr: u64, out: &mut [u8]) -> Result<()> {
        let mem = self.live.memory.data(&self.live.store);
        out.copy_from_slice(&mem[range_in(mem.len(), addr, out.len())?]);
        Ok(())
    }

    fn host_pointer(&mut self, addr: u64, len: usize) -> Result<*mut u8> {
        let mem = self.live.memory.data_mut(&mut self.live.store);
        let range = range_in(mem.len(), addr, len)?;
        Ok(mem[range].as_mut_ptr())
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        let mem = self.live.memory.data_mut(&mut self.live.store);
        let range = range_in(mem.len(), addr, data.len())?;
        mem[range].copy_from_slice(data);
        Ok(())
    }

    fn write_terminated(&mut self, addr: u64, data: &[u8], nul: usize) -> Result<()> {
        // One look-up of the memory and one bounds check for the string and its terminator.
        let mem = self.live.memory.data_mut(&mut self.live.store);
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
        let mem = &self.live.memory.data(&self.live.store)[start..];
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
            if fflush.call(&mut self.live.store, 0).is_err() {
                if let Some((global, value)) = &self.live.stack_pointer {
                    let _ = global.set(&mut self.live.store, *value);
                }
            }
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

    fn take_callback_error(&mut self) -> Option<Error> {
        self.live.store.data_mut().callback_error.take()
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

    fn info(&mut self, module: usize) -> LibraryInfo {
        self.library_info(module)
    }
}

impl WasmLibrary {
    /// The call itself, once the variadic buffer (if any) is in place.
    fn call_with(
        &mut self,
        proto: ProtoId,
        args: &[u64],
        ret_addr: u64,
        va_buffer: u64,
        slots: &mut [MaybeUninit<ValRaw>; MAX_ARGS],
        n: usize,
    ) -> Result<u64> {
        let p = &self.protos[proto.0];
        let mem = self.live.memory.data(&self.live.store);
        // Slot 0 holds the result, also when there are no parameters.
        slots[0].write(ValRaw::i64(0));
        for (slot, plan) in slots.iter_mut().zip(&p.params) {
            let value = match *plan {
                ArgPlan::Slot(i, ty) => ty.to_raw(args[i]),
                ArgPlan::RetAddr => ValRaw::i32(ret_addr as i32),
                ArgPlan::VaBuffer => ValRaw::i32(va_buffer as i32),
                ArgPlan::Load(i, ty, size) => {
                    let start = args[i] as usize;
                    let bytes = mem.get(start..start + size).ok_or_else(|| {
                        Error::OutOfBounds(format!(
                            "structure argument at 0x{start:x} is outside guest memory"
                        ))
                    })?;
                    let mut b = [0u8; 8];
                    b[..size].copy_from_slice(bytes);
                    ty.to_raw(u64::from_le_bytes(b))
                }
                ArgPlan::Half(i, half) => {
                    let start = (args[i] as usize).saturating_add(8 * half);
                    let bytes = mem.get(start..start.saturating_add(8)).ok_or_else(|| {
                        Error::OutOfBounds(format!(
                            "long double argument at 0x{start:x} is outside guest memory"
                        ))
                    })?;
                    let mut b = [0u8; 8];
                    b.copy_from_slice(bytes);
                    ValRaw::i64(i64::from_le_bytes(b))
                }
            };
            slot.write(value);
        }
        let func = p.func;
        let result = p.result;
        let raw = std::ptr::slice_from_raw_parts_mut(slots.as_mut_ptr().cast::<ValRaw>(), n);
        // SAFETY: `slots[..n]` is initialised (slot 0 above, one per parameter in the loop,
        // and `n` is the parameter count or 1), holds one value of the right type for every
        // parameter of `func` (checked against `func`'s own signature in `prepare`), and has
        // room for its result; `func` belongs to `self.live.store`.
        let outcome = unsafe { func.call_unchecked(&mut self.live.store, raw) };
        if let Err(e) = outcome {
            return Err(self.fail(e));
        }
        // SAFETY: slot 0 was initialised above and holds the result after the call.
        let ret = unsafe { slots[0].assume_init() };
        match result {
            RetPlan::None | RetPlan::Discard(_) => Ok(0),
            RetPlan::Slot(s) => Ok(s.bits_of(ret)),
            RetPlan::Store(s, size) => {
                let bits = s.bits_of(ret).to_le_bytes();
                self.write(ret_addr, &bits[..size])?;
                Ok(0)
            }
        }
    }

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
