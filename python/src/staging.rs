//! A call's `bytes` arguments, as C gets them (a `c_char_p` or `c_void_p`, or no argtypes).
//!
//! ctypes passes a pointer into the `bytes` object's own buffer (NUL-terminated by CPython),
//! so C that writes through it changes the object. Natively the same pointer is passed, with
//! no copy. In wasm the bytes are copied into the sandbox for the call (one copy, straight
//! from the object's buffer into the sandbox's memory), and after the call, if C changed the
//! copy, it is copied back into the object: the same answer as natively.
//!
//! The copies go in a block of the sandbox's memory kept between calls (the stage); a call
//! made while another's arguments are there (from a callback), or an argument too large for
//! it, gets blocks of its own, freed after the call.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use wasmctypes::{BackendKind, Pointer, Sandbox, Value};

use crate::error::OrPy;
use crate::gil_cell::GilCell;

/// The most bytes the stage keeps between calls.
const STAGE_MAX: usize = 1 << 20;

/// The process's stage (see the module docs), used under the GIL by the thread that has
/// claimed the process.
pub(crate) struct Stage(GilCell<StageState>);

impl Default for Stage {
    fn default() -> Self {
        Stage(GilCell::new(StageState::default()))
    }
}

#[derive(Default)]
struct StageState {
    /// Its block in the sandbox (0: none yet) and its size.
    addr: u64,
    size: usize,
    /// A call's arguments are in it.
    busy: bool,
}

/// The `bytes` arguments of one call, copied into the sandbox (wasm only).
#[derive(Default)]
pub(crate) struct Staged<'py> {
    /// Each copy: the object, where its copy is, and whether that is a block of its own.
    copies: smallvec::SmallVec<[(Bound<'py, PyBytes>, u64, bool); 2]>,
    /// Bytes of the stage used, when this call has it.
    used: Option<usize>,
}

impl Stage {
    /// The pointer C gets for the `bytes` argument `b` (see the module docs): its own buffer
    /// natively; in wasm a NUL-terminated copy in `sandbox`, recorded in `staged` to be copied
    /// back and released by [`Stage::unstage`]. The caller has claimed the process.
    pub(crate) fn stage_bytes<'py>(
        &self,
        py: Python<'py>,
        sandbox: &Sandbox,
        b: &Bound<'py, PyBytes>,
        staged: &mut Staged<'py>,
    ) -> PyResult<Value> {
        let lib = sandbox.id();
        let data = b.as_bytes();
        if sandbox.backend() == BackendKind::Native {
            // The object's own buffer (CPython keeps it NUL-terminated), alive for the call,
            // which holds the object.
            return Ok(Value::Pointer(Pointer {
                lib,
                addr: data.as_ptr() as u64,
            }));
        }
        let need = data.len() + 1;
        let (addr, own) = match self.stage_room(py, sandbox, staged, need)? {
            Some(addr) => (addr, false),
            None => (sandbox.malloc(need).py()?, true),
        };
        staged.copies.push((b.clone(), addr, own));
        let written = sandbox
            .write(addr, data)
            .and_then(|()| sandbox.write(addr + data.len() as u64, &[0]));
        written.py()?;
        Ok(Value::Pointer(Pointer { lib, addr }))
    }

    /// `need` bytes of the stage for this call, if it can have them: the stage is free (or
    /// this call's already) and large enough, or can be made so.
    fn stage_room(
        &self,
        py: Python<'_>,
        sandbox: &Sandbox,
        staged: &mut Staged<'_>,
        need: usize,
    ) -> PyResult<Option<u64>> {
        let used = match staged.used {
            Some(used) => used,
            None => {
                if self.0.with(py, |s| s.busy) {
                    return Ok(None);
                }
                self.0.with(py, |s| s.busy = true);
                staged.used = Some(0);
                0
            }
        };
        let start = used.next_multiple_of(16);
        let end = start + need;
        if end > STAGE_MAX {
            return Ok(None);
        }
        let (addr, size) = self.0.with(py, |s| (s.addr, s.size));
        let base = if end <= size {
            addr
        } else if used == 0 {
            // Larger, before anything of this call is in it.
            let size = end.next_power_of_two().max(4096);
            let new = sandbox.malloc(size).py()?;
            if addr != 0 {
                // SAFETY: the stage's old block, from `malloc`, freed once.
                let _ = unsafe { sandbox.free(addr) };
            }
            self.0.with(py, |s| {
                s.addr = new;
                s.size = size;
            });
            new
        } else {
            return Ok(None);
        };
        staged.used = Some(end);
        Ok(Some(base + start as u64))
    }

    /// After the call: each copy C changed is copied back into its `bytes` object, blocks of
    /// their own are freed, and the stage is free again.
    pub(crate) fn unstage(&self, py: Python<'_>, sandbox: &Sandbox, staged: Staged<'_>) {
        for (b, addr, own) in &staged.copies {
            let len = b.as_bytes().len();
            if len > 0 {
                if let Ok(guest) = sandbox.host_pointer(*addr, len) {
                    // SAFETY: checked to lie in the sandbox's memory, which does not move; the
                    // process is claimed by this thread, so no C code of it runs now.
                    let now = unsafe { std::slice::from_raw_parts(guest.as_ptr(), len) };
                    if now != b.as_bytes() {
                        // SAFETY: CPython's own buffer of the object, `len` bytes; the GIL is
                        // held and no Python code runs during the copy. ctypes lets C write
                        // there natively; this is what C wrote, so the object reads the same.
                        unsafe {
                            let p = pyo3::ffi::PyBytes_AsString(b.as_ptr()) as *mut u8;
                            std::ptr::copy_nonoverlapping(now.as_ptr(), p, len);
                        }
                    }
                }
            }
            if *own {
                // SAFETY: the argument's own block, from `malloc`, freed once.
                let _ = unsafe { sandbox.free(*addr) };
            }
        }
        if staged.used.is_some() {
            self.0.with(py, |s| s.busy = false);
        }
    }
}
