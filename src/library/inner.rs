//! The shared state of a loaded library, which `CDLL`, its functions and its memory objects
//! keep alive, and the calls every path ends in.
//!
//! A call is readied with the library's backend lent to it, and the C code runs with the
//! loan ended (inside the embedding's [`Detach`] hook): C may call back into the host, and the
//! callback may use the sandbox, call into it again, or make objects in it. The backend is
//! lent again to finish the call.

use std::cell::{Cell, OnceCell};
use std::mem::MaybeUninit;
use std::path::PathBuf;
use std::rc::Rc;

use super::detach::{Detach, Detached};
use super::fast_path::{fill_slots, ScalarCall, SCALAR_MAX};
use super::function::Function;
use super::loan_cell::{Lent, LoanCell};

use crate::backend::{native, wasm, AnyBackend, BackendKind, ProtoId, RawCall};
use crate::error::{Error, Result};
use crate::types::DataModel;
use crate::value::{LibId, Value};

/// `$call`, a call's C code, with the library's hook around it when `$lib.hook($detach)` gives
/// one (see [`Detach`]). The call is written once, inline: as a closure that a hook runs it was
/// not inlined (about 50 instructions a call).
macro_rules! c_code {
    ($lib:expr, $detach:expr, $call:expr) => {{
        let _detached = $lib.hook($detach).map(Detached::new);
        $call
    }};
}

/// The shared state of a loaded library. Functions and memory objects keep it alive.
pub(crate) struct LibInner {
    pub(crate) id: LibId,
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) kind: BackendKind,
    pub(crate) model: DataModel,
    pub(crate) backend: LoanCell<AnyBackend>,
    /// With `use_errno`: where the library's errno lives (in wasm; natively each thread's own
    /// is used), and the private copy.
    pub(crate) errno: Option<(u64, super::private_errno::PrivateErrno)>,
    /// A block of the library's memory (0 until first needed) that holds one call's
    /// temporaries (copied strings, structures by value) instead of a malloc and free each.
    pub(super) scratch: Cell<u64>,
    /// Set while a call's temporaries are in the scratch block: a call made meanwhile (from a
    /// callback) puts its own in blocks of their own.
    pub(super) scratch_busy: Cell<bool>,
    /// The embedding's hook around C code, once set.
    pub(crate) detach: OnceCell<Rc<dyn Detach>>,
}

/// Size of a library's scratch block for call temporaries; larger ones get their own malloc.
pub(super) const SCRATCH: usize = 4096;

impl Drop for LibInner {
    fn drop(&mut self) {
        let scratch = self.scratch.get();
        if scratch != 0 {
            let _ = self.backend.get_mut().free(scratch);
        }
    }
}

impl LibInner {
    /// The embedding's hook, if there is one and `detach` asks for it.
    #[inline(always)]
    pub(crate) fn hook(&self, detach: bool) -> Option<&dyn Detach> {
        if detach {
            return self.detach.get().map(|h| &**h);
        }
        None
    }

    /// The scalar call of the typed path's fallback: the arguments already in their slots,
    /// the raw result slot back, the error boxed so that the result comes back in registers.
    /// errno is swapped when the library has `use_errno`.
    pub(crate) fn call_scalar(
        &self,
        proto: ProtoId,
        slots: &[u64],
    ) -> std::result::Result<u64, Box<Error>> {
        self.run_call(proto, slots, 0, self.errno.is_some(), true)
            .map_err(Box::new)
    }

    /// A call of a prepared prototype, readied with the backend lent and run with the loan
    /// ended (see the module docs); errno swapped with the private copy around it when
    /// `swap_errno`, the embedding's hook around it when `detach`.
    pub(crate) fn run_call(
        &self,
        proto: ProtoId,
        args: &[u64],
        ret_addr: u64,
        swap_errno: bool,
        detach: bool,
    ) -> Result<u64> {
        let errno = self.errno.as_ref().filter(|_| swap_errno);
        let mut b = self.backend()?;
        // wasm: the guest's errno is the sandbox's, in its memory.
        if let (Some((addr, private)), BackendKind::Wasm) = (errno, self.kind) {
            b.write(*addr, &private.get().to_le_bytes())?;
        }
        let mut call = b.begin_call(proto, args, ret_addr)?;
        if let (Some((_, private)), RawCall::Native(c)) = (errno, &mut call) {
            // Natively each thread's own errno, set next to the call.
            c.swap_errno(private.get());
        }
        let mut b = match &mut *b {
            AnyBackend::Native(n) if n.captures() => {
                // With output captured, fd 1 and 2 are redirected around the call, with the
                // library borrowed.
                if let RawCall::Native(c) = &mut call {
                    n.run_captured(c)?;
                }
                b
            }
            _ => {
                drop(b);
                // SAFETY: readied just now by this library's backend, which this library keeps
                // alive and which is not borrowed while the call runs (the loan ended); it runs
                // once, here, before the backend is used again but by its callbacks.
                c_code!(self, detach, unsafe { call.run() });
                self.backend()?
            }
        };
        if let (Some((_, private)), RawCall::Native(c)) = (errno, &call) {
            if let Some(after) = c.errno_after() {
                private.replace(after);
            }
        }
        let outcome = b.end_call(call);
        if let (Some((addr, private)), BackendKind::Wasm) = (errno, self.kind) {
            let mut now = [0u8; 4];
            b.read(*addr, &mut now)?;
            private.replace(i32::from_le_bytes(now));
        }
        outcome
    }

    /// [`Function::call`]'s fast path: the arguments converted by the plan `s` straight into
    /// the backend's own argument slots, the call, the result converted. `None` (before any
    /// call) when an argument is not a plain number or address of its declared kind, the
    /// library is busy, output is captured, or the wasm prototype is not scalar: the general
    /// path then converts, rejects or reports them.
    #[inline(always)]
    pub(super) fn call_values(
        &self,
        s: &ScalarCall,
        args: &[Value],
        detach: bool,
    ) -> Option<Result<Value>> {
        // A plan is only made without `use_errno` (see `Function::scalar_call`).
        if args.len() != s.n {
            return None;
        }
        let lib = self.id;
        let mut backend = self.backend.lend()?;
        // Each arm converts its own result, so that no merged outcome is tested again.
        match &mut *backend {
            AnyBackend::Wasm(w) => {
                let func = w.cached_scalar_func(&s.wasm, s.proto, s.n)?;
                let mut slots = [MaybeUninit::uninit(); wasm::SCALAR_SLOTS];
                fill_slots(s, args, lib, &mut slots, wasmtime::ValRaw::u64)?;
                let entry = match w.enter() {
                    Ok(entry) => entry,
                    Err(e) => return Some(Err(e)),
                };
                drop(backend);
                // SAFETY: `fill_slots` wrote one slot per argument (`args.len() == s.n`), each
                // the argument's bits at its declared type's width (`ScalarCall`), which is
                // the prototype's parameter type (`scalar_func`); the entry was made just now
                // by this library's backend, which this library keeps alive and which is not
                // borrowed while it runs (the loan ended), once, here.
                let outcome = c_code!(self, detach, unsafe {
                    wasm::call_slots(&entry, func, &mut slots, s.n)
                });
                Some(match outcome {
                    Ok(raw) => Ok(s.ret.value(raw)),
                    Err(e) => Err(self.wasm_failure(e)),
                })
            }
            AnyBackend::Native(n) => {
                let raw = n.raw(s.proto)?;
                drop(backend);
                let mut slots = [MaybeUninit::uninit(); SCALAR_MAX];
                let slots = Function::scalar_slots(s, lib, args, &mut slots)?;
                // SAFETY: the prototype belongs to this library's backend, which this library
                // keeps alive; `slots` holds one slot per argument; that the code has the
                // prototype is the caller's promise, as in ctypes.
                let bits = c_code!(self, detach, unsafe { raw.call(slots, 0) });
                Some(match native::callback::take_failure() {
                    None => Ok(s.ret.value(bits)),
                    Some(e) => Err(e),
                })
            }
        }
    }

    /// The scalar call of `s` with its arguments already converted into `args` (bytes copied
    /// into the library's memory by [`Function::call_scalar_copying`]): the same call as
    /// [`LibInner::call_values`] makes, the raw result slot. `None` (before any call) when
    /// that call cannot be made here (the library busy, output captured, the wasm export not
    /// yet kept for this instance), and [`LibInner::run_call`] must.
    #[inline(always)]
    pub(super) fn call_scalar_slots(
        &self,
        s: &ScalarCall,
        args: &[u64],
        detach: bool,
    ) -> Option<std::result::Result<u64, Box<Error>>> {
        let mut backend = self.backend.lend()?;
        match &mut *backend {
            AnyBackend::Wasm(w) => {
                let func = w.cached_scalar_func(&s.wasm, s.proto, args.len())?;
                let mut slots = [MaybeUninit::uninit(); wasm::SCALAR_SLOTS];
                for (slot, &bits) in slots.iter_mut().zip(args) {
                    slot.write(wasmtime::ValRaw::u64(bits));
                }
                let entry = match w.enter() {
                    Ok(entry) => entry,
                    Err(e) => return Some(Err(Box::new(e))),
                };
                drop(backend);
                // SAFETY: one slot per argument (`args` has the prototype's arity, at most
                // `SCALAR_SLOTS`), each the argument's bits at its declared width, as for
                // `call_values`; the entry was made just now by this library's backend, which
                // this library keeps alive and which is not borrowed while it runs, once, here.
                let outcome = c_code!(self, detach, unsafe {
                    wasm::call_slots(&entry, func, &mut slots, args.len())
                });
                Some(outcome.map_err(|e| Box::new(self.wasm_failure(e))))
            }
            AnyBackend::Native(n) => {
                let raw = n.raw(s.proto)?;
                drop(backend);
                // SAFETY: as in `call_values`: the prototype belongs to this library's
                // backend, which this library keeps alive; one slot per argument.
                let bits = c_code!(self, detach, unsafe { raw.call(args, 0) });
                Some(match native::callback::take_failure() {
                    None => Ok(bits),
                    Some(e) => Err(Box::new(e)),
                })
            }
        }
    }

    /// The error of a wasm call that trapped (or whose callback failed), with the shadow
    /// stack put back: out of line.
    #[cold]
    #[inline(never)]
    fn wasm_failure(&self, e: wasmtime::Error) -> Error {
        match self.backend() {
            Ok(mut b) => match b.as_wasm() {
                Some(w) => *w.failure(Err(e)),
                None => Error::Runtime("a sandbox's call failed natively".into()),
            },
            Err(busy) => busy,
        }
    }

    /// A wasm `TypedFunc` call ([`TypedFunction::call`](crate::TypedFunction::call)'s in
    /// wasm); `None` when it cannot be made here (a busy library, `use_errno`, a library reset
    /// since the `TypedFunc` was made) and the scalar path must.
    #[inline(always)]
    pub(crate) fn call_wasm_typed<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &self,
        typed: &wasm::WasmTyped<P, R>,
        params: P,
    ) -> Option<std::result::Result<R, Box<Error>>> {
        let mut backend = self.lend_without_errno()?;
        let w = backend.as_wasm()?;
        // Checked against the current instance, and used from where it is kept: a clone of
        // a `TypedFunc` costs more than the call (it holds its type's registration).
        w.current(typed)?;
        let entry = match w.enter() {
            Ok(entry) => entry,
            Err(e) => return Some(Err(Box::new(e))),
        };
        drop(backend);
        let func = typed.kept();
        // SAFETY: the entry was made just now by this library's backend, which this library
        // keeps alive and which is not borrowed while it runs, once, here; `func` is of the
        // current instance (`current`), the entry's store.
        let outcome = c_code!(self, true, unsafe {
            wasm::call_typed(&entry, func, params)
        });
        Some(outcome.map_err(|e| Box::new(self.wasm_failure(e))))
    }

    /// A native call through the prototype's register shim with the arguments already in
    /// their register images ([`TypedFunction::call`](crate::TypedFunction::call)'s
    /// natively); `None` when it cannot be made here (a busy library, `use_errno`, captured
    /// output) and the scalar path must.
    ///
    /// # Safety
    /// The prototype's shim fits the images' classes and count (`NativeLibrary::shim_fits`
    /// said so for these parameters), which hold the arguments as
    /// [`ShimPlan::call_images`](crate::backend::native::shims::ShimPlan::call_images) needs.
    #[inline(always)]
    pub(crate) unsafe fn call_native_images(
        &self,
        proto: ProtoId,
        ints: &native::shims::Image,
        floats: &native::shims::Image,
    ) -> Option<std::result::Result<u64, Box<Error>>> {
        let raw = match &mut *self.lend_without_errno()? {
            AnyBackend::Native(n) => n.raw(proto)?,
            AnyBackend::Wasm(_) => return None,
        };
        // SAFETY: the prototype belongs to this library's backend, which this library keeps
        // alive (the loan has ended: a callback may use the library).
        let shim = unsafe { raw.shim() }?;
        // SAFETY: as above; the images fit the shim (the caller's promise); that the code has
        // the prototype is the caller's promise, as in ctypes.
        let bits = c_code!(self, true, unsafe { raw.call_images(&shim, ints, floats) });
        Some(match native::callback::take_failure() {
            None => Ok(bits),
            Some(e) => Err(Box::new(e)),
        })
    }

    /// The backend, lent for a call that swaps no errno: `None` with `use_errno` (whose
    /// swap is out of line) or when the library is busy.
    #[inline(always)]
    fn lend_without_errno(&self) -> Option<Lent<'_, AnyBackend>> {
        if self.errno.is_some() {
            return None;
        }
        self.backend.lend()
    }

    /// Lends the backend to one use ([`LoanCell::lend`]); a use while it is lent (from a
    /// callback during a use that calls C with the backend borrowed) is an error, not a panic.
    #[inline]
    pub(crate) fn backend(&self) -> Result<Lent<'_, AnyBackend>> {
        self.backend.lend().ok_or_else(|| {
            Error::Runtime(format!(
                "{}: library is busy in another use (a callback during an operation that \
                 keeps it)",
                self.name
            ))
        })
    }
}
