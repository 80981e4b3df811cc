//! The Python exceptions of wasmctypes' errors, as ctypes raises them.

use pyo3::create_exception;
use pyo3::exceptions::{
    PyAttributeError, PyException, PyIndexError, PyMemoryError, PyOSError, PyOverflowError,
    PyRecursionError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;

use wasmctypes::Error;

create_exception!(_core, ArgumentError, PyException);
create_exception!(_core, SandboxError, PyOSError);

/// The Python exception for a wasmctypes error, as ctypes raises it.
pub(crate) fn py_err(e: Error) -> PyErr {
    let message = e.message();
    match &e {
        Error::Trap {
            kind, backtrace, ..
        } => Python::attach(|py| {
            let err = SandboxError::new_err(format!("{}: {message}", kind.name()));
            let value = err.value(py);
            let _ = value.setattr("kind", kind.name());
            let _ = value.setattr("backtrace", backtrace.as_str());
            err
        }),
        Error::ArgumentError { .. } => ArgumentError::new_err(message),
        Error::AttributeError { .. } => PyAttributeError::new_err(message),
        Error::OsError { .. } | Error::Toolchain(_) | Error::Compile { .. } => {
            PyOSError::new_err(message)
        }
        _ => match e.kind() {
            "TypeError" | "WrongType" | "Signature" => PyTypeError::new_err(message),
            "ValueError" | "OutOfBounds" => PyValueError::new_err(message),
            "IndexError" => PyIndexError::new_err(message),
            "OverflowError" => PyOverflowError::new_err(message),
            "MemoryError" => PyMemoryError::new_err(message),
            "RecursionError" => PyRecursionError::new_err(message),
            _ => PyRuntimeError::new_err(format!("{}: {message}", e.kind())),
        },
    }
}

pub(crate) trait OrPy<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> OrPy<T> for wasmctypes::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(py_err)
    }
}
