//! What a final ctypes type says about its instances, as its `_b_alloc_`: the size of their
//! memory, and how `T(...)` initialises one (see [`crate::init`]). `sizeof`, `T()` and
//! `T(...)` read it in Rust, with no Python frame.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple, PyType};

use crate::field::Field;
use crate::process::Process;

/// What a final type says about its instances' memory, as its `_b_alloc_`: its size (what
/// `sizeof` gives) and that each instance gets a new zeroed block of that many bytes (at
/// least one) of the process (see [`CDataBase::_new`]).
#[pyclass(frozen, module = "wasmctypes._core")]
pub(crate) struct Alloc {
    pub(crate) process: Py<Process>,
    pub(crate) size: usize,
    /// The address of the type it is for (alive while this is reachable from it: a type
    /// that reaches it through a base has another address).
    pub(crate) owner: usize,
    /// How `T(...)` initialises an instance (see [`Init`]).
    pub(crate) init: Init,
}

impl Alloc {
    /// `cls`'s own `_b_alloc_`, if it has one (a subclass inherits the attribute, not the
    /// size).
    pub(crate) fn of<'py>(cls: &Bound<'py, PyType>) -> Option<Bound<'py, Alloc>> {
        let alloc = cls.getattr(pyo3::intern!(cls.py(), "_b_alloc_")).ok()?;
        let alloc = alloc.cast_into::<Alloc>().ok()?;
        (alloc.get().owner == cls.as_ptr() as usize).then_some(alloc)
    }
}

/// How a final type's instances are initialised (see [`crate::init`]).
pub(crate) enum Init {
    /// The Python layer's `self._b_init_(args, kwargs)`.
    Python,
    /// A fundamental simple type: at most one argument, its value, set through `field` (the
    /// type's `value` descriptor) when it is the package's, else `self.value = v`; with
    /// `none_ok` (`c_char_p`, `c_wchar_p`, `c_void_p`), None leaves the NULL it has.
    Value {
        field: Option<Py<Field>>,
        none_ok: bool,
    },
    /// An array of `length` items: its arguments are its first items (`self[i] = v`);
    /// keywords are ignored, as ctypes ignores them.
    Items { length: u64 },
    /// A structure or union: positional arguments set the fields named in `names` in order,
    /// keywords by name.
    Fields { names: Py<PyList> },
}

impl Init {
    /// The kind the Python layer gives `proc.alloc`: None, `("value", field or None,
    /// none_ok)`, `("items", length)` or `("fields", names)`.
    pub(crate) fn from_spec(spec: Option<&Bound<'_, PyTuple>>) -> PyResult<Init> {
        let Some(spec) = spec else {
            return Ok(Init::Python);
        };
        let kind: String = spec.get_item(0)?.extract()?;
        Ok(match kind.as_str() {
            "value" => Init::Value {
                field: spec.get_item(1)?.extract()?,
                none_ok: spec.get_item(2)?.extract()?,
            },
            "items" => Init::Items {
                length: spec.get_item(1)?.extract()?,
            },
            "fields" => Init::Fields {
                names: spec.get_item(1)?.extract()?,
            },
            other => {
                return Err(PyTypeError::new_err(format!("no initialisation {other:?}")));
            }
        })
    }
}
