//! `py_object` natively: the interpreter's own objects behind real `PyObject *`s, with the
//! reference counts ctypes keeps (a result of type `py_object` is a new reference C gave,
//! an argument or a value read from memory a borrowed one).

use pyo3::prelude::*;

/// `PyObj_FromPtr(address)` (ctypes' `_ctypes.PyObj_FromPtr`): the object at `address`, a
/// `PyObject *`, as a new reference (C keeps its own). As with ctypes, an address that is not
/// a live object's crashes the interpreter: the caller vouches for it.
#[pyfunction]
pub(crate) fn object_at(py: Python<'_>, address: usize) -> PyResult<Py<PyAny>> {
    if address == 0 {
        return Err(pyo3::exceptions::PyValueError::new_err("PyObject is NULL"));
    }
    // SAFETY: ctypes' own contract for a `py_object` read from memory or given by C: the
    // address is a live object's, borrowed; a new reference is made for Python.
    Ok(unsafe { Bound::from_borrowed_ptr(py, address as *mut pyo3::ffi::PyObject) }.unbind())
}

/// The object at `address` as a reference C gave away (ctypes' `py_object` restype: the
/// function returned a new reference, which Python now owns).
#[pyfunction]
pub(crate) fn steal(py: Python<'_>, address: usize) -> PyResult<Py<PyAny>> {
    if address == 0 {
        return Err(pyo3::exceptions::PyValueError::new_err("PyObject is NULL"));
    }
    // SAFETY: ctypes' contract for a `py_object` result: a new reference to a live object,
    // whose ownership passes to Python.
    Ok(unsafe { Bound::from_owned_ptr(py, address as *mut pyo3::ffi::PyObject) }.unbind())
}

/// A new reference to `obj` for C to own (a callback's `py_object` result, as ctypes gives
/// it): its address.
#[pyfunction]
pub(crate) fn incref(obj: &Bound<'_, PyAny>) -> usize {
    obj.clone().into_ptr() as usize
}

/// Releases a reference C owned (`Py_DECREF`).
#[pyfunction]
pub(crate) fn decref(obj: Bound<'_, PyAny>) {
    // SAFETY: the caller says C owned one reference to `obj`, given back here; `obj` itself
    // holds another until it is dropped.
    unsafe { pyo3::ffi::Py_DecRef(obj.as_ptr()) };
}
