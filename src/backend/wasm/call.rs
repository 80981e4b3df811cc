//! Calls into the guest: readied while the library is borrowed, run with no borrow of it (an
//! [`Entry`], see [`store`](super::store)), so that a callback can use the sandbox, and
//! finished with it borrowed again.

use std::cell::Cell;
use std::mem::MaybeUninit;

use wasmtime::{
    AsContextMut, Func, StoreContextMut, TypedFunc, Val, ValRaw, WasmParams, WasmResults,
};

use super::abi::{ArgPlan, RetPlan};
use super::store::Entry;
use super::{
    trap_error, GuestState, OfInstance, ScalarFunc, Slot, WasmLibrary, WasmTyped, MAX_ARGS,
    SCALAR_SLOTS,
};
use crate::backend::ProtoId;
use crate::error::{Error, Result};

/// A call readied by [`WasmLibrary::begin`]: the export, its parameters in wasmtime's raw
/// slots, and where its result goes.
pub(crate) struct WasmCall {
    entry: Entry,
    func: Func,
    /// `slots[..n]` are written: one per parameter, and slot 0 also when there are none (it
    /// receives the result).
    slots: [MaybeUninit<ValRaw>; MAX_ARGS],
    n: usize,
    result: RetPlan,
    ret_addr: u64,
    /// The variadic arguments' buffer, freed when the call ends (0 for none).
    va_buffer: u64,
    outcome: Option<wasmtime::Result<()>>,
}

impl WasmCall {
    /// Runs the call in the guest.
    ///
    /// # Safety
    /// As [`Entry::start`]: the library that readied the call is alive and unused meanwhile
    /// but by its callbacks; the call is run once, on the thread that readied it.
    pub(crate) unsafe fn run(&mut self) {
        let func = self.func;
        let raw =
            std::ptr::slice_from_raw_parts_mut(self.slots.as_mut_ptr().cast::<ValRaw>(), self.n);
        // SAFETY: the caller's promise for the entry. `slots[..n]` holds one value of the
        // right type for every parameter of `func` (checked against its signature when the
        // prototype was prepared, written by `begin`) and slot 0 has room for its result;
        // `func` belongs to the entry's store.
        let outcome = unsafe { func.call_unchecked(&mut self.entry.start().cx, raw) };
        self.outcome = Some(outcome);
    }
}

/// Calls `func` with its arguments already in wasmtime's raw slots `slots[..n]`: the scalar
/// path, with no intermediate array. The result is the raw slot: its low bits at the result's
/// width hold the result, the rest (and the whole slot for void) are unspecified.
///
/// # Safety
/// As [`Entry::start`] for `entry`; `slots[..n]` is initialised with one value of the right type
/// for each parameter of `func`, which belongs to the entry's store.
#[inline(always)]
pub(crate) unsafe fn call_slots(
    entry: &Entry,
    func: Func,
    slots: &mut [MaybeUninit<ValRaw>; SCALAR_SLOTS],
    n: usize,
) -> wasmtime::Result<u64> {
    if n == 0 {
        slots[0].write(ValRaw::i64(0));
    }
    let raw = std::ptr::slice_from_raw_parts_mut(slots.as_mut_ptr().cast::<ValRaw>(), n.max(1));
    // SAFETY: the caller's promises; slot 0 is initialised and has room for the one result.
    unsafe { func.call_unchecked(&mut entry.start().cx, raw) }?;
    // SAFETY: slot 0 was initialised above (or by the caller) and holds the result after the
    // call.
    Ok(unsafe { slots[0].assume_init() }.get_u64())
}

/// Calls a `TypedFunc` of the entry's store: wasmtime's own typed call.
///
/// # Safety
/// As [`Entry::start`] for `entry`; `func` belongs to the entry's store.
#[inline(always)]
pub(crate) unsafe fn call_typed<P: WasmParams, R: WasmResults>(
    entry: &Entry,
    func: &TypedFunc<P, R>,
    params: P,
) -> wasmtime::Result<R> {
    // SAFETY: the caller's promise.
    func.call(&mut unsafe { entry.start() }.cx, params)
}

impl WasmLibrary {
    /// An entry into the guest for a call, the outermost call's deadline and fuel armed:
    /// [`GuestStore::enter`](super::store::GuestStore::enter).
    #[inline(always)]
    pub(crate) fn enter(&mut self) -> Result<Entry> {
        self.arm();
        match self.live.guest.enter() {
            Some(entry) if !entry.is_nested() => Ok(entry),
            _ => self.enter_nested(),
        }
    }

    /// [`WasmLibrary::enter`] from a callback: the entry's shadow stack pointer is kept, for
    /// a trap to put back (and the error past the nesting limit).
    #[cold]
    #[inline(never)]
    fn enter_nested(&mut self) -> Result<Entry> {
        let entry = self
            .live
            .guest
            .enter()
            .ok_or_else(|| self.live.guest.enter_error())?;
        if let Some(sp) = self.stack_now().and_then(|(_, v)| v.i32()) {
            self.live.guest.entries.save_stack(sp);
        }
        Ok(entry)
    }

    /// Runs a guest function that is not a call (libc's `malloc`, `free`, `fflush`) with the
    /// library borrowed; a trap puts the shadow stack back and is an error.
    pub(super) fn guest_op<T>(
        &mut self,
        f: impl FnOnce(StoreContextMut<'_, GuestState>) -> wasmtime::Result<T>,
    ) -> Result<T> {
        let stack = self.stack_now();
        let mut cx = self.live.guest.cx()?;
        match f(cx.as_context_mut()) {
            Ok(v) => Ok(v),
            Err(e) => {
                if let Some((global, value)) = stack {
                    let _ = global.set(&mut cx, value);
                }
                Err(trap_error(e))
            }
        }
    }

    /// The shadow stack pointer a trap from here must put back: its value between calls at
    /// the outermost level; inside a call (from a callback), its value now, which the call in
    /// flight still uses.
    fn stack_now(&mut self) -> Option<(wasmtime::Global, Val)> {
        let (global, base) = self.live.stack_pointer?;
        if !self.live.guest.in_call() {
            return Some((global, base));
        }
        let cx = self.live.guest.cx().ok()?;
        let now = global.get(cx);
        Some((global, now))
    }

    /// Readies a call of prototype `proto` ([`Backend::begin_call`](crate::backend::Backend)).
    pub(super) fn begin(
        &mut self,
        proto: ProtoId,
        args: &[u64],
        ret_addr: u64,
    ) -> Result<WasmCall> {
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
        // clang's variadic buffer: each promoted argument at its offset, the buffer's address
        // passed last. Without variadic arguments a variadic callee still gets a buffer (of
        // zeros), which reads as 0 whatever it reads.
        let va_buffer = if p.va_size > 0 || p.params.contains(&ArgPlan::VaBuffer) {
            let (varargs, va_size) = (p.varargs.clone(), p.va_size.max(16));
            let addr = crate::backend::Backend::malloc(self, va_size)?;
            let mut buf = vec![0u8; va_size];
            for (i, slot, offset) in varargs {
                let size = if matches!(slot, Slot::I32 | Slot::F32) {
                    4
                } else {
                    8
                };
                buf[offset..offset + size].copy_from_slice(&args[i].to_le_bytes()[..size]);
            }
            if let Err(e) = crate::backend::Backend::write(self, addr, &buf) {
                let _ = crate::backend::Backend::free(self, addr);
                return Err(e);
            }
            addr
        } else {
            0
        };
        let outcome = self.fill(proto, args, ret_addr, va_buffer, n);
        if outcome.is_err() && va_buffer != 0 {
            let _ = crate::backend::Backend::free(self, va_buffer);
        }
        outcome
    }

    /// [`WasmLibrary::begin`] once the variadic buffer (if any) is in place: the parameters
    /// in their slots, and the entry.
    fn fill(
        &mut self,
        proto: ProtoId,
        args: &[u64],
        ret_addr: u64,
        va_buffer: u64,
        n: usize,
    ) -> Result<WasmCall> {
        let entry = self.enter()?;
        let memory = self.live.memory;
        let p = &self.protos[proto.0];
        let (func, result) = (p.func, p.result);
        let mut slots = [MaybeUninit::<ValRaw>::uninit(); MAX_ARGS];
        let cx = self.live.guest.cx()?;
        let mem = memory.data(&cx);
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
        Ok(WasmCall {
            entry,
            func,
            slots,
            n,
            result,
            ret_addr,
            va_buffer,
            outcome: None,
        })
    }

    /// Finishes a call run after [`WasmLibrary::begin`]: the variadic buffer freed, a trap
    /// (or a callback's error) as the call's error, the raw result.
    pub(super) fn end(&mut self, mut call: WasmCall) -> Result<u64> {
        if call.va_buffer != 0 {
            let _ = crate::backend::Backend::free(self, call.va_buffer);
        }
        match call.outcome.take() {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(*self.failure(Err(e))),
            None => return Err(Error::Runtime("a call ended without running".into())),
        }
        // SAFETY: slot 0 was initialised by `fill` and holds the result after the call.
        let ret = unsafe { call.slots[0].assume_init() };
        match call.result {
            RetPlan::None | RetPlan::Discard(_) => Ok(0),
            RetPlan::Slot(s) => Ok(s.bits_of(ret)),
            RetPlan::Store(s, size) => {
                let bits = s.bits_of(ret).to_le_bytes();
                crate::backend::Backend::write(self, call.ret_addr, &bits[..size])?;
                Ok(0)
            }
        }
    }

    /// The error of a call that trapped or whose callback failed (the callback's error first:
    /// the trap is only how it stopped the guest), with the shadow stack put back as it was
    /// when the entry that just returned was made.
    #[cold]
    #[inline(never)]
    pub(crate) fn failure(&mut self, outcome: wasmtime::Result<()>) -> Box<Error> {
        let trap = outcome.err().map(trap_error);
        let stack = match (
            self.live.guest.entries.stack_of_returned(),
            self.live.stack_pointer,
        ) {
            (Some(at_entry), Some((global, _))) => Some((global, Val::I32(at_entry))),
            (None, base) => base,
            (Some(_), None) => None,
        };
        let callback = match self.live.guest.cx() {
            Ok(mut cx) => {
                if let Some((global, value)) = stack {
                    let _ = global.set(&mut cx, value);
                }
                cx.data_mut().callback_error.take()
            }
            Err(_) => None,
        };
        Box::new(match (callback, trap) {
            (Some(e), _) | (None, Some(e)) => e,
            (None, None) => Error::Runtime("a call failed without an error".into()),
        })
    }

    /// The scalar prototype `proto` as wasmtime's `TypedFunc<P, R>`, if its export has exactly
    /// that wasm signature: what [`TypedFunction`](crate::TypedFunction) calls in wasm.
    pub(crate) fn typed_func<P: WasmParams, R: WasmResults>(
        &mut self,
        proto: ProtoId,
    ) -> Option<WasmTyped<P, R>> {
        self.refresh(proto).ok()?;
        let func = self.protos.get(proto.0).filter(|p| p.scalar)?.func;
        let cx = self.live.guest.cx().ok()?;
        let typed = func.typed::<P, R>(&cx).ok()?;
        Some(self.of_instance(typed))
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
    pub(crate) fn current<'k, F>(&self, kept: &'k OfInstance<F>) -> Option<&'k F> {
        (kept.generation == self.generation).then_some(&kept.func)
    }

    /// The export of a prepared scalar prototype of `n` arguments, for [`call_slots`];
    /// `None` if the prototype is not scalar or takes another number of arguments, and also
    /// after a `reset()` until the general path has looked the export up again
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
}
