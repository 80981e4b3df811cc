//! A library loaded into a process, and its functions.

use pyo3::prelude::*;

use wasmctypes::{BackendKind, CDLL};

use crate::error::OrPy;
use crate::function::Func;

/// A loaded library (a module of a process).
#[pyclass(frozen, module = "wasmctypes._core")]
pub(crate) struct Library {
    pub(crate) lib: CDLL,
}

#[pymethods]
impl Library {
    /// The function `name`, with argtypes (`None`: unset) and restype as type codes, and
    /// ctypes' `use_errno` (errno swapped with the process's private copy around calls).
    #[pyo3(signature = (name, argtypes, restype, use_errno = false))]
    fn function(
        &self,
        name: &str,
        argtypes: Option<Vec<Bound<'_, PyAny>>>,
        restype: Bound<'_, PyAny>,
        use_errno: bool,
    ) -> PyResult<Func> {
        let f = self.lib.function(name).py()?;
        let native = self.lib.backend() == BackendKind::Native;
        Func::declared(self.lib.id(), native, f, argtypes, restype, use_errno)
    }

    /// The function at a C function pointer (`CFUNCTYPE(...)(address)`), with its prototype
    /// as in [`Library::function`]. In wasm the address is checked against the sandbox's
    /// function table when the call is prepared.
    #[pyo3(signature = (address, argtypes, restype, use_errno = false))]
    fn function_at(
        &self,
        address: u64,
        argtypes: Option<Vec<Bound<'_, PyAny>>>,
        restype: Bound<'_, PyAny>,
        use_errno: bool,
    ) -> PyResult<Func> {
        // SAFETY: natively this is ctypes' own contract for calling a function pointer: the
        // script vouches for the address and the prototype. In wasm every address is checked.
        let f = unsafe { self.lib.function_at(address) }.py()?;
        let native = self.lib.backend() == BackendKind::Native;
        Func::declared(self.lib.id(), native, f, argtypes, restype, use_errno)
    }

    /// Whether the library finds a function called `name`.
    fn has(&self, name: &str) -> bool {
        self.lib.function(name).is_ok()
    }

    /// The address of the data symbol `name` (`in_dll`).
    fn data_address(&self, name: &str) -> PyResult<u64> {
        self.lib.data_address(name).py()
    }

    /// The file it was loaded from.
    #[getter]
    fn path(&self) -> String {
        self.lib.path().display().to_string()
    }
}
