//! Where wasmctypes keeps what it builds and compiles, and why it may trust what it finds there.
//!
//! The cache holds compiled modules (native machine code that wasmtime runs) and shared objects
//! built from C (which dlopen runs). Whoever can write a file there can make this process run
//! their code, so the cache is trusted only as far as its directory is:
//!
//! - the directory is created `0700` and used only when it is a real directory (not a link)
//!   owned by this user and not writable by group or others; otherwise a warning is printed once
//!   and nothing is cached, as ssh treats a key file that others could have written;
//! - without `$WASMCTYPES_CACHE_DIR`, `$XDG_CACHE_HOME` or `$HOME` it is `$TMPDIR/wasmctypes-UID`,
//!   checked the same way, never a directory shared by every user;
//! - files are written `0600` (`0700` for shared objects) through a temporary name and a rename,
//!   whatever the umask;
//! - each entry is [sealed](seal): a header records the hash of what it was made from and the
//!   hash of its own bytes, both checked before use, so a truncated, bit-flipped or swapped entry
//!   is rebuilt, never run.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};

/// The directory the cache would use, before any check: `$WASMCTYPES_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/wasmctypes`, else `~/.cache/wasmctypes`, else `$TMPDIR/wasmctypes-UID`.
/// Empty or relative values are ignored, so the cache never lands in the current directory.
fn cache_root() -> PathBuf {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(d) = var("WASMCTYPES_CACHE_DIR") {
        return d;
    }
    if let Some(d) = var("XDG_CACHE_HOME") {
        return d.join("wasmctypes");
    }
    if let Some(h) = var("HOME") {
        return h.join(".cache").join("wasmctypes");
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    std::env::temp_dir().join(format!("wasmctypes-{uid}"))
}

/// The cache directory, created `0700` if missing, when it can be trusted (see the module
/// docs); `None`, after a warning printed once, when it cannot.
pub(crate) fn cache_dir() -> Option<PathBuf> {
    let root = cache_root();
    if let Some(parent) = root.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    private_dir(&root)
}

/// `dir` (created `0700` if missing), when it is a directory owned by this user that group and
/// others cannot write; otherwise a warning once, and `None`.
pub(crate) fn private_dir(dir: &Path) -> Option<PathBuf> {
    let _ = DirBuilder::new().mode(0o700).create(dir);
    match trusted(dir) {
        Ok(()) => Some(dir.to_path_buf()),
        Err(why) => {
            warn_once(&format!(
                "warning: not using the cache {}: {why}; nothing is cached",
                dir.display()
            ));
            None
        }
    }
}

/// Whether `dir` is a real directory owned by this user and not writable by group or others.
fn trusted(dir: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
    if !meta.file_type().is_dir() {
        return Err("it is not a directory".into());
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if meta.uid() != uid {
        return Err(format!(
            "it is owned by user {}, not by this user ({uid})",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "group or others may write it (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

fn warn_once(message: &str) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!("{message}");
    }
}

/// Writes `bytes` to `path` with permissions `mode` whatever the umask, through a fresh
/// temporary file and a rename, so that no reader ever sees half a file.
pub(crate) fn write_private(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        // The umask may have removed bits that `mode` asked for; never more than `mode`.
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

const MAGIC: &[u8; 8] = b"wctcache";

/// A cache entry as stored: a magic, the SHA-256 of what it was made from (`source`), the
/// SHA-256 of `payload`, then `payload`.
pub(crate) fn seal(source: &[u8; 32], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 64 + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(source);
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// The payload of a sealed entry, if it was made from `source` and is whole: `None` for
/// anything else (another module's entry, a truncated or altered file, a foreign file).
pub(crate) fn unseal<'a>(entry: &'a [u8], source: &[u8; 32]) -> Option<&'a [u8]> {
    let rest = entry.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < 64 || rest[..32] != source[..] {
        return None;
    }
    let (digest, payload) = rest[32..].split_at(32);
    (Sha256::digest(payload).as_slice() == digest).then_some(payload)
}

/// What identifies a file's version without reading it: its path, size, modification time,
/// inode and device.
pub(crate) fn file_identity(path: &Path, meta: &std::fs::Metadata) -> String {
    format!(
        "{}|{}|{}.{}|{}|{}",
        path.display(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ino(),
        meta.dev()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_opens_only_whole_and_for_its_own_source() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let entry = seal(&a, b"machine code");
        assert_eq!(unseal(&entry, &a), Some(b"machine code".as_slice()));
        assert_eq!(unseal(&entry, &b), None, "another source's entry");
        assert_eq!(unseal(&entry[..entry.len() - 1], &a), None, "truncated");
        let mut flipped = entry.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(unseal(&flipped, &a), None, "a flipped bit");
        assert_eq!(
            unseal(b"\x7fELF raw artifact", &a),
            None,
            "an unsealed file"
        );
        assert_eq!(unseal(b"", &a), None);
    }

    #[test]
    fn only_a_private_directory_of_this_user_is_trusted() {
        let base = std::env::temp_dir().join(format!("wasmctypes-trust-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let mine = base.join("mine");
        assert_eq!(private_dir(&mine), Some(mine.clone()));
        let mode = std::fs::metadata(&mine).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let open = base.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        assert!(trusted(&open).is_err());
        let link = base.join("link");
        std::os::unix::fs::symlink(&mine, &link).unwrap();
        assert!(trusted(&link).is_err());
        let file = mine.join("entry");
        write_private(&file, b"x", 0o600).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(&base);
    }
}
