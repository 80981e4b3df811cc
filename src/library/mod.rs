//! `CDLL`: a loaded library, its functions, and the call path.
//!
//! ```no_run
//! use wasmctypes::{CDLL, CType, Value};
//! let lib = CDLL::open_wasm("target/guest/sum.wasm")?;
//! let mut add = lib.function("add")?;           // ctypes: lib.add
//! add.set_argtypes(&[CType::Int, CType::Int])?; // add.argtypes = [c_int, c_int]
//! add.set_restype(CType::Int)?;                 // add.restype = c_int (the default)
//! assert_eq!(add.call(&[2.into(), 3.into()])?, Value::Int(5));
//! # Ok::<(), wasmctypes::Error>(())
//! ```

mod call;
pub(crate) mod callback;
mod cdll;
mod convert;
mod detach;
mod fast_path;
mod function;
mod inner;
mod loan_cell;
mod private_errno;
mod sandbox;
pub(crate) mod typed;

pub(crate) use cdll::read_wstring;
pub use cdll::{CDLL, LIBC};
pub use detach::Detach;
pub use function::Function;
pub(crate) use inner::LibInner;
pub use sandbox::Sandbox;
