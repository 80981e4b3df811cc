//! What an embedding runs around C code: ctypes releases the GIL there.

/// What an embedding runs around every stretch of C code of a sandbox: each call's own C code
/// (a foreign call's, from its first instruction to its return), the way CPython's ctypes
/// releases the GIL around it (`Py_BEGIN_ALLOW_THREADS` ... `Py_END_ALLOW_THREADS`). The Python
/// package releases the GIL in [`Detach::detach`] and takes it back in [`Detach::reattach`], so
/// that other Python threads run while C computes, sleeps or spins; a callback takes the GIL
/// back while it runs.
///
/// Set once per sandbox with [`Sandbox::set_detach`](crate::Sandbox::set_detach); a function
/// declared to keep it (ctypes' `PyDLL`) calls with [`Function::set_detach`]`(false)`.
/// Nothing of the library is borrowed while the C code runs: it may call back into the host,
/// and the callback into the sandbox again.
///
/// [`Function::set_detach`]: crate::Function::set_detach
pub trait Detach {
    /// Called on the calling thread just before a call's C code runs; what it returns is
    /// given to [`Detach::reattach`].
    fn detach(&self) -> usize;

    /// Called on the same thread just after the C code returned (also if it unwound).
    fn reattach(&self, token: usize);
}

/// The embedding's hook held around one stretch of C code: [`Detach::reattach`] when dropped.
pub(crate) struct Detached<'h> {
    hook: &'h dyn Detach,
    token: usize,
}

impl<'h> Detached<'h> {
    /// Calls [`Detach::detach`].
    #[inline]
    pub(crate) fn new(hook: &'h dyn Detach) -> Detached<'h> {
        Detached {
            token: hook.detach(),
            hook,
        }
    }
}

impl Drop for Detached<'_> {
    #[inline]
    fn drop(&mut self) {
        self.hook.reattach(self.token);
    }
}
