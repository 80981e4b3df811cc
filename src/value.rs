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

use std::fmt;

use crate::ctype::Repr;

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
    Struct(crate::cstruct::StructValue),
    /// A Python list: an array field of a structure.
    List(crate::boxed::Boxed<Vec<Value>>),
    /// A ctypes instance passed as an argument, such as `c_double(2.5)`: the value carries its
    /// type, which is how variadic arguments get theirs.
    Typed(crate::ctype::CType, crate::boxed::Boxed<Value>),
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

    /// `T(v)` as an argument: a value that carries its C type (`c_double(2.5)`).
    pub fn typed(t: crate::ctype::CType, v: impl Into<Value>) -> Value {
        Value::Typed(t, crate::boxed::Boxed::new(v.into()))
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

/// Masks an integer to a C integer representation, as ctypes does on assignment and on call:
/// the low bits are kept and read back signed or unsigned. `c_bool` reads any non-zero as 1.
pub fn mask_int(v: i128, repr: Repr) -> i128 {
    match repr {
        Repr::Bool => (v != 0) as i128,
        Repr::Int(n) => {
            let shift = 128 - 8 * n as u32;
            (v << shift) >> shift
        }
        Repr::UInt(n) => {
            let bits = 8 * n as u32;
            v & ((1i128 << bits) - 1)
        }
        Repr::F32 | Repr::F64 | Repr::Void => v,
    }
}

/// Reads raw call bits (as a backend returns them in a 64-bit slot) as an integer of `repr`.
pub fn int_from_bits(bits: u64, repr: Repr) -> i128 {
    mask_int(bits as i128, repr)
}

/// Python's `repr()` of a `bytes` object: `b'ABC\x00'`.
pub fn bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut s = String::with_capacity(b.len() + 3);
    s.push('b');
    s.push(quote);
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            c if c as char == quote => {
                s.push('\\');
                s.push(quote);
            }
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push(quote);
    s
}

/// Python's `repr()` of a `str`.
pub fn str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut s = String::new();
    s.push(quote);
    for c in text.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\t' => s.push_str("\\t"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            c if c == quote => {
                s.push('\\');
                s.push(quote);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                s.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => s.push(c),
        }
    }
    s.push(quote);
    s
}

/// Python's `repr()` of a float: `2.5`, `1e+100`, `nan`, `inf`.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Python switches to exponent notation here: 1e+16, 1e-05.
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let s = format!("{f:?}");
    s
}

impl fmt::Display for Value {
    /// Formats the value the way Python's `repr()` prints the corresponding object.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&float_repr(*x)),
            Value::Bytes(b) => f.write_str(&bytes_repr(b)),
            Value::Str(s) => f.write_str(&str_repr(s)),
            Value::Pointer(p) => write!(f, "0x{:x}", p.addr),
            Value::Struct(s) => {
                write!(f, "{}(", s.ty().name())?;
                for (i, field) in s.ty().fields().iter().enumerate() {
                    let v = s
                        .get(&field.name)
                        .map(|v| v.to_string())
                        .unwrap_or_else(|_| "?".into());
                    write!(f, "{}{}={v}", if i > 0 { ", " } else { "" }, field.name)?;
                }
                f.write_str(")")
            }
            Value::Typed(t, v) => write!(f, "{t}({v})"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    write!(f, "{}{v}", if i > 0 { ", " } else { "" })?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Parses Python byte-string escapes (`\x00`, `\n`, `\t`, `\r`, `\\`, `\'`, `\"`, `\0`) in
/// command-line text.
pub fn unescape_bytes(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let next = *bytes
            .get(i + 1)
            .ok_or_else(|| format!("trailing backslash in {text:?}"))?;
        i += 2;
        match next {
            b'\\' => out.push(b'\\'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'0' => out.push(0),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'x' => {
                let hex = text
                    .get(i..i + 2)
                    .ok_or_else(|| format!("truncated \\x escape in {text:?}"))?;
                let v = u8::from_str_radix(hex, 16)
                    .map_err(|_| format!("bad \\x escape \\x{hex} in {text:?}"))?;
                out.push(v);
                i += 2;
            }
            other => {
                // Python keeps unknown escapes as they are.
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_like_ctypes() {
        assert_eq!(mask_int((1 << 32) + 5, Repr::Int(4)), 5);
        assert_eq!(mask_int(-1, Repr::UInt(1)), 255);
        assert_eq!(mask_int(255, Repr::Int(1)), -1);
        assert_eq!(mask_int(1 << 31, Repr::Int(4)), -(1 << 31));
        assert_eq!(mask_int(-1, Repr::UInt(8)), u64::MAX as i128);
        assert_eq!(mask_int(7, Repr::Bool), 1);
    }

    #[test]
    fn reprs_like_python() {
        assert_eq!(bytes_repr(b"ABC123\x00"), "b'ABC123\\x00'");
        assert_eq!(bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(bytes_repr(b"\x01\n\\"), "b'\\x01\\n\\\\'");
        assert_eq!(float_repr(2.5), "2.5");
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(1e100), "1e+100");
        assert_eq!(float_repr(1e-5), "1e-05");
        assert_eq!(str_repr("a'b"), "\"a'b\"");
    }

    #[test]
    fn unescapes_python_escapes() {
        assert_eq!(unescape_bytes(r"a\x00b\n\\").unwrap(), b"a\x00b\n\\");
        assert!(unescape_bytes(r"\x4").is_err());
        assert!(unescape_bytes("\\").is_err());
    }
}
