//! Host buffers in the sandbox: a `bytearray`, `memoryview`, `array.array` (any object with a
//! contiguous buffer) that a ctypes object shares (`T.from_buffer(obj)`) or C is given
//! (`pythonapi.PyObject_GetBuffer`), copied into a block of the sandbox's own memory and kept
//! coherent with the host object.
//!
//! Natively ctypes shares the object's own memory. A sandbox cannot reach the host's memory,
//! so it gets a mirror, which stands for the object's memory:
//! - made with the object's bytes;
//! - before each call into the sandbox, the host's bytes are copied in if they differ from
//!   the mirror's (Python wrote to the object); after each call (and when C calls back, before
//!   the callback's Python code runs), the mirror's bytes are copied out if they differ (C
//!   wrote to them); after a callback they are copied in again;
//! - a Python read of the sandbox's memory inside a mirror first takes the host's bytes there,
//!   and a Python write there is copied out at once, so that both sides read the same.
//!
//! A check costs one comparison of the two copies; a copy is made only when they differ, in
//! the one direction that changed. A mirror is kept while a holder holds it (a `from_buffer`
//! object, an unreleased `PyObject_GetBuffer`), holding the object's export meanwhile (a
//! `bytearray` cannot be resized, as with ctypes), and then while the host object lives (C may
//! have kept the pointer): it is dropped, and its block freed, once the mirror is the object's
//! last holder.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use wasmctypes::Sandbox;

use crate::error::OrPy;
use crate::gil_cell::GilCell;
use crate::host_buffer::{HostBuffer, Span};

/// A host buffer's mirror in the sandbox (see the module docs).
#[pyclass(frozen, module = "wasmctypes._core")]
pub(crate) struct Mirror {
    /// The host object.
    obj: Py<PyAny>,
    /// Its block of the sandbox's memory (from the sandbox's `malloc`, freed when the
    /// registry drops the mirror): the mirror's bytes are its first `len`.
    addr: u64,
    len: usize,
    /// The object's export, held while a holder holds the mirror.
    held: GilCell<Option<HostBuffer>>,
    holders: GilCell<u32>,
    /// Where the host's bytes were when the mirror was made.
    host: Span,
}

/// A holder of a [`Mirror`]: while it lives, the mirror holds its object's export. Its drop
/// lets go.
#[pyclass(frozen, module = "wasmctypes._core")]
pub(crate) struct MirrorHold {
    mirror: Py<Mirror>,
}

#[pymethods]
impl MirrorHold {
    /// The mirror's address in the sandbox.
    #[getter]
    fn address(&self) -> u64 {
        self.mirror.get().addr
    }

    /// The host buffer's length.
    #[getter]
    fn length(&self) -> usize {
        self.mirror.get().len
    }

    /// Whether the host buffer is read-only (a `bytes` object).
    #[getter]
    fn readonly(&self) -> bool {
        self.mirror.get().host.readonly
    }

    /// The host object.
    #[getter]
    fn obj(&self, py: Python<'_>) -> Py<PyAny> {
        self.mirror.get().obj.clone_ref(py)
    }
}

impl Drop for MirrorHold {
    fn drop(&mut self) {
        Python::attach(|py| {
            let m = self.mirror.get();
            let left = m.holders.load(py).saturating_sub(1);
            m.holders.store(py, left);
            if left == 0 {
                // The object may change size again, as with ctypes once nothing shares it.
                drop(m.held.replace(py, None));
            }
        });
    }
}

/// Which way a sync copies.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Host -> sandbox.
    In,
    /// Sandbox -> host.
    Out,
}

/// The mirrors of one sandbox (see the module docs). Every method is called by the thread
/// that has claimed the sandbox.
pub(crate) struct Mirrors(GilCell<Vec<Py<Mirror>>>);

impl Default for Mirrors {
    fn default() -> Self {
        Mirrors(GilCell::new(Vec::new()))
    }
}

impl Mirrors {
    /// A holder of the mirror of `obj`'s buffer in `sandbox` (made with the object's bytes,
    /// or the one that mirrors the same memory already). With `writable`, a read-only buffer
    /// is a `TypeError`.
    pub(crate) fn hold(
        &self,
        py: Python<'_>,
        sandbox: &Sandbox,
        obj: &Bound<'_, PyAny>,
        writable: bool,
    ) -> PyResult<MirrorHold> {
        let buffer = HostBuffer::get(obj, writable)?;
        let span = buffer.span();
        let found = self.0.with(py, |all| {
            all.iter()
                .find(|m| m.get().host == span && m.get().obj.bind(py).is(obj))
                .map(|m| m.clone_ref(py))
        });
        let mirror = match found {
            Some(m) => {
                // Its bytes are the object's again, before anyone reads them.
                sync_one(py, sandbox, m.get(), Direction::In, None)?;
                m
            }
            None => {
                let addr = sandbox.calloc(span.len.max(1)).py()?;
                if span.len > 0 {
                    if let Err(e) = sandbox.write(addr, buffer.bytes()) {
                        // SAFETY: the block just allocated, freed once.
                        let _ = unsafe { sandbox.free(addr) };
                        return Err(crate::error::py_err(e));
                    }
                }
                let m = Py::new(
                    py,
                    Mirror {
                        obj: obj.clone().unbind(),
                        addr,
                        len: span.len,
                        held: GilCell::new(None),
                        holders: GilCell::new(0),
                        host: span,
                    },
                )?;
                self.0.with(py, |all| all.push(m.clone_ref(py)));
                m
            }
        };
        let m = mirror.get();
        m.holders.store(py, m.holders.load(py) + 1);
        if m.held.with(py, |h| h.is_none()) {
            m.held.replace(py, Some(buffer));
        }
        Ok(MirrorHold { mirror })
    }

    /// Whether there are none (the common case, checked before anything else).
    #[inline]
    pub(crate) fn is_empty(&self, py: Python<'_>) -> bool {
        self.0.with(py, |all| all.is_empty())
    }

    /// Syncs every mirror one way (see the module docs), or those that overlap `range`
    /// (`(addr, len)`). Mirrors whose object lives no longer (but in the mirror), or changed
    /// size, are dropped and their blocks freed.
    #[cold]
    #[inline(never)]
    pub(crate) fn sync(
        &self,
        py: Python<'_>,
        sandbox: &Sandbox,
        way: Direction,
        range: Option<(u64, u64)>,
    ) -> PyResult<()> {
        let all: Vec<Py<Mirror>> = self
            .0
            .with(py, |all| all.iter().map(|m| m.clone_ref(py)).collect());
        let mut gone = Vec::new();
        for m in &all {
            let mirror = m.get();
            if let Some((addr, len)) = range {
                let (start, end) = (mirror.addr, mirror.addr + mirror.len as u64);
                if addr >= end || addr.saturating_add(len) <= start {
                    continue;
                }
            }
            // Held only by the registry (and this loop), its object by the mirror alone:
            // nothing can reach the mirror any more.
            let unheld = mirror.holders.load(py) == 0;
            if unheld && refcnt(m.bind(py).as_any()) <= 2 && refcnt(mirror.obj.bind(py)) <= 1 {
                gone.push(m.as_ptr() as usize);
                continue;
            }
            if !sync_one(py, sandbox, mirror, way, range)? {
                gone.push(m.as_ptr() as usize);
            }
        }
        drop(all);
        if !gone.is_empty() {
            let dropped = self.0.with(py, |all| {
                let (keep, drop): (Vec<_>, Vec<_>) = std::mem::take(all)
                    .into_iter()
                    .partition(|m| !gone.contains(&(m.as_ptr() as usize)));
                *all = keep;
                drop
            });
            for m in &dropped {
                // SAFETY: the mirror's own block, from `calloc`; nothing reaches the mirror
                // any more, and it is freed once, here.
                let _ = unsafe { sandbox.free(m.get().addr) };
            }
            // Dropped here, outside the cell: a drop may run Python code.
            drop(dropped);
        }
        Ok(())
    }

    /// The host address that `len` bytes of the sandbox's memory at `addr` stand for, if they
    /// lie in a held mirror: a `memoryview` of a ctypes object made with `from_buffer` then
    /// shares the host object's memory, as natively.
    pub(crate) fn host_address(&self, py: Python<'_>, addr: u64, len: usize) -> Option<usize> {
        self.0.with(py, |all| {
            all.iter().find_map(|m| {
                let m = m.get();
                let start = m.addr;
                let inside = addr >= start && addr.checked_add(len as u64)? <= start + m.len as u64;
                if !inside {
                    return None;
                }
                // SAFETY: read under the GIL; the export is held while the mirror is.
                let held = m.held.with(py, |h| h.as_ref().map(|b| b.span()))?;
                Some(held.addr + (addr - start) as usize)
            })
        })
    }
}

/// An object's reference count.
fn refcnt(obj: &Bound<'_, PyAny>) -> isize {
    // SAFETY: a live object.
    unsafe { pyo3::ffi::Py_REFCNT(obj.as_ptr()) }
}

/// Syncs one mirror one way, or the part of it in `range`. `Ok(false)` when the host
/// object changed size or no longer has a buffer: the mirror stands for it no longer.
fn sync_one(
    py: Python<'_>,
    sandbox: &Sandbox,
    m: &Mirror,
    way: Direction,
    range: Option<(u64, u64)>,
) -> PyResult<bool> {
    if m.len == 0 {
        return Ok(true);
    }
    // The held export, or the object's buffer now.
    let fresh;
    let held = m
        .held
        .with(py, |h| h.as_ref().map(|b| b as *const HostBuffer));
    let buffer: &HostBuffer = match held {
        // SAFETY: the export lives in the mirror's cell until the mirror is let go, which
        // only a holder's drop does, which needs the GIL this thread holds and runs no
        // Python code from here.
        Some(b) => unsafe { &*b },
        None => match HostBuffer::get(m.obj.bind(py), false) {
            Ok(b) => {
                fresh = b;
                &fresh
            }
            Err(_) => return Ok(false),
        },
    };
    if buffer.span().len != m.len {
        return Ok(false);
    }
    let (from, to) = match range {
        None => (0, m.len),
        Some((addr, len)) => {
            let from = addr.saturating_sub(m.addr).min(m.len as u64) as usize;
            let to = (addr.saturating_add(len))
                .saturating_sub(m.addr)
                .min(m.len as u64) as usize;
            (from, to)
        }
    };
    if from >= to {
        return Ok(true);
    }
    let guest = sandbox
        .host_pointer(m.addr + from as u64, to - from)
        .map_err(crate::error::py_err)?;
    // SAFETY: `host_pointer` checked these bytes are inside the sandbox's memory, which
    // does not move; the process is claimed by this thread, so no C code of it runs now.
    let guest = unsafe { std::slice::from_raw_parts_mut(guest.as_ptr(), to - from) };
    match way {
        Direction::In => {
            let host = &buffer.bytes()[from..to];
            if host != &guest[..] {
                guest.copy_from_slice(host);
            }
        }
        Direction::Out => {
            let writable = !buffer.span().readonly || m.obj.bind(py).is_instance_of::<PyBytes>();
            if writable && buffer.bytes()[from..to] != guest[..] {
                // SAFETY: `from..to` lies in the buffer (its length is the mirror's); the
                // GIL is held and no Python code runs during the copy; what is written is
                // what C wrote to the object's memory (a `bytes` object's too, as natively).
                unsafe { buffer.write_at(from, guest) };
            }
        }
    }
    Ok(true)
}
