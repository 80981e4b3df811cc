//! What an embedding runs around C code: ctypes releases the GIL there.

/// What an embedding runs around every stretch of C code of a sandbox: each call's own C code
/// (a foreign call's, from its first instruction to its return), the way CPython's ctypes
/// releases the GIL around it (`Py_BEGIN_ALLOW_THREADS`). The Python package releases the GIL
/// here, so that other Python threads run while C computes, sleeps or spins; a callback takes
/// it back while it runs.
///
/// Set once per sandbox with [`Sandbox::set_detach`](crate::Sandbox::set_detach); a function
/// declared to keep it (ctypes' `PyDLL`) calls with [`Function::set_detach`]`(false)`.
/// Nothing of the library is borrowed while the hook runs: the C code may call back into the
/// host, and the callback into the sandbox again.
///
/// [`Function::set_detach`]: crate::Function::set_detach
pub trait Detach {
    /// Runs `c`, a call's C code, once, on this thread.
    fn detached(&self, c: &mut dyn FnMut());
}
