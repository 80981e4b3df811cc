//! A library loaded into a process, and its functions.

use std::rc::Rc;

use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use wasmctypes::{CFuncType, Type, CDLL};

use crate::convert::type_of;
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

    /// The C prototype of `name` from the library's debug information: `(declaration,
    /// types)`, `types` being `(argtypes, restype)` as ctypes names (`"c_size_t"`, `"None"`)
    /// or `None` when ctypes cannot declare one of them; `None` without a prototype.
    #[allow(clippy::type_complexity)]
    fn prototype(&self, name: &str) -> PyResult<Option<(String, Option<(Vec<String>, String)>)>> {
        let Some(protos) = self.lib.prototypes().py()? else {
            return Ok(None);
        };
        let Some(f) = protos.function(name) else {
            return Ok(None);
        };
        let types = protos
            .ctypes(f)
            .map(|(args, ret)| (args.iter().map(Type::name).collect(), ret.name()));
        Ok(Some((protos.declaration(f), types)))
    }

    /// A binding of `name` checked against its C prototype: `(kind, message)` for each
    /// disagreement. `argtypes` and `restype` are type descriptions (`None`: not set): a type
    /// code, a structure's description, `("A", elem, n)`, `("*", target)` for `POINTER`, and
    /// `("F", restype, [argtypes])` for `CFUNCTYPE`; a description that is `...` (a type
    /// with its own `from_param`) is not checked.
    fn check(
        &self,
        name: &str,
        argtypes: Option<Vec<Bound<'_, PyAny>>>,
        restype: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Vec<(&'static str, String)>> {
        let Some(protos) = self.lib.prototypes().py()? else {
            return Ok(Vec::new());
        };
        let Some(f) = protos.function(name) else {
            return Ok(Vec::new());
        };
        let argtypes = match argtypes {
            Some(list) => {
                let mut types = Vec::with_capacity(list.len());
                for t in &list {
                    match checked_type(t, 0)? {
                        Some(t) => types.push(t),
                        None => return Ok(Vec::new()),
                    }
                }
                Some(types)
            }
            None => None,
        };
        let restype = match restype {
            Some(r) => match checked_type(&r, 0)? {
                Some(t) => Some(t),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        Ok(protos
            .check(f, argtypes.as_deref(), restype.as_ref())
            .into_iter()
            .map(|m| (m.kind.name(), m.to_string()))
            .collect())
    }
}

/// A type description of [`Library::check`] as the core's type, or `None` for one that is not
/// checked.
fn checked_type(desc: &Bound<'_, PyAny>, depth: u32) -> PyResult<Option<Type>> {
    if depth > 32 || desc.is(desc.py().Ellipsis()) {
        return Ok(None);
    }
    if let Ok(t) = desc.cast::<PyTuple>() {
        if t.len() == 3 && t.get_item(0)?.extract::<String>().ok().as_deref() == Some("A") {
            let n: usize = t.get_item(2)?.extract()?;
            return Ok(
                checked_type(&t.get_item(1)?, depth + 1)?.map(|e| Type::Array(Rc::new(e), n))
            );
        }
        if t.len() == 2 && t.get_item(0)?.extract::<String>().ok().as_deref() == Some("*") {
            return Ok(checked_type(&t.get_item(1)?, depth + 1)?.map(|t| Type::Pointer(Rc::new(t))));
        }
        if t.len() == 3 && t.get_item(0)?.extract::<String>().ok().as_deref() == Some("F") {
            let Some(restype) = checked_type(&t.get_item(1)?, depth + 1)? else {
                return Ok(None);
            };
            let list = t.get_item(2)?;
            let list = list.cast::<PyList>()?;
            let mut argtypes = Vec::with_capacity(list.len());
            for a in list.iter() {
                match checked_type(&a, depth + 1)? {
                    Some(a) => argtypes.push(a),
                    None => return Ok(None),
                }
            }
            return Ok(Some(Type::Function(Rc::new(CFuncType {
                restype,
                argtypes,
            }))));
        }
    }
    type_of(desc).map(Some)
}
