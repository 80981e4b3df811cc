//! A Python object's buffer (PEP 3118), held: its memory stays where it is while held (a
//! `bytearray` cannot be resized meanwhile), and is released when dropped.

use std::ffi::c_int;

use pyo3::exceptions::{PyBufferError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;

/// What a host buffer's memory is, as read from its `Py_buffer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) addr: usize,
    pub(crate) len: usize,
    pub(crate) readonly: bool,
}

/// An exported buffer of a Python object, released when dropped.
pub(crate) struct HostBuffer {
    view: Box<ffi::Py_buffer>,
}

// SAFETY: the buffer is only read and released with the GIL held (`Drop` attaches); its memory
// is the exporter's, which a held export keeps in place.
unsafe impl Send for HostBuffer {}
// SAFETY: as above.
unsafe impl Sync for HostBuffer {}

impl HostBuffer {
    /// `obj`'s buffer as one C-contiguous span of bytes (`PyBUF_FULL_RO`, checked): a
    /// `TypeError` for an object without one, a `BufferError` for memory that is not
    /// contiguous. With `writable`, a read-only buffer is a `TypeError` (ctypes'
    /// `from_buffer`'s "underlying buffer is not writable").
    pub(crate) fn get(obj: &Bound<'_, PyAny>, writable: bool) -> PyResult<HostBuffer> {
        let mut view = Box::new(std::mem::MaybeUninit::<ffi::Py_buffer>::uninit());
        let flags: c_int = ffi::PyBUF_FULL_RO;
        // SAFETY: `view` is room for a Py_buffer, written by PyObject_GetBuffer on success.
        if unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), flags) } != 0 {
            return Err(PyErr::fetch(obj.py()));
        }
        // SAFETY: written above; released by `Drop` from here on.
        let held = HostBuffer {
            view: unsafe { Box::from_raw(Box::into_raw(view).cast::<ffi::Py_buffer>()) },
        };
        // SAFETY: a valid view.
        if unsafe { ffi::PyBuffer_IsContiguous(&*held.view, b'C' as std::ffi::c_char) } == 0 {
            return Err(PyTypeError::new_err(
                "underlying buffer is not C contiguous",
            ));
        }
        if held.view.len < 0 || (held.view.len > 0 && held.view.buf.is_null()) {
            return Err(PyBufferError::new_err("the buffer's memory is not valid"));
        }
        if writable && held.view.readonly != 0 {
            return Err(PyTypeError::new_err("underlying buffer is not writable"));
        }
        Ok(held)
    }

    /// Where its memory is, and whether it is read-only.
    pub(crate) fn span(&self) -> Span {
        Span {
            addr: self.view.buf as usize,
            len: self.view.len as usize,
            readonly: self.view.readonly != 0,
        }
    }

    /// Its bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        let s = self.span();
        if s.len == 0 {
            return &[];
        }
        // SAFETY: the export is held: `len` bytes at `buf` are the exporter's, in place.
        unsafe { std::slice::from_raw_parts(s.addr as *const u8, s.len) }
    }

    /// Copies `data` into its bytes at `offset` (a read-only buffer's too: C may write into a
    /// `bytes` object natively, as ctypes lets it, and the sandbox gives the same answer).
    ///
    /// # Safety
    /// `offset + data.len()` is within its length; nothing else reads or writes the exporter's
    /// memory meanwhile (the GIL is held, and what is written is what C wrote to it).
    pub(crate) unsafe fn write_at(&self, offset: usize, data: &[u8]) {
        let s = self.span();
        debug_assert!(offset + data.len() <= s.len);
        // SAFETY: the caller's promises; the export is held, so its memory is in place.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                (s.addr as *mut u8).add(offset),
                data.len(),
            )
        };
    }
}

impl Drop for HostBuffer {
    fn drop(&mut self) {
        Python::attach(|_| {
            // SAFETY: a view PyObject_GetBuffer filled, released once.
            unsafe { ffi::PyBuffer_Release(&mut *self.view) }
        });
    }
}
