//! ctypes' instances: values in a library's memory that C can see and Rust reads and writes
//! with ctypes' conversions (`c_int(42)`, `pointer(x)`, `(c_int * 5)()`,
//! `create_string_buffer`, structure instances), and the functions over raw memory
//! (`string_at`, `memmove`, ...).

pub mod array;
pub mod buffer;
pub mod cstruct;
pub mod memory;
pub mod pointer;
pub mod simple;
