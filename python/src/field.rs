//! `_core.Field`: the descriptor of a number at a fixed offset in a ctypes instance, read and
//! written in Rust: a structure's field (ctypes' `CField`) and the `value` of a fundamental
//! simple type (`c_int(5).value`).

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use wasmctypes::CType;

use crate::cdata::CDataBase;
use crate::convert::ctype;
use crate::gil_cell::GilCell;
use crate::process::Process;

/// A descriptor for what lives at `offset` bytes into an instance's memory. The Python layer
/// subclasses it (`_Field`, `_Value`) and says, with [`Field::_number`], when that is a number
/// of this target's byte order that the core reads and writes in one step; those are read and
/// written here, on a `CData` instance, with no Python frame. Everything else (other types,
/// bitfields, swapped byte order, values that need ctypes' conversions, objects that are not
/// ctypes instances) goes to the subclass's `_get(obj)` and `_set(obj, value)`.
#[pyclass(frozen, subclass, module = "wasmctypes._core")]
pub(crate) struct Field {
    /// The process and type code of a number field; `None` for the others.
    process: GilCell<Option<Py<Process>>>,
    code: GilCell<Option<CType>>,
    offset: GilCell<u64>,
}

impl Field {
    /// The address of the field in `obj`, if it is a number field and `obj` a ctypes
    /// instance: with its process and C type.
    fn number<'py>(
        &self,
        obj: &Bound<'py, PyAny>,
    ) -> PyResult<Option<(Bound<'py, Process>, u64, CType)>> {
        let py = obj.py();
        let (Some(code), Ok(data)) = (self.code.load(py), obj.cast::<CDataBase>()) else {
            return Ok(None);
        };
        let Some(process) = self.process.cloned(py) else {
            return Ok(None);
        };
        let base = data.get().addr.load(py);
        let addr = base
            .checked_add(self.offset.load(py))
            .ok_or_else(|| PyOverflowError::new_err("the field is outside the address space"))?;
        Ok(Some((process.into_bound(py), addr, code)))
    }
}

impl Field {
    /// `obj.<field> = value`: a plain number of a number field stored here, in one step;
    /// anything else by the subclass's `_set(obj, value)`.
    pub(crate) fn set(
        slf: &Bound<'_, Self>,
        obj: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        if let Some((process, addr, code)) = slf.get().number(obj)? {
            let process = process.get();
            if let Some(v) = process.plain_number(code, value)? {
                return process.store(slf.py(), addr, code, v);
            }
        }
        slf.call_method1(pyo3::intern!(slf.py(), "_set"), (obj, value))?;
        Ok(())
    }
}

#[pymethods]
impl Field {
    /// A field with no fast path yet; the subclass's `__init__` takes the arguments.
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        Field {
            process: GilCell::new(None),
            code: GilCell::new(None),
            offset: GilCell::new(0),
        }
    }

    /// Says that the field is a number of type code `code` of `process`'s target, in this
    /// target's byte order, `offset` bytes into the instance.
    fn _number(
        &self,
        py: Python<'_>,
        process: Py<Process>,
        code: &str,
        offset: u64,
    ) -> PyResult<()> {
        let t = ctype(code)?;
        if !(t.is_integer() || matches!(t, CType::Float | CType::Double))
            || matches!(t, CType::Char | CType::WChar)
        {
            return Err(PyTypeError::new_err(format!(
                "{code:?} is not a number type"
            )));
        }
        self.process.set(py, Some(process));
        self.code.store(py, Some(t));
        self.offset.store(py, offset);
        Ok(())
    }

    fn __get__(
        slf: &Bound<'_, Self>,
        obj: Option<&Bound<'_, PyAny>>,
        _owner: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let Some(obj) = obj.filter(|o| !o.is_none()) else {
            return Ok(slf.clone().into_any().unbind());
        };
        if let Some((process, addr, code)) = slf.get().number(obj)? {
            return process.get().load_number(py, addr, code);
        }
        Ok(slf
            .call_method1(pyo3::intern!(py, "_get"), (obj,))?
            .unbind())
    }

    fn __set__(
        slf: &Bound<'_, Self>,
        obj: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        Field::set(slf, obj, value)
    }

    /// `del obj.field`: refused, as ctypes refuses it.
    fn __delete__(&self, _obj: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyTypeError::new_err("can't delete attribute"))
    }
}
