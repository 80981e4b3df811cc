//! The GIL released around C code, as ctypes releases it around every call of a `CDLL`.

use pyo3::prelude::*;

/// The core's [`Detach`](wasmctypes::Detach) hook of every process: the C code of a call runs
/// with the GIL released, so that other Python threads run while it computes, sleeps or
/// spins; a callback takes the GIL back while it runs (`Python::attach`), and the call takes
/// it back when C returns. A `PyDLL`'s functions keep the GIL
/// ([`Function::set_detach`](wasmctypes::Function::set_detach)).
pub(crate) struct ReleaseGil;

/// The call's C code, sent to the thread it already runs on: [`Python::detach`] runs the
/// closure on the calling thread, with the GIL released.
struct OnThisThread<'a>(&'a mut dyn FnMut());

// SAFETY: `Python::detach` asks for `Send` to keep Python objects out of code that runs
// without the GIL; the closure runs on this very thread, and the C code (with the core's call
// machinery) touches no Python object without taking the GIL back (callbacks attach).
unsafe impl Send for OnThisThread<'_> {}

impl wasmctypes::Detach for ReleaseGil {
    fn detached(&self, c: &mut dyn FnMut()) {
        let c = OnThisThread(c);
        // SAFETY: the core runs the hook from a call made by this extension, with the GIL
        // held by this thread (every call into the core is made from a method PyO3 called).
        let py = unsafe { Python::assume_attached() };
        py.detach(move || {
            let c = c;
            (c.0)()
        });
    }
}
