//! Python values and ctypes' type descriptors as the core's [`Value`]s and [`Type`]s, and
//! back.

use std::rc::Rc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString, PyTuple};

use wasmctypes::{CType, DataModel, LibId, Pointer, StructType, StructValue, Type, Value};

use crate::error::{ArgumentError, OrPy};

/// A ctypes type code (`_type_`: `i`, `L`, `z`, `P`, ...) as the C type it names.
pub(crate) fn ctype(code: &str) -> PyResult<CType> {
    Ok(match code {
        "?" => CType::Bool,
        "c" => CType::Char,
        "u" => CType::WChar,
        "b" => CType::Byte,
        "B" => CType::UByte,
        "h" => CType::Short,
        "H" => CType::UShort,
        "i" => CType::Int,
        "I" => CType::UInt,
        "l" => CType::Long,
        "L" => CType::ULong,
        "q" => CType::LongLong,
        "Q" => CType::ULongLong,
        "f" => CType::Float,
        "d" => CType::Double,
        "g" => CType::LongDouble,
        "z" => CType::CharP,
        "Z" => CType::WCharP,
        // py_object: a handle the Python layer keeps (a PyObject * natively), passed as a pointer.
        "P" | "O" => CType::VoidP,
        "n" => CType::SizeT,
        "N" => CType::SSizeT,
        "void" => CType::Void,
        // VARIANT_BOOL (ctypes.wintypes): a 16-bit boolean, -1 for true.
        "v" => CType::Short,
        other => {
            return Err(PyTypeError::new_err(format!(
                "unknown ctypes type code {other:?}"
            )))
        }
    })
}

/// A structure or union type as the core sees it, for calls that pass or return it by value
/// (the Python layer lays out memory itself; this describes it to libffi and to the wasm ABI).
#[pyclass(frozen, module = "wasmctypes._core")]
pub(crate) struct StructDesc {
    pub(crate) ty: Rc<StructType>,
    pub(crate) model: DataModel,
}

#[pymethods]
impl StructDesc {
    /// `sizeof` of the type as the core lays it out.
    #[getter]
    fn size(&self) -> usize {
        self.ty.layout(self.model).size
    }
}

/// A type descriptor from the Python layer as a [`Type`]: a type code (`"i"`), a
/// [`StructDesc`], or `("A", descriptor, length)` for an array.
pub(crate) fn type_of(obj: &Bound<'_, PyAny>) -> PyResult<Type> {
    if let Ok(code) = obj.extract::<String>() {
        return Ok(ctype(&code)?.into());
    }
    if let Ok(desc) = obj.cast::<StructDesc>() {
        return Ok(Type::Struct(desc.borrow().ty.clone()));
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        if t.len() == 3 && t.get_item(0)?.extract::<String>()? == "A" {
            let elem = type_of(&t.get_item(1)?)?;
            let n: usize = t.get_item(2)?.extract()?;
            return Ok(Type::Array(Rc::new(elem), n));
        }
    }
    Err(PyTypeError::new_err(format!(
        "invalid type descriptor: {}",
        obj.repr()?
    )))
}

/// A Python argument as the [`Value`] the call converts: ints, floats, bytes, str, None,
/// bools; the Python layer passes objects as their address or value, an object's address as
/// `("&", address)` (a pointer into the memory of the process whose id is `lib`).
pub(crate) fn value(obj: &Bound<'_, PyAny>, lib: LibId) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::None);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(obj.extract()?));
    }
    if obj.is_instance_of::<PyInt>() {
        // i64 first: one C call under the limited API, where i128 goes through Python.
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Int(i as i128));
        }
        return Ok(Value::Int(obj.extract()?));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Value::Float(obj.extract()?));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        // One copy of the buffer (extracting a Vec<u8> would go item by item).
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(Value::Str(obj.extract()?));
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        // (StructDesc, bytes): a structure passed by value.
        if t.len() == 2 {
            if let Ok(desc) = t.get_item(0)?.cast::<StructDesc>() {
                let bytes: Vec<u8> = t.get_item(1)?.extract()?;
                let d = desc.borrow();
                return StructValue::from_bytes(&d.ty, d.model, &bytes)
                    .map(Value::Struct)
                    .py();
            }
        }
        // (code, value): a typed object, as `c_int(5)` passed without argtypes.
        if t.len() == 2 {
            let code: String = t.get_item(0)?.extract()?;
            if code == "&" {
                let addr: u64 = t.get_item(1)?.extract()?;
                return Ok(Value::Pointer(Pointer { lib, addr }));
            }
            let inner = value(&t.get_item(1)?, lib)?;
            return Ok(Value::Typed(ctype(&code)?, inner.into()));
        }
    }
    Err(ArgumentError::new_err(format!(
        "Don't know how to convert parameter of type {}",
        obj.get_type().name()?
    )))
}

/// A result as Python sees it.
pub(crate) fn object(py: Python<'_>, v: Value) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Value::None => py.None(),
        Value::Bool(b) => PyBool::new(py, b).to_owned().into_any().unbind(),
        Value::Int(i) => match i64::try_from(i) {
            Ok(small) => small.into_pyobject(py)?.into_any().unbind(),
            Err(_) => i.into_pyobject(py)?.into_any().unbind(),
        },
        Value::Float(f) => f.into_pyobject(py)?.into_any().unbind(),
        Value::Bytes(b) => PyBytes::new(py, &b).into_any().unbind(),
        Value::Str(s) => s.into_pyobject(py)?.into_any().unbind(),
        Value::Pointer(p) => p.addr.into_pyobject(py)?.into_any().unbind(),
        Value::Function(f) => f.ptr.addr.into_pyobject(py)?.into_any().unbind(),
        Value::Typed(_, inner) => object(py, (*inner).clone())?,
        Value::Struct(s) => PyBytes::new(py, s.bytes()).into_any().unbind(),
        other => {
            return Err(PyTypeError::new_err(format!(
                "a result of this kind is not supported yet: {other:?}"
            )))
        }
    })
}
