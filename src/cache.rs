//! Where wasmctypes keeps what it builds and compiles.

use std::path::PathBuf;

/// Where built guests and compiled modules are cached: `$WASMCTYPES_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/wasmctypes`, else `~/.cache/wasmctypes`.
pub(crate) fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WASMCTYPES_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("wasmctypes");
    }
    if let Some(h) = std::env::var_os("HOME") {
        return PathBuf::from(h).join(".cache").join("wasmctypes");
    }
    std::env::temp_dir().join("wasmctypes-cache")
}
