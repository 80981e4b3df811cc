//! What Python calls on a process (`_core.Process`): making one, loading its libraries, the
//! layouts and blocks of its memory, reads and writes, its C library's errno and stdio. Each
//! method is a thin shell over the process's own (see [`crate::process`]).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};

use wasmctypes::{BackendKind, CType, Field, StructType, Value};

use crate::alloc::Alloc;
use crate::block::Block;
use crate::convert::{ctype, type_of, StructDesc};
use crate::error::OrPy;
use crate::items::Items;
use crate::library::Library;
use crate::mirror::Direction;
use crate::process::Process;

#[pymethods]
impl Process {
    /// A new process on `backend` (`wasm` or `native`); a sandbox's limits and grants are
    /// `options` (see [`crate::sandbox_options`]), which a native process refuses.
    #[new]
    #[pyo3(signature = (backend, options = None))]
    fn new(backend: &str, options: Option<&Bound<'_, pyo3::types::PyDict>>) -> PyResult<Self> {
        let kind: BackendKind = backend.parse().map_err(PyValueError::new_err)?;
        if kind == BackendKind::Native && options.is_some_and(|o| !o.is_empty()) {
            return Err(PyTypeError::new_err(
                "a native process has no sandbox: limits and grants are for wasm",
            ));
        }
        let options = crate::sandbox_options::load_options(options)?;
        Process::open(kind, options)
    }

    /// `wasm` or `native`.
    #[getter]
    fn backend(&self) -> &'static str {
        self.sandbox.backend().name()
    }

    /// Loads a library into the process (`dlopen(path, RTLD_GLOBAL)`).
    fn load(slf: &Bound<'_, Self>, path: &str) -> PyResult<Library> {
        let this = slf.get();
        let _claim = this.claim(slf.py())?;
        // SAFETY: natively this is ctypes' `CDLL(path)`: the script chose to run this library.
        let lib = unsafe { this.sandbox.load_unchecked(path) }.py()?;
        Ok(Library {
            lib,
            process: slf.clone().unbind(),
        })
    }

    /// Every symbol of the process (`CDLL(None)`, `PyDLL(None)`): `dlopen(NULL)` natively,
    /// where the interpreter's own API is; the sandbox's whole scope in wasm.
    fn this(slf: &Bound<'_, Self>) -> PyResult<Library> {
        let this = slf.get();
        let _claim = this.claim(slf.py())?;
        Ok(Library {
            lib: this.sandbox.this_process().py()?,
            process: slf.clone().unbind(),
        })
    }

    /// A holder of the mirror of `obj`'s buffer in the sandbox (see [`crate::mirror`]):
    /// `from_buffer` and `pythonapi.PyObject_GetBuffer` in wasm. With `writable`, a read-only
    /// buffer is a `TypeError`.
    #[pyo3(name = "mirror")]
    fn mirror_of(
        slf: &Bound<'_, Self>,
        obj: &Bound<'_, PyAny>,
        writable: bool,
    ) -> PyResult<crate::mirror::MirrorHold> {
        slf.get().mirror(slf.py(), obj, writable)
    }

    /// The C library (`find_library("c")`).
    fn libc(slf: &Bound<'_, Self>) -> Library {
        Library {
            lib: slf.get().sandbox.libc(),
            process: slf.clone().unbind(),
        }
    }

    /// `sizeof` of a type code.
    fn sizeof(&self, code: &str) -> PyResult<usize> {
        Ok(self.sandbox.sizeof(ctype(code)?))
    }

    /// The alignment of a type code.
    fn alignment(&self, code: &str) -> PyResult<usize> {
        Ok(self.sandbox.data_model().alignment(ctype(code)?))
    }

    /// A structure (or union) type for by-value calls: `fields` are `(name, descriptor,
    /// bits)` in order (see [`type_of`]); `pack` is `_pack_` (0: none).
    fn struct_type(
        &self,
        name: &str,
        union: bool,
        pack: usize,
        fields: Vec<(String, Bound<'_, PyAny>, Option<u32>)>,
    ) -> PyResult<StructDesc> {
        let fields = fields
            .iter()
            .map(|(n, t, bits)| {
                let ty = type_of(t)?;
                Ok(match bits {
                    Some(b) => Field::bits(n, ty, *b),
                    None => Field::new(n, ty),
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let ty = match (union, pack) {
            (true, _) => StructType::union(name, fields),
            (false, 0) => StructType::structure(name, fields),
            (false, p) => StructType::packed(name, fields, p),
        };
        Ok(StructDesc {
            ty,
            model: self.sandbox.data_model(),
        })
    }

    /// `n` zero bytes of memory, freed when the block is dropped. Inside a callback (C is
    /// running, the process is busy) they come from the memory the callback was given, with
    /// the same allocator, so that a callback can make ctypes objects too.
    fn block(slf: &Bound<'_, Self>, n: usize) -> PyResult<Block> {
        Block::new(slf, n)
    }

    /// How the instances of a type of `size` bytes get their memory: a type's `_b_alloc_`,
    /// with which [`crate::cdata::CDataBase::_new`] makes them in Rust.
    /// It is for `owner`'s instances only: a subclass inherits the attribute but not the size.
    /// `init` says how `T(...)` initialises an instance (see [`crate::init::Init::from_spec`]).
    #[pyo3(signature = (size, owner, init = None))]
    fn alloc(
        slf: &Bound<'_, Self>,
        size: usize,
        owner: &Bound<'_, PyType>,
        init: Option<&Bound<'_, pyo3::types::PyTuple>>,
    ) -> PyResult<Alloc> {
        Ok(Alloc {
            process: slf.clone().unbind(),
            size,
            owner: owner.as_ptr() as usize,
            init: crate::alloc::Init::from_spec(init)?,
        })
    }

    /// The value of type code `code` at `addr`, as a ctypes getter gives it (`p[i]` of a
    /// pointer or array of a fundamental type): one read, no bytes object in between.
    fn get(&self, py: Python<'_>, addr: u64, code: &str) -> PyResult<Py<PyAny>> {
        let t = ctype(code)?;
        let _claim = self.claim(py)?;
        self.sync_range(py, Direction::In, addr, self.sandbox.sizeof(t))?;
        self.load_value(py, addr, t)
    }

    /// Stores `value` as type code `code` at `addr` (ctypes' setter: masked to the width).
    fn set(&self, addr: u64, code: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let t = ctype(code)?;
        self.store(
            value.py(),
            addr,
            t,
            crate::convert::value(value, self.sandbox.id())?,
        )
    }

    /// The item kind of an array of `length` items of type code `code`, or of a pointer to
    /// one when `length` is None: a type's `_b_items_`, which lets [`crate::cdata::CDataBase::__getitem__`]
    /// and [`crate::cdata::CDataBase::__setitem__`] read and write its items in Rust.
    fn items(slf: &Bound<'_, Self>, code: &str, length: Option<u64>) -> PyResult<Items> {
        let t = ctype(code)?;
        if matches!(t, CType::Void | CType::CharP | CType::WCharP | CType::VoidP) {
            return Err(PyTypeError::new_err("items of this type are not numbers"));
        }
        Ok(Items {
            process: slf.clone().unbind(),
            code: t,
            size: slf.borrow().sandbox.sizeof(t) as u64,
            length,
        })
    }

    /// The errno values of the process's C library by name when they are not the host's (the
    /// sandbox's wasi-libc), else `None`.
    fn errno_names(&self) -> Option<Vec<(String, i32)>> {
        self.sandbox.errno_names()
    }

    /// Flushes the C library's stdio buffers (`fflush(NULL)`): what C wrote with `printf` and
    /// kept in its buffer (a full buffer, when stdout is a pipe or a file) goes out now, as a
    /// native process's C library flushes it at exit.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let _claim = self.claim(py)?;
        let _ = self.sandbox.take_output();
        Ok(())
    }

    /// Ends a sandbox as a C process ends, at the interpreter's exit: the guest's `exit(0)`
    /// runs what its libraries registered with `atexit` and their destructors, and flushes
    /// stdio, as the native C library does when this process exits. The sandbox is not
    /// usable after it (a call reports the guest's exit). Natively it does nothing: the
    /// process's own exit does it.
    fn finish(&self, py: Python<'_>) -> PyResult<()> {
        if self.sandbox.backend() != BackendKind::Wasm {
            return Ok(());
        }
        let _claim = self.claim(py)?;
        if let Ok(mut exit) = self.sandbox.libc().function("exit") {
            let prepared = exit
                .set_argtypes(&[CType::Int])
                .and_then(|f| f.set_restype(CType::Void));
            if prepared.is_ok() {
                // It ends with the guest's exit, reported as an error: what was to run ran.
                let _ = exit.call(&[Value::Int(0)]);
            }
        }
        let _ = self.sandbox.take_output();
        Ok(())
    }

    /// `ctypes.get_errno()`.
    fn get_errno(&self) -> PyResult<i32> {
        self.sandbox.get_errno().py()
    }

    /// `ctypes.set_errno(value)`: returns the old value.
    fn set_errno(&self, value: i32) -> PyResult<i32> {
        self.sandbox.set_errno(value).py()
    }

    /// Drops everything the sandbox holds and reloads its libraries (wasm).
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        let _claim = self.claim(py)?;
        if self.exports.get() > 0 {
            return Err(pyo3::exceptions::PyBufferError::new_err(
                "Existing exports of data: the sandbox cannot be reset",
            ));
        }
        self.sandbox.reset().py()
    }

    /// `n` bytes at `addr` (see [`Process::read_bytes`]).
    fn read<'py>(&self, py: Python<'py>, addr: u64, n: usize) -> PyResult<Bound<'py, PyBytes>> {
        self.read_bytes(py, addr, n)
    }

    /// The bytes at `addr` up to the first NUL, at most `n` (see [`Process::read_until_nul`]).
    fn read_cstr<'py>(
        &self,
        py: Python<'py>,
        addr: u64,
        n: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.read_until_nul(py, addr, n)
    }

    /// Writes `data` at `addr`.
    fn write(&self, py: Python<'_>, addr: u64, data: &[u8]) -> PyResult<()> {
        self.write_bytes(py, addr, data)
    }

    /// Writes `n` bytes of `obj`'s buffer from `offset`, then `nul` zero bytes, at `addr`
    /// (see [`Process::write_from_buffer`]).
    #[pyo3(signature = (addr, obj, offset, n, nul = 0))]
    fn write_buffer(
        &self,
        py: Python<'_>,
        addr: u64,
        obj: &Bound<'_, PyAny>,
        offset: usize,
        n: usize,
        nul: usize,
    ) -> PyResult<()> {
        self.write_from_buffer(py, addr, obj, offset, n, nul)
    }

    /// The NUL-terminated bytes at `addr` (`string_at(addr)`).
    fn string_at<'py>(&self, py: Python<'py>, addr: u64) -> PyResult<Bound<'py, PyBytes>> {
        self.read_string(py, addr)
    }
}
