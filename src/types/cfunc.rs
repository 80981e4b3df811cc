//! Function pointer types: ctypes' `CFUNCTYPE(restype, *argtypes)`, a C type like any other.
//! It is the prototype of a callback, and as a [`Type`] it is usable in argtypes, restype and
//! structure fields, where it is a pointer that only an instance of the same prototype fits.

use super::{CType, Type};

/// A function pointer type: ctypes' `CFUNCTYPE(restype, *argtypes)`. Two prototypes with the
/// same signature are the same type, as ctypes caches the class per signature.
#[derive(Clone, Debug, PartialEq)]
pub struct CFuncType {
    /// The result type (`CType::Void` for none).
    pub restype: Type,
    /// The argument types: fundamental types, pointers and function pointers.
    pub argtypes: Vec<Type>,
}

/// `CFUNCTYPE(restype, *argtypes)`.
#[allow(non_snake_case)]
pub fn CFUNCTYPE<T: Into<Type> + Clone>(restype: impl Into<Type>, argtypes: &[T]) -> CFuncType {
    CFuncType {
        restype: restype.into(),
        argtypes: argtypes.iter().cloned().map(Into::into).collect(),
    }
}

impl CFuncType {
    /// How a value of type `t` crosses a callback: the fundamental type, or `c_void_p` for a
    /// pointer or function pointer. Arrays, structures and void arguments cannot.
    pub(crate) fn passing(t: &Type, is_result: bool) -> Option<CType> {
        match t {
            Type::Simple(CType::Void) if !is_result => None,
            Type::Simple(c) => Some(*c),
            Type::Pointer(_) | Type::Function(_) => Some(CType::VoidP),
            Type::Array(..) | Type::Struct(_) => None,
        }
    }
}
