//! Python objects that any thread may use, one at a time, under the GIL: [`GilCell`], a field
//! of a frozen object read and written with no borrow flag and no atomic operation, and
//! [`any_thread_under_the_gil!`], for the classes that hold what is not `Send`.
//!
//! PyO3 guards a mutable `#[pyclass]` with a borrow flag that every access updates
//! atomically; on the hot paths of ctypes' instances (a callback's pointer arguments, `p[i]`)
//! those updates were a measurable part of each call. The GIL already serialises every access
//! to these objects, so the fields live in cells whose every access takes the proof of it, a
//! [`Python`] token, and never hands out a reference into the cell: a value is copied (or its
//! reference count raised) on the way out, and an old value is dropped after the new one is in
//! place, so Python code run by a drop sees a consistent object.

use std::cell::UnsafeCell;

use pyo3::prelude::*;

/// A value that only the thread holding the GIL reads or writes (see the module docs).
pub(crate) struct GilCell<T>(UnsafeCell<T>);

// SAFETY: every access to the contents takes a `Python<'_>` token, so it happens on a thread
// that holds the GIL: one thread at a time. The module says it needs the GIL
// (`#[pymodule(gil_used = true)]`), so that a free-threaded interpreter turns its GIL on when
// it imports the module. No access hands out a reference into the cell (`GilCell::visit` lends one to the
// garbage collector, which runs with the GIL held and calls no Python code while it visits).
unsafe impl<T: Send> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    pub(crate) const fn new(v: T) -> Self {
        GilCell(UnsafeCell::new(v))
    }
}

impl<T> GilCell<T> {
    /// Puts `v` in the cell and returns the old value, for the caller to drop (dropping may
    /// run Python code, which may look at the cell: it already holds the new value).
    pub(crate) fn replace(&self, _py: Python<'_>, v: T) -> T {
        // SAFETY: as in `load`; the swap runs no Python code.
        unsafe { std::mem::replace(&mut *self.0.get(), v) }
    }
}

impl<T> GilCell<T> {
    /// Runs `f` on the value. `f` must run no Python code (which could reach the cell again):
    /// it gets the only reference into the cell there is.
    pub(crate) fn with<R>(&self, _py: Python<'_>, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: as in `load`; `f` runs no Python code (the caller's promise), so nothing
        // else reaches the cell while the reference lives.
        f(unsafe { &mut *self.0.get() })
    }
}

impl<T: Copy> GilCell<T> {
    /// The value.
    #[inline]
    pub(crate) fn load(&self, _py: Python<'_>) -> T {
        // SAFETY: with the GIL held (the token), nothing else accesses the cell now.
        unsafe { *self.0.get() }
    }

    /// Sets the value.
    #[inline]
    pub(crate) fn store(&self, _py: Python<'_>, v: T) {
        // SAFETY: as in `load`.
        unsafe { *self.0.get() = v }
    }
}

impl<U> GilCell<Option<Py<U>>> {
    /// A new reference to the object held, if any.
    #[inline]
    pub(crate) fn cloned(&self, py: Python<'_>) -> Option<Py<U>> {
        // SAFETY: as in `load`; raising a reference count runs no Python code.
        unsafe { (*self.0.get()).as_ref().map(|o| o.clone_ref(py)) }
    }

    /// Puts `v` in the cell; the old value is dropped after, when the cell already holds the
    /// new one (dropping an object may run Python code, which may look at the cell).
    pub(crate) fn set(&self, _py: Python<'_>, v: Option<Py<U>>) {
        // SAFETY: as in `load`; the swap runs no Python code.
        let old = unsafe { std::mem::replace(&mut *self.0.get(), v) };
        drop(old);
    }

    /// Shows the object held to the garbage collector (`__traverse__`).
    pub(crate) fn visit(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        // SAFETY: the collector traverses with the GIL held and runs no Python code while it
        // does, so nothing writes the cell during this read.
        match unsafe { &*self.0.get() } {
            Some(o) => visit.call(o),
            None => Ok(()),
        }
    }
}

/// Lets any thread use the objects of these classes, which hold what is not `Send` or `Sync`
/// (`Rc`s, `RefCell`s, a process's sandbox with its wasmtime store), as ctypes lets any thread
/// use its objects. PyO3 would otherwise tie each object to the thread that made it
/// (`unsendable`), and a thread that used it would get a panic.
///
/// Sound because of the GIL: every use of these objects is in a method PyO3 calls or under
/// `Python::attach`, so on a thread holding the GIL (the module says it needs one, see
/// [`GilCell`]), and no call lets go of the GIL while it uses them (a call into C keeps it,
/// as a callback needs it). So they are used by one thread at a time, and the GIL's hand-over
/// orders one thread's uses before the next one's. Nothing in them belongs to a thread: errno
/// is swapped on the thread of each call, and wasmtime sets up its per-thread state on entry
/// to each call.
macro_rules! any_thread_under_the_gil {
    ($($t:ty),* $(,)?) => {
        $(
            // SAFETY: see the macro's documentation.
            unsafe impl Send for $t {}
            // SAFETY: see the macro's documentation.
            unsafe impl Sync for $t {}
        )*
    };
}
pub(crate) use any_thread_under_the_gil;
