//! Callbacks natively: a libffi closure, real executable code with a host address, whose
//! trampoline converts the arguments and calls the closure.

use std::cell::RefCell;
use std::ffi::c_void;
use std::rc::Rc;

use libffi::middle::Cif;

use super::{ffi_struct, ffi_type, HostMemory, NativeLibrary, MAX_ARGS};
use crate::backend::CallbackArg;
use crate::error::{Error, Result};
use crate::types::CType;

/// A libffi closure and what it needs to stay valid.
pub(super) struct NativeCallback {
    pub(super) closure: *mut libffi::low::ffi_closure,
    // Boxed: the closure points at the CIF and the state, so they must not move.
    pub(super) _cif: Box<Cif>,
    pub(super) _state: Box<CallbackState>,
}

/// What the trampoline needs: the closure and the prototype.
pub(super) struct CallbackState {
    pub(super) f: Rc<crate::backend::CallbackFn>,
    pub(super) args: Vec<CallbackArg>,
    pub(super) ret: CType,
}

thread_local! {
    /// The error a callback returned on this thread, kept for the call it ran in (the
    /// innermost call of this thread) to report. A callback that C runs on a thread of its
    /// own keeps it there: no call of that thread reports it.
    static FAILED: RefCell<Option<Error>> = const { RefCell::new(None) };
    /// Whether `FAILED` holds an error: the one read each call makes.
    static HAS_FAILED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Callbacks running on this thread, nested (a callback calling C that calls back).
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// How deeply callbacks may nest on one thread (see
/// [`MAX_NESTING`](crate::backend::MAX_NESTING)); past it a callback is
/// [`Error::Recursion`](crate::Error) instead of running.
const MAX_DEPTH: u32 = crate::backend::MAX_NESTING;

/// Keeps the first error of a callback on this thread.
fn fail(e: Error) {
    FAILED.with(|f| {
        let mut slot = f.borrow_mut();
        if slot.is_none() {
            *slot = Some(e);
        }
    });
    HAS_FAILED.with(|h| h.set(true));
}

/// The error a callback returned on this thread since the last take, if any.
#[inline(always)]
pub(crate) fn take_failure() -> Option<Error> {
    if !HAS_FAILED.with(|h| h.get()) {
        return None;
    }
    take_failure_now()
}

#[cold]
#[inline(never)]
fn take_failure_now() -> Option<Error> {
    HAS_FAILED.with(|h| h.set(false));
    FAILED.with(|f| f.borrow_mut().take())
}

/// The C entry point of every native callback. It must not unwind into C: a panic or an error
/// is kept for the call to report, and C gets a zero result.
pub(super) unsafe extern "C" fn trampoline(
    _cif: &libffi::low::ffi_cif,
    result: &mut [u64; 2],
    args: *const *const c_void,
    state: &CallbackState,
) {
    let m = crate::types::DataModel::host();
    let mut values = crate::backend::CallbackValues::new();
    for (i, t) in state.args.iter().enumerate() {
        // SAFETY: libffi passes one pointer per argument of the CIF, each to a value of the
        // argument's type: `size` bytes of a scalar, or of the structure.
        let at = unsafe { *args.add(i) } as *const u8;
        // A scalar's value goes straight into `values` (no `Result` copied on the way: the
        // store-forwarding stall of reading a 16-byte value back just after writing it in
        // 8-byte pieces).
        let value = match t {
            CallbackArg::Scalar(c) if m.repr(*c).is_long_double() => {
                // SAFETY: as above, the 16 bytes of a long double.
                let bytes = unsafe { std::slice::from_raw_parts(at, 16) };
                let x = crate::value::long_double_value(m.repr(*c), bytes);
                values.push(CallbackArg::scalar(*c, m, x.to_bits()));
                continue;
            }
            CallbackArg::Scalar(c) => {
                // SAFETY: as above; a scalar is at most 8 bytes.
                let bytes = unsafe { std::slice::from_raw_parts(at, m.sizeof(*c)) };
                values.push(CallbackArg::scalar(*c, m, crate::value::bits_le(bytes)));
                continue;
            }
            CallbackArg::Struct(s) => {
                // SAFETY: as above, the structure's `size` bytes.
                let bytes = unsafe { std::slice::from_raw_parts(at, s.layout(m).size) };
                t.value(m, 0, bytes)
            }
        };
        match value {
            Ok(v) => values.push(v),
            Err(e) => {
                fail(e);
                *result = [0; 2];
                return;
            }
        }
    }
    let depth = DEPTH.with(|d| d.get());
    let outcome = if depth >= MAX_DEPTH {
        Err(Error::Recursion(format!(
            "callbacks nest {depth} deep on this thread (C calling back, the callback calling \
             C): the limit is {MAX_DEPTH}"
        )))
    } else {
        DEPTH.with(|d| d.set(depth + 1));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (state.f)(&mut HostMemory, &values)
        }))
        .unwrap_or_else(|_| Err(Error::Runtime("the callback panicked".into())));
        DEPTH.with(|d| d.set(depth));
        outcome
    }
    .and_then(|v| crate::value::callback_result(state.ret, m, &v));
    let bits = match outcome {
        Ok(bits) => bits,
        Err(e) => {
            fail(e);
            0
        }
    };
    let r = m.repr(state.ret);
    *result = if r.is_long_double() {
        // The result's own 16 bytes (the slot holds its value as a double).
        let w = u128::from_le_bytes(crate::value::long_double_bytes(r, f64::from_bits(bits)));
        [w as u64, (w >> 64) as u64]
    } else {
        [bits, 0]
    };
}

impl NativeLibrary {
    /// See [`Backend::make_callback`].
    pub(super) fn add_callback(
        &mut self,
        args: &[CallbackArg],
        ret: CType,
        f: Rc<crate::backend::CallbackFn>,
    ) -> Result<u64> {
        let m = crate::types::DataModel::host();
        if args.len() > MAX_ARGS {
            return Err(Error::TypeError(format!(
                "a callback takes at most {MAX_ARGS} arguments"
            )));
        }
        let types = args
            .iter()
            .map(|a| match a {
                CallbackArg::Scalar(t) => Ok(ffi_type(m.repr(*t))),
                CallbackArg::Struct(s) => ffi_struct(s),
            })
            .collect::<Result<Vec<_>>>()?;
        let cif = Box::new(Cif::new(types, ffi_type(m.repr(ret))));
        let state = Box::new(CallbackState {
            f,
            args: args.to_vec(),
            ret,
        });
        let (closure, code) = libffi::low::try_closure_alloc()
            .ok_or_else(|| Error::Runtime("ffi_closure_alloc failed".into()))?;
        // SAFETY: the closure, the CIF and the state are kept together in `self.callbacks`
        // until `free_callback` (or drop) frees the closure first; the CIF and the state are
        // boxed, so the pointers given to libffi stay valid.
        let prepared = unsafe {
            // The result buffer libffi gives a closure holds any return value, 16 bytes at
            // least (two registers, or an x87 long double): the trampoline writes 16.
            libffi::low::prep_closure::<CallbackState, [u64; 2]>(
                closure,
                cif.as_raw_ptr(),
                trampoline,
                &*state,
                code,
            )
        };
        if prepared.is_err() {
            // SAFETY: allocated above and not yet handed out.
            unsafe { libffi::low::closure_free(closure) };
            return Err(Error::Runtime("ffi_prep_closure failed".into()));
        }
        let addr = code.as_ptr() as u64;
        self.callbacks.insert(
            addr,
            NativeCallback {
                closure,
                _cif: cif,
                _state: state,
            },
        );
        Ok(addr)
    }
}

impl NativeLibrary {
    /// See [`Backend::free_callback`].
    pub(super) fn remove_callback(&mut self, ptr: u64) {
        if let Some(cb) = self.callbacks.remove(&ptr) {
            // SAFETY: allocated by `make_callback`; C may no longer call it (the Callback that
            // handed it out is gone).
            unsafe { libffi::low::closure_free(cb.closure) };
        }
    }
}
