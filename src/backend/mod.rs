//! The one trait both backends implement, and the choice between them.
//!
//! A backend owns a loaded library and its memory. It knows how to prepare a prototype once
//! (a libffi CIF natively, a resolved `Func` in wasm), call it with raw 64-bit argument slots,
//! and read, write, allocate and free the library's memory. Everything above this layer
//! (conversions, buffers, the CLI) is written once against this trait.
//!
//! Raw slots: every argument and result travels as a `u64`. Integers sit in the low bits
//! (already masked to their C width), an `f64` is its bit pattern, and an `f32`'s bits sit in
//! the low 32 bits.

mod callback;
pub(crate) mod native;
mod options;
pub mod sandbox;
mod signature;
pub(crate) mod wasm;

pub(crate) use callback::CallbackArg;
pub(crate) use callback::CallbackValues;
pub use callback::{CallbackFn, Memory};
pub use options::LoadOptions;
pub use options::MAX_ARGS;
pub use signature::{Signature, WasmType};

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::error::Result;
use crate::types::{DataModel, Repr};

/// Which backend runs a library. Chosen at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// wasmtime with WASI preview1: the library runs sandboxed; pointers are offsets into its
    /// linear memory, bounds-checked on every host access.
    Wasm,
    /// dlopen plus libffi: the library runs in this process with real pointers, as in ctypes.
    Native,
}

impl BackendKind {
    /// Both backends, sandbox first.
    pub const ALL: [BackendKind; 2] = [BackendKind::Wasm, BackendKind::Native];

    /// `wasm` or `native`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Wasm => "wasm",
            BackendKind::Native => "native",
        }
    }

    /// The data model of libraries this backend loads.
    pub fn data_model(self) -> DataModel {
        match self {
            BackendKind::Wasm => DataModel::ILP32,
            BackendKind::Native => DataModel::host(),
        }
    }

    /// The file name a library called `name` has for this backend: `name.wasm` or
    /// `libname.so`.
    pub fn file_name(self, name: &str) -> String {
        match self {
            BackendKind::Wasm => format!("{name}.wasm"),
            BackendKind::Native => format!("lib{name}.so"),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "wasm" => Ok(BackendKind::Wasm),
            "native" => Ok(BackendKind::Native),
            other => Err(format!(
                "unknown backend {other:?}: expected wasm or native"
            )),
        }
    }
}

/// How one argument, or the result, crosses a call.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Passing {
    /// A scalar in a raw slot.
    Scalar(Repr),
    /// A structure by value. Its raw slot holds the address of its bytes in the library's
    /// memory; for a result, the address where the backend stores it.
    Struct(std::rc::Rc<crate::types::StructType>),
    /// A `long double` (`Repr::F80` or `Repr::F128`), 16 bytes that no slot holds: as a
    /// structure, its raw slot holds the address of its bytes in the library's memory; for a
    /// result, the address where the backend stores them.
    Memory(Repr),
}

/// What a prepared call calls: a symbol as a module finds it, or a function pointer (a code
/// address natively, an index into the shared function table in wasm).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Callee<'a> {
    /// `dlsym(handle, name)`: the module's own export, or one before it.
    Symbol(&'a str),
    /// A C function pointer, such as one a library returned or stored.
    Address(u64),
}

impl std::fmt::Display for Callee<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Callee::Symbol(name) => f.write_str(name),
            Callee::Address(a) => write!(f, "<function pointer 0x{a:x}>"),
        }
    }
}

/// A prototype prepared by a backend; an index into that backend's table of prototypes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProtoId(pub(crate) usize);

/// The most bytes of stdout or stderr kept between two takes, on both backends; the rest is
/// counted and dropped, so output cannot exhaust host memory.
pub(crate) const CAPTURE_LIMIT: usize = 16 * 1024 * 1024;

/// How deeply calls may nest through callbacks, on either backend: C calls back, the
/// callback calls C, which calls back, ... Past it the innermost callback's call is
/// [`Error::Recursion`](crate::Error) (Python: `RecursionError`) and the library stays
/// usable. The same on both backends, so that they answer alike; in the sandbox it keeps the
/// nesting well inside the stack it may use ([`max_stack`](sandbox::SandboxConfig::max_stack)).
pub(crate) const MAX_NESTING: u32 = 32;

/// Appends the note that says how many bytes past [`CAPTURE_LIMIT`] were dropped.
pub(crate) fn note_dropped(buf: &mut Vec<u8>, dropped: u64) {
    if dropped > 0 {
        buf.extend_from_slice(format!("\n[wasmctypes: {dropped} more bytes dropped]\n").as_bytes());
    }
}

/// What the library wrote to stdout and stderr during the calls since the last take.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Bytes written to fd 1.
    pub stdout: Vec<u8>,
    /// Bytes written to fd 2.
    pub stderr: Vec<u8>,
}

/// An exported symbol, as `inspect` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Export {
    /// A function, with its wasm signature when known.
    Function {
        /// The symbol.
        name: String,
        /// Its wasm type, or `None` natively (a shared object does not record it).
        signature: Option<Signature>,
    },
    /// A data object at an address.
    Data {
        /// The symbol.
        name: String,
        /// Its address in the library's memory.
        addr: u64,
        /// Its size in bytes, where the object file records it.
        size: Option<u64>,
    },
}

/// What `inspect` shows about a loaded library.
#[derive(Clone, Debug)]
pub struct LibraryInfo {
    /// Exported functions and data.
    pub exports: Vec<Export>,
    /// Linear memory size in bytes (wasm) and its maximum, if any.
    pub memory: Option<(u64, Option<u64>)>,
    /// Indirect function table size and maximum (wasm).
    pub table: Option<(u64, Option<u64>)>,
}

/// A loaded library: one backend's view of it. See the module docs for raw slots.
pub(crate) trait Backend {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;

    /// The data model of the library's target.
    fn data_model(&self) -> DataModel {
        self.kind().data_model()
    }

    /// Whether module `module` (see [`Backend::load`]) finds a function called `name`: its
    /// own, or one of the libraries before it (libc), as `dlsym` on its handle.
    fn has_function(&mut self, module: usize, name: &str) -> bool;

    /// Loads another library into this sandbox or process, after the ones before it
    /// (`dlopen(path, RTLD_NOW | RTLD_GLOBAL)`), and returns its module index. Module 0 is
    /// the one the backend was opened with (libc for a new sandbox).
    fn load(&mut self, path: &Path) -> Result<usize>;

    /// The handle on the whole process's symbols, as `dlopen(NULL)` gives it natively (the
    /// program, and every library loaded with `RTLD_GLOBAL`: ctypes' `CDLL(None)`, whose
    /// symbols include the Python interpreter's own in a Python process); its module index.
    /// In wasm, module 0, which sees the sandbox's whole scope.
    fn load_this(&mut self) -> Result<usize> {
        Ok(0)
    }

    /// Prepares a call of `callee` (a symbol as module `module` finds it, or a function
    /// pointer) with these arguments and result, once. `fixed` is the number of fixed arguments of a variadic function, `None`
    /// otherwise. The wasm backend checks the prototype against the export's signature,
    /// following clang's wasm32 C ABI.
    fn prepare(
        &mut self,
        module: usize,
        callee: Callee<'_>,
        args: &[Passing],
        ret: &Passing,
        fixed: Option<usize>,
    ) -> Result<ProtoId>;

    /// Readies a call of a prepared prototype: `args` holds exactly one raw slot per prepared
    /// argument; `ret_addr` is where a structure result is stored (unused otherwise). The
    /// call itself runs with no borrow of the backend ([`RawCall::run`]), so that C may call
    /// back into the host and the host, from the callback, into the sandbox again; then
    /// [`Backend::end_call`] finishes it.
    fn begin_call(&mut self, proto: ProtoId, args: &[u64], ret_addr: u64) -> Result<RawCall>;

    /// Finishes a call readied by [`Backend::begin_call`] and run: the raw result slot (0 for
    /// void or a structure), or the trap, or the error a callback returned during the call.
    /// Its low bits at the result's width hold the result; the rest are unspecified.
    fn end_call(&mut self, call: RawCall) -> Result<u64>;

    /// How a prepared prototype is called: natively `libffi` or a register shim such as
    /// `shim(2 int, 1 float) -> float`; in wasm `call_unchecked` over the export.
    fn describe_call(&self, proto: ProtoId) -> String;

    /// Allocates `size` bytes with the library's own `malloc`. Never returns NULL: failure is
    /// an error.
    fn malloc(&mut self, size: usize) -> Result<u64>;

    /// `calloc(1, size)`: `size` zeroed bytes from the library's own `malloc`, released by
    /// [`Backend::free`]. Never returns NULL. The native backend uses libc's `calloc`, whose
    /// fresh pages are zero untouched; elsewhere the block is zeroed in one pass.
    fn calloc(&mut self, size: usize) -> Result<u64> {
        let addr = self.malloc(size)?;
        let zeroed = self.host_pointer(addr, size).map(|p| {
            // SAFETY: `host_pointer` checked that `size` bytes at `addr` are the library's
            // memory, a block just allocated that nothing else uses yet.
            unsafe { std::ptr::write_bytes(p, 0, size) }
        });
        if let Err(e) = zeroed {
            let _ = self.free(addr);
            return Err(e);
        }
        Ok(addr)
    }

    /// Releases memory from [`Backend::malloc`] (or from the library's own `malloc`) with the
    /// library's own `free`.
    fn free(&mut self, addr: u64) -> Result<()>;

    /// Copies `out.len()` bytes from the library's memory at `addr`. The wasm backend checks
    /// bounds against the current memory size; the native backend reads the raw address, as
    /// ctypes does.
    fn read(&mut self, addr: u64, out: &mut [u8]) -> Result<()>;

    /// The host address of `len` bytes of the library's memory at `addr`, checked as `read`
    /// checks them (natively: only that `addr` is not NULL). The wasm backend's linear memory
    /// never moves (see the engine's configuration) and never shrinks, so the address stays
    /// valid, and in bounds, until the library is reset or dropped.
    fn host_pointer(&mut self, addr: u64, len: usize) -> Result<*mut u8>;

    /// Copies `data` into the library's memory at `addr`, with the same checks as `read`.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<()>;

    /// Copies `data` and then `nul` zero bytes (at most 4) to `addr`: a C string's copy-in,
    /// with the same checks as `write`.
    fn write_terminated(&mut self, addr: u64, data: &[u8], nul: usize) -> Result<()> {
        self.write(addr, data)?;
        self.write(addr + data.len() as u64, &[0; 4][..nul])
    }

    /// The number of `width`-byte units before the first all-zero unit at `addr` (`strlen` for
    /// width 1, `wcslen` for width 4). The wasm backend errors if no terminator lies inside
    /// memory.
    fn strlen(&mut self, addr: u64, width: usize) -> Result<usize>;

    /// Whether stdout and stderr are captured (the default for wasm) or go to the host's.
    fn set_capture(&mut self, capture: bool);

    /// Takes what was captured since the last take.
    fn take_output(&mut self) -> Output;

    /// The address of the function `name` as module `module` finds it: what C gets for
    /// `&name`, natively its code address, in wasm its slot in the sandbox's one function
    /// table (the same slot C's own pointers to it use, so that they compare equal).
    fn function_address(&mut self, module: usize, name: &str) -> Result<u64>;

    /// The address of a data symbol as module `module` finds it.
    fn data_address(&mut self, module: usize, name: &str) -> Result<u64>;

    /// What `inspect` shows of module `module`.
    fn info(&mut self, module: usize) -> LibraryInfo;

    /// Makes a C function pointer that calls `f` with arguments of these types.
    fn make_callback(
        &mut self,
        args: &[CallbackArg],
        ret: crate::types::CType,
        f: std::rc::Rc<crate::backend::CallbackFn>,
    ) -> Result<u64>;

    /// Releases a function pointer from [`Backend::make_callback`].
    fn free_callback(&mut self, ptr: u64);

    /// The address of the C library's `errno` for calls made through this backend: the
    /// guest's exported `errno` in wasm, this thread's `errno` natively.
    fn errno_location(&mut self) -> Result<u64>;

    /// The errno values of the library's C library by name, when they are not the host's
    /// (the sandbox's wasi-libc: `ENOENT` is 44 there, 2 in glibc); `None` natively.
    fn errno_names(&self) -> Option<Vec<(String, i32)>> {
        None
    }

    /// Re-instantiates the library from scratch (wasm); natively a TypeError.
    fn reset(&mut self) -> Result<()> {
        Err(crate::error::Error::TypeError(
            "reset() re-instantiates a wasm sandbox; a native library cannot be reset".into(),
        ))
    }

    /// Moves the guest's virtual clocks forward (wasm); natively a TypeError.
    fn advance_clock(&mut self, by: std::time::Duration) -> Result<()> {
        let _ = by;
        Err(crate::error::Error::TypeError(
            "only a wasm sandbox has a virtual clock".into(),
        ))
    }

    /// Where the module came from and how long loading took (wasm only).
    fn load_stats(&self, module: usize) -> Option<(wasm::engine::LoadSource, std::time::Duration)> {
        let _ = module;
        None
    }
}

/// A call readied by [`Backend::begin_call`], holding what the call itself needs and no
/// borrow of the backend. It lives on the stack of the general call path, for one call: a
/// box would cost an allocation per call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum RawCall {
    /// An entry into the guest.
    Wasm(wasm::WasmCall),
    /// A call through a register shim or libffi.
    Native(native::NativeCall),
}

impl RawCall {
    /// Runs the call (the C code).
    ///
    /// # Safety
    /// The backend that readied the call is alive and not borrowed while it runs (C may call
    /// back into it), and the call is run once, on the thread that readied it, before the
    /// backend is used for anything else but the callbacks of this call.
    pub(crate) unsafe fn run(&mut self) {
        match self {
            // SAFETY: the caller's promise.
            RawCall::Wasm(w) => unsafe { w.run() },
            // SAFETY: the caller's promise.
            RawCall::Native(n) => unsafe { n.run() },
        }
    }
}

/// A loaded library on the backend chosen at run time. The hot calls match on it and call the
/// backend's own code directly (inlined, no virtual call); everything else goes through the
/// [`Backend`] trait it derefs to.
pub(crate) enum AnyBackend {
    /// Sandboxed in wasmtime.
    Wasm(Box<wasm::WasmLibrary>),
    /// Loaded with dlopen, called with libffi or a register shim.
    Native(Box<native::NativeLibrary>),
}

impl AnyBackend {
    /// Opens `path` with the backend `kind`, in a sandbox (process) of its own, and returns
    /// the library's module index: a side module joins a new sandbox after libc, a standalone
    /// wasm module or a shared object is module 0.
    pub(crate) fn open(
        kind: BackendKind,
        path: &Path,
        options: &crate::backend::LoadOptions,
    ) -> Result<(AnyBackend, usize)> {
        Ok(match kind {
            BackendKind::Wasm => {
                let (w, module) = wasm::WasmLibrary::open(path, options)?;
                (AnyBackend::Wasm(Box::new(w)), module)
            }
            BackendKind::Native => (
                AnyBackend::Native(Box::new(native::NativeLibrary::open(path, options)?)),
                0,
            ),
        })
    }

    /// A new sandbox (process) with libc as module 0: the libc module in wasm, the C library
    /// natively.
    pub(crate) fn new_sandbox(
        kind: BackendKind,
        options: &crate::backend::LoadOptions,
    ) -> Result<AnyBackend> {
        Ok(match kind {
            BackendKind::Wasm => {
                AnyBackend::Wasm(Box::new(wasm::WasmLibrary::new_sandbox(options)?))
            }
            BackendKind::Native => {
                AnyBackend::Native(Box::new(native::NativeLibrary::open_libc(options)?))
            }
        })
    }

    /// The wasm backend itself, for calls that need its concrete type (wasmtime's typed
    /// calls); `None` natively.
    #[inline(always)]
    pub(crate) fn as_wasm(&mut self) -> Option<&mut wasm::WasmLibrary> {
        match self {
            AnyBackend::Wasm(w) => Some(w),
            AnyBackend::Native(_) => None,
        }
    }
}

impl std::ops::Deref for AnyBackend {
    type Target = dyn Backend;
    fn deref(&self) -> &(dyn Backend + 'static) {
        match self {
            AnyBackend::Wasm(w) => &**w,
            AnyBackend::Native(n) => &**n,
        }
    }
}

impl std::ops::DerefMut for AnyBackend {
    fn deref_mut(&mut self) -> &mut (dyn Backend + 'static) {
        match self {
            AnyBackend::Wasm(w) => &mut **w,
            AnyBackend::Native(n) => &mut **n,
        }
    }
}
