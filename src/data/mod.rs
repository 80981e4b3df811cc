//! ctypes' instances: values in a library's memory that C can see and Rust reads and writes
//! with ctypes' conversions (`c_int(42)`, `pointer(x)`, `(c_int * 5)()`,
//! `create_string_buffer`, structure instances), and the functions over raw memory
//! (`string_at`, `memmove`, ...).

pub(crate) mod array;
pub(crate) mod buffer;
pub(crate) mod cstruct;
pub(crate) mod memory;
pub(crate) mod pointer;
pub(crate) mod simple;
