//! ctypes' functions over its objects that a script calls between its calls (`byref`,
//! `sizeof`, `addressof`), in Rust, bound to one namespace: `ctypes.byref` is
//! `Functions.byref` of the namespace's instance, a method CPython calls with no tuple made.

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::carg::CArg;
use crate::cdata::CDataBase;
use crate::items::Alloc;

/// The functions of one namespace (see the module docs).
#[pyclass(frozen, module = "wasmctypes._core")]
pub(crate) struct Functions {
    /// The namespace's `_CData`: its instances are the namespace's ctypes objects.
    cdata: Py<PyType>,
    /// The sandbox's addresses are 32 bits; natively they wrap at 64, as C's do.
    wasm: bool,
    /// The Python layer's `sizeof` for what has no `_b_alloc_` (types not final, errors).
    sizeof_fallback: Py<PyAny>,
}

impl Functions {
    /// `obj`, if it is one of the namespace's ctypes objects (its type a subtype of
    /// `_CData`, by the MRO alone: no `__instancecheck__`).
    fn data<'a, 'py>(&self, obj: &'a Bound<'py, PyAny>) -> Option<&'a Bound<'py, CDataBase>> {
        // SAFETY: two live type objects.
        let ours = unsafe {
            ffi::PyType_IsSubtype(obj.get_type().as_type_ptr(), self.cdata.as_ptr().cast()) != 0
        };
        match ours {
            true => obj.cast::<CDataBase>().ok(),
            false => None,
        }
    }
}

#[pymethods]
impl Functions {
    #[new]
    fn new(cdata: Py<PyType>, backend: &str, sizeof_fallback: Py<PyAny>) -> Self {
        Functions {
            cdata,
            wasm: backend == "wasm",
            sizeof_fallback,
        }
    }

    /// `ctypes.byref(obj, offset=0)`: a cparam of `obj`'s address plus `offset` (clamped to
    /// the range of `ssize_t`, as ctypes' `PyNumber_AsSsize_t`); natively it wraps as C's
    /// pointer arithmetic does, in the sandbox it must lie in its 32-bit memory.
    #[pyo3(signature = (obj, offset=None))]
    fn byref(&self, obj: &Bound<'_, PyAny>, offset: Option<&Bound<'_, PyAny>>) -> PyResult<CArg> {
        let py = obj.py();
        let Some(data) = self.data(obj) else {
            return Err(PyTypeError::new_err(format!(
                "byref() argument must be a ctypes instance, not '{}'",
                obj.get_type().name()?
            )));
        };
        let base = data.get().addr.load(py);
        let addr = match offset {
            None => base,
            Some(off) => {
                let off = clamped_ssize(off)?;
                let addr = base as i128 + off as i128;
                // Natively C's pointer arithmetic wraps; the sandbox's memory is 32 bits.
                if !self.wasm || (0..1i128 << 32).contains(&addr) {
                    addr as u64
                } else if !(-(1i128 << 63)..1i128 << 64).contains(&addr) {
                    return Err(PyOverflowError::new_err(
                        "int too big to convert to a pointer",
                    ));
                } else {
                    return Err(PyValueError::new_err(format!(
                        "byref({}, {off}): address {addr:#x} is outside the sandbox's 32-bit \
                         memory (a host address? share a host buffer with from_buffer(), or \
                         copy it with from_buffer_copy())",
                        obj.get_type().name()?
                    )));
                }
            }
        };
        CArg::address(py, addr, obj.clone().unbind())
    }

    /// `ctypes.sizeof(obj)`: an instance's size after `resize`, or its type's `_b_alloc_`
    /// size; the Python layer's answer for the rest (types not final yet, errors).
    fn sizeof(&self, obj: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = obj.py();
        let ty = match obj.cast::<CDataBase>() {
            Ok(data) => match data.get().size.load(py) {
                Some(n) => return Ok(n.into_pyobject(py)?.into_any().unbind()),
                None => Some(obj.get_type()),
            },
            Err(_) => obj.cast::<PyType>().ok().cloned(),
        };
        if let Some(alloc) = ty.as_ref().and_then(Alloc::of) {
            return Ok(alloc.get().size.into_pyobject(py)?.into_any().unbind());
        }
        self.sizeof_fallback.call1(py, (obj,))
    }

    /// `ctypes.addressof(obj)`: the address of a ctypes object's memory.
    fn addressof(&self, obj: &Bound<'_, PyAny>) -> PyResult<u64> {
        match self.data(obj) {
            Some(data) => Ok(data.get().addr.load(obj.py())),
            None => Err(PyTypeError::new_err("invalid type")),
        }
    }
}

/// `n` as a C `ssize_t`, clamped as `PyNumber_AsSsize_t(n, NULL)` clamps it; a TypeError if
/// it is not an integer (`__index__`).
fn clamped_ssize(n: &Bound<'_, PyAny>) -> PyResult<i64> {
    // SAFETY: `n` is a live object; with a NULL exception type an overflow is clamped.
    let v = unsafe { ffi::PyNumber_AsSsize_t(n.as_ptr(), std::ptr::null_mut()) };
    if v == -1 {
        if let Some(e) = PyErr::take(n.py()) {
            return Err(e);
        }
    }
    Ok(v as i64)
}
