//! The C types: the fundamental [`CType`]s with their representation in each [`DataModel`],
//! compound [`Type`]s (pointers, arrays, structures) and structure layout.
//!
//! This is the lowest layer: it knows nothing of values, libraries or backends.

mod cfunc;
mod ctype;
mod layout;
mod r#type;

pub use cfunc::{CFuncType, CFUNCTYPE};
pub use ctype::{CType, DataModel, Repr};
pub use layout::{Field, Layout, StructType};
pub use r#type::{Type, POINTER};
