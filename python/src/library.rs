//! A library loaded into a process, and its functions.

use pyo3::prelude::*;

use wasmctypes::CDLL;

use crate::error::OrPy;
use crate::function::Func;
use crate::process::Process;

/// A loaded library (a module of a process).
#[pyclass(frozen, module = "wasmctypes._core")]
pub(crate) struct Library {
    pub(crate) lib: CDLL,
    /// The process it is loaded into, whose gate every use claims.
    pub(crate) process: Py<Process>,
}

#[pymethods]
impl Library {
    /// The function `name`, with argtypes (`None`: unset) and restype as type codes, ctypes'
    /// `use_errno` (errno swapped with the process's private copy around calls), and whether
    /// the GIL is released around its calls (a `CDLL`'s; not a `PyDLL`'s).
    #[pyo3(signature = (name, argtypes, restype, use_errno = false, release_gil = true))]
    fn function(
        &self,
        py: Python<'_>,
        name: &str,
        argtypes: Option<Vec<Bound<'_, PyAny>>>,
        restype: Bound<'_, PyAny>,
        use_errno: bool,
        release_gil: bool,
    ) -> PyResult<Func> {
        let process = self.process.bind(py);
        let f = {
            let _claim = process.get().claim(py)?;
            self.lib.function(name).py()?
        };
        Func::declared(process, f, argtypes, restype, use_errno, release_gil)
    }

    /// The function at a C function pointer (`CFUNCTYPE(...)(address)`), with its prototype
    /// as in [`Library::function`]. In wasm the address is checked against the sandbox's
    /// function table when the call is prepared.
    #[pyo3(signature = (address, argtypes, restype, use_errno = false, release_gil = true))]
    fn function_at(
        &self,
        py: Python<'_>,
        address: u64,
        argtypes: Option<Vec<Bound<'_, PyAny>>>,
        restype: Bound<'_, PyAny>,
        use_errno: bool,
        release_gil: bool,
    ) -> PyResult<Func> {
        // SAFETY: natively this is ctypes' own contract for calling a function pointer: the
        // script vouches for the address and the prototype. In wasm every address is checked.
        let f = unsafe { self.lib.function_at(address) }.py()?;
        Func::declared(
            self.process.bind(py),
            f,
            argtypes,
            restype,
            use_errno,
            release_gil,
        )
    }

    /// The address of the function `name` (`cast(lib.name, c_void_p).value`): natively its
    /// code address, in wasm its slot in the sandbox's function table. AttributeError if the
    /// library has no such function.
    fn function_address(&self, py: Python<'_>, name: &str) -> PyResult<u64> {
        let _claim = self.process.get().claim(py)?;
        self.lib.function_address(name).py()
    }

    /// Whether the library finds a function called `name`.
    fn has(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        let _claim = self.process.get().claim(py)?;
        Ok(self.lib.function(name).is_ok())
    }

    /// The address of the data symbol `name` (`in_dll`).
    fn data_address(&self, py: Python<'_>, name: &str) -> PyResult<u64> {
        let _claim = self.process.get().claim(py)?;
        self.lib.data_address(name).py()
    }

    /// The file it was loaded from.
    #[getter]
    fn path(&self) -> String {
        self.lib.path().display().to_string()
    }
}
