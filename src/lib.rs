//! # wasmctypes
//!
//! Python's ctypes, rebuilt in Rust, with a choice of where the C code runs:
//!
//! - [`BackendKind::Wasm`]: the library is a wasm32-wasi reactor module running **sandboxed**
//!   on wasmtime. Every pointer is an offset into its linear memory and every host access is
//!   bounds-checked. A fault in the library is an [`Error::Trap`], never a crash.
//! - [`BackendKind::Native`]: the library is a host shared object opened with dlopen and
//!   called through libffi, with real pointers: exactly what ctypes does.
//!
//! The same C source is compiled for both ([`Toolchain`]), and the same calls give the same
//! results wherever C semantics agree. Where they do not (the data model: `long` and pointers
//! are 4 bytes in wasm32, 8 on x86_64), the difference is visible, not hidden.
//!
//! ```no_run
//! use wasmctypes::{create_string_buffer, BackendKind, CType, Toolchain, Value, CDLL};
//!
//! let built = Toolchain::find()?.build_cached("guest-c/upper.c".as_ref())?;
//! for (kind, path) in [(BackendKind::Wasm, &built.wasm), (BackendKind::Native, &built.native)] {
//!     let lib = CDLL::open(path, kind)?;
//!     let mut upper = lib.function("upper")?;
//!     upper.set_argtypes(&[CType::CharP, CType::Int])?.set_restype(CType::Void)?;
//!     let buf = create_string_buffer(&lib, b"abc123")?;
//!     upper.call(&[(&buf).into(), 6.into()])?;
//!     assert_eq!(buf.raw()?, b"ABC123\0");
//!     assert_eq!(buf.value()?, b"ABC123");
//! }
//! # Ok::<(), wasmctypes::Error>(())
//! ```

#![warn(missing_docs)]

pub mod array;
pub mod backend;
pub mod bench;
pub mod boxed;
pub mod buffer;
pub mod callback;
pub mod cstruct;
pub mod ctype;
pub mod differential;
pub mod error;
pub mod invoke;
pub mod library;
pub mod locate;
pub mod memory;
pub mod pointer;
pub mod sandbox;
pub mod simple;
pub mod structure;
pub mod toolchain;
pub mod typed;
pub mod types;
pub mod value;

pub use array::Array;
pub use backend::{BackendKind, Output};
pub use boxed::Boxed;
pub use buffer::{
    create_string_buffer, create_unicode_buffer, BufferInit, StringBuffer, WideBuffer, WideInit,
};
pub use callback::{CFuncType, Callback, Memory, CFUNCTYPE};
pub use cstruct::{CStruct, StructValue};
pub use ctype::{CType, DataModel, Repr};
pub use error::{Error, Result, TrapKind};
pub use invoke::{invoke, ArgReport, ArgSpec, CallReport, PreparedCall};
pub use library::{Function, LoadOptions, CDLL};
pub use locate::locate;
pub use memory::{byref, memmove, memset, string_at, wstring_at, CData};
pub use pointer::{cast, pointer, Ptr};
pub use sandbox::Sandbox;
pub use simple::CValue;
pub use structure::{Field, Layout, StructType};
pub use toolchain::{Built, Toolchain};
pub use typed::{Params, Results, Scalar, TypedFunction};
pub use types::{Type, POINTER};
pub use value::{bytes_repr, mask_int, LibId, Pointer, Value};
