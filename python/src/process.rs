//! A process: a wasm sandbox with its libc, or this process natively; its memory, as the
//! Python layer reads and writes it.

use std::cell::Cell;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyType};

use wasmctypes::{BackendKind, CType, Field, Sandbox, StructType, Value, CDLL};

use crate::block::Block;
use crate::convert::{ctype, object, type_of, StructDesc};
use crate::error::OrPy;
use crate::gate::{Claim, Gate};
use crate::gil_cell::GilCell;
use crate::host_buffer::HostBuffer;
use crate::items::{Alloc, Items};
use crate::library::Library;
use crate::mirror::{Direction, Mirror};
use crate::release_gil::ReleaseGil;
use crate::staging::Stage;

/// A process: a wasm sandbox with its libc, or this process natively.
///
/// Every use of its core (a call, a read or write of its memory, an object made in it) first
/// claims its [`Gate`], with [`Process::claim`]: in wasm one thread at a time uses the
/// sandbox, others wait with the GIL released.
#[pyclass(frozen, weakref, module = "wasmctypes._core")]
pub(crate) struct Process {
    pub(crate) sandbox: Sandbox,
    /// Buffers (memoryviews) open on the process's memory: `reset` would free what they
    /// point at, so it waits until there are none.
    pub(crate) exports: Cell<usize>,
    pub(crate) gate: Gate,
    /// What was to be released while another thread used the sandbox (memory freed by a
    /// Python object that died, a callback's table slot): released at the next claim.
    deferred: GilCell<Vec<Deferred>>,
    /// Host buffers mirrored in the sandbox (see [`crate::mirror`]).
    pub(crate) mirrors: GilCell<Vec<Py<Mirror>>>,
    /// Where a call's `bytes` arguments are copied in the sandbox (see [`crate::staging`]).
    pub(crate) stage: GilCell<Stage>,
}

/// A release put off until the sandbox is free (see [`Process::deferred`]).
pub(crate) enum Deferred {
    /// A block's memory, to free.
    Free(u64),
    /// A callback, whose drop releases its table slot.
    Callback(wasmctypes::Callback),
}

impl Process {
    /// Claims the process for this thread (see [`Gate`]), and releases what was put off.
    #[inline]
    pub(crate) fn claim(&self, py: Python<'_>) -> PyResult<Claim<'_>> {
        let claim = self.gate.claim(py)?;
        self.release_deferred(py);
        Ok(claim)
    }

    /// Releases what was put off, if any.
    #[inline]
    fn release_deferred(&self, py: Python<'_>) {
        if self.deferred.with(py, |d| !d.is_empty()) {
            self.release_deferred_now(py);
        }
    }

    #[cold]
    #[inline(never)]
    fn release_deferred_now(&self, py: Python<'_>) {
        let all = self.deferred.replace(py, Vec::new());
        let mut kept = Vec::new();
        for d in all {
            match d {
                // SAFETY: a block's own memory, freed once (see `Block`'s `Drop`).
                Deferred::Free(addr) => {
                    if unsafe { self.sandbox.free(addr) }.is_err() {
                        kept.push(Deferred::Free(addr));
                    }
                }
                Deferred::Callback(cb) => drop(cb),
            }
        }
        if !kept.is_empty() {
            self.deferred.with(py, |d| d.extend(kept));
        }
    }

    /// Puts a release off until the sandbox is free.
    pub(crate) fn defer(&self, py: Python<'_>, d: Deferred) {
        self.deferred.with(py, |all| all.push(d));
    }

    /// The value of C type `t` at `addr`, as Python sees it (bounds-checked in wasm; NULL is
    /// a ValueError).
    pub(crate) fn load_value(&self, py: Python<'_>, addr: u64, t: CType) -> PyResult<Py<PyAny>> {
        if addr == 0 {
            return Err(PyValueError::new_err("NULL pointer access"));
        }
        let v = self.memory(py, |lib| {
            wasmctypes::CValue::from_address(lib, t, addr).value()
        })?;
        object(py, v)
    }

    /// The number of C type `t` at `addr` as Python sees it, read in one step (bounds-checked
    /// in wasm; NULL is a ValueError).
    pub(crate) fn load_number(&self, py: Python<'_>, addr: u64, t: CType) -> PyResult<Py<PyAny>> {
        let _claim = self.claim(py)?;
        self.sync_range(py, Direction::In, addr, self.sandbox.sizeof(t))?;
        object(py, self.sandbox.get(addr, t).py()?)
    }

    /// `v` as the core stores it as C type `t` (masked to the width, as ctypes' setters do),
    /// if it is a plain number of the kind the type holds: an int for an integer type, an int
    /// or a float for `c_float` and `c_double`. `None` for any other value (or type), which
    /// ctypes' own conversions in the Python layer handle.
    pub(crate) fn plain_number(&self, t: CType, v: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
        Ok(match t {
            CType::Float | CType::Double
                if v.is_exact_instance_of::<PyFloat>() || v.is_exact_instance_of::<PyInt>() =>
            {
                Some(Value::Float(v.extract()?))
            }
            CType::Bool | CType::Char | CType::WChar => None,
            // An int beyond 128 bits is masked by the Python layer, as ctypes masks any int.
            t if t.is_integer() && v.is_exact_instance_of::<PyInt>() => match v.extract::<i64>() {
                Ok(i) => Some(Value::Int(i.into())),
                Err(_) => v.extract::<i128>().ok().map(Value::Int),
            },
            _ => None,
        })
    }

    /// Stores `v` as C type `t` at `addr` (ctypes' setter: masked to the width).
    pub(crate) fn store(&self, py: Python<'_>, addr: u64, t: CType, v: Value) -> PyResult<()> {
        if addr == 0 {
            return Err(PyValueError::new_err("NULL pointer access"));
        }
        let _claim = self.claim(py)?;
        let lib = &self.sandbox;
        match t {
            // A string pointer's setter copies the string into the library's memory.
            CType::CharP | CType::WCharP | CType::VoidP => {
                wasmctypes::CValue::from_address(lib, t, addr).set_value(v.clone())
            }
            _ => lib.set(addr, t, &v),
        }
        .py()?;
        self.sync_range(py, Direction::Out, addr, lib.sizeof(t))
    }

    /// Stores the address `value` as a pointer at `addr` (a pointer's contents).
    pub(crate) fn store_pointer(&self, py: Python<'_>, addr: u64, value: u64) -> PyResult<()> {
        if addr == 0 {
            return Err(PyValueError::new_err("NULL pointer access"));
        }
        let _claim = self.claim(py)?;
        let size = self.sandbox.sizeof(CType::VoidP);
        let bytes = value.to_le_bytes();
        if size < 8 && value >> (8 * size) != 0 {
            return Err(PyValueError::new_err(format!(
                "address {value:#x} does not fit in a pointer of this process"
            )));
        }
        self.sandbox.write(addr, &bytes[..size]).py()?;
        self.sync_range(py, Direction::Out, addr, size)
    }

    /// `n` zero bytes (see [`Process::block`]): the process's `calloc`, so that natively a
    /// large block's fresh pages are not touched, as CPython's ctypes allocates them.
    pub(crate) fn new_block(slf: &Bound<'_, Self>, n: usize) -> PyResult<Block> {
        let py = slf.py();
        let addr = slf.get().memory(py, |lib| lib.calloc(n))?;
        Ok(Block {
            addr,
            size: n,
            process: slf.clone().unbind(),
        })
    }

    /// Frees memory from [`Process::new_block`]: now if the sandbox is free for this thread,
    /// else when it next is. An error is ignored, as a failed `free` in C is.
    pub(crate) fn free(&self, py: Python<'_>, addr: u64) {
        let Some(_claim) = self.gate.try_claim() else {
            return self.defer(py, Deferred::Free(addr));
        };
        // SAFETY: `addr` is a block's own memory, freed once (see `Block`'s `Drop`).
        if let Err(wasmctypes::Error::Runtime(_)) = unsafe { self.sandbox.free(addr) } {
            // The library is lent to an operation of this thread (an object died while the
            // core was converting): freed at the next claim.
            self.defer(py, Deferred::Free(addr));
        }
    }

    /// The pointer stored at `addr` (as `c_void_p`).
    pub(crate) fn pointer_at(&self, py: Python<'_>, addr: u64) -> PyResult<Value> {
        self.memory(py, |lib| lib.get(addr, CType::VoidP))
    }

    /// Runs `f` on the process (the sandbox's scope, natively this process), claimed.
    #[inline]
    pub(crate) fn memory<T>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&CDLL) -> wasmctypes::Result<T>,
    ) -> PyResult<T> {
        let _claim = self.claim(py)?;
        f(&self.sandbox).py()
    }
}

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
        let mut options = crate::sandbox_options::load_options(options)?;
        options.use_errno = true;
        let sandbox = Sandbox::open(kind, &options).py()?;
        sandbox.set_detach(std::rc::Rc::new(ReleaseGil)).py()?;
        Ok(Process {
            gate: Gate::new(kind == BackendKind::Wasm, options.sandbox.timeout),
            sandbox,
            exports: Cell::new(0),
            deferred: GilCell::new(Vec::new()),
            mirrors: GilCell::new(Vec::new()),
            stage: GilCell::new(Stage::default()),
        })
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
        Process::mirror(slf, obj, writable)
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
        Process::new_block(slf, n)
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
            init: crate::init::Init::from_spec(init)?,
        })
    }

    /// `n` bytes at `addr` (bounds-checked in wasm; NULL is a ValueError).
    pub(crate) fn read<'py>(
        &self,
        py: Python<'py>,
        addr: u64,
        n: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        if addr == 0 && n > 0 {
            return Err(PyValueError::new_err("NULL pointer access"));
        }
        let _claim = self.claim(py)?;
        self.sync_range(py, Direction::In, addr, n)?;
        if n == 0 {
            return Ok(PyBytes::new(py, b""));
        }
        // Bounds first (in wasm): a length from outside never becomes an allocation.
        let p = self.sandbox.host_pointer(addr, n).py()?;
        // SAFETY: `host_pointer` checked the range (natively it is the caller's address, as
        // ctypes reads it); the process is claimed, so no C code of it runs meanwhile.
        unsafe { new_bytes(py, p.as_ptr(), n) }
    }

    /// The bytes at `addr` up to the first NUL, at most `n` of them: a char array's `value`,
    /// read without the rest of the array.
    fn read_cstr<'py>(
        &self,
        py: Python<'py>,
        addr: u64,
        n: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        if n == 0 {
            return Ok(PyBytes::new(py, b""));
        }
        if addr == 0 {
            return Err(PyValueError::new_err("NULL pointer access"));
        }
        let _claim = self.claim(py)?;
        self.sync_range(py, Direction::In, addr, n)?;
        let p = self.sandbox.host_pointer(addr, n).py()?;
        // SAFETY: as in `read`: `n` bytes at `p` are the process's memory, claimed.
        let all = unsafe { std::slice::from_raw_parts(p.as_ptr(), n) };
        let len = all.iter().position(|&b| b == 0).unwrap_or(n);
        Ok(PyBytes::new(py, &all[..len]))
    }

    /// Writes `data` at `addr`.
    fn write(&self, py: Python<'_>, addr: u64, data: &[u8]) -> PyResult<()> {
        if addr == 0 && !data.is_empty() {
            return Err(PyValueError::new_err("NULL pointer access"));
        }
        let _claim = self.claim(py)?;
        self.sandbox.write(addr, data).py()?;
        self.sync_range(py, Direction::Out, addr, data.len())
    }

    /// Writes `n` bytes of `obj`'s buffer (any C-contiguous buffer), from byte `offset` of
    /// it, at `addr`, and then `nul` zero bytes: one copy, from the object's own memory (which
    /// may be the process's own, through a memoryview: the copy is a `memmove`). A buffer
    /// shorter than `offset + n` is a ValueError.
    #[pyo3(signature = (addr, obj, offset, n, nul = 0))]
    pub(crate) fn write_buffer(
        &self,
        py: Python<'_>,
        addr: u64,
        obj: &Bound<'_, PyAny>,
        offset: usize,
        n: usize,
        nul: usize,
    ) -> PyResult<()> {
        let buffer = HostBuffer::get(obj, false)?;
        let src = buffer.bytes();
        let end = offset
            .checked_add(n)
            .filter(|&e| e <= src.len())
            .ok_or_else(|| PyValueError::new_err("the buffer is too small"))?;
        let total = n
            .checked_add(nul)
            .ok_or_else(|| PyValueError::new_err("too many bytes"))?;
        if total == 0 {
            return Ok(());
        }
        if addr == 0 {
            return Err(PyValueError::new_err("NULL pointer access"));
        }
        let _claim = self.claim(py)?;
        let dst = self.sandbox.host_pointer(addr, total).py()?;
        // SAFETY: `host_pointer` checked `total` bytes at `dst`; `src[offset..end]` is the
        // held export's memory. They may overlap (a view of the process's memory): `copy` is
        // a memmove, through raw pointers only.
        unsafe {
            std::ptr::copy(src[offset..end].as_ptr(), dst.as_ptr(), n);
            std::ptr::write_bytes(dst.as_ptr().add(n), 0, nul);
        }
        drop(buffer);
        self.sync_range(py, Direction::Out, addr, total)
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

    /// The NUL-terminated bytes at `addr` (`string_at(addr)`).
    pub(crate) fn string_at<'py>(
        &self,
        py: Python<'py>,
        addr: u64,
    ) -> PyResult<Bound<'py, PyBytes>> {
        if addr == 0 {
            return Err(PyValueError::new_err("NULL pointer access"));
        }
        let _claim = self.claim(py)?;
        self.sync_range(py, Direction::In, addr, usize::MAX / 2)?;
        let bytes = self.sandbox.string_at(addr).py()?;
        Ok(PyBytes::new(py, &bytes))
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
}

/// A new `bytes` object of the `n` bytes at `p`, copied once (no zeroed buffer first); a
/// MemoryError if Python cannot allocate it.
///
/// # Safety
///
/// `n` bytes at `p` are readable and not written meanwhile.
unsafe fn new_bytes(py: Python<'_>, p: *const u8, n: usize) -> PyResult<Bound<'_, PyBytes>> {
    let n = pyo3::ffi::Py_ssize_t::try_from(n)
        .map_err(|_| pyo3::exceptions::PyMemoryError::new_err("too many bytes"))?;
    // SAFETY: the caller's promise; a NULL result has an exception set.
    unsafe {
        let obj = pyo3::ffi::PyBytes_FromStringAndSize(p.cast(), n);
        Ok(Bound::from_owned_ptr_or_err(py, obj)?.cast_into_unchecked::<PyBytes>())
    }
}
