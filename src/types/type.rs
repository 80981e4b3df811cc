//! Every C type a prototype or a memory object can have: the fundamental [`CType`]s plus
//! pointers (`POINTER(T)`), arrays (`T * n`) and structures and unions.
//!
//! ```
//! use wasmctypes::{CType, DataModel, Type, POINTER};
//! let p = POINTER(CType::Int);
//! assert_eq!(p.name(), "LP_c_int");
//! assert_eq!(p.sizeof(DataModel::ILP32), 4);
//! assert_eq!(p.sizeof(DataModel::LP64), 8);
//! assert_eq!(Type::array(CType::Short, 5).sizeof(DataModel::LP64), 10);
//! ```

use std::fmt;
use std::rc::Rc;

use crate::types::StructType;
use crate::types::{CFuncType, CType, DataModel, Repr};

/// A C type.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    /// A fundamental type (`c_int`, `c_char_p`, ...).
    Simple(CType),
    /// `POINTER(T)`.
    Pointer(Rc<Type>),
    /// `T * n`. As an argument it decays to a pointer to its first element, as in C.
    Array(Rc<Type>, usize),
    /// A structure or union.
    Struct(Rc<StructType>),
    /// A function pointer: `CFUNCTYPE(restype, *argtypes)`.
    Function(Rc<CFuncType>),
}

impl From<CFuncType> for Type {
    fn from(f: CFuncType) -> Type {
        Type::Function(Rc::new(f))
    }
}

impl From<&CFuncType> for Type {
    fn from(f: &CFuncType) -> Type {
        Type::Function(Rc::new(f.clone()))
    }
}

/// ctypes' `POINTER(T)`: the type of a pointer to `T`.
#[allow(non_snake_case)]
pub fn POINTER(t: impl Into<Type>) -> Type {
    Type::Pointer(Rc::new(t.into()))
}

impl From<CType> for Type {
    fn from(t: CType) -> Type {
        Type::Simple(t)
    }
}

impl From<&Type> for Type {
    fn from(t: &Type) -> Type {
        t.clone()
    }
}

impl From<&CType> for Type {
    fn from(t: &CType) -> Type {
        Type::Simple(*t)
    }
}

impl From<Rc<StructType>> for Type {
    fn from(s: Rc<StructType>) -> Type {
        Type::Struct(s)
    }
}

impl Type {
    /// `T * n`.
    pub fn array(elem: impl Into<Type>, n: usize) -> Type {
        Type::Array(Rc::new(elem.into()), n)
    }

    /// ctypes' name for the type: `c_int`, `LP_c_int`, `c_int_Array_5`, or the structure's name.
    pub fn name(&self) -> String {
        match self {
            Type::Simple(t) => t.name().to_string(),
            Type::Pointer(t) => format!("LP_{}", t.name()),
            Type::Array(t, n) => format!("{}_Array_{n}", t.name()),
            Type::Struct(s) => s.name().to_string(),
            Type::Function(_) => "CFunctionType".to_string(),
        }
    }

    /// `sizeof(T)` in a data model.
    pub fn sizeof(&self, m: DataModel) -> usize {
        match self {
            Type::Simple(t) => m.sizeof(*t),
            Type::Pointer(_) | Type::Function(_) => m.pointer_size(),
            Type::Array(t, n) => t.sizeof(m) * n,
            Type::Struct(s) => s.layout(m).size,
        }
    }

    /// `alignment(T)` in a data model.
    pub fn alignment(&self, m: DataModel) -> usize {
        match self {
            Type::Simple(t) => m.alignment(*t),
            Type::Pointer(_) | Type::Function(_) => m.pointer_size(),
            Type::Array(t, _) => t.alignment(m),
            Type::Struct(s) => s.layout(m).align,
        }
    }

    /// How a value of this type travels through a call as a scalar, or `None` for a structure
    /// (which travels by value, per the ABI).
    pub fn call_repr(&self, m: DataModel) -> Option<Repr> {
        match self {
            Type::Simple(t) => Some(m.repr(*t)),
            Type::Pointer(_) | Type::Array(..) | Type::Function(_) => Some(m.repr(CType::VoidP)),
            Type::Struct(_) => None,
        }
    }

    /// The fundamental type, if this is one.
    pub fn simple(&self) -> Option<CType> {
        match self {
            Type::Simple(t) => Some(*t),
            _ => None,
        }
    }

    /// Whether values of this type are addresses.
    pub fn is_pointer(&self) -> bool {
        match self {
            Type::Simple(t) => t.is_pointer(),
            Type::Pointer(_) | Type::Array(..) | Type::Function(_) => true,
            Type::Struct(_) => false,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
