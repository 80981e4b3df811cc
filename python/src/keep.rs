//! What an object's memory keeps alive: ctypes' `_objects`, as CPython keeps it.
//!
//! What an object's memory needs alive (the bytes a `c_char_p` points at, the structure a
//! pointer points at) is kept by the object that owns the memory (the root of the `_b_base_`
//! chain), in a dict keyed by the path of indexes from the root (`"0"`, `"0:2"`), or, for an
//! object of a simple type, as the one object itself. What only this implementation needs
//! alive (the copy of those bytes in the process's memory, a py_object's handle) is kept
//! beside it, in `_b_keep_`, under the same keys.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::cdata::CDataBase;

/// The longest `_b_base_` chain followed: a chain Python code made cyclic is an error, not a
/// hang.
const CHAIN_MAX: usize = 1 << 16;

/// The object whose memory `obj`'s is (the root of its `_b_base_` chain).
fn root<'py>(obj: &Bound<'py, CDataBase>) -> PyResult<Bound<'py, CDataBase>> {
    let py = obj.py();
    let mut root = obj.clone();
    for _ in 0..CHAIN_MAX {
        match root.get().base.cloned(py) {
            None => return Ok(root),
            Some(base) => root = base.into_bound(py).cast_into::<CDataBase>()?,
        }
    }
    Err(PyValueError::new_err("the _b_base_ chain is cyclic"))
}

/// ctypes' `PyCData_GetContainer`: the object owning `obj`'s memory, with its `_objects`
/// made a dict if its type says it keeps objects (`_b_length_`: an array's length, a
/// structure's number of fields, 1 for pointers, 0 for simple types).
pub(crate) fn container<'py>(obj: &Bound<'py, CDataBase>) -> PyResult<Bound<'py, CDataBase>> {
    let py = obj.py();
    let root = root(obj)?;
    let r = root.get();
    if r.objects.with(py, |o| o.is_none()) {
        let length: isize = root
            .get_type()
            .getattr(pyo3::intern!(py, "_b_length_"))?
            .extract()?;
        if length != 0 {
            r.objects.set(py, Some(PyDict::new(py).into_any().unbind()));
        }
    }
    Ok(root)
}

/// The key of what item or field `index` of `target` keeps: the indexes from the root, in
/// hex, innermost first, as CPython writes them. The keys of a root's items 0 and 1 and of
/// index -1 (what every pointer, `cast` and `from_buffer` keep) are made once.
fn unique_key<'py>(target: &Bound<'py, CDataBase>, index: isize) -> PyResult<Bound<'py, PyString>> {
    let py = target.py();
    let this = target.get();
    if this.base.with(py, |b| b.is_none()) {
        match index {
            0 => return Ok(pyo3::intern!(py, "0").clone()),
            1 => return Ok(pyo3::intern!(py, "1").clone()),
            -1 => return Ok(pyo3::intern!(py, "ffffffff").clone()),
            _ => {}
        }
    }
    let mut key = format!("{:x}", index as u32);
    let mut t = target.clone();
    for _ in 0..CHAIN_MAX {
        let this = t.get();
        let Some(base) = this.base.cloned(py) else {
            return Ok(PyString::new(py, &key));
        };
        key.push_str(&format!(":{:x}", this.index.load(py) as u32));
        t = base.into_bound(py).cast_into::<CDataBase>()?;
    }
    Err(PyValueError::new_err("the _b_base_ chain is cyclic"))
}

/// ctypes' `KeepRef`: `target`'s memory keeps `keep` alive (and `extra`, see the module
/// docs) for its item or field `index`.
pub(crate) fn keep_ref(
    target: &Bound<'_, CDataBase>,
    index: isize,
    keep: Option<Bound<'_, PyAny>>,
    extra: Option<Bound<'_, PyAny>>,
) -> PyResult<()> {
    if keep.is_none() && extra.is_none() {
        return Ok(());
    }
    let py = target.py();
    let root = container(target)?;
    let r = root.get();
    let key = unique_key(target, index)?;
    if let Some(extra) = extra {
        let kept = match r.keep.cloned(py) {
            Some(k) => k.into_bound(py),
            None => {
                let d = PyDict::new(py).into_any();
                r.keep.set(py, Some(d.clone().unbind()));
                d
            }
        };
        kept.set_item(&key, extra)?;
    }
    let Some(keep) = keep else {
        return Ok(());
    };
    match r.objects.cloned(py) {
        Some(objects) if objects.bind(py).is_exact_instance_of::<PyDict>() => {
            objects.bind(py).set_item(&key, keep)
        }
        _ => {
            r.objects.set(py, Some(keep.unbind()));
            Ok(())
        }
    }
}

/// `(_objects, _b_keep_)`: what an object's memory keeps alive (see the module docs).
pub(crate) type Kept = (Option<Py<PyAny>>, Option<Py<PyAny>>);

/// ctypes' `GetKeepedObjects`: what `obj`'s memory keeps alive, with what only this
/// implementation keeps, as `(_objects, _b_keep_)`.
pub(crate) fn kept(obj: &Bound<'_, CDataBase>) -> PyResult<Kept> {
    let py = obj.py();
    let root = container(obj)?;
    let r = root.get();
    Ok((r.objects.cloned(py), r.keep.cloned(py)))
}
