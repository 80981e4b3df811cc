//! Bounds checks: every host access to guest memory goes through here.

use super::WasmLibrary;
use crate::error::{Error, Result};

/// The range `addr..addr + len` of a guest memory of `size` bytes, or the out-of-bounds error.
pub(super) fn range_in(size: usize, addr: u64, len: usize) -> Result<std::ops::Range<usize>> {
    match addr.checked_add(len as u64) {
        Some(end) if end <= size as u64 => Ok(addr as usize..end as usize),
        _ => Err(Error::OutOfBounds(format!(
            "pointer 0x{addr:x} (+{len} bytes) is outside guest memory of {size} bytes"
        ))),
    }
}

impl WasmLibrary {
    pub(super) fn check_range(&mut self, addr: u64, len: usize) -> Result<std::ops::Range<usize>> {
        let memory = self.live.memory;
        let size = memory.data_size(self.live.guest.cx()?);
        range_in(size, addr, len)
    }
}
