//! Native calls in flight: what a call needs of its prototype, taken from the library before
//! the call so that the call holds no borrow of it (a callback may use the library, and other
//! threads may call C at the same time, as with ctypes).

use super::shims::{Image, ShimPlan};
use super::{callback, NativeLibrary, NativeProto, MAX_ARGS};
use crate::error::{Error, Result};

/// A prepared prototype, as a call in flight uses it: its code, its CIF and its register
/// shim. The prototype is boxed in its library and never removed while the library lives.
#[derive(Clone, Copy)]
pub(crate) struct RawProto(pub(super) *const NativeProto);

impl RawProto {
    /// # Safety
    /// The library the prototype belongs to is alive.
    #[inline(always)]
    unsafe fn get(&self) -> &NativeProto {
        // SAFETY: the caller's promise; the prototype is boxed and never removed.
        unsafe { &*self.0 }
    }

    /// Calls the prototype with one raw slot per argument: through its register shim if it
    /// has one, otherwise through libffi. The raw result slot.
    ///
    /// # Safety
    /// The library the prototype belongs to is alive; `args` holds one slot per argument;
    /// that the code has the prototype is the caller's promise, as in ctypes.
    #[inline(always)]
    pub(crate) unsafe fn call(&self, args: &[u64], ret_addr: u64) -> u64 {
        // SAFETY: the caller's promises.
        let p = unsafe { self.get() };
        match &p.shim {
            // SAFETY: the plan was made from this prototype's own argument classes, and
            // `args` holds one slot per argument.
            Some(shim) => unsafe { shim.call(p.code, args) },
            None => NativeLibrary::ffi_call(p, args, ret_addr),
        }
    }

    /// The prototype's register shim, if it has one.
    ///
    /// # Safety
    /// The library the prototype belongs to is alive.
    #[inline(always)]
    pub(crate) unsafe fn shim(&self) -> Option<ShimPlan> {
        // SAFETY: the caller's promise.
        unsafe { self.get() }.shim
    }

    /// Calls the prototype through `shim` (from [`RawProto::shim`]) with the arguments
    /// already in their register images.
    ///
    /// # Safety
    /// As [`RawProto::call`], and the images hold the arguments as
    /// [`ShimPlan::call_images`] needs.
    #[inline(always)]
    pub(crate) unsafe fn call_images(&self, shim: &ShimPlan, ints: &Image, floats: &Image) -> u64 {
        // SAFETY: the caller's promises.
        unsafe { shim.call_images(self.get().code, ints, floats) }
    }
}

/// The C library's `errno` of this thread, set before a call and read after it, next to the
/// call, as ctypes swaps it for `use_errno` (nothing may run between them that sets errno).
#[derive(Clone, Copy, Default)]
pub(crate) struct ErrnoSwap {
    /// The value errno gets before the call.
    pub(crate) before: i32,
    /// The value C left in errno, after the call.
    pub(crate) after: i32,
}

/// A general call readied by [`Backend::begin_call`](crate::backend::Backend::begin_call).
pub(crate) struct NativeCall {
    proto: RawProto,
    args: [u64; MAX_ARGS],
    nargs: usize,
    ret_addr: u64,
    /// The raw result, once run.
    raw: Option<u64>,
    /// `use_errno`'s swap, when asked for.
    errno: Option<ErrnoSwap>,
}

impl NativeCall {
    pub(super) fn new(proto: RawProto, args: &[u64], ret_addr: u64) -> Result<NativeCall> {
        if args.len() > MAX_ARGS {
            return Err(Error::TypeError(format!(
                "too many arguments (at most {MAX_ARGS})"
            )));
        }
        let mut slots = [0u64; MAX_ARGS];
        slots[..args.len()].copy_from_slice(args);
        Ok(NativeCall {
            proto,
            args: slots,
            nargs: args.len(),
            ret_addr,
            raw: None,
            errno: None,
        })
    }

    /// Swaps this thread's errno with `before` around the call (ctypes' `use_errno`); what C
    /// left there is in [`NativeCall::errno_after`].
    pub(crate) fn swap_errno(&mut self, before: i32) {
        self.errno = Some(ErrnoSwap { before, after: 0 });
    }

    /// The errno C left, with [`NativeCall::swap_errno`].
    pub(crate) fn errno_after(&self) -> Option<i32> {
        self.errno.map(|e| e.after)
    }

    /// Runs the call, unless it already ran (with output captured, in `begin_call`).
    ///
    /// # Safety
    /// The library that readied the call is alive; that the code has the prototype is the
    /// caller's promise, as in ctypes.
    pub(crate) unsafe fn run(&mut self) {
        if self.raw.is_some() {
            return;
        }
        let args = &self.args[..self.nargs];
        let raw = match &mut self.errno {
            // SAFETY: the caller's promises.
            None => unsafe { self.proto.call(args, self.ret_addr) },
            Some(swap) => {
                // SAFETY: `__errno_location` has no preconditions: this thread's errno.
                let errno = unsafe { libc::__errno_location() };
                // SAFETY: a valid pointer to this thread's errno, set and read next to the call.
                unsafe {
                    *errno = swap.before;
                    let raw = self.proto.call(args, self.ret_addr);
                    swap.after = *errno;
                    raw
                }
            }
        };
        self.raw = Some(raw);
    }

    /// The raw result, or the error a callback returned during the call.
    pub(super) fn result(&self) -> Result<u64> {
        if let Some(e) = callback::take_failure() {
            return Err(e);
        }
        self.raw
            .ok_or_else(|| Error::Runtime("a call ended without running".into()))
    }
}
