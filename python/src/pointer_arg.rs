//! A callback's pointer argument (`CFUNCTYPE(c_int, POINTER(c_int), ...)`): the pointer object
//! that C's value becomes, made in Rust, and used again by the next call when nothing can tell.

use std::cell::Cell;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

use crate::cdata::CDataBase;
use crate::cdata_methods::Constructor;
use crate::items::Items;

/// How a callback turns a pointer argument into an object of the declared pointer type
/// `cls`, and keeps that object for the next call when, after a call, nothing but the callback
/// holds it and nothing it has changed: no other reference, no weak reference, its type
/// unchanged, its `__dict__` empty and held by no one else. Such an object is in every way a
/// new one (its fields are reset to a new object's), and a callback such as `qsort`'s makes no
/// object and frees none per call. A type with `__del__` gets a new object every call, as it
/// would in ctypes.
pub(crate) struct PointerArg {
    cls: Py<PyType>,
    new: Constructor,
    items: Option<Py<Items>>,
    /// `tp_weaklistoffset` of the type when its objects may be used again (no `__del__`).
    reuse: Option<isize>,
    /// Whether its objects have a `__dict__`.
    has_dict: bool,
    /// An object kept from an earlier call.
    spare: Cell<Option<Py<CDataBase>>>,
}

impl PointerArg {
    /// The argument conversion for the pointer type `cls` (a subclass of `CData`).
    pub(crate) fn new(cls: &Bound<'_, PyType>) -> PyResult<PointerArg> {
        let py = cls.py();
        let items = cls.getattr(pyo3::intern!(py, "_b_items_"))?;
        let items = items.cast::<Items>().ok().map(|t| t.clone().unbind());
        let has_del = cls.hasattr(pyo3::intern!(py, "__del__"))?;
        let weak: isize = cls
            .getattr(pyo3::intern!(py, "__weakrefoffset__"))?
            .extract()?;
        let dict: isize = cls
            .getattr(pyo3::intern!(py, "__dictoffset__"))?
            .extract()?;
        Ok(PointerArg {
            cls: cls.clone().unbind(),
            new: Constructor::of(cls)?,
            items,
            reuse: (!has_del).then_some(weak),
            has_dict: dict != 0,
            spare: Cell::new(None),
        })
    }

    /// The pointer object for C's pointer `addr`.
    pub(crate) fn make<'py>(&self, py: Python<'py>, addr: u64) -> PyResult<Bound<'py, CDataBase>> {
        let p = match self.spare.take() {
            // Made new again, its items kept.
            Some(spare) => {
                let p = spare.into_bound(py);
                p.get().reset(py);
                p
            }
            None => {
                let p = self.new.make(self.cls.bind(py))?;
                let items = self.items.as_ref().map(|t| t.clone_ref(py).into_any());
                p.get().items.set(py, items);
                p
            }
        };
        p.get().ptr.store(py, Some(addr));
        Ok(p)
    }

    /// After the call: keeps `p` (the callback's own reference to the object it made) for the
    /// next call if nothing can tell it from a new object; drops it otherwise.
    pub(crate) fn done(&self, p: Bound<'_, CDataBase>) {
        let py = p.py();
        let Some(weak) = self.reuse else {
            return;
        };
        if refcnt(p.as_any()) != 1 || !p.get_type().is(self.cls.bind(py)) {
            return;
        }
        if weak > 0 {
            // SAFETY: `weak` is the type's `tp_weaklistoffset` (its `__weakrefoffset__`), the
            // offset in each of its objects of the list of weak references to it, a pointer
            // that is NULL when there are none; `p` is an object of exactly that type.
            let list = unsafe {
                *(p.as_ptr().cast::<u8>().offset(weak) as *const *mut pyo3::ffi::PyObject)
            };
            if !list.is_null() {
                return;
            }
        }
        if self.has_dict {
            // Its `__dict__` (made the first time, then the same dict): empty, and held by
            // the object and by `d` only.
            let Ok(d) = p.getattr(pyo3::intern!(py, "__dict__")) else {
                return;
            };
            let Ok(d) = d.cast_into::<PyDict>() else {
                return;
            };
            if refcnt(d.as_any()) != 2 || !d.is_empty() {
                return;
            }
        }
        self.spare.set(Some(p.unbind()));
    }

    /// Shows the objects it holds to the garbage collector.
    pub(crate) fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.cls)?;
        if let Some(items) = &self.items {
            visit.call(items)?;
        }
        let spare = self.spare.take();
        let out = match &spare {
            Some(obj) => visit.call(obj),
            None => Ok(()),
        };
        self.spare.set(spare);
        out
    }
}

/// `obj`'s reference count.
fn refcnt(obj: &Bound<'_, PyAny>) -> isize {
    // SAFETY: `obj` is a live object.
    unsafe { pyo3::ffi::Py_REFCNT(obj.as_ptr()) }
}
