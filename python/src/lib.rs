//! `wasmctypes._core`: the Python extension over the wasmctypes library.
//!
//! It exposes what the Python layer (`python/wasmctypes/`) builds ctypes' object model on: a
//! process (a wasm [`Sandbox`](wasmctypes::Sandbox), or this process natively) with its
//! libraries, their functions (argument conversion, the call and the result all in Rust),
//! blocks of memory owned by Python objects, bounds-checked reads and writes, and callbacks. Every error becomes the
//! Python exception ctypes raises for it; a trap becomes `SandboxError`, an `OSError` that
//! carries the trap kind and the wasm backtrace.

mod alloc;
mod block;
mod callback;
mod carg;
mod cdata;
mod cdata_methods;
mod convert;
mod error;
mod field;
mod function;
mod functions;
mod gate;
mod gil_cell;
mod host_buffer;
mod init;
mod items;
mod keep;
mod library;
mod memory_functions;
mod mirror;
mod pointer_arg;
mod process;
mod process_methods;
mod pyobject;
mod release_gil;
mod sandbox_options;
mod staging;

use pyo3::ffi;
use pyo3::prelude::*;

use crate::error::{ArgumentError, OrPy, SandboxError};

gil_cell::any_thread_under_the_gil!(
    process::Process,
    library::Library,
    function::Func,
    convert::StructDesc,
    callback::CallbackObj,
);

/// Where a Python buffer's memory is: `(address, size, readonly, c_contiguous)`, for
/// `from_buffer` on the native backend (the caller keeps a memoryview of `obj`, so that the
/// memory stays where it is).
#[pyfunction]
fn buffer_info(obj: &Bound<'_, PyAny>) -> PyResult<(usize, usize, bool, bool)> {
    let mut view = std::mem::MaybeUninit::<ffi::Py_buffer>::uninit();
    // SAFETY: `view` is written by PyObject_GetBuffer on success, and released below.
    unsafe {
        if ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), ffi::PyBUF_FULL_RO) != 0 {
            return Err(PyErr::fetch(obj.py()));
        }
        let v = view.assume_init_mut();
        let info = (
            v.buf as usize,
            v.len as usize,
            v.readonly != 0,
            ffi::PyBuffer_IsContiguous(v, b'C' as std::ffi::c_char) != 0,
        );
        ffi::PyBuffer_Release(v);
        Ok(info)
    }
}

/// Builds a C file with the project's toolchain (cached by content): `(module, shared object)`.
#[pyfunction]
fn build(source: &str) -> PyResult<(String, String)> {
    let built = wasmctypes::Toolchain::find()
        .and_then(|t| t.build_cached(source.as_ref()))
        .py()?;
    Ok((
        built.wasm.display().to_string(),
        built.native.display().to_string(),
    ))
}

/// Where `backend` (`"wasm"` or `"native"`) loads the library `spec` from, as
/// `wasmctypes::locate` finds it: `lib_dirs` searched first, `map` the wasm builds of host
/// libraries (`(host path, wasm path)`). OSError naming where it looked when nothing is
/// found.
#[pyfunction]
fn locate(
    spec: &str,
    backend: &str,
    lib_dirs: Vec<String>,
    map: Vec<(String, String)>,
) -> PyResult<String> {
    let kind = backend_kind(backend)?;
    let search = search(lib_dirs, map);
    Ok(wasmctypes::locate(spec, kind, &search)
        .py()?
        .display()
        .to_string())
}

/// `ctypes.util.find_library(name)` in the search directories of `backend`, or `None`.
#[pyfunction]
fn find_library(name: &str, backend: &str, lib_dirs: Vec<String>) -> PyResult<Option<String>> {
    let kind = backend_kind(backend)?;
    let search = search(lib_dirs, Vec::new());
    Ok(wasmctypes::tools::locate::find_library(name, kind, &search)
        .map(|p| p.display().to_string()))
}

fn backend_kind(backend: &str) -> PyResult<wasmctypes::BackendKind> {
    backend
        .parse()
        .map_err(|e: String| pyo3::exceptions::PyValueError::new_err(e))
}

fn search(lib_dirs: Vec<String>, map: Vec<(String, String)>) -> wasmctypes::tools::locate::Search {
    wasmctypes::tools::locate::Search {
        lib_dirs: lib_dirs.into_iter().map(Into::into).collect(),
        opt: Default::default(),
        map: map.into_iter().map(|(h, w)| (h.into(), w.into())).collect(),
    }
}

/// `wasmctypes cc ARGS...`: the sandbox's C compiler, as build systems drive it (see
/// `wasmctypes::toolchain::driver`); its exit status. For `python -m wasmctypes cc`, which
/// `python -m wasmctypes build_ext` gives setuptools as `CC` and `LDSHARED`.
#[pyfunction]
fn cc(args: Vec<String>) -> PyResult<i32> {
    wasmctypes::toolchain::driver::Driver::find()
        .and_then(|d| d.cc(&args))
        .py()
}

/// `wasmctypes ar ARGS...` (LLVM's); its exit status.
#[pyfunction]
fn ar(args: Vec<String>) -> PyResult<i32> {
    wasmctypes::toolchain::driver::Driver::find()
        .and_then(|d| d.ar(&args))
        .py()
}

/// The module. It relies on the GIL (see [`gil_cell`]): a free-threaded interpreter turns its
/// GIL on when it imports it.
#[pymodule(gil_used = true)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(build, m)?)?;
    m.add_function(wrap_pyfunction!(locate, m)?)?;
    m.add_function(wrap_pyfunction!(cc, m)?)?;
    m.add_function(wrap_pyfunction!(ar, m)?)?;
    m.add_function(wrap_pyfunction!(find_library, m)?)?;
    m.add_function(wrap_pyfunction!(buffer_info, m)?)?;
    m.add_function(wrap_pyfunction!(pyobject::object_at, m)?)?;
    m.add_function(wrap_pyfunction!(pyobject::steal, m)?)?;
    m.add_function(wrap_pyfunction!(pyobject::incref, m)?)?;
    m.add_function(wrap_pyfunction!(pyobject::decref, m)?)?;
    m.add_class::<process::Process>()?;
    m.add_class::<library::Library>()?;
    m.add_class::<function::Func>()?;
    m.add_class::<block::Block>()?;
    m.add_class::<callback::CallbackObj>()?;
    m.add_class::<convert::StructDesc>()?;
    m.add_class::<cdata::CDataBase>()?;
    m.add_class::<cdata_methods::CFuncBase>()?;
    m.add(
        "CDataInit",
        init::cdata_init_type(&m.py().get_type::<cdata::CDataBase>())?,
    )?;
    m.add_class::<items::Items>()?;
    m.add_class::<field::Field>()?;
    m.add_class::<alloc::Alloc>()?;
    m.add_class::<carg::CArg>()?;
    m.add_class::<functions::Functions>()?;
    m.add_class::<functions::PointerPart>()?;
    m.add_class::<memory_functions::MemoryFunctions>()?;
    m.add_class::<mirror::Mirror>()?;
    m.add_class::<mirror::MirrorHold>()?;
    m.add("ArgumentError", m.py().get_type::<ArgumentError>())?;
    m.add("MAX_ARGS", wasmctypes::MAX_ARGS)?;
    m.add("SandboxError", m.py().get_type::<SandboxError>())?;
    Ok(())
}
