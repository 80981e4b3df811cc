//! A library's own C prototypes and types, read from the DWARF debug information its build
//! keeps (`-g`): every exported function's return and parameter types, every structure,
//! union and enum.
//!
//! ctypes cannot see the C it calls, so an `argtypes` of `c_int` where the C takes `size_t`,
//! or a missing `restype` on a function that returns a pointer, corrupts values silently.
//! With the prototypes known, a binding can be checked against the C ([`check`]), a function
//! declared from them ([`Prototypes::ctypes`]), and `wasmctypes inspect` can print them.
//!
//! The debug information is read with gimli (the DWARF reader wasmtime uses): from the custom
//! `.debug_*` sections of a wasm module, or from the sections of a host ELF shared object.
//! A file is read at most once per process ([`Prototypes::of_file`]).
//!
//! ```no_run
//! use wasmctypes::Prototypes;
//! let protos = Prototypes::of_file("examples/greeting.wasm".as_ref())?.expect("built with -g");
//! let greet = protos.function("greet").unwrap();
//! assert_eq!(protos.declaration(greet), "void greet(char *somebody)");
//! # Ok::<(), wasmctypes::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::types::DataModel;

pub mod check;
mod ctypes;
mod declaration;
mod dwarf;
mod json;
mod sections;

pub use check::{MismatchKind, PrototypeMismatch};

/// An index into [`Prototypes`]' type table.
pub type TypeId = u32;

/// How a base type's bits are read (DWARF's `DW_AT_encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// A signed integer.
    Signed,
    /// An unsigned integer.
    Unsigned,
    /// `char` or `signed char`.
    SignedChar,
    /// `unsigned char`.
    UnsignedChar,
    /// `_Bool`.
    Bool,
    /// A binary floating-point number.
    Float,
    /// Anything else (complex, decimal float, ...): never mapped to a ctypes type.
    Other,
}

/// One C type, as the debug information describes it.
#[derive(Clone, Debug, PartialEq)]
pub enum CNode {
    /// `void`.
    Void,
    /// A base type: `int`, `unsigned long`, `double`, ...
    Base {
        /// The compiler's name for it (`unsigned int`, or GCC's `long unsigned int`).
        name: String,
        /// Its size in bytes.
        size: u32,
        /// How its bits are read.
        encoding: Encoding,
    },
    /// A pointer to a type.
    Pointer(TypeId),
    /// `const T` (and `volatile`, `restrict` and `_Atomic`, which a call does not see: only
    /// `konst` is kept).
    Qualified {
        /// Whether the qualifier is `const`.
        konst: bool,
        /// The qualified type.
        ty: TypeId,
    },
    /// `typedef T name`.
    Typedef {
        /// The name.
        name: String,
        /// The type it names.
        ty: TypeId,
    },
    /// A structure or union.
    Struct(StructInfo),
    /// An enumeration.
    Enum {
        /// Its tag, if it has one.
        name: Option<String>,
        /// Its size in bytes.
        size: u32,
        /// The integer type it is stored as, when the compiler says.
        underlying: Option<TypeId>,
        /// The enumerators, in order.
        values: Vec<(String, i64)>,
    },
    /// `T[count]` (`None`: `T[]`).
    Array {
        /// The element type.
        elem: TypeId,
        /// The element count.
        count: Option<u64>,
    },
    /// A function type (the target of a function pointer).
    Function(Signature),
    /// A type the reader does not know (a reference it cannot follow, say).
    Unknown,
}

/// A structure or union.
#[derive(Clone, Debug, PartialEq)]
pub struct StructInfo {
    /// Its tag, if it has one.
    pub name: Option<String>,
    /// Whether it is a union.
    pub union: bool,
    /// Its size in bytes; `None` for a declaration without a definition (`struct s;`).
    pub size: Option<u64>,
    /// The members, in order.
    pub members: Vec<Member>,
}

/// A member of a structure or union.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// Its name (`None` for an anonymous member).
    pub name: Option<String>,
    /// Its type.
    pub ty: TypeId,
    /// Its offset in bytes from the start of the structure (of the storage unit, for a
    /// bitfield).
    pub offset: u64,
    /// For a bitfield: its width in bits and its offset in bits from the start of the
    /// structure.
    pub bits: Option<(u32, u64)>,
}

/// A function's return and parameter types.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    /// The return type ([`CNode::Void`] for `void`).
    pub ret: TypeId,
    /// The parameters, in order, with their names when the source gave them.
    pub params: Vec<(Option<String>, TypeId)>,
    /// Whether it ends in `...`.
    pub variadic: bool,
    /// Whether the parameters are known: `false` for an old-style declaration, `int f()`.
    pub prototyped: bool,
}

/// An exported function.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionProto {
    /// Its symbol name.
    pub name: String,
    /// Its types.
    pub signature: Signature,
}

/// A library's C prototypes and types.
#[derive(Clone, Debug, PartialEq)]
pub struct Prototypes {
    pub(crate) model: DataModel,
    pub(crate) types: Vec<CNode>,
    pub(crate) functions: BTreeMap<String, FunctionProto>,
    /// Named structures, unions and enums with a definition, by C spelling (`struct point`).
    pub(crate) tagged: BTreeMap<String, TypeId>,
}

/// The deepest a type is followed (through pointers, typedefs, members): a guard against
/// hostile debug information whose types refer to themselves.
pub(crate) const MAX_DEPTH: u32 = 48;

impl Prototypes {
    /// The prototypes in the debug information of the file at `path` (a wasm module or a
    /// host shared object), or `None` if it has none. The file is read once per process for
    /// each identity (path, size, modification time, inode), then the same answer is shared.
    pub fn of_file(path: &Path) -> Result<Option<Arc<Prototypes>>> {
        type Memo = Mutex<HashMap<String, Option<Arc<Prototypes>>>>;
        static MEMO: std::sync::OnceLock<Memo> = std::sync::OnceLock::new();
        let meta = std::fs::metadata(path).map_err(|e| Error::os(path, e))?;
        let identity = crate::cache::file_identity(path, &meta);
        let memo = MEMO.get_or_init(Default::default);
        if let Some(known) = memo.lock().map_err(poisoned)?.get(&identity) {
            return Ok(known.clone());
        }
        let read = Prototypes::read(path)?.map(Arc::new);
        let mut memo = memo.lock().map_err(poisoned)?;
        // A bound on what the memo keeps: a process that loads many files forgets them all.
        if memo.len() >= 256 {
            memo.clear();
        }
        memo.insert(identity, read.clone());
        Ok(read)
    }

    /// Reads the debug information of the file at `path`, without the memo.
    pub fn read(path: &Path) -> Result<Option<Prototypes>> {
        let bytes = std::fs::read(path).map_err(|e| Error::os(path, e))?;
        Prototypes::parse(&bytes).map_err(|e| match e {
            Error::ValueError(why) => {
                Error::ValueError(format!("{}: debug information: {why}", path.display()))
            }
            other => other,
        })
    }

    /// The prototypes in `bytes`, a wasm module or an ELF shared object, or `None` if it has
    /// no debug information of its own. Malformed debug information is a `ValueError`.
    pub fn parse(bytes: &[u8]) -> Result<Option<Prototypes>> {
        let Some(found) = sections::debug_sections(bytes)? else {
            return Ok(None);
        };
        // Debug information of what was linked in (compiler-rt's builtins) alone is none.
        let protos = dwarf::read(&found)?;
        Ok((!protos.functions.is_empty() || !protos.tagged.is_empty()).then_some(protos))
    }

    /// The data model the library was built for (ILP32 for wasm32, LP64 for x86_64).
    pub fn data_model(&self) -> DataModel {
        self.model
    }

    /// The exported function `name`'s prototype.
    pub fn function(&self, name: &str) -> Option<&FunctionProto> {
        self.functions.get(name)
    }

    /// Every exported function with a prototype, by name.
    pub fn functions(&self) -> impl Iterator<Item = &FunctionProto> {
        self.functions.values()
    }

    /// The type `id`.
    pub fn node(&self, id: TypeId) -> &CNode {
        self.types.get(id as usize).unwrap_or(&CNode::Unknown)
    }

    /// Every named structure, union and enum with a definition, by C spelling
    /// (`struct point`, `union u`, `enum color`).
    pub fn tagged(&self) -> impl Iterator<Item = (&str, TypeId)> {
        self.tagged.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// The type with typedefs and qualifiers looked through.
    pub fn resolve(&self, mut id: TypeId) -> TypeId {
        for _ in 0..MAX_DEPTH {
            match self.node(id) {
                CNode::Typedef { ty, .. } | CNode::Qualified { ty, .. } => id = *ty,
                _ => return id,
            }
        }
        id
    }

    /// The size in bytes of type `id` in this library, if it is known.
    pub fn size_of(&self, id: TypeId) -> Option<u64> {
        self.size_at(id, 0)
    }

    fn size_at(&self, id: TypeId, depth: u32) -> Option<u64> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.node(self.resolve(id)) {
            CNode::Base { size, .. } | CNode::Enum { size, .. } => Some(u64::from(*size)),
            CNode::Pointer(_) => Some(self.model.pointer_size() as u64),
            CNode::Struct(s) => s.size,
            CNode::Array { elem, count } => {
                count.and_then(|n| self.size_at(*elem, depth + 1)?.checked_mul(n))
            }
            _ => None,
        }
    }
}

fn poisoned<T>(_: T) -> Error {
    Error::Runtime("the prototype memo was poisoned by a panic".into())
}
