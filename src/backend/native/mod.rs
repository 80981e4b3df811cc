//! The native backend: a host shared object opened with dlopen (libloading) and called
//! through libffi, with real host pointers, exactly as ctypes does.
//!
//! Nothing here is sandboxed. A prototype that does not match the C function, or a wild
//! pointer, is undefined behaviour, as in ctypes. The one check added is that NULL is never
//! dereferenced by the host.

use std::cell::RefCell;
use std::ffi::c_void;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use libffi::middle::{Cif, Type};

pub mod shims;

use crate::backend::LoadOptions;
use crate::backend::{Backend, BackendKind, Export, LibraryInfo, Output, ProtoId};
use crate::error::{Error, Result};
use crate::types::{CType, Repr};
use shims::ShimPlan;

/// The most arguments a call may have.
pub const MAX_ARGS: usize = crate::backend::MAX_ARGS;

/// A prepared call: the function's address and its CIF.
struct NativeProto {
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

/// A shared object loaded into this process.
pub struct NativeLibrary {
    path: PathBuf,
    lib: libloading::Library,
    protos: Vec<NativeProto>,
    capture: bool,
    output: Output,
    /// Live callbacks by code address.
    callbacks: std::collections::HashMap<u64, NativeCallback>,
    /// The error the last failing callback returned.
    callback_error: Rc<RefCell<Option<Error>>>,
}

/// A libffi closure and what it needs to stay valid.
struct NativeCallback {
    closure: *mut libffi::low::ffi_closure,
    // Boxed: the closure points at the CIF and the state, so they must not move.
    _cif: Box<Cif>,
    _state: Box<CallbackState>,
}

/// What the trampoline needs: the closure, the prototype, and where to leave an error.
struct CallbackState {
    f: Rc<crate::backend::CallbackFn>,
    args: Vec<CType>,
    ret: CType,
    error: Rc<RefCell<Option<Error>>>,
}

/// Host memory as a callback sees it: raw, as in ctypes, except that NULL is refused.
struct HostMemory;

impl crate::backend::Memory for HostMemory {
    fn read_into(&mut self, addr: u64, out: &mut [u8]) -> Result<()> {
        if addr == 0 && !out.is_empty() {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        // SAFETY: raw host memory, as ctypes reads it: the callback promises it is valid.
        unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, out.as_mut_ptr(), out.len()) };
        Ok(())
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        if addr == 0 && !data.is_empty() {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        // SAFETY: as `read_into`.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), addr as *mut u8, data.len()) };
        Ok(())
    }
    fn data_model(&self) -> crate::types::DataModel {
        crate::types::DataModel::host()
    }
}

/// The C entry point of every native callback. It must not unwind into C: a panic or an error
/// is kept for the call to report, and C gets a zero result.
unsafe extern "C" fn trampoline(
    _cif: &libffi::low::ffi_cif,
    result: &mut u64,
    args: *const *const c_void,
    state: &CallbackState,
) {
    let m = crate::types::DataModel::host();
    let mut raw = [0u64; MAX_ARGS];
    for (i, (slot, t)) in raw.iter_mut().zip(&state.args).enumerate() {
        let size = m.sizeof(*t);
        let mut b = [0u8; 8];
        // SAFETY: libffi passes one pointer per argument of the CIF, each to a value of the
        // argument's type, whose size is `size`.
        unsafe { std::ptr::copy_nonoverlapping(*args.add(i) as *const u8, b.as_mut_ptr(), size) };
        *slot = u64::from_le_bytes(b);
    }
    let values = crate::value::callback_args(&state.args, m, &raw[..state.args.len()]);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        (state.f)(&mut HostMemory, &values)
    }))
    .unwrap_or_else(|_| Err(Error::Runtime("the callback panicked".into())))
    .and_then(|v| crate::value::callback_result(state.ret, m, &v));
    *result = match outcome {
        Ok(bits) => bits,
        Err(e) => {
            let mut slot = state.error.borrow_mut();
            if slot.is_none() {
                *slot = Some(e);
            }
            0
        }
    };
}

fn ffi_type(r: Repr) -> Type {
    match r {
        Repr::Bool | Repr::UInt(1) => Type::u8(),
        Repr::Int(1) => Type::i8(),
        Repr::Int(2) => Type::i16(),
        Repr::UInt(2) => Type::u16(),
        Repr::Int(4) => Type::i32(),
        Repr::UInt(4) => Type::u32(),
        Repr::Int(_) => Type::i64(),
        Repr::UInt(_) => Type::u64(),
        Repr::F32 => Type::f32(),
        Repr::F64 => Type::f64(),
        Repr::Void => Type::void(),
    }
}

/// The libffi type of a C type laid out in the host data model. Structures with bitfields or
/// `_pack_` cannot be described to libffi, so they cannot travel by value.
fn ffi_of(t: &crate::types::Type) -> Result<Type> {
    use crate::types::Type as T;
    let m = crate::types::DataModel::host();
    Ok(match t {
        T::Simple(_) | T::Pointer(_) => ffi_type(t.call_repr(m).unwrap_or(Repr::Void)),
        // libffi has no array type: an array inside a structure is its elements in a row.
        T::Array(..) => {
            return Err(Error::TypeError(
                "an array cannot be passed by value".into(),
            ))
        }
        T::Struct(s) => ffi_struct(s)?,
    })
}

fn ffi_struct(s: &crate::types::StructType) -> Result<Type> {
    use crate::types::Type as T;
    if !s.is_plain() || s.is_union() {
        return Err(Error::TypeError(format!(
            "{} has bitfields, _pack_ or is a union: libffi cannot pass it by value",
            s.name()
        )));
    }
    let mut elems = Vec::new();
    for f in s.fields() {
        match &f.ty {
            T::Array(elem, n) => {
                let e = ffi_of(elem)?;
                elems.extend(std::iter::repeat_n(e, *n));
            }
            other => elems.push(ffi_of(other)?),
        }
    }
    Ok(Type::structure(elems))
}

fn ffi_passing(p: &crate::backend::Passing) -> Result<Type> {
    match p {
        crate::backend::Passing::Scalar(r) => Ok(ffi_type(*r)),
        crate::backend::Passing::Struct(s) => ffi_struct(s),
    }
}

/// The shim for a non-variadic prototype of scalars, if the registers hold all its arguments.
fn shim_plan(
    args: &[crate::backend::Passing],
    ret: &crate::backend::Passing,
    fixed: Option<usize>,
) -> Option<ShimPlan> {
    let float = |p: &crate::backend::Passing| match p {
        crate::backend::Passing::Scalar(r) => Some(matches!(r, Repr::F32 | Repr::F64)),
        crate::backend::Passing::Struct(_) => None,
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
    /// dlopens `path` (`RTLD_NOW | RTLD_LOCAL`, as ctypes' default mode).
    pub fn open(path: &Path, options: &LoadOptions) -> Result<NativeLibrary> {
        if !path.exists() {
            return Err(Error::os(path, "No such file or directory"));
        }
        let bytes_head = std::fs::read(path)
            .map(|b| b.get(..4).map(<[u8]>::to_vec).unwrap_or_default())
            .map_err(|e| Error::os(path, e))?;
        if bytes_head != b"\x7fELF" {
            return Err(Error::os(path, "not a shared object (no ELF header)"));
        }
        // A relative path without a slash would make dlopen search the system; be explicit.
        let full = if path.is_relative() {
            std::env::current_dir()
                .map(|d| d.join(path))
                .unwrap_or_else(|_| path.to_path_buf())
        } else {
            path.to_path_buf()
        };
        // SAFETY: loading a library runs its initialisers; the user asked for this library,
        // exactly as with ctypes.CDLL.
        let lib = unsafe { libloading::Library::new(&full) }.map_err(|e| Error::os(path, e))?;
        Ok(NativeLibrary {
            path: path.to_path_buf(),
            lib,
            protos: Vec::new(),
            capture: options.capture_output.unwrap_or(false),
            output: Output::default(),
            callbacks: std::collections::HashMap::new(),
            callback_error: Rc::default(),
        })
    }

    fn symbol(&self, name: &str) -> Result<*const c_void> {
        // SAFETY: we only take the symbol's address; nothing is called or read here.
        let sym = unsafe { self.lib.get::<*const c_void>(name.as_bytes()) };
        match sym {
            Ok(s) if !(*s).is_null() => Ok(*s),
            _ => Err(Error::AttributeError {
                library: self.path.display().to_string(),
                symbol: name.to_string(),
            }),
        }
    }

    /// [`Backend::call_scalar`] with output captured: the general call, which redirects the
    /// file descriptors around it. Out of line, so that the plain path keeps a small frame.
    #[cold]
    #[inline(never)]
    fn call_scalar_captured(
        &mut self,
        proto: ProtoId,
        args: &[u64],
    ) -> std::result::Result<u64, Box<Error>> {
        let raw = self.call(proto, args, 0).map_err(Box::new)?;
        if self.callback_error.borrow().is_some() {
            return Err(self.callback_failure());
        }
        Ok(raw)
    }

    /// The error a callback returned during the last call, as the call's error.
    #[cold]
    #[inline(never)]
    fn callback_failure(&mut self) -> Box<Error> {
        Box::new(
            self.take_callback_error()
                .unwrap_or_else(|| Error::Runtime("a callback failed without an error".into())),
        )
    }

    /// Calls the prototype through its register shim if it has one, otherwise through libffi.
    #[inline]
    fn raw_call(&self, p: &NativeProto, args: &[u64], ret_addr: u64) -> u64 {
        match &p.shim {
            // SAFETY: the plan was made from this prototype's own argument classes, and
            // `args` holds one slot per argument; that `code` has the prototype is the
            // caller's promise, as in ctypes.
            Some(shim) => unsafe { shim.call(p.code, args) },
            None => Self::ffi_call(p, args, ret_addr),
        }
    }

    /// [`Backend::call_scalar`], inlined into [`Function::call`](crate::Function::call)'s and
    /// [`TypedFunction::call`](crate::TypedFunction::call)'s fast paths.
    #[inline(always)]
    pub(crate) fn call_scalar_inline(
        &mut self,
        proto: ProtoId,
        args: &[u64],
    ) -> std::result::Result<u64, Box<Error>> {
        if self.capture {
            return self.call_scalar_captured(proto, args);
        }
        let raw = self.raw_call(&self.protos[proto.0], args, 0);
        if self.callback_error.borrow().is_some() {
            return Err(self.callback_failure());
        }
        Ok(raw)
    }

    /// The libffi call, for every prototype without a shim.
    #[inline(never)]
    fn ffi_call(p: &NativeProto, args: &[u64], ret_addr: u64) -> u64 {
        let mut values = [std::ptr::null_mut::<c_void>(); MAX_ARGS];
        for (i, (v, a)) in values.iter_mut().zip(args).enumerate() {
            *v = if p.struct_args & (1 << i) != 0 {
                *a as *mut c_void
            } else {
                a as *const u64 as *mut c_void
            };
        }
        // Room for any scalar return, widened to ffi_arg by libffi.
        let mut ret = [0u64; 2];
        let rvalue = if p.struct_ret {
            ret_addr as *mut c_void
        } else {
            ret.as_mut_ptr() as *mut c_void
        };
        // SAFETY: `values` points at one 8-byte slot per scalar argument of the CIF (on this
        // little-endian target the low bytes of each slot are the argument's value at its own
        // width), or at a structure's bytes; a structure result goes to `ret_addr`, which the
        // caller sized for it. `code` is the symbol's address; that it has the declared prototype is the
        // caller's promise, as in ctypes.
        unsafe {
            let code: unsafe extern "C" fn() = std::mem::transmute(p.code);
            libffi::raw::ffi_call(p.cif.as_raw_ptr(), Some(code), rvalue, values.as_mut_ptr());
        }
        ret[0]
    }

    /// Runs `f` with fd 1 and fd 2 redirected into memory files, flushing C stdio on both
    /// sides, and keeps what was written.
    fn captured<R>(&mut self, f: impl FnOnce(&Self) -> R) -> Result<R> {
        fn memfd(name: &std::ffi::CStr) -> Result<OwnedFd> {
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
            let r = f(self);
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
        for (fd, buf) in [
            (&out, &mut self.output.stdout),
            (&err, &mut self.output.stderr),
        ] {
            let mut file =
                std::fs::File::from(fd.try_clone().map_err(|e| Error::Runtime(e.to_string()))?);
            use std::io::{Read, Seek};
            let _ = file.seek(std::io::SeekFrom::Start(0));
            let _ = file.read_to_end(buf);
        }
        Ok(result)
    }
}

impl Backend for NativeLibrary {
    fn kind(&self) -> BackendKind {
        BackendKind::Native
    }

    fn has_function(&self, name: &str) -> bool {
        self.symbol(name).is_ok()
    }

    fn prepare(
        &mut self,
        symbol: &str,
        args: &[crate::backend::Passing],
        ret: &crate::backend::Passing,
        fixed: Option<usize>,
    ) -> Result<ProtoId> {
        let code = self.symbol(symbol)?;
        if args.len() > MAX_ARGS {
            return Err(Error::arg(
                MAX_ARGS + 1,
                format!("too many arguments (at most {MAX_ARGS})"),
            ));
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
            .filter(|(_, a)| matches!(a, crate::backend::Passing::Struct(_)))
            .fold(0u64, |bits, (i, _)| bits | (1 << i));
        self.protos.push(NativeProto {
            code,
            cif,
            nargs: args.len(),
            struct_args,
            struct_ret: matches!(ret, crate::backend::Passing::Struct(_)),
            shim: shim_plan(args, ret, fixed),
        });
        Ok(ProtoId(self.protos.len() - 1))
    }

    fn call(&mut self, proto: ProtoId, args: &[u64], ret_addr: u64) -> Result<u64> {
        let p = &self.protos[proto.0];
        debug_assert_eq!(p.nargs, args.len());
        if !self.capture {
            return Ok(self.raw_call(p, args, ret_addr));
        }
        let index = proto.0;
        self.captured(|this| this.raw_call(&this.protos[index], args, ret_addr))
    }

    fn call_scalar(
        &mut self,
        proto: ProtoId,
        args: &[u64],
    ) -> std::result::Result<u64, Box<Error>> {
        self.call_scalar_inline(proto, args)
    }

    fn describe_call(&self, proto: ProtoId) -> String {
        match self.protos.get(proto.0).map(|p| &p.shim) {
            Some(Some(shim)) => shim.describe(),
            Some(None) => "libffi".into(),
            None => "unprepared".into(),
        }
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
        // SAFETY: the caller passes memory from malloc, as with the library's own free.
        unsafe { libc::free(addr as *mut c_void) };
        Ok(())
    }

    fn read(&mut self, addr: u64, out: &mut [u8]) -> Result<()> {
        if addr == 0 && !out.is_empty() {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        // SAFETY: raw host memory, as ctypes reads it: the caller promises it is valid.
        unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        if addr == 0 && !data.is_empty() {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        // SAFETY: raw host memory, as ctypes writes it: the caller promises it is valid.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), addr as *mut u8, data.len()) };
        Ok(())
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

    fn data_address(&mut self, name: &str) -> Result<u64> {
        self.symbol(name).map(|p| p as u64)
    }

    fn make_callback(
        &mut self,
        args: &[CType],
        ret: CType,
        f: Rc<crate::backend::CallbackFn>,
    ) -> Result<u64> {
        let m = crate::types::DataModel::host();
        if args.len() > MAX_ARGS {
            return Err(Error::TypeError(format!(
                "a callback takes at most {MAX_ARGS} arguments"
            )));
        }
        let cif = Box::new(Cif::new(
            args.iter().map(|t| ffi_type(m.repr(*t))),
            ffi_type(m.repr(ret)),
        ));
        let state = Box::new(CallbackState {
            f,
            args: args.to_vec(),
            ret,
            error: self.callback_error.clone(),
        });
        let (closure, code) = libffi::low::try_closure_alloc()
            .ok_or_else(|| Error::Runtime("ffi_closure_alloc failed".into()))?;
        // SAFETY: the closure, the CIF and the state are kept together in `self.callbacks`
        // until `free_callback` (or drop) frees the closure first; the CIF and the state are
        // boxed, so the pointers given to libffi stay valid.
        let prepared = unsafe {
            libffi::low::prep_closure::<CallbackState, u64>(
                closure,
                cif.as_raw_ptr(),
                trampoline,
                &*state,
                code,
            )
        };
        if prepared.is_err() {
            // SAFETY: allocated above and not yet handed out.
            unsafe { libffi::low::closure_free(closure) };
            return Err(Error::Runtime("ffi_prep_closure failed".into()));
        }
        let addr = code.as_ptr() as u64;
        self.callbacks.insert(
            addr,
            NativeCallback {
                closure,
                _cif: cif,
                _state: state,
            },
        );
        Ok(addr)
    }

    fn free_callback(&mut self, ptr: u64) {
        if let Some(cb) = self.callbacks.remove(&ptr) {
            // SAFETY: allocated by `make_callback`; C may no longer call it (the Callback that
            // handed it out is gone).
            unsafe { libffi::low::closure_free(cb.closure) };
        }
    }

    fn errno_location(&mut self) -> Result<u64> {
        // SAFETY: __errno_location has no preconditions; it returns this thread's errno.
        Ok(unsafe { libc::__errno_location() } as u64)
    }

    fn take_callback_error(&mut self) -> Option<Error> {
        self.callback_error.borrow_mut().take()
    }

    fn info(&mut self) -> LibraryInfo {
        let mut exports = Vec::new();
        if let Ok(bytes) = std::fs::read(&self.path) {
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
                            let addr = self.data_address(name).unwrap_or(0);
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
