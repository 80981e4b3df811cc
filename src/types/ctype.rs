//! The fundamental C types, named as in ctypes, and the data models that size them.
//!
//! A [`CType`] is what ctypes calls a "simple type": `c_int`, `c_char_p`, `c_double`, and so on.
//! Its size and alignment are not fixed: they come from the [`DataModel`] of the backend that
//! loads the library. wasm32 is ILP32 (`long`, `size_t` and pointers are 4 bytes); x86_64 Linux
//! is LP64 (they are 8).
//!
//! ```
//! use wasmctypes::{CType, DataModel};
//! assert_eq!(DataModel::ILP32.sizeof(CType::Long), 4);
//! assert_eq!(DataModel::LP64.sizeof(CType::Long), 8);
//! assert_eq!(CType::from_name("c_void_p"), Some(CType::VoidP));
//! ```

use std::fmt;

/// A fundamental C type. The names follow ctypes (`CType::Int` is `c_int`); [`CType::name`]
/// gives the ctypes spelling and [`CType::from_name`] parses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CType {
    /// `c_bool`: C99 `_Bool`.
    Bool,
    /// `c_char`: one byte; its value is a `bytes` of length 1.
    Char,
    /// `c_wchar`: one `wchar_t`, 4 bytes on both targets.
    WChar,
    /// `c_byte`: `signed char`.
    Byte,
    /// `c_ubyte`: `unsigned char`.
    UByte,
    /// `c_short`.
    Short,
    /// `c_ushort`.
    UShort,
    /// `c_int`.
    Int,
    /// `c_uint`.
    UInt,
    /// `c_long`: 4 bytes in ILP32, 8 in LP64.
    Long,
    /// `c_ulong`: 4 bytes in ILP32, 8 in LP64.
    ULong,
    /// `c_longlong`.
    LongLong,
    /// `c_ulonglong`.
    ULongLong,
    /// `c_size_t`: pointer-sized, unsigned.
    SizeT,
    /// `c_ssize_t`: pointer-sized, signed.
    SSizeT,
    /// `c_int8`.
    Int8,
    /// `c_uint8`.
    UInt8,
    /// `c_int16`.
    Int16,
    /// `c_uint16`.
    UInt16,
    /// `c_int32`.
    Int32,
    /// `c_uint32`.
    UInt32,
    /// `c_int64`.
    Int64,
    /// `c_uint64`.
    UInt64,
    /// `c_float`.
    Float,
    /// `c_double`.
    Double,
    /// `c_longdouble`: 16 bytes on both targets, x87's 80-bit extended format on x86_64 and
    /// IEEE binary128 on wasm32 (and aarch64). Its value is a Python float: read, it is
    /// rounded to a double, as ctypes rounds it.
    LongDouble,
    /// `c_char_p`: a pointer to a NUL-terminated byte string.
    CharP,
    /// `c_wchar_p`: a pointer to a NUL-terminated `wchar_t` string.
    WCharP,
    /// `c_void_p`: an untyped pointer; its value is an integer address.
    VoidP,
    /// `None` as a restype: the function returns nothing.
    Void,
}

/// How a value of a type travels through a call and sits in memory, once the data model has
/// decided the sizes: the integer width and signedness, or the float width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Repr {
    /// `_Bool`: one byte, any non-zero value reads as 1.
    Bool,
    /// Signed integer of this many bytes.
    Int(u8),
    /// Unsigned integer of this many bytes.
    UInt(u8),
    /// IEEE single.
    F32,
    /// IEEE double.
    F64,
    /// x87 80-bit extended precision, in 16 bytes (x86_64's `long double`).
    F80,
    /// IEEE binary128, in 16 bytes (wasm32's and aarch64's `long double`).
    F128,
    /// No value.
    Void,
}

impl Repr {
    /// Size in bytes (0 for void).
    pub fn size(self) -> usize {
        match self {
            Repr::Bool => 1,
            Repr::Int(n) | Repr::UInt(n) => n as usize,
            Repr::F32 => 4,
            Repr::F64 => 8,
            Repr::F80 | Repr::F128 => 16,
            Repr::Void => 0,
        }
    }

    /// Whether the value is a float (travels in a float register or a wasm `f32`/`f64`).
    pub fn is_float(self) -> bool {
        matches!(self, Repr::F32 | Repr::F64)
    }

    /// Whether the value is a `long double`: 16 bytes, which no call slot holds, so a call
    /// passes and returns it through memory (see `Passing::Memory`).
    pub fn is_long_double(self) -> bool {
        matches!(self, Repr::F80 | Repr::F128)
    }
}

/// The sizes a target gives to C's types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataModel {
    /// `int`, `long` and pointers are 32-bit: wasm32.
    ILP32,
    /// `int` is 32-bit, `long` and pointers are 64-bit: x86_64 Linux.
    LP64,
}

impl DataModel {
    /// The data model of the machine this process runs on (the native backend's).
    pub fn host() -> DataModel {
        if cfg!(target_pointer_width = "64") {
            DataModel::LP64
        } else {
            DataModel::ILP32
        }
    }

    /// `sizeof(void *)`.
    pub fn pointer_size(self) -> usize {
        match self {
            DataModel::ILP32 => 4,
            DataModel::LP64 => 8,
        }
    }

    /// `ctypes.sizeof(t)` in this data model.
    pub fn sizeof(self, t: CType) -> usize {
        self.repr(t).size()
    }

    /// `ctypes.alignment(t)` in this data model. Every fundamental type is aligned to its size
    /// on both targets (wasm32 aligns `long long` and `double` to 8, as x86_64 does).
    pub fn alignment(self, t: CType) -> usize {
        self.sizeof(t).max(1)
    }

    /// The name of the model and its target, for messages: `ILP32 (wasm32)`.
    pub fn describe(self) -> &'static str {
        match self {
            DataModel::ILP32 => "ILP32 (wasm32)",
            DataModel::LP64 => "LP64 (x86_64)",
        }
    }

    /// How `t` is represented in this data model.
    pub fn repr(self, t: CType) -> Repr {
        let ptr = self.pointer_size() as u8;
        let long = ptr;
        match t {
            CType::Bool => Repr::Bool,
            CType::Char | CType::Byte | CType::Int8 => Repr::Int(1),
            CType::UByte | CType::UInt8 => Repr::UInt(1),
            CType::Short | CType::Int16 => Repr::Int(2),
            CType::UShort | CType::UInt16 => Repr::UInt(2),
            CType::Int | CType::Int32 | CType::WChar => Repr::Int(4),
            CType::UInt | CType::UInt32 => Repr::UInt(4),
            CType::Long => Repr::Int(long),
            CType::ULong => Repr::UInt(long),
            CType::LongLong | CType::Int64 => Repr::Int(8),
            CType::ULongLong | CType::UInt64 => Repr::UInt(8),
            CType::SSizeT => Repr::Int(ptr),
            CType::SizeT | CType::CharP | CType::WCharP | CType::VoidP => Repr::UInt(ptr),
            CType::Float => Repr::F32,
            CType::Double => Repr::F64,
            CType::LongDouble if self == DataModel::LP64 && cfg!(target_arch = "x86_64") => {
                Repr::F80
            }
            CType::LongDouble => Repr::F128,
            CType::Void => Repr::Void,
        }
    }
}

impl fmt::Display for DataModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

const NAMES: &[(CType, &str)] = &[
    (CType::Bool, "c_bool"),
    (CType::Char, "c_char"),
    (CType::WChar, "c_wchar"),
    (CType::Byte, "c_byte"),
    (CType::UByte, "c_ubyte"),
    (CType::Short, "c_short"),
    (CType::UShort, "c_ushort"),
    (CType::Int, "c_int"),
    (CType::UInt, "c_uint"),
    (CType::Long, "c_long"),
    (CType::ULong, "c_ulong"),
    (CType::LongLong, "c_longlong"),
    (CType::ULongLong, "c_ulonglong"),
    (CType::SizeT, "c_size_t"),
    (CType::SSizeT, "c_ssize_t"),
    (CType::Int8, "c_int8"),
    (CType::UInt8, "c_uint8"),
    (CType::Int16, "c_int16"),
    (CType::UInt16, "c_uint16"),
    (CType::Int32, "c_int32"),
    (CType::UInt32, "c_uint32"),
    (CType::Int64, "c_int64"),
    (CType::UInt64, "c_uint64"),
    (CType::Float, "c_float"),
    (CType::Double, "c_double"),
    (CType::LongDouble, "c_longdouble"),
    (CType::CharP, "c_char_p"),
    (CType::WCharP, "c_wchar_p"),
    (CType::VoidP, "c_void_p"),
    (CType::Void, "None"),
];

impl CType {
    /// Every fundamental type, in ctypes' order.
    pub fn all() -> impl Iterator<Item = CType> {
        NAMES.iter().map(|(t, _)| *t)
    }

    /// The ctypes name: `c_int`, `c_char_p`; `None` for void.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(t, _)| *t == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }

    /// Parses a ctypes name. `void` and `None` both mean [`CType::Void`].
    pub fn from_name(name: &str) -> Option<CType> {
        if name == "void" {
            return Some(CType::Void);
        }
        NAMES.iter().find(|(_, n)| *n == name).map(|(t, _)| *t)
    }

    /// Whether values of this type are pointers (`c_char_p`, `c_wchar_p`, `c_void_p`).
    pub fn is_pointer(self) -> bool {
        matches!(self, CType::CharP | CType::WCharP | CType::VoidP)
    }

    /// Whether this is an integer type (including `c_bool`, `c_char` and `c_wchar`).
    pub fn is_integer(self) -> bool {
        !self.is_pointer()
            && !matches!(
                self,
                CType::Float | CType::Double | CType::LongDouble | CType::Void
            )
    }
}

impl fmt::Display for CType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
