//! Host memory, read and written raw as ctypes does, except that NULL is refused.

use crate::error::{Error, Result};

/// Host memory as a callback sees it: raw, as in ctypes, except that NULL is refused.
pub(super) struct HostMemory;

impl crate::backend::Memory for HostMemory {
    fn read_into(&mut self, addr: u64, out: &mut [u8]) -> Result<()> {
        if addr == 0 && !out.is_empty() {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        // SAFETY: raw host memory, as ctypes reads it: the callback promises it is valid.
        // `copy`, not `copy_nonoverlapping`: an address the caller names is not known not to
        // overlap the buffer it is copied into (memory freed and reused since, say).
        unsafe { std::ptr::copy(addr as *const u8, out.as_mut_ptr(), out.len()) };
        Ok(())
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        if addr == 0 && !data.is_empty() {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        // SAFETY: as `read_into`.
        unsafe { std::ptr::copy(data.as_ptr(), addr as *mut u8, data.len()) };
        Ok(())
    }
    fn data_model(&self) -> crate::types::DataModel {
        crate::types::DataModel::host()
    }
    fn malloc(&mut self, size: usize) -> Result<u64> {
        // SAFETY: malloc of any size is defined; NULL is checked.
        let p = unsafe { libc::malloc(size.max(1)) };
        if p.is_null() {
            return Err(Error::ValueError(format!(
                "malloc({size}) returned NULL: out of memory"
            )));
        }
        Ok(p as u64)
    }
    fn free(&mut self, addr: u64) -> Result<()> {
        // SAFETY: the caller passes memory from malloc, as to the library's own free.
        unsafe { libc::free(addr as *mut std::ffi::c_void) };
        Ok(())
    }
}
