//! `CDLL`: a loaded library.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::function::Function;
use super::inner::LibInner;

use crate::backend::{AnyBackend, Backend, BackendKind, LibraryInfo, LoadOptions, Output};
use crate::error::{Error, Result};
use crate::prototype::Prototypes;
use crate::types::{CType, DataModel, Type};
use crate::value::{LibId, Value};

/// A loaded C library: ctypes' `CDLL`. Cloning gives another handle on the same library.
///
/// A library lives in a [`Sandbox`](crate::Sandbox) (in wasm: one store, one linear memory,
/// one libc; natively: this process), with the other libraries loaded into it. Objects made
/// with any of them belong to the sandbox and can be passed to all of them.
#[derive(Clone)]
pub struct CDLL {
    pub(crate) inner: Rc<LibInner>,
    /// Its index among the sandbox's modules (0: libc, or a standalone module).
    pub(crate) module: usize,
    file: Rc<LibFile>,
}

/// The file a library was loaded from, and its C prototypes once asked for: shared by the
/// handles on it and the functions looked up through them, so that the file is read (or
/// found in the process's memo) once.
pub(super) struct LibFile {
    pub(super) path: std::path::PathBuf,
    prototypes: std::cell::OnceCell<Option<Arc<Prototypes>>>,
}

impl LibFile {
    fn new(path: &Path) -> Rc<LibFile> {
        Rc::new(LibFile {
            path: path.to_path_buf(),
            prototypes: std::cell::OnceCell::new(),
        })
    }

    /// See [`CDLL::prototypes`].
    pub(super) fn prototypes(&self) -> Result<Option<Arc<Prototypes>>> {
        if let Some(known) = self.prototypes.get() {
            return Ok(known.clone());
        }
        let read = if self.path.is_file() {
            Prototypes::of_file(&self.path)?
        } else {
            None
        };
        Ok(self.prototypes.get_or_init(|| read).clone())
    }
}

impl std::fmt::Debug for CDLL {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<CDLL '{}' ({}), id {}>",
            self.file.path.display(),
            self.inner.kind,
            self.inner.id
        )
    }
}

impl CDLL {
    /// Loads the wasm module at `path` into a sandbox of its own: ctypes' `CDLL(path)`, with
    /// the C code unable to reach anything of this process but what the call passes it.
    ///
    /// A missing file, or one that is not a wasm module, is [`Error::OsError`].
    pub fn open_wasm(path: impl AsRef<Path>) -> Result<CDLL> {
        CDLL::open_wasm_with(path, &LoadOptions::default())
    }

    /// [`CDLL::open_wasm`] with explicit [`LoadOptions`] (the sandbox's limits and grants).
    pub fn open_wasm_with(path: impl AsRef<Path>, options: &LoadOptions) -> Result<CDLL> {
        // SAFETY: the wasm backend runs the library inside wasmtime; nothing of it runs in
        // this process's address space, and every access to its memory is bounds-checked.
        unsafe { CDLL::open_with(path, BackendKind::Wasm, options) }
    }

    /// Loads `path` with the backend chosen at run time: a `.wasm` module for
    /// [`BackendKind::Wasm`] (as [`CDLL::open_wasm`]), a shared object for
    /// [`BackendKind::Native`] (dlopen, as ctypes' `CDLL(path)`).
    ///
    /// A missing file, or one that is not a module / shared object, is [`Error::OsError`].
    ///
    /// # Safety
    /// With [`BackendKind::Native`] the library is native code in this process, as with
    /// ctypes: its initialisers run now, and its functions run with this process's memory
    /// and rights. The caller promises, as for `libloading::Library::new`, that loading it
    /// and calling it as declared (argtypes, restype) is sound, and that every address given
    /// to or read from this library's handle (a pointer argument or result, `read`, `write`,
    /// `string_at`, `memmove`, `from_address`, a callback's `Memory`) is valid for that
    /// access. With [`BackendKind::Wasm`] there is nothing to promise.
    pub unsafe fn open(path: impl AsRef<Path>, kind: BackendKind) -> Result<CDLL> {
        // SAFETY: the caller's promise, passed on.
        unsafe { CDLL::open_with(path, kind, &LoadOptions::default()) }
    }

    /// [`CDLL::open`] with explicit [`LoadOptions`].
    ///
    /// # Safety
    /// As for [`CDLL::open`].
    pub unsafe fn open_with(
        path: impl AsRef<Path>,
        kind: BackendKind,
        options: &LoadOptions,
    ) -> Result<CDLL> {
        let path = path.as_ref();
        if path.as_os_str() == LIBC {
            return Ok(crate::Sandbox::open(kind, options)?.libc());
        }
        // A side module joins a new sandbox after libc, which this layer provides.
        let options = if kind == BackendKind::Wasm && crate::backend::wasm::is_side_module(path) {
            super::sandbox::with_libc(kind, options)?
        } else {
            std::borrow::Cow::Borrowed(options)
        };
        let (backend, module) = AnyBackend::open(kind, path, &options)?;
        CDLL::in_new_sandbox(backend, module, path, &options)
    }

    /// The handle on module `module` of a sandbox just made from `backend`.
    pub(crate) fn in_new_sandbox(
        mut backend: AnyBackend,
        module: usize,
        path: &Path,
        options: &LoadOptions,
    ) -> Result<CDLL> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let kind = backend.kind();
        let errno = if options.use_errno {
            Some((backend.errno_location()?, Default::default()))
        } else {
            None
        };
        // Natively every library shares this process's one address space: their objects
        // can be passed to one another, so they all carry the same id.
        let id = match kind {
            BackendKind::Native => 0,
            BackendKind::Wasm => NEXT_ID.fetch_add(1, Ordering::Relaxed),
        };
        Ok(CDLL {
            inner: Rc::new(LibInner {
                id,
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                path: path.to_path_buf(),
                kind,
                model: backend.data_model(),
                backend: super::loan_cell::LoanCell::new(backend),
                errno,
                scratch: std::cell::Cell::new(0),
                scratch_busy: std::cell::Cell::new(false),
                detach: std::cell::OnceCell::new(),
            }),
            module,
            file: LibFile::new(path),
        })
    }

    /// The handle on the sandbox `inner` itself (its first module), for objects that belong
    /// to it.
    pub(crate) fn of_sandbox(inner: &Rc<LibInner>) -> CDLL {
        CDLL {
            inner: inner.clone(),
            module: 0,
            file: LibFile::new(&inner.path),
        }
    }

    /// Another library of the same sandbox: module `module`, loaded from `path`.
    pub(crate) fn sibling(&self, module: usize, path: &Path) -> CDLL {
        CDLL {
            inner: self.inner.clone(),
            module,
            file: LibFile::new(path),
        }
    }

    /// Which backend runs this library.
    pub fn backend(&self) -> BackendKind {
        self.inner.kind
    }

    /// The data model of the library's target (ILP32 in wasm, LP64 natively on x86_64).
    pub fn data_model(&self) -> DataModel {
        self.inner.model
    }

    /// `ctypes.sizeof(t)` for this library's target.
    pub fn sizeof(&self, t: CType) -> usize {
        self.inner.model.sizeof(t)
    }

    /// The file this library was loaded from.
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// The id of the library's sandbox, carried by every pointer into its memory: the same for
    /// every library of one sandbox, and for every native library (one address space).
    pub fn id(&self) -> LibId {
        self.inner.id
    }

    /// Looks up a function: ctypes' `lib.name` / `lib["name"]`. Its restype is `c_int` and its
    /// argtypes are unset, as in ctypes. A missing symbol is [`Error::AttributeError`].
    pub fn function(&self, name: &str) -> Result<Function> {
        if !self.inner.backend()?.has_function(self.module, name) {
            return Err(Error::AttributeError {
                library: self.file.path.display().to_string(),
                symbol: name.to_string(),
            });
        }
        Ok(self.new_function(name.to_string(), None))
    }

    /// The library's own C prototypes and types, read from the DWARF its build kept (see
    /// [`Prototypes`]), or `None` when it has none (built with `--strip`, or by another
    /// toolchain without `-g`). Read once per process and file.
    pub fn prototypes(&self) -> Result<Option<Arc<Prototypes>>> {
        self.file.prototypes()
    }

    /// [`CDLL::function`] declared from the C: argtypes and restype as a binding declares them
    /// ([`Prototypes::ctypes`]: numbers by width and signedness, `size_t` as `c_size_t`,
    /// pointer arguments as `c_void_p`, a `char *` result as `c_char_p`, the fixed part of a
    /// variadic function). A function without a prototype, or with a type ctypes cannot
    /// declare (a structure by value, `__int128`), is a `ValueError` that says which.
    pub fn function_with_prototype(&self, name: &str) -> Result<Function> {
        let mut f = self.function(name)?;
        let protos = self.prototypes()?.ok_or_else(|| {
            Error::ValueError(format!(
                "{}: no prototype for {name}: the library has no debug information (build it \
                 without --strip)",
                self.file.path.display()
            ))
        })?;
        let proto = protos.function(name).ok_or_else(|| {
            Error::ValueError(format!(
                "{}: no prototype for {name} in its debug information",
                self.file.path.display()
            ))
        })?;
        let (argtypes, restype) = protos.ctypes(proto).ok_or_else(|| {
            Error::ValueError(format!(
                "{name}: `{}` has a type ctypes cannot declare",
                protos.declaration(proto)
            ))
        })?;
        f.set_argtypes(&argtypes)?.set_restype(restype)?;
        Ok(f)
    }

    /// The function a C function pointer points to: ctypes' `CFUNCTYPE(...)(address)`. Its
    /// restype is `c_int` and its argtypes are unset, as for [`CDLL::function`]. In wasm,
    /// `address` is an index into the sandbox's function table: one outside it, an empty
    /// entry, or a prototype that does not match the function's wasm signature is an error
    /// when the call is prepared, never a trap.
    ///
    /// # Safety
    ///
    /// Natively, `address` is called as it is, as ctypes calls it: it must be the address of
    /// a function with the prototype that is then declared (or inferred), or the process
    /// crashes or worse. In wasm every address is safe.
    pub unsafe fn function_at(&self, address: u64) -> Result<Function> {
        Ok(self.new_function(format!("<function pointer 0x{address:x}>"), Some(address)))
    }

    /// A function of this module, called by symbol or at `address`, with ctypes' defaults:
    /// restype `c_int`, argtypes unset, nothing prepared yet.
    fn new_function(&self, name: String, address: Option<u64>) -> Function {
        Function {
            lib: self.inner.clone(),
            module: self.module,
            file: self.file.clone(),
            name,
            address,
            argtypes: None,
            restype: Type::Simple(CType::Int),
            restype_declared: false,
            proto: std::cell::Cell::new(None),
            scalar: std::cell::OnceCell::new(),
            inferred: RefCell::new(None),
            use_errno: self.inner.errno.is_some(),
            detach: true,
        }
    }

    /// The address of the function `name`: what C gets for `&name`, and ctypes for
    /// `cast(lib.name, c_void_p).value`. Natively its code address; in wasm its slot in the
    /// sandbox's function table (the slot C's own pointers to it use: they compare equal). It
    /// calls the function wherever C expects a function pointer, and
    /// [`CDLL::function_at`] calls it from Rust. A missing symbol is
    /// [`Error::AttributeError`].
    pub fn function_address(&self, name: &str) -> Result<u64> {
        self.inner.backend()?.function_address(self.module, name)
    }

    /// The address of an exported data symbol (ctypes' `c_int.in_dll(lib, name)` reads there).
    pub fn data_address(&self, name: &str) -> Result<u64> {
        self.inner.backend()?.data_address(self.module, name)
    }

    /// Sets the sandbox's [`Detach`](super::Detach) hook, which runs around every call's C
    /// code (the Python package releases the GIL there). Once per sandbox: a second is a
    /// `TypeError`.
    pub fn set_detach(&self, hook: std::rc::Rc<dyn super::Detach>) -> Result<()> {
        self.inner
            .detach
            .set(hook)
            .map_err(|_| Error::TypeError("the sandbox already has a Detach hook".into()))
    }

    /// Re-instantiates a wasm library's sandbox from its (cached) modules, libc and every
    /// library loaded into it, in order: memory, globals and table are as after loading. Use it after a trap that may have left the guest's state broken
    /// (a timeout in the middle of `malloc`, say). Prepared functions stay valid; buffers,
    /// arrays and callbacks made before must not be used again. Natively a TypeError.
    pub fn reset(&self) -> Result<()> {
        self.inner.backend()?.reset()?;
        // The scratch block belonged to the old instance's memory.
        self.inner.scratch.set(0);
        Ok(())
    }

    /// Moves a wasm guest's virtual clocks forward (they stand still otherwise).
    pub fn advance_clock(&self, by: std::time::Duration) -> Result<()> {
        self.inner.backend()?.advance_clock(by)
    }

    /// Where a wasm module came from (compiled, disk cache, memory cache) and how long
    /// loading took; `None` natively.
    pub fn load_stats(
        &self,
    ) -> Option<(
        crate::backend::wasm::engine::LoadSource,
        std::time::Duration,
    )> {
        self.inner.backend().ok()?.load_stats(self.module)
    }

    /// The errno values of the library's C library by name, when they are not the host's:
    /// the sandbox's wasi-libc numbers its errors its own way (`ENOENT` is 44, 2 in glibc),
    /// which a binding that compares `get_errno()` with the host's constants needs to know;
    /// `None` natively (and for a standalone module, whose libc says nothing).
    pub fn errno_names(&self) -> Option<Vec<(String, i32)>> {
        self.inner.backend().ok()?.errno_names()
    }

    /// `ctypes.get_errno()`: this thread's private copy of errno, as its last call left it
    /// (each thread has its own, as in ctypes). Needs
    /// [`LoadOptions::use_errno`] (TypeError otherwise).
    pub fn get_errno(&self) -> Result<i32> {
        match &self.inner.errno {
            Some((_, private)) => Ok(private.get()),
            None => Err(Error::TypeError(
                "the library was not loaded with use_errno".into(),
            )),
        }
    }

    /// `ctypes.set_errno(value)`: sets this thread's private copy, which its next call starts
    /// with, and returns the old one.
    pub fn set_errno(&self, value: i32) -> Result<i32> {
        match &self.inner.errno {
            Some((_, private)) => Ok(private.replace(value)),
            None => Err(Error::TypeError(
                "the library was not loaded with use_errno".into(),
            )),
        }
    }

    /// What the library wrote to stdout and stderr since the last take (when captured).
    pub fn take_output(&self) -> Output {
        match self.inner.backend() {
            Ok(mut b) => b.take_output(),
            Err(_) => Output::default(),
        }
    }

    /// Switches output capture on or off (native; wasm decides at load time).
    pub fn set_capture_output(&self, capture: bool) -> Result<()> {
        self.inner.backend()?.set_capture(capture);
        Ok(())
    }

    /// Exports, memory and table, as `inspect` shows them.
    pub fn info(&self) -> Result<LibraryInfo> {
        Ok(self.inner.backend()?.info(self.module))
    }

    /// Reads `len` bytes of the library's memory at `addr` (`ctypes.string_at(addr, len)`).
    /// Bounds-checked in wasm, before anything is allocated: a length from outside the
    /// sandbox's memory is an error, never a host allocation of that size.
    pub fn read(&self, addr: u64, len: usize) -> Result<Vec<u8>> {
        let mut backend = self.inner.backend()?;
        if len > 0 {
            backend.host_pointer(addr, len)?;
        }
        let mut out = crate::error::zeroed(len)?;
        backend.read(addr, &mut out)?;
        Ok(out)
    }

    /// Reads `out.len()` bytes of the library's memory at `addr` into `out`, with no
    /// allocation. Bounds-checked in wasm.
    pub fn read_into(&self, addr: u64, out: &mut [u8]) -> Result<()> {
        self.inner.backend()?.read(addr, out)
    }

    /// The value of type `t` stored at `addr`, read in one step with no allocation: for a
    /// number, `cast(addr, POINTER(t))[0]`; a pointer type (`c_char_p` too) reads as its
    /// address, as `Memory::get` gives it. NULL is a ValueError;
    /// bounds-checked in wasm.
    pub fn get(&self, addr: u64, t: CType) -> Result<Value> {
        crate::value::load(self.data_model(), addr, t, |at, out| {
            self.read_into(at, out)
        })
    }

    /// Stores `v` as type `t` at `addr` in one step with no allocation (ctypes' setter of a
    /// number: masked to the width), as `Memory::set` does. NULL is a
    /// ValueError; bounds-checked in wasm.
    pub fn set(&self, addr: u64, t: CType, v: &Value) -> Result<()> {
        crate::value::store(self.data_model(), addr, t, v, |at, bytes| {
            self.write(at, bytes)
        })
    }

    /// Writes bytes into the library's memory at `addr`. Bounds-checked in wasm.
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<()> {
        self.inner.backend()?.write(addr, data)
    }

    /// `malloc(size)` with the library's own allocator (libc's, in the sandbox): memory for a
    /// binding that manages its blocks itself, as the Python package does. Not zeroed; never
    /// NULL (failure is an error). Inside a callback, use [`Memory::malloc`](crate::Memory).
    pub fn malloc(&self, size: usize) -> Result<u64> {
        self.inner.backend()?.malloc(size)
    }

    /// `calloc(1, size)` with the library's own allocator: `size` zeroed bytes (at least one),
    /// released by [`CDLL::free`]. Natively libc's `calloc` (fresh pages are not touched); in
    /// the sandbox its `malloc`, zeroed in one pass. Never NULL (failure is an error).
    pub fn calloc(&self, size: usize) -> Result<u64> {
        self.inner.backend()?.calloc(size)
    }

    /// Releases memory from [`CDLL::malloc`], [`Memory::malloc`](crate::Memory) or the
    /// library's own `malloc`.
    ///
    /// # Safety
    ///
    /// Natively `addr` is passed to libc's `free`: it must come from `malloc` and not be used
    /// or freed again. In wasm a wrong address can only corrupt the sandbox's own heap, which
    /// is then a trap or an error, never the host's.
    pub unsafe fn free(&self, addr: u64) -> Result<()> {
        self.inner.backend()?.free(addr)
    }

    /// Where `len` bytes of the library's memory at `addr` are in the host's address space:
    /// what a buffer over them (ctypes' `memoryview(obj)`) points at. In wasm the range is
    /// bounds-checked here, and since linear memory never moves or shrinks, the pointer stays
    /// valid for `len` bytes until the sandbox is reset or dropped. Natively it is `addr`
    /// itself. NULL is a ValueError on both. Obtaining it is safe; reading or writing through it is
    /// the caller's `unsafe`, under those terms.
    pub fn host_pointer(&self, addr: u64, len: usize) -> Result<std::ptr::NonNull<u8>> {
        if addr == 0 {
            // No object lives at NULL, in the sandbox either.
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        let p = self.inner.backend()?.host_pointer(addr, len)?;
        std::ptr::NonNull::new(p).ok_or_else(|| Error::ValueError("NULL pointer access".into()))
    }

    /// `ctypes.string_at(addr)`: the NUL-terminated bytes at `addr`. NULL is a ValueError.
    pub fn string_at(&self, addr: u64) -> Result<Vec<u8>> {
        if addr == 0 {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        let mut b = self.inner.backend()?;
        read_string(&mut **b, addr)
    }
}

/// The name that opens the sandbox's C library: `CDLL::open("c", kind)`, as
/// `CDLL(find_library("c"))`.
pub const LIBC: &str = "c";

pub(super) fn read_string(b: &mut dyn Backend, addr: u64) -> Result<Vec<u8>> {
    let n = b.strlen(addr, 1)?;
    let mut out = crate::error::zeroed(n)?;
    b.read(addr, &mut out)?;
    Ok(out)
}

pub(crate) fn read_wstring(b: &mut dyn Backend, addr: u64) -> Result<String> {
    let n = b.strlen(addr, 4)?;
    let mut raw = crate::error::zeroed(n.saturating_mul(4))?;
    b.read(addr, &mut raw)?;
    Ok(crate::value::decode_wide(&raw))
}
