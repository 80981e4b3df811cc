//! ctypes' `CArgObject` ("cparam"): what `byref(obj)` and a simple type's `from_param` of a
//! plain Python value return. It holds the type code the call passes it as, the value the core
//! takes, and the object it keeps alive for the call.

use pyo3::prelude::*;

/// A cparam (see the module docs). As in CPython it cannot be made from Python code other
/// than the package's (`_make`), and its attributes are read-only.
#[pyclass(frozen, module = "builtins", name = "CArgObject")]
pub(crate) struct CArg {
    /// The type code (`"P"` for `byref`), one character.
    pub(crate) tag: char,
    /// What the core takes: an address for `"P"`, else the plain value.
    pub(crate) value: Py<PyAny>,
    /// What it keeps alive.
    pub(crate) obj: Py<PyAny>,
}

impl CArg {
    /// `byref`'s cparam: the address `addr` of `obj`'s memory.
    pub(crate) fn address(py: Python<'_>, addr: u64, obj: Py<PyAny>) -> PyResult<CArg> {
        Ok(CArg {
            tag: 'P',
            value: addr.into_pyobject(py)?.into_any().unbind(),
            obj,
        })
    }

    /// Its value as an address, for `"P"` cparams whose value is an int that fits.
    pub(crate) fn addr(&self, py: Python<'_>) -> Option<u64> {
        if self.tag != 'P' {
            return None;
        }
        self.value.bind(py).extract::<u64>().ok()
    }
}

#[pymethods]
impl CArg {
    /// A cparam of type code `tag` (one character) passing `value`, keeping `obj` alive.
    #[staticmethod]
    fn _make(tag: &str, value: Py<PyAny>, obj: Py<PyAny>) -> PyResult<CArg> {
        let mut chars = tag.chars();
        let (Some(tag), None) = (chars.next(), chars.next()) else {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "a cparam's tag is one character",
            ));
        };
        Ok(CArg { tag, value, obj })
    }

    #[getter]
    fn _tag(&self) -> String {
        self.tag.to_string()
    }

    #[getter]
    fn _value(&self, py: Python<'_>) -> Py<PyAny> {
        self.value.clone_ref(py)
    }

    #[getter]
    fn _obj(&self, py: Python<'_>) -> Py<PyAny> {
        self.obj.clone_ref(py)
    }

    /// The address it stands for (`_value`).
    #[getter]
    fn _addr(&self, py: Python<'_>) -> Py<PyAny> {
        self.value.clone_ref(py)
    }

    /// How a call passes it: `(tag, value)`.
    fn _as_arg(&self, py: Python<'_>) -> (String, Py<PyAny>) {
        (self.tag.to_string(), self.value.clone_ref(py))
    }

    /// As CPython's `PyCArg_repr`.
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        let v = this.value.bind(py);
        let id = slf.as_ptr() as usize;
        Ok(match this.tag {
            '?' | 'u' | 'g' => format!("<cparam '{}' at {id:#x}>", this.tag),
            'c' => {
                let c = v.extract::<u32>().unwrap_or(0);
                let ch = match c {
                    0x20..=0x7e if c != 0x27 && c != 0x5c => char::from_u32(c).unwrap().to_string(),
                    _ => format!("\\x{c:02x}"),
                };
                format!("<cparam 'c' ('{ch}')>")
            }
            'z' | 'Z' => {
                let a = match v.is(this.obj.bind(py)) {
                    true => this.obj.as_ptr() as u64,
                    false => v.extract::<u64>().unwrap_or(0),
                };
                format!("<cparam '{}' ({a:#x})>", this.tag)
            }
            'P' => format!("<cparam 'P' ({:#x})>", v.extract::<u64>().unwrap_or(0)),
            tag => format!("<cparam '{tag}' ({})>", v.repr()?),
        })
    }
}
