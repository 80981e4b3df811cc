//! What the CLI is made of, as a library: building guests, finding them, calling a symbol
//! from text arguments, comparing backends, and timing calls.

pub mod bench;
pub mod differential;
pub mod invoke;
pub mod isolate;
pub mod locate;
pub mod print;
pub use crate::toolchain;
