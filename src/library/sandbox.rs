//! `Sandbox`: what a process is natively, for C code run in WebAssembly.
//!
//! A wasm sandbox is one wasmtime store with one linear memory, one function table and one
//! libc (the libc module, wasi-libc linked as the main module), into which any number of
//! position-independent side modules are loaded at run time, in order, as `dlopen` loads
//! shared objects into a process. Objects made in the sandbox (with any of its libraries, or
//! with the sandbox itself) belong to it and can be passed to every library in it; a pointer
//! one library returns works in another. Limits (memory, table, fuel, deadline, stack) apply
//! to the sandbox as a whole.
//!
//! A native sandbox is this process: libc is the C library, and loading is `dlopen`.
//!
//! ```no_run
//! use wasmctypes::{LoadOptions, Sandbox, Value};
//! let sb = Sandbox::new(&LoadOptions::default())?;
//! let a = sb.load("target/guest/a.wasm")?;         // dlopen("a")
//! let strlen = sb.function("strlen")?;              // CDLL(None).strlen: libc
//! assert_eq!(strlen.call(&[Value::Bytes(b"hello".to_vec())])?, Value::Int(5));
//! # let _ = a;
//! # Ok::<(), wasmctypes::Error>(())
//! ```

use std::path::Path;

use super::cdll::CDLL;
use crate::backend::{AnyBackend, BackendKind, LoadOptions};
use crate::error::{Error, Result};

/// A sandbox (a process, natively) with its libc and the libraries loaded into it. It
/// dereferences to the [`CDLL`] of its global scope, ctypes' `CDLL(None)`: libc's functions
/// and data, then every loaded library's, in load order. Objects made with `&sandbox` belong
/// to it.
#[derive(Clone, Debug)]
pub struct Sandbox {
    libc: CDLL,
}

impl Sandbox {
    /// A new wasm sandbox with its libc and nothing else, under the limits and grants of
    /// `options`. The libc module is built from the installed wasi-libc the first time (see
    /// [`toolchain::libc`](crate::toolchain::libc)) and cached.
    pub fn new(options: &LoadOptions) -> Result<Sandbox> {
        Sandbox::open(BackendKind::Wasm, options)
    }

    /// A new sandbox on the backend `kind`: natively, this process with its C library.
    pub fn open(kind: BackendKind, options: &LoadOptions) -> Result<Sandbox> {
        let options = with_libc(kind, options)?;
        let backend = AnyBackend::new_sandbox(kind, &options)?;
        let name = match kind {
            BackendKind::Wasm => "libc.wasm",
            BackendKind::Native => "libc.so.6",
        };
        Ok(Sandbox {
            libc: CDLL::in_new_sandbox(backend, 0, Path::new(name), &options)?,
        })
    }

    /// The sandbox's C library as a [`CDLL`]: ctypes' `CDLL(find_library("c"))`.
    pub fn libc(&self) -> CDLL {
        self.libc.clone()
    }

    /// Which backend runs the sandbox.
    pub fn backend(&self) -> BackendKind {
        self.libc.backend()
    }

    /// Loads the side module at `path` into this wasm sandbox, after the libraries loaded
    /// before (`dlopen(path, RTLD_NOW | RTLD_GLOBAL)`): its imports are resolved against libc
    /// and them, its constructors run. A symbol found nowhere is [`Error::OsError`] naming
    /// it. A native sandbox needs [`Sandbox::load_unchecked`] (TypeError here).
    pub fn load(&self, path: impl AsRef<Path>) -> Result<CDLL> {
        if self.backend() == BackendKind::Native {
            return Err(Error::TypeError(
                "loading native code into this process is unsafe: use Sandbox::load_unchecked"
                    .into(),
            ));
        }
        // SAFETY: a wasm library runs inside the sandbox; nothing to promise.
        unsafe { self.load_unchecked(path) }
    }

    /// [`Sandbox::load`] on either backend: natively, `dlopen`.
    ///
    /// # Safety
    /// Natively, as for [`CDLL::open`]: the library is native code run in this process.
    pub unsafe fn load_unchecked(&self, path: impl AsRef<Path>) -> Result<CDLL> {
        let path = path.as_ref();
        let module = self.libc.inner.backend()?.load(path)?;
        Ok(self.libc.sibling(module, path))
    }

    /// The handle on every symbol of the process: ctypes' `CDLL(None)`, `dlopen(NULL)`
    /// natively (the program and the libraries loaded globally, the Python interpreter's own
    /// symbols in a Python process); in wasm the sandbox's whole scope, as
    /// [`Sandbox::libc`] sees it.
    pub fn this_process(&self) -> Result<CDLL> {
        let module = self.libc.inner.backend()?.load_this()?;
        Ok(match module {
            0 => self.libc(),
            m => self.libc.sibling(m, Path::new("<this process>")),
        })
    }

    /// Re-creates the sandbox: libc and every library reloaded in order, memory and tables
    /// as after loading (see [`CDLL::reset`]).
    pub fn reset(&self) -> Result<()> {
        self.libc.reset()
    }
}

/// `options` with the libc module a wasm sandbox starts from: the given one, or the one built
/// from the installed wasi-libc (once per process, cached; see
/// [`toolchain::libc`](crate::toolchain::libc)). Natively, `options` as they are.
pub(super) fn with_libc(
    kind: BackendKind,
    options: &LoadOptions,
) -> Result<std::borrow::Cow<'_, LoadOptions>> {
    if kind == BackendKind::Native || options.libc.is_some() {
        return Ok(std::borrow::Cow::Borrowed(options));
    }
    Ok(std::borrow::Cow::Owned(LoadOptions {
        libc: Some(crate::toolchain::libc::libc_module()?),
        ..options.clone()
    }))
}

impl std::ops::Deref for Sandbox {
    type Target = CDLL;
    fn deref(&self) -> &CDLL {
        &self.libc
    }
}
