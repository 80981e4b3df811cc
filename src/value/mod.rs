//! Values that cross a call, and ctypes' rules for converting them.
//!
//! A [`Value`] is what a Python object is to ctypes: an integer, a float, `bytes`, `str`,
//! `None`, or a pointer into a library's memory. Converting a value to a C type follows ctypes:
//! integers are masked to the type's width (`c_int(2**32+5)` is 5, `c_ubyte(-1)` is 255), bytes
//! become a NUL-terminated `char *`, `None` becomes NULL, and a float never silently becomes an
//! integer.
//!
//! ```
//! use wasmctypes::{mask_int, CType, DataModel};
//! assert_eq!(mask_int((1i128 << 32) + 5, DataModel::LP64.repr(CType::Int)), 5);
//! assert_eq!(mask_int(-1, DataModel::LP64.repr(CType::UByte)), 255);
//! ```

mod boxed;
mod convert;
mod repr;
mod struct_value;

pub use boxed::Boxed;
pub(crate) use convert::int_from_bits;
pub use convert::mask_int;
pub(crate) use convert::{
    bits_le, callback_result, decode, decode_wide, encode, encode_bytes, encode_wide, from_bits,
    load, long_double_bytes, long_double_value, promote, read_value, store, write_value,
};
pub use repr::bytes_repr;
pub(crate) use repr::{str_repr, unescape_bytes};
pub(crate) use struct_value::field_index;
pub use struct_value::StructValue;

/// Identifies one loaded library; pointers into its memory carry it so that a buffer of one
/// library is never passed into another library's sandbox.
pub type LibId = u64;

/// A pointer into the memory of one particular library: what `byref(buf)` or a buffer passed
/// as an argument is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pointer {
    /// The library whose memory this points into.
    pub lib: LibId,
    /// The address: an offset into linear memory (wasm) or a host address (native).
    pub addr: u64,
}

/// A value crossing a call: what a Python object is to ctypes.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Python `None`: NULL as an argument, nothing as a result.
    None,
    /// Python `bool`: what a `c_bool` result reads as.
    Bool(bool),
    /// Python `int`. i128 holds every value of every C integer type, signed or unsigned.
    Int(i128),
    /// Python `float`.
    Float(f64),
    /// Python `bytes`: a `c_char_p` or `c_char` value.
    Bytes(Vec<u8>),
    /// Python `str`: a `c_wchar_p` or `c_wchar` value.
    Str(String),
    /// A pointer into one library's memory (a buffer, an array, `byref`).
    Pointer(Pointer),
    /// A structure held by the host (passed or returned by value).
    Struct(crate::value::StructValue),
    /// A Python list: an array field of a structure.
    List(crate::value::Boxed<Vec<Value>>),
    /// A ctypes instance passed as an argument, such as `c_double(2.5)`: the value carries its
    /// type, which is how variadic arguments get theirs.
    Typed(crate::types::CType, crate::value::Boxed<Value>),
    /// An instance of a function pointer type (`CFUNCTYPE(...)`): a callback, or a function
    /// pointer that C returned or stored.
    Function(crate::value::Boxed<FuncPtr>),
}

/// A function pointer with its prototype: what ctypes calls a `CFunctionType` instance.
#[derive(Clone, Debug, PartialEq)]
pub struct FuncPtr {
    /// Its type.
    pub proto: std::rc::Rc<crate::types::CFuncType>,
    /// Where C calls it: a table index in wasm, a code address natively.
    pub ptr: Pointer,
}

impl Value {
    /// The name of the Python type this value stands for, for error messages.
    pub fn py_type(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bytes(_) => "bytes",
            Value::Str(_) => "str",
            Value::Pointer(_) => "pointer",
            Value::Struct(_) => "Structure",
            Value::List(_) => "list",
            Value::Typed(t, _) => t.name(),
            Value::Function(_) => "CFunctionType",
        }
    }

    /// The value as an integer, if it is one (`bool` counts, as in Python).
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i128),
            Value::Typed(_, v) => v.as_int(),
            _ => None,
        }
    }

    /// The value as a float: a `float`, or an `int` as Python's `float(i)` would make it.
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            Value::Int(i) => Some(*i as f64),
            Value::Bool(b) => Some(*b as u8 as f64),
            Value::Typed(_, v) => v.as_float(),
            _ => None,
        }
    }

    /// The value as a bool, if it is one (`c_bool`'s getter).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Typed(_, v) => v.as_bool(),
            _ => None,
        }
    }

    /// The bytes of a `bytes` value (a `c_char_p` or `c_char` result, a `c_char * n` member).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            Value::Typed(_, v) => v.as_bytes(),
            _ => None,
        }
    }

    /// The text of a `str` value (a `c_wchar_p` or `c_wchar` result, a `c_wchar * n` member).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Typed(_, v) => v.as_str(),
            _ => None,
        }
    }

    /// The pointer, if this is one into a library's memory.
    pub fn as_pointer(&self) -> Option<Pointer> {
        match self {
            Value::Pointer(p) => Some(*p),
            _ => None,
        }
    }

    /// The function pointer, if this is a `CFUNCTYPE` instance.
    pub fn as_function(&self) -> Option<&FuncPtr> {
        match self {
            Value::Function(f) => Some(f),
            _ => None,
        }
    }

    /// The structure, if this is one held by value.
    pub fn as_struct(&self) -> Option<&StructValue> {
        match self {
            Value::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a list (an array member or an array's contents).
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// Whether this is Python's `None`.
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    /// `T(v)` as an argument: a value that carries its C type (`c_double(2.5)`).
    pub fn typed(t: crate::types::CType, v: impl Into<Value>) -> Value {
        Value::Typed(t, crate::value::Boxed::new(v.into()))
    }
}

impl From<&Value> for Value {
    fn from(v: &Value) -> Value {
        v.clone()
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Int(v as i128)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v as i128)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(v as i128)
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Int(v as i128)
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Value {
        Value::Int(v as i128)
    }
}
impl From<i128> for Value {
    fn from(v: i128) -> Value {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Bytes(v.to_vec())
    }
}
impl<const N: usize> From<&[u8; N]> for Value {
    fn from(v: &[u8; N]) -> Value {
        Value::Bytes(v.to_vec())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Bytes(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Str(v.to_string())
    }
}
impl From<Pointer> for Value {
    fn from(v: Pointer) -> Value {
        Value::Pointer(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map(Into::into).unwrap_or(Value::None)
    }
}
