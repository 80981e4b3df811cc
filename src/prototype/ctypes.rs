//! C types seen as ctypes sees them: each C type's class for comparison ([`Scalar`]), and the
//! ctypes type a binding would declare for it ([`Prototypes::ctypes`]).

use super::{CNode, Encoding, FunctionProto, Prototypes, TypeId, MAX_DEPTH};
use crate::types::{CType, DataModel, Type};

/// Whether an integer type has the same width on every data model, or is as wide as a
/// pointer (`long`, `size_t`: 4 bytes on ILP32, 8 on LP64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Width {
    /// The same width everywhere (`int`, `long long`, `int64_t`).
    Fixed,
    /// As wide as a pointer (`long`, `size_t`, `intptr_t`).
    PointerSized,
    /// Not known: a platform's typedef (`time_t`) or a ctypes alias (natively `c_int64` is
    /// `c_long`).
    Unknown,
}

/// What a C type is, for comparing it with a ctypes type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Scalar {
    Int {
        size: u64,
        signed: bool,
        /// A character type or an enumeration: its signedness is not checked.
        lenient: bool,
        width: Width,
    },
    Bool,
    Float(u64),
    /// A pointer, an array (as a parameter) or a function pointer, with its pointee.
    Pointer(TypeId),
    Struct(TypeId),
    Void,
    Unknown,
}

/// Typedefs whose width C fixes: `(name, bytes, signed)`, 0 bytes meaning pointer-sized.
const KNOWN_TYPEDEFS: &[(&str, u64, bool)] = &[
    ("size_t", 0, false),
    ("ssize_t", 0, true),
    ("ptrdiff_t", 0, true),
    ("intptr_t", 0, true),
    ("uintptr_t", 0, false),
    ("int8_t", 1, true),
    ("uint8_t", 1, false),
    ("int16_t", 2, true),
    ("uint16_t", 2, false),
    ("int32_t", 4, true),
    ("uint32_t", 4, false),
    ("int64_t", 8, true),
    ("uint64_t", 8, false),
    ("intmax_t", 8, true),
    ("uintmax_t", 8, false),
];

/// Typedefs that platforms define differently (POSIX's, and any `__`-prefixed name of a
/// C library's internals): their width is not known beyond this build.
fn platform_typedef(name: &str) -> bool {
    name.starts_with("__")
        || matches!(
            name,
            "time_t"
                | "off_t"
                | "clock_t"
                | "suseconds_t"
                | "useconds_t"
                | "ino_t"
                | "dev_t"
                | "nlink_t"
                | "blkcnt_t"
                | "blksize_t"
                | "fsblkcnt_t"
                | "fsfilcnt_t"
                | "rlim_t"
                | "socklen_t"
                | "mode_t"
                | "uid_t"
                | "gid_t"
                | "pid_t"
                | "id_t"
                | "key_t"
                | "wint_t"
                | "wchar_t"
                | "sig_atomic_t"
                | "clockid_t"
        )
}

impl Prototypes {
    /// What type `id` is, for comparison.
    pub(crate) fn scalar(&self, id: TypeId) -> Scalar {
        let mut width: Option<Width> = None;
        let mut id = id;
        for _ in 0..MAX_DEPTH {
            match self.node(id) {
                CNode::Typedef { name, ty } => {
                    if width.is_none() {
                        if let Some((_, bytes, _)) =
                            KNOWN_TYPEDEFS.iter().find(|(n, _, _)| n == name)
                        {
                            width = Some(if *bytes == 0 {
                                Width::PointerSized
                            } else {
                                Width::Fixed
                            });
                        } else if platform_typedef(name) {
                            width = Some(Width::Unknown);
                        }
                    }
                    id = *ty;
                }
                CNode::Qualified { ty, .. } => id = *ty,
                CNode::Base {
                    name,
                    size,
                    encoding,
                } => {
                    let size = u64::from(*size);
                    let width = width.unwrap_or({
                        // `long` and `unsigned long` (GCC: `long int`, `long unsigned int`).
                        let long = name.contains("long")
                            && !name.contains("long long")
                            && !name.contains("double");
                        if long {
                            Width::PointerSized
                        } else {
                            Width::Fixed
                        }
                    });
                    return match encoding {
                        Encoding::Signed | Encoding::Unsigned => Scalar::Int {
                            size,
                            signed: *encoding == Encoding::Signed,
                            lenient: size == 1,
                            width,
                        },
                        Encoding::SignedChar | Encoding::UnsignedChar => Scalar::Int {
                            size,
                            signed: *encoding == Encoding::SignedChar,
                            lenient: true,
                            width: Width::Fixed,
                        },
                        Encoding::Bool => Scalar::Bool,
                        Encoding::Float => Scalar::Float(size),
                        Encoding::Other => Scalar::Unknown,
                    };
                }
                CNode::Enum { size, .. } => {
                    return Scalar::Int {
                        size: u64::from(*size),
                        signed: true,
                        lenient: true,
                        width: Width::Fixed,
                    }
                }
                CNode::Pointer(to) => return Scalar::Pointer(*to),
                CNode::Array { elem, .. } => return Scalar::Pointer(*elem),
                CNode::Function(_) => return Scalar::Pointer(id),
                CNode::Struct(_) => return Scalar::Struct(id),
                CNode::Void => return Scalar::Void,
                CNode::Unknown => return Scalar::Unknown,
            }
        }
        Scalar::Unknown
    }

    /// The ctypes type a binding declares for C type `id`, in this library's data model, or
    /// `None` when there is none (a structure by value, `__int128`, a complex number). As an
    /// argument (`result == false`) every pointer is `c_void_p`, which takes what ctypes
    /// passes as a pointer: bytes, str, arrays, `byref()`, pointers, integers and None. As a
    /// result, `char *` is `c_char_p` (the string), `wchar_t *` `c_wchar_p`, and other
    /// pointers `c_void_p` (the address).
    pub fn ctypes_of(&self, id: TypeId, result: bool) -> Option<Type> {
        let model = self.model;
        Some(Type::Simple(match self.scalar(id) {
            Scalar::Void => CType::Void,
            Scalar::Bool => CType::Bool,
            Scalar::Float(4) => CType::Float,
            Scalar::Float(8) => CType::Double,
            Scalar::Float(16) => CType::LongDouble,
            Scalar::Int {
                size,
                signed,
                width,
                ..
            } => int_ctype(self.typedef_name(id), size, signed, width, model)?,
            Scalar::Pointer(to) if result => match self.node(self.resolve(to)) {
                CNode::Base {
                    encoding: Encoding::SignedChar,
                    size: 1,
                    ..
                } => CType::CharP,
                _ if self.typedef_name(to) == Some("wchar_t") => CType::WCharP,
                _ => CType::VoidP,
            },
            Scalar::Pointer(_) => CType::VoidP,
            Scalar::Float(_) | Scalar::Struct(_) | Scalar::Unknown => return None,
        }))
    }

    /// The argtypes and restype a binding declares for `f`, or `None` when a type has no
    /// ctypes equivalent ([`Prototypes::ctypes_of`]) or its parameters are unknown (`int f()`).
    /// For a variadic function, argtypes are its fixed parameters, as ctypes takes them.
    pub fn ctypes(&self, f: &FunctionProto) -> Option<(Vec<Type>, Type)> {
        if !f.signature.prototyped && !f.signature.params.is_empty() {
            return None;
        }
        let args = f
            .signature
            .params
            .iter()
            .map(|(_, t)| self.ctypes_of(*t, false))
            .collect::<Option<Vec<_>>>()?;
        Some((args, self.ctypes_of(f.signature.ret, true)?))
    }

    /// Whether `id` is a pointer to characters (`char *`, `const unsigned char *`,
    /// `uint8_t *`): text on a command line is passed to it as bytes.
    pub fn is_text(&self, id: TypeId) -> bool {
        match self.scalar(id) {
            Scalar::Pointer(to) => {
                matches!(self.scalar(to), Scalar::Int { size: 1, .. } | Scalar::Bool)
            }
            _ => false,
        }
    }

    /// The outermost typedef's name of `id`, if it is one.
    pub(crate) fn typedef_name(&self, id: TypeId) -> Option<&str> {
        let mut id = id;
        for _ in 0..MAX_DEPTH {
            match self.node(id) {
                CNode::Typedef { name, .. } => return Some(name),
                CNode::Qualified { ty, .. } => id = *ty,
                _ => return None,
            }
        }
        None
    }
}

/// The ctypes integer type for a C integer: `size_t` is `c_size_t`, `long` is `c_long`, and
/// otherwise the type of that width and signedness.
fn int_ctype(
    typedef: Option<&str>,
    size: u64,
    signed: bool,
    width: Width,
    model: DataModel,
) -> Option<CType> {
    match typedef {
        Some("size_t") => return Some(CType::SizeT),
        Some("ssize_t") => return Some(CType::SSizeT),
        _ => {}
    }
    if width == Width::PointerSized && size == model.pointer_size() as u64 {
        return Some(if signed { CType::Long } else { CType::ULong });
    }
    Some(match (size, signed) {
        (1, true) => CType::Byte,
        (1, false) => CType::UByte,
        (2, true) => CType::Short,
        (2, false) => CType::UShort,
        (4, true) => CType::Int,
        (4, false) => CType::UInt,
        (8, true) => CType::LongLong,
        (8, false) => CType::ULongLong,
        _ => return None,
    })
}

/// What a ctypes type is, in data model `model`, for comparison with a C type: its class and,
/// for integers, whether its width is fixed.
pub(crate) fn ctypes_scalar(t: &Type, model: DataModel) -> CtypesScalar {
    match t {
        Type::Simple(c) => match c {
            CType::Void => CtypesScalar::Void,
            CType::Bool => CtypesScalar::Bool,
            CType::Float | CType::Double | CType::LongDouble => {
                CtypesScalar::Float(model.sizeof(*c) as u64)
            }
            CType::CharP | CType::WCharP | CType::VoidP => CtypesScalar::Pointer,
            _ => {
                let width = match c {
                    CType::SizeT | CType::SSizeT => Width::PointerSized,
                    // Natively `c_int64` is `c_long` (and `c_uint64` `c_ulong`), so a `c_long`
                    // may mean either.
                    CType::Long | CType::ULong if model == DataModel::LP64 => Width::Unknown,
                    CType::Long | CType::ULong => Width::PointerSized,
                    _ => Width::Fixed,
                };
                let signed = matches!(model.repr(*c), crate::types::Repr::Int(_));
                CtypesScalar::Int {
                    size: model.sizeof(*c) as u64,
                    signed,
                    width,
                }
            }
        },
        Type::Pointer(_) | Type::Array(..) | Type::Function(_) => CtypesScalar::Pointer,
        Type::Struct(_) => CtypesScalar::Struct,
    }
}

/// A ctypes type's class (see [`ctypes_scalar`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum CtypesScalar {
    Int {
        size: u64,
        signed: bool,
        width: Width,
    },
    Bool,
    Float(u64),
    Pointer,
    Struct,
    Void,
}
