//! A process: a wasm sandbox with its libc, or this process natively; its memory, as the
//! Python layer reads and writes it.

use std::cell::Cell;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFloat, PyInt};

use wasmctypes::{BackendKind, CType, LoadOptions, Repr, Sandbox, Value, CDLL};

use crate::convert::object;
use crate::error::OrPy;
use crate::gate::{Claim, Gate};
use crate::gil_cell::GilCell;
use crate::host_buffer::HostBuffer;

use crate::mirror::{Direction, MirrorHold, Mirrors};
use crate::release_gil::ReleaseGil;
use crate::staging::{Stage, Staged};

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
    pub(crate) mirrors: Mirrors,
    /// Where a call's `bytes` arguments are copied in the sandbox (see [`crate::staging`]).
    pub(crate) stage: Stage,
}

/// A release put off until the sandbox is free (see [`Process::deferred`]).
pub(crate) enum Deferred {
    /// A block's memory, to free.
    Free(u64),
    /// A callback, whose drop releases its table slot.
    Callback(wasmctypes::Callback),
}

impl Process {
    /// A new process of `kind` with the sandbox's `options` (a native process has none).
    pub(crate) fn open(kind: BackendKind, mut options: LoadOptions) -> PyResult<Process> {
        options.use_errno = true;
        let sandbox = Sandbox::open(kind, &options).py()?;
        sandbox.set_detach(std::rc::Rc::new(ReleaseGil)).py()?;
        Ok(Process {
            gate: Gate::new(kind == BackendKind::Wasm, options.sandbox.timeout),
            sandbox,
            exports: Cell::new(0),
            deferred: GilCell::new(Vec::new()),
            mirrors: Mirrors::default(),
            stage: Stage::default(),
        })
    }

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

    /// The pointer C gets for the `bytes` argument `b` of a call (see [`crate::staging`]).
    /// The caller has claimed the process.
    #[inline]
    pub(crate) fn stage_bytes<'py>(
        &self,
        py: Python<'py>,
        b: &Bound<'py, PyBytes>,
        staged: &mut Staged<'py>,
    ) -> PyResult<Value> {
        self.stage.stage_bytes(py, &self.sandbox, b, staged)
    }

    /// After the call: what C changed in the staged `bytes` copied back, the copies released.
    #[inline]
    pub(crate) fn unstage(&self, py: Python<'_>, staged: Staged<'_>) {
        self.stage.unstage(py, &self.sandbox, staged)
    }

    /// A holder of the mirror of `obj`'s buffer in the sandbox (see [`crate::mirror`]).
    pub(crate) fn mirror(
        &self,
        py: Python<'_>,
        obj: &Bound<'_, PyAny>,
        writable: bool,
    ) -> PyResult<MirrorHold> {
        let _claim = self.claim(py)?;
        self.mirrors.hold(py, &self.sandbox, obj, writable)
    }

    /// Syncs every mirror one way (see [`crate::mirror`]): before a call `In`, after it
    /// `Out`. The caller has claimed the process.
    #[inline]
    pub(crate) fn sync_mirrors(&self, py: Python<'_>, way: Direction) -> PyResult<()> {
        if self.mirrors.is_empty(py) {
            return Ok(());
        }
        self.mirrors.sync(py, &self.sandbox, way, None)
    }

    /// [`Process::sync_mirrors`] for the mirrors that overlap `len` bytes at `addr` (a
    /// Python read there takes the host's bytes first, `In`; a write is copied out, `Out`).
    #[inline]
    pub(crate) fn sync_range(
        &self,
        py: Python<'_>,
        way: Direction,
        addr: u64,
        len: usize,
    ) -> PyResult<()> {
        if self.mirrors.is_empty(py) {
            return Ok(());
        }
        self.mirrors
            .sync(py, &self.sandbox, way, Some((addr, len.max(1) as u64)))
    }

    /// The host address that `len` bytes at `addr` stand for, if they lie in a held mirror.
    pub(crate) fn mirrored_host_address(
        &self,
        py: Python<'_>,
        addr: u64,
        len: usize,
    ) -> Option<usize> {
        self.mirrors.host_address(py, addr, len)
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
        let repr = self.sandbox.data_model().repr(t);
        self.sync_range(py, Direction::In, addr, repr.size())?;
        if let Some(v) = self.read_number(py, addr, repr)? {
            return Ok(v);
        }
        object(py, self.sandbox.get(addr, t).py()?)
    }

    /// The integer or IEEE float of representation `repr` at `addr`, read in place (bounds-
    /// checked in wasm; NULL is a ValueError); `None` for the other representations. The
    /// caller has claimed the process.
    #[inline]
    fn read_number(&self, py: Python<'_>, addr: u64, repr: Repr) -> PyResult<Option<Py<PyAny>>> {
        let size = match repr {
            Repr::Int(n) | Repr::UInt(n) => n as usize,
            Repr::F32 => 4,
            Repr::F64 => 8,
            _ => return Ok(None),
        };
        let bits = self.read_bits(addr, size)?;
        let v = match repr {
            Repr::Int(n) => {
                let shift = 64 - 8 * n as u32;
                (((bits << shift) as i64) >> shift)
                    .into_pyobject(py)?
                    .into_any()
            }
            Repr::UInt(_) => bits.into_pyobject(py)?.into_any(),
            Repr::F32 => (f32::from_bits(bits as u32) as f64)
                .into_pyobject(py)?
                .into_any(),
            _ => f64::from_bits(bits).into_pyobject(py)?.into_any(),
        };
        Ok(Some(v.unbind()))
    }

    /// Stores the plain number `v` in place as representation `repr` at `addr`, masked to its
    /// width (an integer) or rounded (a float); `false` for anything else. The caller has
    /// claimed the process.
    #[inline]
    fn write_number(&self, addr: u64, repr: Repr, v: &Value) -> PyResult<bool> {
        let (bits, size) = match (repr, v) {
            (Repr::Int(n) | Repr::UInt(n), Value::Int(i)) => (*i as u64, n as usize),
            (Repr::F32, Value::Float(f)) => ((*f as f32).to_bits() as u64, 4),
            (Repr::F64, Value::Float(f)) => (f.to_bits(), 8),
            _ => return Ok(false),
        };
        self.write_bits(addr, bits, size)?;
        Ok(true)
    }

    /// The `size` (at most 8) little-endian bytes at `addr`, zero-extended: read in place
    /// through `host_pointer` (bounds-checked in wasm; NULL is a ValueError). The caller has
    /// claimed the process.
    #[inline]
    fn read_bits(&self, addr: u64, size: usize) -> PyResult<u64> {
        let p = self.sandbox.host_pointer(addr, size).py()?.as_ptr();
        let mut raw = [0u8; 8];
        // SAFETY: `host_pointer` checked `size` (at most 8) bytes at `p`; the process is
        // claimed, so no C code of it writes them meanwhile.
        unsafe { std::ptr::copy_nonoverlapping(p, raw.as_mut_ptr(), size.min(8)) };
        Ok(u64::from_le_bytes(raw))
    }

    /// Writes the low `size` (at most 8) bytes of `bits` at `addr`, little-endian, in place.
    /// The caller has claimed the process.
    #[inline]
    fn write_bits(&self, addr: u64, bits: u64, size: usize) -> PyResult<()> {
        let p = self.sandbox.host_pointer(addr, size).py()?.as_ptr();
        // SAFETY: `host_pointer` checked `size` bytes at `p`; the process is claimed.
        unsafe { std::ptr::copy_nonoverlapping(bits.to_le_bytes().as_ptr(), p, size.min(8)) };
        Ok(())
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
        let repr = lib.data_model().repr(t);
        if !self.write_number(addr, repr, &v)? {
            match t {
                // A string pointer's setter copies the string into the library's memory.
                CType::CharP | CType::WCharP | CType::VoidP => {
                    wasmctypes::CValue::from_address(lib, t, addr).set_value(v.clone())
                }
                _ => lib.set(addr, t, &v),
            }
            .py()?;
        }
        self.sync_range(py, Direction::Out, addr, repr.size())
    }

    /// Stores the address `value` as a pointer at `addr` (a pointer's contents).
    pub(crate) fn store_pointer(&self, py: Python<'_>, addr: u64, value: u64) -> PyResult<()> {
        let _claim = self.claim(py)?;
        let size = self.sandbox.sizeof(CType::VoidP);
        if size < 8 && value >> (8 * size) != 0 {
            return Err(PyValueError::new_err(format!(
                "address {value:#x} does not fit in a pointer of this process"
            )));
        }
        self.write_bits(addr, value, size)?;
        self.sync_range(py, Direction::Out, addr, size)
    }

    /// Frees memory from [`crate::block::Block::new`]: now if the sandbox is free for this thread,
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

    /// The address a pointer stored at `addr` holds (bounds-checked in wasm; NULL is a
    /// ValueError).
    pub(crate) fn pointer_at(&self, py: Python<'_>, addr: u64) -> PyResult<u64> {
        let _claim = self.claim(py)?;
        let size = self.sandbox.sizeof(CType::VoidP);
        self.sync_range(py, Direction::In, addr, size)?;
        self.read_bits(addr, size)
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

    /// `n` bytes at `addr` (bounds-checked in wasm; NULL is a ValueError).
    pub(crate) fn read_bytes<'py>(
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
    pub(crate) fn read_until_nul<'py>(
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
    pub(crate) fn write_bytes(&self, py: Python<'_>, addr: u64, data: &[u8]) -> PyResult<()> {
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
    pub(crate) fn write_from_buffer(
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

    /// The NUL-terminated bytes at `addr` (`string_at(addr)`).
    pub(crate) fn read_string<'py>(
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
