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
//!     // SAFETY: upper.c is the project's own seed example; natively it runs in this process.
//!     let lib = unsafe { CDLL::open(path, kind)? };
//!     let mut upper = lib.function("upper")?;
//!     upper.set_argtypes(&[CType::CharP, CType::Int])?.set_restype(CType::Void)?;
//!     let buf = create_string_buffer(&lib, b"abc123")?;
//!     upper.call(&[(&buf).into(), 6.into()])?;
//!     assert_eq!(buf.raw()?, b"ABC123\0");
//!     assert_eq!(buf.value()?, b"ABC123");
//! }
//! # Ok::<(), wasmctypes::Error>(())
//! ```

#![warn(missing_docs, unreachable_pub, clippy::undocumented_unsafe_blocks)]

mod backend;
mod cache;
mod data;
mod error;
#[cfg(test)]
mod fuzz;
mod library;
pub mod prototype;
pub mod toolchain;
pub mod tools;
mod types;
mod value;

pub use backend::sandbox;
pub use backend::wasm::engine::LoadSource;
pub use backend::{
    BackendKind, CallbackFn, Export, LibraryInfo, LoadOptions, Memory, Output, Signature, WasmType,
    MAX_ARGS,
};
pub use data::array::Array;
pub use data::buffer::{
    create_string_buffer, create_unicode_buffer, BufferInit, StringBuffer, WideBuffer, WideInit,
};
pub use data::cstruct::CStruct;
pub use data::memory::{byref, memmove, memset, string_at, wstring_at, CData};
pub use data::pointer::{cast, pointer, Ptr};
pub use data::simple::CValue;
pub use error::{Error, Mismatch, Result, TrapKind};
pub use library::callback::Callback;
pub use library::typed::{Params, Results, Scalar, TypedFunction};
pub use library::{Detach, Function, Sandbox, CDLL, LIBC};
pub use prototype::{MismatchKind, PrototypeMismatch, Prototypes};
pub use sandbox::SandboxConfig;
pub use toolchain::{Built, OptLevel, Toolchain};
pub use tools::invoke::{invoke, ArgReport, ArgSpec, CallReport, PreparedCall};
pub use tools::locate::locate;
pub use types::{
    CFuncType, CType, DataModel, Field, Layout, Repr, StructType, Type, CFUNCTYPE, POINTER,
};
pub use value::{bytes_repr, mask_int, Boxed, FuncPtr, LibId, Pointer, StructValue, Value};

/// The engine configuration a sandbox runs on, for benchmarks that measure wasmtime's own
/// floor on the same settings. Not part of the stable API.
#[doc(hidden)]
pub mod bench_support {
    pub use crate::backend::wasm::engine::sandbox_config;
}
