//! `T(...)`: how a ctypes instance is initialised, in Rust, as CPython's ctypes' `tp_init`
//! slots do it.
//!
//! PyO3 gives a class no `tp_init` slot, and a `__init__` defined in Python (or assigned from a
//! Rust method) makes CPython look it up and call it with a new tuple at every instance. So the
//! package's `_CData` derives from [`CDataInit`], a subclass of `_core.CData` made here with
//! `PyType_FromSpecWithBases` whose only slot is `tp_init`: `c_int(5)` is then one `tp_new`
//! and one `tp_init` call, both Rust, and a subclass's own `__init__` still reaches it through
//! `super().__init__(...)`.
//!
//! What `tp_init` does depends on the type, which says it in its `_b_alloc_` ([`Alloc`]) when
//! its layout is final: a fundamental simple type sets its value, an array its items, a
//! structure its fields; any other type (or one not final yet) calls the Python layer's
//! `self._b_init_(args, kwargs)`.

use std::ffi::{c_int, c_void};

use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};

use crate::alloc::{Alloc, Init};
use crate::cdata::CDataBase;
use crate::field::Field;

/// Initialises `obj` with `args` and `kwargs` as its type says.
fn init(
    obj: &Bound<'_, CDataBase>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<()> {
    let py = obj.py();
    // The constructor's lookup, if this is `T(...)`; else the type's.
    let alloc = match obj.get().alloc.replace(py, None) {
        Some(a) => a.into_bound(py).cast_into::<Alloc>().ok(),
        None => Alloc::of(&obj.get_type()),
    };
    let Some(alloc) = alloc else {
        return python_init(obj, args, kwargs);
    };
    match &alloc.get().init {
        Init::Python => python_init(obj, args, kwargs),
        Init::Value { field, none_ok } => {
            // As ctypes' simple types: keywords are ignored, more than one argument is a
            // TypeError.
            match args.len() {
                0 => Ok(()),
                1 => {
                    let v = args.get_item(0)?;
                    if *none_ok && v.is_none() {
                        return Ok(());
                    }
                    match field {
                        Some(f) => Field::set(f.bind(py), obj.as_any(), &v),
                        None => obj.setattr(pyo3::intern!(py, "value"), v),
                    }
                }
                n => Err(PyTypeError::new_err(format!(
                    "__init__ expected at most 1 argument, got {n}"
                ))),
            }
        }
        Init::Items { length } => {
            // As ctypes' arrays: keywords are ignored.
            if args.len() as u64 > *length {
                return Err(PyIndexError::new_err("invalid index"));
            }
            for (i, v) in args.iter().enumerate() {
                obj.set_item(i, v)?;
            }
            Ok(())
        }
        Init::Fields { names } => {
            let names = names.bind(py);
            if args.len() > names.len() {
                return Err(PyTypeError::new_err("too many initializers"));
            }
            for (name, v) in names.iter().zip(args.iter()) {
                if let Some(k) = kwargs {
                    if k.contains(&name)? {
                        return Err(PyTypeError::new_err(format!(
                            "duplicate values for field {}",
                            name.repr()?
                        )));
                    }
                }
                obj.setattr(name.cast_into::<pyo3::types::PyString>()?, v)?;
            }
            if let Some(k) = kwargs {
                for (name, v) in k.iter() {
                    obj.as_any()
                        .setattr(name.cast_into::<pyo3::types::PyString>()?, v)?;
                }
            }
            Ok(())
        }
    }
}

/// The Python layer's initialisation: `obj._b_init_(args, kwargs)`.
fn python_init(
    obj: &Bound<'_, CDataBase>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<()> {
    let py = obj.py();
    let method = match obj.getattr(pyo3::intern!(py, "_b_init_")) {
        Ok(m) => m,
        // A type the Python layer gives no initialisation takes no arguments' meaning, as
        // `object.__init__` of a class with its own `__new__`.
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyAttributeError>(py) => return Ok(()),
        Err(e) => return Err(e),
    };
    method.call1((args, kwargs))?;
    Ok(())
}

/// The `tp_init` slot of [`CDataInit`].
///
/// # Safety
///
/// Called by CPython with the GIL held: `slf` an instance of a subclass of `CDataInit`, `args`
/// a tuple, `kwargs` a dict or NULL.
unsafe extern "C" fn tp_init(
    slf: *mut ffi::PyObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> c_int {
    let run = std::panic::AssertUnwindSafe(|| {
        Python::attach(|py| {
            // SAFETY: CPython passes borrowed references to live objects of these types.
            let result = unsafe {
                let obj = Bound::from_borrowed_ptr(py, slf);
                let args = Bound::from_borrowed_ptr(py, args).cast_into_unchecked::<PyTuple>();
                let kwargs = (!kwargs.is_null())
                    .then(|| Bound::from_borrowed_ptr(py, kwargs).cast_into_unchecked::<PyDict>());
                match obj.cast::<CDataBase>() {
                    Ok(obj) => init(obj, &args, kwargs.as_ref()),
                    Err(e) => Err(e.into()),
                }
            };
            match result {
                Ok(()) => 0,
                Err(e) => {
                    e.restore(py);
                    -1
                }
            }
        })
    });
    match std::panic::catch_unwind(run) {
        Ok(r) => r,
        Err(_) => {
            Python::attach(|py| {
                pyo3::exceptions::PySystemError::new_err("panic in CData.__init__").restore(py)
            });
            -1
        }
    }
}

/// Makes `CDataInit`, the subclass of `base` (`_core.CData`) whose `tp_init` is [`tp_init`]
/// (see the module docs). It adds nothing to its base's layout.
pub(crate) fn cdata_init_type<'py>(base: &Bound<'py, PyType>) -> PyResult<Bound<'py, PyType>> {
    let py = base.py();
    // The base's garbage-collector slots, as a subclass inherits them.
    // SAFETY: reading the slots and flags of a live type.
    let (traverse, clear, flags) = unsafe {
        (
            ffi::PyType_GetSlot(base.as_type_ptr(), ffi::Py_tp_traverse),
            ffi::PyType_GetSlot(base.as_type_ptr(), ffi::Py_tp_clear),
            ffi::PyType_GetFlags(base.as_type_ptr()),
        )
    };
    let mut slots = vec![ffi::PyType_Slot {
        slot: ffi::Py_tp_init,
        pfunc: tp_init as *mut c_void,
    }];
    let gc = flags & ffi::Py_TPFLAGS_HAVE_GC;
    if gc != 0 {
        slots.push(ffi::PyType_Slot {
            slot: ffi::Py_tp_traverse,
            pfunc: traverse,
        });
        slots.push(ffi::PyType_Slot {
            slot: ffi::Py_tp_clear,
            pfunc: clear,
        });
    }
    slots.push(ffi::PyType_Slot {
        slot: 0,
        pfunc: std::ptr::null_mut(),
    });
    let mut spec = ffi::PyType_Spec {
        name: c"wasmctypes._core.CDataInit".as_ptr(),
        basicsize: 0,
        itemsize: 0,
        flags: (ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_BASETYPE | gc) as _,
        slots: slots.as_mut_ptr(),
    };
    let bases = PyTuple::new(py, [base])?;
    // SAFETY: the spec and its slots are valid for the call (CPython copies what it keeps);
    // the result is a new reference or NULL with an exception set.
    unsafe {
        let t = ffi::PyType_FromSpecWithBases(&mut spec, bases.as_ptr());
        Ok(Bound::from_owned_ptr_or_err(py, t)?.cast_into_unchecked::<PyType>())
    }
}
