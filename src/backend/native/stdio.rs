//! Output capture natively: fd 1 and 2 redirected into memory files around a call, and
//! restored after it.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::backend::{note_dropped, Output, CAPTURE_LIMIT};
use crate::error::{Error, Result};

/// Runs `f` with fd 1 and fd 2 redirected into memory files, flushing C stdio on both sides,
/// and appends what was written to `output` (up to [`CAPTURE_LIMIT`] each, the rest counted).
pub(super) fn with_captured_stdio<R>(output: &mut Output, f: impl FnOnce() -> R) -> Result<R> {
    // fd 1 and fd 2 belong to the whole process: one captured call at a time.
    static FDS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = FDS.lock().unwrap_or_else(|e| e.into_inner());
    let out = memfd(c"wasmctypes-stdout")?;
    let err = memfd(c"wasmctypes-stderr")?;
    // SAFETY: dup/dup2/fflush on valid descriptors; the saved ones are restored below.
    let result = unsafe {
        libc::fflush(std::ptr::null_mut());
        let saved_out = libc::dup(1);
        let saved_err = libc::dup(2);
        libc::dup2(out.as_raw_fd(), 1);
        libc::dup2(err.as_raw_fd(), 2);
        let r = f();
        libc::fflush(std::ptr::null_mut());
        if saved_out >= 0 {
            libc::dup2(saved_out, 1);
            libc::close(saved_out);
        }
        if saved_err >= 0 {
            libc::dup2(saved_err, 2);
            libc::close(saved_err);
        }
        r
    };
    // Kept up to CAPTURE_LIMIT between two takes, as in wasm; the rest is only counted.
    for (fd, buf) in [(&out, &mut output.stdout), (&err, &mut output.stderr)] {
        let file = std::fs::File::from(fd.try_clone().map_err(|e| Error::Runtime(e.to_string()))?);
        use std::io::{Read, Seek};
        let mut file = file;
        let _ = file.seek(std::io::SeekFrom::Start(0));
        let total = file.metadata().map(|m| m.len()).unwrap_or(0);
        let room = CAPTURE_LIMIT.saturating_sub(buf.len()) as u64;
        let _ = file.take(room).read_to_end(buf);
        note_dropped(buf, total.saturating_sub(room));
    }
    Ok(result)
}

/// A new anonymous in-memory file (`memfd_create`, close-on-exec) named `name`.
pub(crate) fn memfd(name: &std::ffi::CStr) -> Result<OwnedFd> {
    // SAFETY: plain syscall; the returned fd is owned by the OwnedFd.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::Runtime(format!(
            "memfd_create: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: fd is a fresh, valid descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
