//! The native backend: a host shared object opened with dlopen (libloading) and called
//! through libffi, with real host pointers, exactly as ctypes does.
//!
//! Nothing here is sandboxed. A prototype that does not match the C function, or a wild
//! pointer, is undefined behaviour, as in ctypes. The one check added is that NULL is never
//! dereferenced by the host.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use libffi::middle::Cif;

mod call;
pub(crate) mod callback;
mod ffi;
mod host_memory;
pub(crate) mod shims;
mod stdio;

pub(crate) use call::{NativeCall, RawProto};

pub(crate) use stdio::memfd;

use callback::NativeCallback;
use ffi::{ffi_passing, ffi_struct, ffi_type};
use host_memory::HostMemory;

use crate::backend::LoadOptions;
use crate::backend::{Backend, BackendKind, Export, LibraryInfo, Memory, Output, ProtoId};
use crate::error::{Error, Result};
use crate::types::{CType, Repr};
use shims::ShimPlan;

/// dlopen's failure as an `OSError` with dlerror's own text (`libb.so: undefined symbol:
/// a_counter`), which libloading keeps as the error's source.
fn dlerror(path: &Path, e: libloading::Error) -> Error {
    match std::error::Error::source(&e) {
        Some(detail) => Error::os(path, detail),
        None => Error::os(path, e),
    }
}

/// The C library's soname on this platform.
const LIBC: &str = "libc.so.6";

/// The most arguments a call may have.
pub(crate) const MAX_ARGS: usize = crate::backend::MAX_ARGS;

/// A prepared call: the function's address and its CIF.
pub(super) struct NativeProto {
    code: *const c_void,
    cif: Cif,
    nargs: usize,
    /// Bit i set: argument i is a structure whose slot holds the address of its bytes.
    struct_args: u64,
    /// The result is a structure, stored at the call's `ret_addr`.
    struct_ret: bool,
    /// The register shim that calls this prototype without libffi, where one fits.
    shim: Option<ShimPlan>,
}

/// What a prototype was prepared from: its arguments, result and fixed-argument count.
type MadeFrom = (
    Vec<crate::backend::Passing>,
    crate::backend::Passing,
    Option<usize>,
);

/// Shared objects loaded into this process: the one opened first (or the C library) is
/// module 0, each [`Backend::load`] adds one.
pub(crate) struct NativeLibrary {
    libs: Vec<(PathBuf, libloading::Library)>,
    /// Boxed, and never removed while the library lives: a call in flight (with no borrow of
    /// the library, so that callbacks may use it, and another thread may prepare a prototype)
    /// holds a pointer to its prototype, which must not move when the vector grows.
    #[allow(clippy::vec_box)]
    protos: Vec<Box<NativeProto>>,
    /// The prototypes of each code address, with what each was made from, so that one
    /// prepared again is not kept twice (kept apart from `protos`, which the calls read).
    proto_index: std::collections::HashMap<usize, Vec<(usize, MadeFrom)>>,
    capture: bool,
    output: Output,
    /// Live callbacks by code address.
    callbacks: std::collections::HashMap<u64, NativeCallback>,
}

/// The shim for a non-variadic prototype of scalars, if the registers hold all its arguments.
fn shim_plan(
    args: &[crate::backend::Passing],
    ret: &crate::backend::Passing,
    fixed: Option<usize>,
) -> Option<ShimPlan> {
    let float = |p: &crate::backend::Passing| match p {
        crate::backend::Passing::Scalar(r) => Some(matches!(r, Repr::F32 | Repr::F64)),
        crate::backend::Passing::Struct(_) | crate::backend::Passing::Memory(_) => None,
    };
    if fixed.is_some() {
        return None;
    }
    let mut classes = [false; MAX_ARGS];
    for (c, a) in classes.iter_mut().zip(args) {
        *c = float(a)?;
    }
    ShimPlan::new(&classes[..args.len()], float(ret)?)
}

impl NativeLibrary {
    /// The C library (`libc.so.6`), as module 0: what `CDLL(find_library("c"))` loads.
    pub(crate) fn open_libc(options: &LoadOptions) -> Result<NativeLibrary> {
        let path = Path::new(LIBC);
        // SAFETY: the C library is already loaded into every process; dlopen only takes a
        // reference to it and runs no initialiser.
        let lib = unsafe { libloading::Library::new(LIBC) }.map_err(|e| dlerror(path, e))?;
        Ok(NativeLibrary::with(path, lib, options, Output::default()))
    }

    fn with(path: &Path, lib: libloading::Library, options: &LoadOptions, output: Output) -> Self {
        NativeLibrary {
            libs: vec![(path.to_path_buf(), lib)],
            protos: Vec::new(),
            proto_index: std::collections::HashMap::new(),
            capture: options.capture_output.unwrap_or(false),
            output,
            callbacks: std::collections::HashMap::new(),
        }
    }

    /// dlopens `path` (`RTLD_NOW | RTLD_LOCAL`, as ctypes' default mode).
    pub(crate) fn open(path: &Path, options: &LoadOptions) -> Result<NativeLibrary> {
        let mut output = Output::default();
        let capture = options.capture_output.unwrap_or(false);
        let lib = Self::dlopen(path, false, capture, &mut output)?;
        Ok(NativeLibrary::with(path, lib, options, output))
    }

    /// dlopens `path`, `RTLD_GLOBAL` if `global` (its symbols then resolve the libraries
    /// loaded after it); with `capture`, what its initialisers print goes to `output`.
    fn dlopen(
        path: &Path,
        global: bool,
        capture: bool,
        output: &mut Output,
    ) -> Result<libloading::Library> {
        // A bare name that is not a file here (`libm.so.6`) is searched for as dlopen
        // searches (LD_LIBRARY_PATH, the ld.so cache), as ctypes' CDLL does.
        let exists = path.exists();
        let bare = path.components().count() == 1 && !exists;
        if !bare {
            if !exists {
                return Err(Error::os(path, "No such file or directory"));
            }
            let bytes_head = std::fs::read(path)
                .map(|b| b.get(..4).map(<[u8]>::to_vec).unwrap_or_default())
                .map_err(|e| Error::os(path, e))?;
            if bytes_head != b"\x7fELF" {
                return Err(Error::os(path, "not a shared object (no ELF header)"));
            }
        }
        // A relative path without a slash would make dlopen search the system; be explicit.
        let full = if bare {
            path.to_path_buf()
        } else if path.is_relative() {
            std::env::current_dir()
                .map(|d| d.join(path))
                .unwrap_or_else(|_| path.to_path_buf())
        } else {
            path.to_path_buf()
        };
        let load = || -> std::result::Result<libloading::Library, libloading::Error> {
            let flags = libloading::os::unix::RTLD_NOW
                | if global {
                    libloading::os::unix::RTLD_GLOBAL
                } else {
                    libloading::os::unix::RTLD_LOCAL
                };
            // SAFETY: loading a library runs its initialisers; the user asked for this
            // library, exactly as with ctypes.CDLL.
            unsafe { libloading::os::unix::Library::open(Some(&full), flags) }.map(Into::into)
        };
        // With capture on, what the initialisers print is captured too, and reported with
        // the first take (it never lands in front of a JSON document).
        if capture {
            stdio::with_captured_stdio(output, load)?
        } else {
            load()
        }
        .map_err(|e| dlerror(path, e))
    }

    /// `dlsym` on module `module`'s handle (which also finds its dependencies' symbols).
    fn symbol(&self, module: usize, name: &str) -> Result<*const c_void> {
        let missing = || Error::AttributeError {
            library: self
                .libs
                .get(module)
                .map(|(p, _)| p.display().to_string())
                .unwrap_or_default(),
            symbol: name.to_string(),
        };
        let (_, lib) = self.libs.get(module).ok_or_else(missing)?;
        // SAFETY: we only take the symbol's address; nothing is called or read here.
        let sym = unsafe { lib.get::<*const c_void>(name.as_bytes()) };
        match sym {
            Ok(s) if !(*s).is_null() => Ok(*s),
            _ => Err(missing()),
        }
    }

    /// Whether output is captured: then a call redirects fd 1 and 2 around it, with the library
    /// borrowed ([`NativeLibrary::run_captured`]).
    pub(crate) fn captures(&self) -> bool {
        self.capture
    }

    /// Runs `call` with fd 1 and fd 2 redirected into this library's captured output.
    pub(crate) fn run_captured(&mut self, call: &mut NativeCall) -> Result<()> {
        let mut output = std::mem::take(&mut self.output);
        let ran = stdio::with_captured_stdio(&mut output, || {
            // SAFETY: the call was readied by this library, which is borrowed (alive) here;
            // it runs now, on this thread.
            unsafe { call.run() }
        });
        self.output = output;
        ran
    }

    /// The prototype `proto` as a call in flight needs it, or `None` when output is captured
    /// (the call then redirects fd 1 and 2 around it, with the library borrowed: see
    /// [`Backend::begin_call`]).
    #[inline(always)]
    pub(crate) fn raw(&self, proto: ProtoId) -> Option<RawProto> {
        if self.capture {
            return None;
        }
        self.protos.get(proto.0).map(|p| RawProto(&**p))
    }

    /// Whether `proto` is called through a register shim that [`fits`](ShimPlan::fits)
    /// `count` arguments with these float ones: then
    /// [`NativeLibrary::call_images_inline`] may call it.
    pub(crate) fn shim_fits(&self, proto: ProtoId, floats: u32, count: usize) -> bool {
        matches!(self.protos.get(proto.0).map(|p| &**p), Some(NativeProto { shim: Some(s), .. }) if s.fits(floats, count))
    }
}

impl Backend for NativeLibrary {
    fn kind(&self) -> BackendKind {
        BackendKind::Native
    }

    fn has_function(&mut self, module: usize, name: &str) -> bool {
        self.symbol(module, name).is_ok()
    }

    fn load(&mut self, path: &Path) -> Result<usize> {
        let mut output = Output::default();
        let lib = Self::dlopen(path, true, self.capture, &mut output)?;
        self.output.stdout.extend_from_slice(&output.stdout);
        self.output.stderr.extend_from_slice(&output.stderr);
        self.libs.push((path.to_path_buf(), lib));
        Ok(self.libs.len() - 1)
    }

    fn load_this(&mut self) -> Result<usize> {
        let this = Path::new("<this process>");
        if let Some(i) = self.libs.iter().position(|(p, _)| p == this) {
            return Ok(i);
        }
        // The program is loaded already: dlopen(NULL) takes a handle on it, running nothing.
        let lib = libloading::os::unix::Library::this();
        self.libs.push((this.to_path_buf(), lib.into()));
        Ok(self.libs.len() - 1)
    }

    fn prepare(
        &mut self,
        module: usize,
        callee: crate::backend::Callee<'_>,
        args: &[crate::backend::Passing],
        ret: &crate::backend::Passing,
        fixed: Option<usize>,
    ) -> Result<ProtoId> {
        let code = match callee {
            crate::backend::Callee::Symbol(name) => self.symbol(module, name)?,
            // The caller vouched for the address (see `CDLL::function_at`); NULL is refused.
            crate::backend::Callee::Address(0) => {
                return Err(Error::ValueError("NULL function pointer".into()))
            }
            crate::backend::Callee::Address(a) => a as usize as *const c_void,
        };
        if args.len() > MAX_ARGS {
            return Err(Error::TypeError(format!(
                "too many arguments (at most {MAX_ARGS})"
            )));
        }
        // The same prototype prepared again (a function object made anew) is the one kept:
        // the prototypes stay as many as the distinct ones.
        let same = self.proto_index.get(&(code as usize)).and_then(|made| {
            made.iter()
                .find(|(_, (a, r, f))| a.as_slice() == args && r == ret && *f == fixed)
        });
        if let Some((i, _)) = same {
            return Ok(ProtoId(*i));
        }
        let types = args.iter().map(ffi_passing).collect::<Result<Vec<_>>>()?;
        let ret_type = ffi_passing(ret)?;
        let cif = match fixed {
            Some(n) => Cif::new_variadic(types, n, ret_type),
            None => Cif::new(types, ret_type),
        };
        let struct_args = args
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                matches!(
                    a,
                    crate::backend::Passing::Struct(_) | crate::backend::Passing::Memory(_)
                )
            })
            .fold(0u64, |bits, (i, _)| bits | (1 << i));
        self.protos.push(Box::new(NativeProto {
            code,
            cif,
            nargs: args.len(),
            struct_args,
            struct_ret: matches!(
                ret,
                crate::backend::Passing::Struct(_) | crate::backend::Passing::Memory(_)
            ),
            shim: shim_plan(args, ret, fixed),
        }));
        let id = self.protos.len() - 1;
        self.proto_index
            .entry(code as usize)
            .or_default()
            .push((id, (args.to_vec(), ret.clone(), fixed)));
        Ok(ProtoId(id))
    }

    fn begin_call(
        &mut self,
        proto: ProtoId,
        args: &[u64],
        ret_addr: u64,
    ) -> Result<crate::backend::RawCall> {
        let p = self
            .protos
            .get(proto.0)
            .ok_or_else(|| Error::Runtime("unknown prototype".into()))?;
        debug_assert_eq!(p.nargs, args.len());
        let call = NativeCall::new(RawProto(&**p), args, ret_addr)?;
        Ok(crate::backend::RawCall::Native(call))
    }

    fn end_call(&mut self, call: crate::backend::RawCall) -> Result<u64> {
        match call {
            crate::backend::RawCall::Native(call) => call.result(),
            crate::backend::RawCall::Wasm(_) => {
                Err(Error::Runtime("a sandbox's call ended natively".into()))
            }
        }
    }

    fn describe_call(&self, proto: ProtoId) -> String {
        match self.protos.get(proto.0).map(|p| &p.shim) {
            Some(Some(shim)) => shim.describe(),
            Some(None) => "libffi".into(),
            None => "unprepared".into(),
        }
    }

    fn malloc(&mut self, size: usize) -> Result<u64> {
        Memory::malloc(&mut HostMemory, size)
    }

    fn calloc(&mut self, size: usize) -> Result<u64> {
        // SAFETY: calloc of any size is defined; NULL is checked.
        let p = unsafe { libc::calloc(1, size.max(1)) };
        if p.is_null() {
            return Err(Error::ValueError(format!(
                "calloc({size}) returned NULL: out of memory"
            )));
        }
        Ok(p as u64)
    }

    fn free(&mut self, addr: u64) -> Result<()> {
        Memory::free(&mut HostMemory, addr)
    }

    fn read(&mut self, addr: u64, out: &mut [u8]) -> Result<()> {
        HostMemory.read_into(addr, out)
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        Memory::write(&mut HostMemory, addr, data)
    }

    fn host_pointer(&mut self, addr: u64, _len: usize) -> Result<*mut u8> {
        if addr == 0 {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        Ok(addr as usize as *mut u8)
    }

    fn strlen(&mut self, addr: u64, width: usize) -> Result<usize> {
        if addr == 0 {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        let mut n = 0usize;
        loop {
            // SAFETY: as `read`: a NUL-terminated string at a valid address is the promise.
            let unit = unsafe {
                std::slice::from_raw_parts((addr as usize + n * width) as *const u8, width)
            };
            if unit.iter().all(|b| *b == 0) {
                return Ok(n);
            }
            n += 1;
        }
    }

    fn set_capture(&mut self, capture: bool) {
        self.capture = capture;
    }

    fn take_output(&mut self) -> Output {
        std::mem::take(&mut self.output)
    }

    fn function_address(&mut self, module: usize, name: &str) -> Result<u64> {
        self.symbol(module, name).map(|p| p as u64)
    }

    fn data_address(&mut self, module: usize, name: &str) -> Result<u64> {
        self.symbol(module, name).map(|p| p as u64)
    }

    fn make_callback(
        &mut self,
        args: &[crate::backend::CallbackArg],
        ret: CType,
        f: Rc<crate::backend::CallbackFn>,
    ) -> Result<u64> {
        self.add_callback(args, ret, f)
    }

    fn free_callback(&mut self, ptr: u64) {
        self.remove_callback(ptr)
    }

    fn errno_location(&mut self) -> Result<u64> {
        // SAFETY: __errno_location has no preconditions; it returns this thread's errno.
        Ok(unsafe { libc::__errno_location() } as u64)
    }

    fn info(&mut self, module: usize) -> LibraryInfo {
        let mut exports = Vec::new();
        let path = self
            .libs
            .get(module)
            .map(|(p, _)| p.clone())
            .unwrap_or_default();
        if let Ok(bytes) = std::fs::read(&path) {
            use object::{Object, ObjectSymbol, SymbolKind};
            if let Ok(file) = object::File::parse(&*bytes) {
                for sym in file.dynamic_symbols() {
                    if sym.is_undefined() || !sym.is_global() {
                        continue;
                    }
                    let Ok(name) = sym.name() else { continue };
                    match sym.kind() {
                        SymbolKind::Text => exports.push(Export::Function {
                            name: name.to_string(),
                            signature: None,
                        }),
                        SymbolKind::Data => {
                            let addr = self.data_address(module, name).unwrap_or(0);
                            exports.push(Export::Data {
                                name: name.to_string(),
                                addr,
                                size: Some(sym.size()),
                            });
                        }
                        _ => {}
                    }
                }
            }
        }
        LibraryInfo {
            exports,
            memory: None,
            table: None,
        }
    }
}

impl Drop for NativeLibrary {
    fn drop(&mut self) {
        for (_, cb) in self.callbacks.drain() {
            // SAFETY: allocated by `make_callback`; the library is going away.
            unsafe { libffi::low::closure_free(cb.closure) };
        }
    }
}
