//! The shared state of a loaded library, which `CDLL`, its functions and its memory objects
//! keep alive, and the scalar call both fast paths end in.

use std::mem::MaybeUninit;
use std::path::PathBuf;

use super::fast_path::{fill_slots, ScalarCall, SCALAR_MAX};
use super::function::Function;
use super::loan_cell::{Lent, LoanCell};

use crate::backend::{native, wasm, AnyBackend, Backend, BackendKind, ProtoId};
use crate::error::{Error, Result};
use crate::types::DataModel;
use crate::value::{LibId, Value};

/// The shared state of a loaded library. Functions and memory objects keep it alive.
pub(crate) struct LibInner {
    pub(crate) id: LibId,
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) kind: BackendKind,
    pub(crate) model: DataModel,
    pub(crate) backend: LoanCell<AnyBackend>,
    /// With `use_errno`: where the library's errno lives, and the private copy.
    pub(crate) errno: Option<(u64, super::private_errno::PrivateErrno)>,
    /// A block of the library's memory (0 until first needed) that holds one call's
    /// temporaries (copied strings, structures by value) instead of a malloc and free each.
    pub(super) scratch: std::cell::Cell<u64>,
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
    /// The scalar call of both fast paths ([`Function::call`]'s and
    /// [`TypedFunction::call`](crate::TypedFunction::call)): the arguments already in their
    /// slots, the raw result slot back, the error boxed so that the result comes back in
    /// registers. The busy library and `use_errno` are out of line.
    #[inline(always)]
    pub(crate) fn call_scalar(
        &self,
        proto: ProtoId,
        slots: &[u64],
    ) -> std::result::Result<u64, Box<Error>> {
        if let Some(mut backend) = self.lend_without_errno() {
            return match &mut *backend {
                AnyBackend::Wasm(w) => w.call_scalar(proto, slots),
                AnyBackend::Native(n) => n.call_scalar_inline(proto, slots),
            };
        }
        self.call_scalar_slow(proto, slots)
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

    /// [`Function::call`]'s fast path: the arguments converted by the plan `s` straight into
    /// the backend's own argument slots, the call, the result converted. `None` (before any
    /// call) when an argument is not a plain number or address of its declared kind, the
    /// library is busy, or the wasm prototype is not scalar: the general path then converts,
    /// rejects or reports them.
    #[inline(always)]
    pub(super) fn call_values(&self, s: &ScalarCall, args: &[Value]) -> Option<Result<Value>> {
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
                // SAFETY: `fill_slots` wrote one slot per argument (`args.len() == s.n`), each
                // the argument's bits at its declared type's width (`ScalarCall`), which is
                // the prototype's parameter type (`scalar_func`).
                Some(match unsafe { w.call_slots(func, &mut slots, s.n) } {
                    Ok(raw) => Ok(s.ret.value(raw)),
                    Err(e) => Err(crate::error::unbox(e)),
                })
            }
            AnyBackend::Native(n) => {
                let mut slots = [MaybeUninit::uninit(); SCALAR_MAX];
                let slots = Function::scalar_slots(s, lib, args, &mut slots)?;
                Some(match n.call_scalar_inline(s.proto, slots) {
                    Ok(raw) => Ok(s.ret.value(raw)),
                    Err(e) => Err(crate::error::unbox(e)),
                })
            }
        }
    }

    /// A wasm `TypedFunc` call ([`TypedFunction::call`](crate::TypedFunction::call)'s in
    /// wasm); `None` when it cannot be made here (a busy library, `use_errno`, a library reset
    /// since the `TypedFunc` was made) and the scalar path must.
    #[inline(always)]
    pub(crate) fn call_wasm_typed<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &self,
        typed: &crate::backend::wasm::WasmTyped<P, R>,
        params: P,
    ) -> Option<std::result::Result<R, Box<Error>>> {
        self.lend_without_errno()?
            .as_wasm()?
            .call_typed(typed, params)
    }

    /// A native call through the prototype's register shim with the arguments already in
    /// their register images ([`TypedFunction::call`](crate::TypedFunction::call)'s
    /// natively); `None` when it cannot be made here (a busy library, `use_errno`, captured
    /// output) and the scalar path must.
    ///
    /// # Safety
    /// As for [`NativeLibrary::call_images_inline`](crate::backend::native::NativeLibrary::call_images_inline).
    #[inline(always)]
    pub(crate) unsafe fn call_native_images(
        &self,
        proto: ProtoId,
        ints: &native::shims::Image,
        floats: &native::shims::Image,
    ) -> Option<std::result::Result<u64, Box<Error>>> {
        match &mut *self.lend_without_errno()? {
            // SAFETY: the caller's promise.
            AnyBackend::Native(n) => unsafe { n.call_images_inline(proto, ints, floats) },
            AnyBackend::Wasm(_) => None,
        }
    }

    /// [`LibInner::call_scalar`] for a busy library or one with `use_errno`: errno is swapped
    /// with the private copy around the call.
    #[cold]
    #[inline(never)]
    pub(super) fn call_scalar_slow(
        &self,
        proto: ProtoId,
        slots: &[u64],
    ) -> std::result::Result<u64, Box<Error>> {
        let mut backend = self.backend().map_err(Box::new)?;
        self.with_private_errno(&mut **backend, true, |b| b.call_scalar(proto, slots))?
    }

    /// ctypes' `use_errno`: runs `call` with the library's errno set to the private copy,
    /// which then takes what C left there. Without `use_errno` (the library's, or `swap`
    /// for this call) it only runs `call`.
    pub(super) fn with_private_errno<T>(
        &self,
        b: &mut dyn Backend,
        swap: bool,
        call: impl FnOnce(&mut dyn Backend) -> T,
    ) -> Result<T> {
        let Some((addr, private)) = self.errno.as_ref().filter(|_| swap) else {
            return Ok(call(b));
        };
        b.write(*addr, &private.get().to_le_bytes())?;
        let outcome = call(b);
        let mut now = [0u8; 4];
        b.read(*addr, &mut now)?;
        private.replace(i32::from_le_bytes(now));
        Ok(outcome)
    }

    /// Lends the backend to one call ([`LoanCell::lend`]); a re-entrant use (from inside a
    /// call) is an error, not a panic.
    #[inline]
    pub(crate) fn backend(&self) -> Result<Lent<'_, AnyBackend>> {
        self.backend.lend().ok_or_else(|| {
            Error::Runtime(format!(
                "{}: library is busy in another call (re-entrant use)",
                self.name
            ))
        })
    }
}
