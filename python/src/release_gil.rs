//! The GIL released around C code, as ctypes releases it around every call of a `CDLL`.

use pyo3::ffi;
use pyo3::prelude::*;

/// The core's [`Detach`](wasmctypes::Detach) hook of every process: the C code of a call runs
/// with the GIL released (`PyEval_SaveThread`, ctypes' `Py_BEGIN_ALLOW_THREADS`), so that other
/// Python threads run while it computes, sleeps or spins, and takes it back when C returns
/// (`PyEval_RestoreThread`). A `PyDLL`'s functions keep the GIL
/// ([`Function::set_detach`](wasmctypes::Function::set_detach)).
///
/// The thread's PyO3 state still says the GIL is held while C runs, so a callback of the call
/// takes the GIL with [`with_gil`], not with `Python::attach` (which would take PyO3's word for
/// it).
pub(crate) struct ReleaseGil;

impl wasmctypes::Detach for ReleaseGil {
    fn detach(&self) -> usize {
        // SAFETY: the core calls the hook from a call this extension made, on this thread,
        // with the GIL held (every call into the core is made from a method PyO3 called);
        // `reattach` restores the thread state on this thread.
        unsafe { ffi::PyEval_SaveThread() as usize }
    }

    fn reattach(&self, token: usize) {
        // SAFETY: `token` is the thread state `detach` saved on this thread.
        unsafe { ffi::PyEval_RestoreThread(token as *mut ffi::PyThreadState) }
    }
}

/// Runs `f` with the GIL held, from C code of any thread (a callback): on the thread of a call
/// that released it, on a thread of C's own, or on a thread that holds it already.
pub(crate) fn with_gil<R>(f: impl FnOnce(Python<'_>) -> R) -> R {
    // SAFETY: PyGILState_Ensure takes the GIL for this thread whatever its state (making a
    // thread state for a thread of C's own), and the matching Release below puts it back.
    let state = unsafe { ffi::PyGILState_Ensure() };
    struct Release(ffi::PyGILState_STATE);
    impl Drop for Release {
        fn drop(&mut self) {
            // SAFETY: the state the Ensure above returned, on this thread.
            unsafe { ffi::PyGILState_Release(self.0) }
        }
    }
    let _release = Release(state);
    // SAFETY: the GIL is held from the Ensure above until the Release.
    let py = unsafe { Python::assume_attached() };
    f(py)
}
