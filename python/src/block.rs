//! Blocks of a process's memory owned by Python objects.

use pyo3::prelude::*;

use crate::process::Process;

/// A block of the process's memory owned by a Python object: freed when it is dropped, with
/// the memory a running callback was given if there is one (the process is busy then).
#[pyclass(frozen, module = "wasmctypes._core")]
pub(crate) struct Block {
    pub(crate) addr: u64,
    pub(crate) size: usize,
    pub(crate) process: Py<Process>,
}

impl Block {
    /// `n` zero bytes of `process`'s memory: its `calloc`, so that natively a large block's
    /// fresh pages are not touched, as CPython's ctypes allocates them.
    pub(crate) fn new(process: &Bound<'_, Process>, n: usize) -> PyResult<Block> {
        let py = process.py();
        let addr = process.get().memory(py, |lib| lib.calloc(n))?;
        Ok(Block {
            addr,
            size: n,
            process: process.clone().unbind(),
        })
    }
}

#[pymethods]
impl Block {
    /// Its address.
    #[getter]
    fn address(&self) -> u64 {
        self.addr
    }

    /// Its size in bytes.
    #[getter]
    fn size(&self) -> usize {
        self.size
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        Python::attach(|py| self.process.get().free(py, self.addr));
    }
}
