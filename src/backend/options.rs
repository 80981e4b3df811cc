//! How a library is loaded, and the limits every call path shares.

use super::sandbox::SandboxConfig;

/// How to load a library.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Capture the library's stdout and stderr (drained with [`CDLL::take_output`](crate::CDLL::take_output)) instead of
    /// passing them through. Default: captured in wasm, passed through natively (as ctypes).
    pub capture_output: Option<bool>,
    /// ctypes' `use_errno=True`: around every call, the library's `errno` is swapped with a
    /// private copy that [`CDLL::get_errno`](crate::CDLL::get_errno) and [`CDLL::set_errno`](crate::CDLL::set_errno) read and write.
    pub use_errno: bool,
    /// The wasm sandbox's limits and grants (ignored natively).
    pub sandbox: SandboxConfig,
    /// The libc module a wasm sandbox starts from; `None` for the one built from the
    /// installed wasi-libc, which [`Sandbox`](crate::Sandbox) and [`CDLL`](crate::CDLL) fill
    /// in when a sandbox needs it. Ignored natively.
    pub libc: Option<std::path::PathBuf>,
}

/// The most arguments one call may have. The call path keeps its slots in fixed arrays of this
/// size on the stack (no heap allocation); larger limits make every call pay to clear them.
/// (ctypes: `_ctypes.CTYPES_MAX_ARGCOUNT`, 1024 in CPython.)
pub const MAX_ARGS: usize = 24;
