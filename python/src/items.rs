//! The items of arrays and pointers of numbers, read and written in Rust (`a[i]`, `p[i]`).

use pyo3::exceptions::{PyAttributeError, PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyString};

use wasmctypes::CType;

use crate::cdata::CDataBase;

use crate::process::Process;

/// What the items of an array or pointer type are, when they are numbers the core reads and
/// writes in one step: the type's `_b_items_` (see [`Process::items`]).
#[pyclass(frozen, module = "wasmctypes._core")]
pub(crate) struct Items {
    pub(crate) process: Py<Process>,
    pub(crate) code: CType,
    pub(crate) size: u64,
    /// An array's length; `None` for a pointer.
    pub(crate) length: Option<u64>,
}

impl Items {
    /// Item `i` of `obj`, read in one step (see [`Process::load_number`]: from the memory a
    /// running callback of the process was given, if there is one).
    pub(crate) fn load(&self, py: Python<'_>, obj: &CDataBase, i: i64) -> PyResult<Py<PyAny>> {
        let process = self.process.get();
        let addr = self.address(py, process, obj, i)?;
        process.load_number(py, addr, self.code)
    }

    /// `obj[i] = v` for a plain number `v` (see [`Process::plain_number`]); `Ok(false)` for
    /// any other value.
    pub(crate) fn store(
        &self,
        py: Python<'_>,
        obj: &CDataBase,
        i: i64,
        v: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let process = self.process.get();
        let Some(value) = process.plain_number(self.code, v)? else {
            return Ok(false);
        };
        let addr = self.address(py, process, obj, i)?;
        process.store(py, addr, self.code, value)?;
        Ok(true)
    }

    /// The address of item `i` of `obj`, checked as ctypes checks it: in range for an array,
    /// through a non-NULL pointer for a pointer (the one it holds, or the one in its memory).
    fn address(&self, py: Python<'_>, process: &Process, obj: &CDataBase, i: i64) -> PyResult<u64> {
        match self.length {
            Some(n) => {
                let j = if i < 0 {
                    i as i128 + n as i128
                } else {
                    i as i128
                };
                if j < 0 || j >= n as i128 {
                    return Err(PyIndexError::new_err("invalid index"));
                }
                item_address(obj.addr.load(py), j, self.size)
            }
            None => {
                let base = obj.held_address(py, process)?;
                if base == 0 {
                    return Err(PyValueError::new_err("NULL pointer access"));
                }
                item_address(base, i as i128, self.size)
            }
        }
    }
}

/// The address of item `i` (of `size` bytes) from `base`: an error, never a wrapped address,
/// when it falls outside the 64-bit address space (natively ctypes would read wherever the
/// sum wrapped to, or crash; in wasm it would be inside the sandbox, but the wrong place).
pub(crate) fn item_address(base: u64, i: i128, size: u64) -> PyResult<u64> {
    u64::try_from(base as i128 + i * size as i128).map_err(|_| {
        PyValueError::new_err(format!(
            "item {i} of {size} bytes from 0x{base:x} is outside the address space"
        ))
    })
}

/// The Python layer's item method `name` of `obj`; a TypeError that says the object `what`
/// when its type has none.
pub(crate) fn python_item_method<'py>(
    obj: &Bound<'py, CDataBase>,
    name: &Bound<'py, PyString>,
    what: &str,
) -> PyResult<Bound<'py, PyAny>> {
    match obj.getattr(name) {
        Ok(m) => Ok(m),
        Err(e) if e.is_instance_of::<PyAttributeError>(obj.py()) => Err(PyTypeError::new_err(
            format!("'{}' object {what}", obj.get_type().name()?),
        )),
        Err(e) => Err(e),
    }
}

/// `type(obj)._b_items_` (or the object's copy of it) when it is an [`Items`] and `i` an int
/// that fits.
pub(crate) fn scalar_items<'py>(
    obj: &Bound<'py, CDataBase>,
    this: &CDataBase,
    i: &Bound<'py, PyAny>,
) -> Option<(Bound<'py, Items>, i64)> {
    if !i.is_exact_instance_of::<PyInt>() {
        return None;
    }
    let py = obj.py();
    let items = match this.items.cloned(py) {
        Some(items) => items.into_bound(py).cast_into::<Items>().ok()?,
        None => {
            let items = obj
                .get_type()
                .getattr(pyo3::intern!(py, "_b_items_"))
                .ok()?
                .cast_into::<Items>()
                .ok()?;
            // Kept on the object: the next item needs no lookup.
            this.items.set(py, Some(items.clone().into_any().unbind()));
            items
        }
    };
    Some((items, i.extract().ok()?))
}
