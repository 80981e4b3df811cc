//! `CDLL`: a loaded library, its functions, and the call path.
//!
//! ```no_run
//! use wasmctypes::{BackendKind, CDLL, CType, Value};
//! let lib = CDLL::open("target/guest/sum.wasm", BackendKind::Wasm)?;
//! let mut add = lib.function("add")?;           // ctypes: lib.add
//! add.set_argtypes(&[CType::Int, CType::Int])?; // add.argtypes = [c_int, c_int]
//! add.set_restype(CType::Int)?;                 // add.restype = c_int (the default)
//! assert_eq!(add.call(&[2.into(), 3.into()])?, Value::Int(5));
//! # Ok::<(), wasmctypes::Error>(())
//! ```

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::backend::{
    wasm, AnyBackend, Backend, BackendKind, LibraryInfo, Output, Passing, ProtoId,
};
use crate::cstruct::StructValue;
use crate::ctype::{CType, DataModel, Repr};
use crate::error::{Error, Result};
use crate::typed::{check_signature, Params, Results, TypedFunction};
use crate::types::Type;
use crate::value::{int_from_bits, mask_int, LibId, Pointer, Value};

/// The most arguments one call may have. The call path keeps its slots in fixed arrays of this
/// size on the stack (no heap allocation); larger limits make every call pay to clear them.
pub const MAX_ARGS: usize = 24;

/// The most arguments a call on the scalar fast path may have (see [`Function::call`]).
const SCALAR_MAX: usize = 14;

/// A prepared prototype whose arguments are numbers or addresses and whose result is a number
/// (or void): calls of it need no structure copies and no reads of library memory, so they
/// take the backend's scalar call. Numbers, pointers, addresses and None are converted inline
/// straight into the backend's own slots ([`LibInner::call_values`]); bytes for a `c_char_p`
/// or `c_void_p` are copied into the library's scratch block first
/// ([`Function::call_scalar_copying`]).
#[derive(Clone)]
struct ScalarCall {
    proto: ProtoId,
    n: usize,
    args: [Num; SCALAR_MAX],
    ret: Num,
    /// Some argument may be bytes, which are copied in.
    copies: bool,
    /// In wasm, the export of the current instance, kept by the first call.
    wasm: std::cell::Cell<Option<wasm::ScalarFunc>>,
}

/// A number's conversion between a Python value and a raw 64-bit slot, in 64-bit arithmetic:
/// the same bits as [`mask_int`] on the slot's low 64 bits, without i128 shifts per call.
#[derive(Clone, Copy)]
enum Num {
    /// A signed integer: sign-extend from the low `64 - shift` bits.
    Signed(u8),
    /// An unsigned integer: keep the low `64 - shift` bits.
    Unsigned(u8),
    /// `c_bool`: any non-zero value is 1.
    Bool,
    F32,
    F64,
    /// An address (`POINTER(T)`, an array): None is NULL, an int is an address masked to the
    /// low `64 - shift` bits, a pointer must be into this library.
    Address(u8),
    /// An address that may also be given as bytes (`c_char_p`, `c_void_p`), which are copied
    /// in and their address passed.
    AddressOrBytes(u8),
    /// No result (and the filler of unused argument entries).
    Void,
}

impl Num {
    fn of(r: Repr) -> Num {
        match r {
            Repr::Int(n) => Num::Signed(64 - 8 * n),
            Repr::UInt(n) => Num::Unsigned(64 - 8 * n),
            Repr::Bool => Num::Bool,
            Repr::F32 => Num::F32,
            Repr::F64 => Num::F64,
            Repr::Void => Num::Void,
        }
    }

    /// The slot for `v` in a call into library `lib`, or `None` if `v` is not a plain number
    /// or address of this kind (bytes are copied by the caller, not here).
    #[inline(always)]
    fn slot(self, v: &Value, lib: LibId) -> Option<u64> {
        Some(match (self, v) {
            (Num::F64, Value::Float(x)) => x.to_bits(),
            (Num::F32, Value::Float(x)) => (*x as f32).to_bits() as u64,
            (Num::Signed(shift), Value::Int(i)) => (((*i as u64) << shift) as i64 >> shift) as u64,
            (Num::Unsigned(shift), Value::Int(i)) => *i as u64 & (u64::MAX >> shift),
            (Num::Bool, Value::Int(i)) => (*i != 0) as u64,
            (Num::Address(_) | Num::AddressOrBytes(_), Value::Pointer(p)) if p.lib == lib => p.addr,
            (Num::Address(_) | Num::AddressOrBytes(_), Value::None) => 0,
            (Num::Address(shift) | Num::AddressOrBytes(shift), Value::Int(i)) => {
                *i as u64 & (u64::MAX >> shift)
            }
            _ => return None,
        })
    }

    /// The Python value of a raw result slot: what [`convert_result`] gives for this type.
    #[inline(always)]
    fn value(self, raw: u64) -> Value {
        match self {
            Num::Signed(shift) => Value::Int(((raw << shift) as i64 >> shift) as i128),
            Num::Unsigned(shift) => Value::Int((raw & (u64::MAX >> shift)) as i128),
            Num::Bool => Value::Bool(raw as u8 != 0),
            Num::F32 => Value::Float(f32::from_bits(raw as u32) as f64),
            Num::F64 => Value::Float(f64::from_bits(raw)),
            // Not a result kind (see `scalar_call`); the address as an int.
            Num::Address(shift) | Num::AddressOrBytes(shift) => {
                Value::Int((raw & (u64::MAX >> shift)) as i128)
            }
            Num::Void => Value::None,
        }
    }
}

/// How to load a library.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Capture the library's stdout and stderr (drained with [`CDLL::take_output`]) instead of
    /// passing them through. Default: captured in wasm, passed through natively (as ctypes).
    pub capture_output: Option<bool>,
    /// ctypes' `use_errno=True`: around every call, the library's `errno` is swapped with a
    /// private copy that [`CDLL::get_errno`] and [`CDLL::set_errno`] read and write.
    pub use_errno: bool,
    /// The wasm sandbox's limits and grants (ignored natively).
    pub sandbox: crate::sandbox::Sandbox,
}

/// The shared state of a loaded library. Functions and memory objects keep it alive.
pub(crate) struct LibInner {
    pub(crate) id: LibId,
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) kind: BackendKind,
    pub(crate) model: DataModel,
    pub(crate) backend: RefCell<AnyBackend>,
    /// With `use_errno`: where the library's errno lives, and the private copy.
    pub(crate) errno: Option<(u64, std::cell::Cell<i32>)>,
    /// A block of the library's memory (0 until first needed) that holds one call's
    /// temporaries (copied strings, structures by value) instead of a malloc and free each.
    scratch: std::cell::Cell<u64>,
}

/// Size of a library's scratch block for call temporaries; larger ones get their own malloc.
const SCRATCH: usize = 4096;

impl Drop for LibInner {
    fn drop(&mut self) {
        let scratch = self.scratch.get();
        if scratch != 0 {
            let _ = self.backend.get_mut().free(scratch);
        }
    }
}

impl LibInner {
    /// The scalar call of both fast paths ([`Function::call`]'s and
    /// [`TypedFunction::call`](crate::TypedFunction::call)): the arguments already in their
    /// slots, the raw result slot back, the error boxed so that the result comes back in
    /// registers. The busy library and `use_errno` are out of line.
    #[inline(always)]
    pub(crate) fn call_scalar(
        &self,
        proto: ProtoId,
        slots: &[u64],
    ) -> std::result::Result<u64, Box<Error>> {
        if self.errno.is_none() {
            if let Ok(mut backend) = self.backend.try_borrow_mut() {
                return match &mut *backend {
                    AnyBackend::Wasm(w) => w.call_scalar(proto, slots),
                    AnyBackend::Native(n) => n.call_scalar_inline(proto, slots),
                };
            }
        }
        self.call_scalar_slow(proto, slots)
    }

    /// [`Function::call`]'s fast path: the arguments converted by the plan `s` straight into
    /// the backend's own argument slots, the call, the result converted. `None` (before any
    /// call) when an argument is not a plain number or address of its declared kind, the
    /// library is busy, or the wasm prototype is not scalar: the general path then converts,
    /// rejects or reports them.
    #[inline(always)]
    fn call_values(&self, s: &ScalarCall, args: &[Value]) -> Option<Result<Value>> {
        // A plan is only made without `use_errno` (see `Function::scalar_call`).
        if args.len() != s.n {
            return None;
        }
        let lib = self.id;
        let mut backend = self.backend.try_borrow_mut().ok()?;
        let outcome = match &mut *backend {
            AnyBackend::Wasm(w) => {
                let func = w.cached_scalar_func(&s.wasm, s.proto, s.n)?;
                let mut slots = [MaybeUninit::uninit(); wasm::SCALAR_SLOTS];
                for ((slot, num), v) in slots.iter_mut().zip(&s.args).zip(args) {
                    slot.write(wasmtime::ValRaw::u64(num.slot(v, lib)?));
                }
                // SAFETY: the loop wrote one slot per argument (`args.len() == s.n`), each
                // the argument's bits at its declared type's width (`ScalarCall`), which is
                // the prototype's parameter type (`scalar_func`).
                unsafe { w.call_slots(func, &mut slots, s.n) }
            }
            AnyBackend::Native(n) => {
                let mut slots = [MaybeUninit::uninit(); SCALAR_MAX];
                let slots = Function::scalar_slots(s, lib, args, &mut slots)?;
                n.call_scalar_inline(s.proto, slots)
            }
        };
        Some(match outcome {
            Ok(raw) => Ok(s.ret.value(raw)),
            Err(e) => Err(*e),
        })
    }

    /// A wasm `TypedFunc` call ([`TypedFunction::call`](crate::TypedFunction::call)'s in
    /// wasm); `None` when it cannot be made here (a busy library, `use_errno`, a library reset
    /// since the `TypedFunc` was made) and the scalar path must.
    #[inline(always)]
    pub(crate) fn call_wasm_typed<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &self,
        typed: &crate::backend::wasm::WasmTyped<P, R>,
        params: P,
    ) -> Option<std::result::Result<R, Box<Error>>> {
        if self.errno.is_some() {
            return None;
        }
        let mut backend = self.backend.try_borrow_mut().ok()?;
        backend.as_wasm()?.call_typed(typed, params)
    }

    /// [`LibInner::call_scalar`] for a busy library or one with `use_errno`: errno is swapped
    /// with the private copy around the call.
    #[cold]
    #[inline(never)]
    fn call_scalar_slow(
        &self,
        proto: ProtoId,
        slots: &[u64],
    ) -> std::result::Result<u64, Box<Error>> {
        let mut backend = self.backend().map_err(Box::new)?;
        let b: &mut dyn Backend = &mut **backend;
        let Some((addr, private)) = &self.errno else {
            return b.call_scalar(proto, slots);
        };
        b.write(*addr, &private.get().to_le_bytes())?;
        let outcome = b.call_scalar(proto, slots);
        let mut now = [0u8; 4];
        b.read(*addr, &mut now)?;
        private.set(i32::from_le_bytes(now));
        outcome
    }

    /// Borrows the backend; a re-entrant use (from inside a call) is an error, not a panic.
    #[inline]
    pub(crate) fn backend(&self) -> Result<std::cell::RefMut<'_, AnyBackend>> {
        self.backend.try_borrow_mut().map_err(|_| {
            Error::Runtime(format!(
                "{}: library is busy in another call (re-entrant use)",
                self.name
            ))
        })
    }
}

/// A loaded C library: ctypes' `CDLL`. Cloning gives another handle on the same library.
#[derive(Clone)]
pub struct CDLL {
    pub(crate) inner: Rc<LibInner>,
}

impl std::fmt::Debug for CDLL {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<CDLL '{}' ({}), id {}>",
            self.inner.path.display(),
            self.inner.kind,
            self.inner.id
        )
    }
}

impl CDLL {
    /// Loads `path` with the given backend: a `.wasm` reactor module for [`BackendKind::Wasm`],
    /// a shared object for [`BackendKind::Native`]. ctypes: `CDLL(path)`.
    ///
    /// A missing file, or one that is not a module / shared object, is [`Error::OsError`].
    pub fn open(path: impl AsRef<Path>, kind: BackendKind) -> Result<CDLL> {
        CDLL::open_with(path, kind, &LoadOptions::default())
    }

    /// Loads `path` with explicit [`LoadOptions`].
    pub fn open_with(
        path: impl AsRef<Path>,
        kind: BackendKind,
        options: &LoadOptions,
    ) -> Result<CDLL> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let path = path.as_ref();
        let mut backend = AnyBackend::open(kind, path, options)?;
        let errno = if options.use_errno {
            Some((backend.errno_location()?, std::cell::Cell::new(0)))
        } else {
            None
        };
        Ok(CDLL {
            inner: Rc::new(LibInner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                path: path.to_path_buf(),
                kind,
                model: backend.data_model(),
                backend: RefCell::new(backend),
                errno,
                scratch: std::cell::Cell::new(0),
            }),
        })
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
        &self.inner.path
    }

    /// A unique id, carried by every pointer into this library's memory.
    pub fn id(&self) -> LibId {
        self.inner.id
    }

    /// Looks up a function: ctypes' `lib.name` / `lib["name"]`. Its restype is `c_int` and its
    /// argtypes are unset, as in ctypes. A missing symbol is [`Error::AttributeError`].
    pub fn function(&self, name: &str) -> Result<Function> {
        if !self.inner.backend()?.has_function(name) {
            return Err(Error::AttributeError {
                library: self.inner.path.display().to_string(),
                symbol: name.to_string(),
            });
        }
        Ok(Function {
            lib: self.inner.clone(),
            name: name.to_string(),
            argtypes: None,
            restype: Type::Simple(CType::Int),
            proto: std::cell::Cell::new(None),
            scalar: std::cell::OnceCell::new(),
            inferred: RefCell::new(None),
        })
    }

    /// The address of an exported data symbol (ctypes' `c_int.in_dll(lib, name)` reads there).
    pub fn data_address(&self, name: &str) -> Result<u64> {
        self.inner.backend()?.data_address(name)
    }

    /// Re-instantiates a wasm library from its (cached) module: memory, globals and table are
    /// as after loading. Use it after a trap that may have left the guest's state broken
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
    pub fn load_stats(&self) -> Option<(crate::backend::engine::LoadSource, std::time::Duration)> {
        self.inner.backend().ok()?.load_stats()
    }

    /// `ctypes.get_errno()`: the private copy of errno, as the last call left it. Needs
    /// [`LoadOptions::use_errno`] (TypeError otherwise).
    pub fn get_errno(&self) -> Result<i32> {
        match &self.inner.errno {
            Some((_, private)) => Ok(private.get()),
            None => Err(Error::TypeError(
                "the library was not loaded with use_errno".into(),
            )),
        }
    }

    /// `ctypes.set_errno(value)`: sets the private copy that the next call starts with, and
    /// returns the old one.
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
        Ok(self.inner.backend()?.info())
    }

    /// Reads `len` bytes of the library's memory at `addr` (`ctypes.string_at(addr, len)`).
    /// Bounds-checked in wasm.
    pub fn read(&self, addr: u64, len: usize) -> Result<Vec<u8>> {
        let mut out = vec![0; len];
        self.inner.backend()?.read(addr, &mut out)?;
        Ok(out)
    }

    /// Writes bytes into the library's memory at `addr`. Bounds-checked in wasm.
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<()> {
        self.inner.backend()?.write(addr, data)
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

fn read_string(b: &mut dyn Backend, addr: u64) -> Result<Vec<u8>> {
    let n = b.strlen(addr, 1)?;
    let mut out = vec![0; n];
    b.read(addr, &mut out)?;
    Ok(out)
}

pub(crate) fn read_wstring(b: &mut dyn Backend, addr: u64) -> Result<String> {
    let n = b.strlen(addr, 4)?;
    let mut raw = vec![0; n * 4];
    b.read(addr, &mut raw)?;
    Ok(crate::memory::decode_wide(&raw))
}

/// A function of a library with its prototype: ctypes' `_FuncPtr`.
///
/// The prototype is prepared once, on the first call after argtypes or restype were set (a
/// libffi CIF natively, a resolved and type-checked export in wasm); later calls reuse it.
/// Without argtypes, the prototype is inferred from the arguments as ctypes does (int →
/// `c_int`, bytes → `c_char_p`, str → `c_wchar_p`, None → NULL) and prepared once per distinct
/// inferred signature. Arguments beyond the declared argtypes make the call variadic.
pub struct Function {
    lib: Rc<LibInner>,
    name: String,
    argtypes: Option<Vec<Type>>,
    restype: Type,
    proto: std::cell::Cell<Option<ProtoId>>,
    /// Set once the declared prototype is prepared, when it qualifies for the fast path.
    scalar: std::cell::OnceCell<ScalarCall>,
    inferred: RefCell<Option<(Vec<Repr>, ProtoId)>>,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<CFunction {} of {}>", self.name, self.lib.name)
    }
}

/// `part`, all of whose elements were written.
///
/// # Safety
/// Every element of `part` is initialised.
unsafe fn assume_init<T>(part: &[MaybeUninit<T>]) -> &[T] {
    // SAFETY: `MaybeUninit<T>` has `T`'s layout, and the caller promises every element is
    // initialised.
    unsafe { &*(part as *const [MaybeUninit<T>] as *const [T]) }
}

/// A call's converted arguments: raw slots, their representations, and temporaries to free.
/// Only the entries in use are written: filling the arrays up front (about 600 bytes) cost
/// a quarter of a general call's own time.
struct Converted {
    /// `slots[..len]` and `reprs[..len]` are written.
    slots: [MaybeUninit<u64>; MAX_ARGS],
    reprs: [MaybeUninit<Repr>; MAX_ARGS],
    len: usize,
    /// `temps[..ntemps]` are written.
    temps: [MaybeUninit<u64>; MAX_ARGS + 1],
    ntemps: usize,
    /// Bytes of the library's scratch block this call has used.
    scratch_used: usize,
}

impl Converted {
    fn new() -> Converted {
        Converted {
            slots: [MaybeUninit::uninit(); MAX_ARGS],
            reprs: [MaybeUninit::uninit(); MAX_ARGS],
            len: 0,
            temps: [MaybeUninit::uninit(); MAX_ARGS + 1],
            ntemps: 0,
            scratch_used: 0,
        }
    }

    /// Appends the next argument. At most [`MAX_ARGS`] (checked by the caller).
    fn push(&mut self, repr: Repr, bits: u64) {
        self.slots[self.len].write(bits);
        self.reprs[self.len].write(repr);
        self.len += 1;
    }

    fn slots(&self) -> &[u64] {
        // SAFETY: `push` wrote `slots[..len]`.
        unsafe { assume_init(&self.slots[..self.len]) }
    }

    fn reprs(&self) -> &[Repr] {
        // SAFETY: `push` wrote `reprs[..len]`.
        unsafe { assume_init(&self.reprs[..self.len]) }
    }

    /// Records a block to free after the call: one per argument at most, plus the result.
    fn add_temp(&mut self, addr: u64) {
        self.temps[self.ntemps].write(addr);
        self.ntemps += 1;
    }

    fn temps(&self) -> &[u64] {
        // SAFETY: `add_temp` wrote `temps[..ntemps]`.
        unsafe { assume_init(&self.temps[..self.ntemps]) }
    }
}

fn passing(t: &Type, m: DataModel) -> Passing {
    match t {
        Type::Struct(s) => Passing::Struct(s.clone()),
        other => Passing::Scalar(other.call_repr(m).unwrap_or(Repr::Void)),
    }
}

impl Function {
    /// The symbol name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The declared argument types, if set.
    pub fn argtypes(&self) -> Option<&[Type]> {
        self.argtypes.as_deref()
    }

    /// The declared result type (`c_int` unless set).
    pub fn restype(&self) -> &Type {
        &self.restype
    }

    /// `f.argtypes = [...]`: declares the argument types (fundamental types, `POINTER(T)`,
    /// structures by value).
    pub fn set_argtypes<T: Into<Type> + Clone>(&mut self, types: &[T]) -> Result<&mut Self> {
        let types: Vec<Type> = types.iter().cloned().map(Into::into).collect();
        if let Some(i) = types.iter().position(|t| *t == Type::Simple(CType::Void)) {
            return Err(Error::TypeError(format!(
                "argtypes item {}: None/void is not an argument type",
                i + 1
            )));
        }
        self.argtypes = Some(types);
        self.invalidate();
        Ok(self)
    }

    /// `f.restype = t`: declares the result type (`CType::Void` for `None`).
    pub fn set_restype(&mut self, t: impl Into<Type>) -> Result<&mut Self> {
        let t = t.into();
        if let Type::Array(..) = t {
            return Err(Error::TypeError("a function cannot return an array".into()));
        }
        self.restype = t;
        self.invalidate();
        Ok(self)
    }

    /// wasmtime's `Func::typed`, for C: checks the declared argtypes and restype against the
    /// Rust signature `fn(P) -> R` and prepares the prototype now. The types must be numbers
    /// (integers, `c_char`, `c_bool`, `c_float`, `c_double`) whose representation in this
    /// library's data model is the Rust type's: `c_int` is `i32`, `c_long` is `i32` in wasm
    /// and `i64` natively, `c_ubyte` is `u8`. Pointers and structures stay with [`call`].
    ///
    /// [`call`]: Function::call
    pub fn typed<P: Params, R: Results>(&self) -> Result<TypedFunction<P, R>> {
        let types = self.argtypes.as_deref().ok_or_else(|| {
            Error::TypeError(format!("{}: set argtypes before typed()", self.name))
        })?;
        let number = |t: &Type, what: &str, void_ok: bool| match (t, number_type(t)) {
            (Type::Simple(CType::Void), _) if void_ok => Ok(CType::Void),
            (_, Some(c)) => Ok(c),
            (other, None) => Err(Error::TypeError(format!(
                "{}: the {what} is {other:?}, not a number; call() takes it",
                self.name
            ))),
        };
        let mut args = Vec::with_capacity(types.len());
        for (i, t) in types.iter().enumerate() {
            args.push(number(t, &format!("argument {}", i + 1), false)?);
        }
        let ret = number(&self.restype, "result", true)?;
        check_signature::<P, R>(&self.name, self.lib.model, &args, ret)?;
        let mut backend = self.lib.backend()?;
        let proto = self.declared_proto(&mut **backend, types)?;
        let wasm = backend
            .as_wasm()
            .and_then(|w| w.typed_func::<P::Wasm, R::Wasm>(proto));
        Ok(TypedFunction::new(
            self.lib.clone(),
            self.name.clone(),
            proto,
            wasm,
        ))
    }

    /// How the declared prototype is called, once a call has prepared it: natively `libffi`
    /// or a register shim such as `shim(2 int, 1 float) -> float`, in wasm `call_unchecked`.
    /// `None` before the first call or without argtypes.
    pub fn call_path(&self) -> Option<String> {
        let p = self.proto.get()?;
        let b = self.lib.backend().ok()?;
        Some(b.describe_call(p))
    }

    /// Forgets the prepared prototypes; the next call prepares again, once.
    fn invalidate(&mut self) {
        *self.inferred.get_mut() = None;
        self.proto.set(None);
        self.scalar = std::cell::OnceCell::new();
    }

    /// The prototype for exactly the declared argtypes, prepared on first use.
    fn declared_proto(&self, b: &mut dyn Backend, types: &[Type]) -> Result<ProtoId> {
        if let Some(p) = self.proto.get() {
            return Ok(p);
        }
        let m = self.lib.model;
        let args: Vec<Passing> = types.iter().map(|t| passing(t, m)).collect();
        let p = b.prepare(&self.name, &args, &passing(&self.restype, m), None)?;
        self.proto.set(Some(p));
        if let Some(s) = self.scalar_call(p, types) {
            let _ = self.scalar.set(s);
        }
        Ok(p)
    }

    /// The fast-path plan for the declared prototype `proto`, if every argument is a number
    /// (an integer type, `c_char`, `c_bool`, `c_float` or `c_double`) or an address
    /// (`c_void_p`, `c_char_p`, `POINTER(T)`, an array), the result is a number or void, and
    /// errno is not swapped around calls. Results that make objects (`c_char` as bytes,
    /// `c_char_p`, `c_void_p`'s None for NULL) take the general path, and so do `c_wchar`
    /// and `c_wchar_p` arguments (a str, encoded per call) and structures.
    fn scalar_call(&self, proto: ProtoId, types: &[Type]) -> Option<ScalarCall> {
        let m = self.lib.model;
        let shift = match m.repr(CType::VoidP) {
            Repr::UInt(n) => 64 - 8 * n,
            _ => return None,
        };
        let number = |t: &Type| match t {
            Type::Simple(CType::CharP | CType::VoidP) => Some(Num::AddressOrBytes(shift)),
            Type::Pointer(_) | Type::Array(..) => Some(Num::Address(shift)),
            // c_wchar takes a one-character str, not an int.
            _ => number_type(t)
                .filter(|c| *c != CType::WChar)
                .map(|c| Num::of(m.repr(c))),
        };
        let Type::Simple(restype) = self.restype else {
            return None;
        };
        if types.len() > SCALAR_MAX || self.lib.errno.is_some() {
            return None;
        }
        let mut args = [Num::Void; SCALAR_MAX];
        for (slot, t) in args.iter_mut().zip(types) {
            *slot = number(t)?;
        }
        let ret = match restype {
            CType::Char | CType::WChar | CType::CharP | CType::WCharP | CType::VoidP => {
                return None
            }
            t => Num::of(m.repr(t)),
        };
        let copies = args.iter().any(|a| matches!(a, Num::AddressOrBytes(_)));
        Some(ScalarCall {
            proto,
            n: types.len(),
            args,
            ret,
            copies,
            wasm: std::cell::Cell::new(None),
        })
    }

    /// Converts the arguments for the fast path into `slots`; false when they are not plain
    /// numbers of the declared kinds, and the general path must convert (or reject) them.
    /// Each conversion is the general path's own for that pair of type and value.
    #[inline(always)]
    fn scalar_slots<'s>(
        s: &ScalarCall,
        lib: LibId,
        args: &[Value],
        slots: &'s mut [MaybeUninit<u64>; SCALAR_MAX],
    ) -> Option<&'s [u64]> {
        if args.len() != s.n {
            return None;
        }
        for ((slot, num), v) in slots.iter_mut().zip(&s.args).zip(args) {
            slot.write(num.slot(v, lib)?);
        }
        // SAFETY: the loop wrote `slots[..s.n]` (`args.len() == s.n <= SCALAR_MAX`).
        Some(unsafe { assume_init(&slots[..s.n]) })
    }

    /// Calls the function: ctypes' `f(*args)`.
    ///
    /// Each argument is converted to its declared type (or inferred, without argtypes); bytes
    /// and str are copied into the library's memory for the duration of the call, and so is a
    /// structure passed by value. The result is converted from the restype: `c_char_p` reads
    /// the string, `c_void_p` gives the address (None for NULL), `POINTER(T)` a
    /// [`Value::Pointer`], a structure a [`Value::Struct`] copied out, integers are masked.
    #[inline(always)]
    pub fn call(&self, args: &[Value]) -> Result<Value> {
        if let Some(s) = self.scalar.get() {
            if let Some(outcome) = self.lib.call_values(s, args) {
                return outcome;
            }
        }
        // The general path writes its result through a pointer rather than into this
        // function's return slot. Returned directly, it would make the (inlined) return slot
        // a memory location that escapes, so the fast path's `Value` would be stored there
        // field by field and then copied out with 16-byte loads: a store-forwarding stall
        // that cost about 8 ns per call (`void f(void)` natively: 20 ns with it, 12 without).
        //
        // The read is volatile so that it stays on this path. A plain read can be hoisted
        // above the branch: the fast path's `Value` leaves bytes undefined (an `Int` has no
        // use for the bytes of a `Bytes`), and the compiler then fills them from `out`, whose
        // stack slot may hold narrower stores just made (a 16-byte load of two 8-byte stores,
        // a stall: 1.5 ns of a native `void f(void)` called in a loop, perf on that loop).
        let mut out = MaybeUninit::uninit();
        self.call_general_into(args, &mut out);
        // SAFETY: `call_general_into` always writes `out`; the read is of a local, aligned.
        unsafe { std::ptr::read_volatile(&out).assume_init() }
    }

    /// [`Function::call_general`] written into `out` (see [`Function::call`] for why). The
    /// general path is inlined here so that its results are written into `out` directly: a
    /// copy of a returned `Result<Value>` reads it back in 16-byte pieces just after it was
    /// written in 8-byte ones, another store-forwarding stall (about 5 ns per `strlen` call).
    #[inline(never)]
    fn call_general_into(&self, args: &[Value], out: &mut MaybeUninit<Result<Value>>) {
        if let Some(s) = self.scalar.get().filter(|s| s.copies) {
            // Each outcome is written where it is made, not merged into one `Result` first.
            match self.call_scalar_copying(s, args) {
                Some(Ok(raw)) => {
                    out.write(Ok(s.ret.value(raw)));
                    return;
                }
                Some(Err(e)) => {
                    out.write(Err(*e));
                    return;
                }
                None => {}
            }
        }
        out.write(self.call_general(args));
    }

    /// Every call the scalar fast path does not take: inferred prototypes, pointers, strings,
    /// structures, variadic arguments, errno, and arguments that need ctypes' conversions or
    /// are rejected by them. Inlined into [`Function::call_general_into`], its one caller,
    /// which is out of line so that the fast path stays small.
    #[inline(always)]
    fn call_general(&self, args: &[Value]) -> Result<Value> {
        let lib = &*self.lib;
        let declared = self.argtypes.as_deref().unwrap_or(&[]);
        if self.argtypes.is_some() && args.len() < declared.len() {
            return Err(Error::ArgumentError {
                position: None,
                message: format!(
                    "this function takes at least {} argument{} ({} given)",
                    declared.len(),
                    if declared.len() == 1 { "" } else { "s" },
                    args.len()
                ),
            });
        }
        if args.len() > MAX_ARGS {
            return Err(Error::ArgumentError {
                position: None,
                message: format!(
                    "too many arguments ({} given, at most {MAX_ARGS})",
                    args.len()
                ),
            });
        }
        let mut backend = lib.backend()?;
        let b: &mut dyn Backend = &mut **backend;
        let mut cv = Converted::new();
        let result = self.call_converted(b, args, declared, &mut cv);
        for &t in cv.temps() {
            let _ = b.free(t);
        }
        result
    }

    /// The scalar call of a prototype with bytes among its arguments (`c_char_p`, `c_void_p`):
    /// each is copied into the library's memory as the general path does (into the scratch
    /// block while it has room), and the call is [`Backend::call_scalar`]'s. `None` when an
    /// argument needs the general path's conversions or errors, or the library is busy.
    fn call_scalar_copying(
        &self,
        s: &ScalarCall,
        args: &[Value],
    ) -> Option<std::result::Result<u64, Box<Error>>> {
        if args.len() != s.n {
            return None;
        }
        let lib = &*self.lib;
        let mut backend = lib.backend.try_borrow_mut().ok()?;
        let b: &mut dyn Backend = &mut **backend;
        let mut cv = Converted::new();
        let outcome = (|| {
            let mut slots = [MaybeUninit::uninit(); SCALAR_MAX];
            for ((slot, num), v) in slots.iter_mut().zip(&s.args).zip(args) {
                let bits = match (num, v) {
                    (Num::AddressOrBytes(_), Value::Bytes(data)) => {
                        match temporary(b, lib, data, 1, &mut cv) {
                            Ok(addr) => addr,
                            Err(e) => return Some(Err(Box::new(e))),
                        }
                    }
                    _ => num.slot(v, lib.id)?,
                };
                slot.write(bits);
            }
            // SAFETY: the loop wrote `slots[..s.n]` (`args.len() == s.n <= SCALAR_MAX`).
            let slots = unsafe { assume_init(&slots[..s.n]) };
            Some(b.call_scalar(s.proto, slots))
        })();
        for &t in cv.temps() {
            let _ = b.free(t);
        }
        outcome
    }

    fn call_converted(
        &self,
        b: &mut dyn Backend,
        args: &[Value],
        declared: &[Type],
        cv: &mut Converted,
    ) -> Result<Value> {
        let n = args.len();
        let m = self.lib.model;
        let variadic_from = self.argtypes.as_ref().map(Vec::len);
        for (i, v) in args.iter().enumerate() {
            let (mut repr, mut bits) = convert_arg(b, &self.lib, i + 1, declared.get(i), v, cv)?;
            if variadic_from.is_some_and(|f| i >= f) {
                (repr, bits) = promote(repr, bits);
            }
            cv.push(repr, bits);
        }
        let proto = match &self.argtypes {
            Some(types) if n == types.len() => self.declared_proto(b, types)?,
            _ => {
                let fixed = self.argtypes.as_ref().map(|d| d.len());
                let mut cache = self.inferred.borrow_mut();
                match &*cache {
                    Some((reprs, p)) if reprs[..] == *cv.reprs() => *p,
                    _ => {
                        let args: Vec<Passing> = (0..n)
                            .map(|i| match declared.get(i) {
                                Some(t) => passing(t, m),
                                None => Passing::Scalar(cv.reprs()[i]),
                            })
                            .collect();
                        let p = b.prepare(&self.name, &args, &passing(&self.restype, m), fixed)?;
                        *cache = Some((cv.reprs().to_vec(), p));
                        p
                    }
                }
            }
        };
        let ret_addr = match &self.restype {
            Type::Struct(s) => {
                // Room for the result; libffi may store whole registers, so at least 16 bytes.
                let size = s.layout(m).size.max(16);
                let addr = b.malloc(size)?;
                cv.add_temp(addr);
                addr
            }
            _ => 0,
        };
        // use_errno: the call runs with the private errno, which then takes what C left.
        if let Some((addr, private)) = &self.lib.errno {
            b.write(*addr, &private.get().to_le_bytes())?;
        }
        let outcome = b.call(proto, cv.slots(), ret_addr);
        if let Some((addr, private)) = &self.lib.errno {
            let mut now = [0u8; 4];
            b.read(*addr, &mut now)?;
            private.set(i32::from_le_bytes(now));
        }
        // A callback's own error is the call's error, on both backends.
        if let Some(e) = b.take_callback_error() {
            return Err(e);
        }
        let raw = outcome?;
        match &self.restype {
            Type::Simple(t) => convert_result(b, m, *t, raw),
            Type::Pointer(_) => Ok(Value::Pointer(Pointer {
                lib: self.lib.id,
                addr: int_from_bits(raw, m.repr(CType::VoidP)) as u64,
            })),
            Type::Struct(s) => {
                let mut bytes = vec![0; s.layout(m).size];
                b.read(ret_addr, &mut bytes)?;
                Ok(Value::Struct(StructValue::from_bytes(s, m, &bytes)?))
            }
            Type::Array(..) => Err(Error::TypeError("a function cannot return an array".into())),
        }
    }
}

/// The fundamental type of `t` if it is a number: any simple type but the pointers and void.
fn number_type(t: &Type) -> Option<CType> {
    match t {
        Type::Simple(CType::CharP | CType::WCharP | CType::VoidP | CType::Void) => None,
        Type::Simple(c) => Some(*c),
        _ => None,
    }
}

/// C's default argument promotions, applied to variadic arguments: integers narrower than
/// `int` become `int`, `float` becomes `double`.
fn promote(repr: Repr, bits: u64) -> (Repr, u64) {
    match repr {
        Repr::Bool | Repr::Int(1 | 2) | Repr::UInt(1 | 2) => {
            (Repr::Int(4), int_from_bits(bits, repr) as u64)
        }
        Repr::F32 => (Repr::F64, (f32::from_bits(bits as u32) as f64).to_bits()),
        other => (other, bits),
    }
}

fn wrong_type(position: usize, expected: CType, got: &Value) -> Error {
    Error::arg(
        position,
        format!(
            "TypeError: wrong type: expected {expected}, got {}",
            got.py_type()
        ),
    )
}

/// Copies `data` and then `nul` zero bytes into the library's memory for the duration of a
/// call: into the library's scratch block while it has room (16-byte aligned), otherwise into
/// a block of its own that is freed after the call. As with ctypes' temporaries, C must not
/// keep the pointer past the call.
fn temporary(
    b: &mut dyn Backend,
    lib: &LibInner,
    data: &[u8],
    nul: usize,
    cv: &mut Converted,
) -> Result<u64> {
    let size = data.len() + nul;
    let start = cv.scratch_used.next_multiple_of(16);
    let addr = if start + size <= SCRATCH {
        let base = match lib.scratch.get() {
            0 => {
                let base = b.malloc(SCRATCH)?;
                lib.scratch.set(base);
                base
            }
            base => base,
        };
        cv.scratch_used = start + size;
        base + start as u64
    } else {
        let addr = b.malloc(size)?;
        cv.add_temp(addr);
        addr
    };
    b.write_terminated(addr, data, nul)?;
    Ok(addr)
}

/// Converts one argument to its raw slot, following ctypes' rules for `declared` (or its
/// inference rules when there is no declared type).
fn convert_arg(
    b: &mut dyn Backend,
    lib: &LibInner,
    position: usize,
    declared: Option<&Type>,
    v: &Value,
    cv: &mut Converted,
) -> Result<(Repr, u64)> {
    let m = lib.model;
    let pointer = m.repr(CType::VoidP);
    let own_pointer = |p: &Pointer| -> Result<u64> {
        if p.lib != lib.id {
            return Err(Error::arg(
                position,
                format!(
                    "ValueError: pointer 0x{:x} belongs to another library's memory (library id {}), not {} (id {})",
                    p.addr, p.lib, lib.name, lib.id
                ),
            ));
        }
        Ok(p.addr)
    };
    let address = |i: i128| -> u64 { mask_int(i, pointer) as u64 };
    let declared = match declared {
        None => None,
        Some(Type::Simple(t)) => Some(*t),
        Some(Type::Pointer(_) | Type::Array(..)) => {
            // POINTER(T): a pointer into this library, an address, or NULL.
            let bits = match v {
                Value::None => 0,
                Value::Int(i) => address(*i),
                Value::Pointer(p) => own_pointer(p)?,
                other => return Err(wrong_type(position, CType::VoidP, other)),
            };
            return Ok((pointer, bits));
        }
        Some(Type::Struct(s)) => {
            // By value: the bytes are copied into the library's memory for the call.
            let bytes = match v {
                Value::Struct(sv) if sv.ty().name() == s.name() && sv.model() == m => {
                    sv.bytes().to_vec()
                }
                Value::Pointer(p) => {
                    let mut bytes = vec![0; s.layout(m).size];
                    b.read(own_pointer(p)?, &mut bytes)?;
                    bytes
                }
                other => {
                    return Err(Error::arg(
                        position,
                        format!(
                            "TypeError: expected {} instance, got {}",
                            s.name(),
                            other.py_type()
                        ),
                    ))
                }
            };
            return Ok((pointer, temporary(b, lib, &bytes, 0, cv)?));
        }
    };
    if let Value::Typed(t, inner) = v {
        // A ctypes instance (`c_double(2.5)`): its own type, which must match a declared one.
        if declared.is_some_and(|d| d != *t) {
            return Err(wrong_type(position, declared.unwrap_or(*t), v));
        }
        return convert_arg(b, lib, position, Some(&Type::Simple(*t)), inner, cv);
    }
    let Some(t) = declared else {
        // ctypes' conversions for arguments without argtypes.
        return Ok(match v {
            Value::Int(i) => {
                if *i < i64::MIN as i128 || *i > u64::MAX as i128 {
                    return Err(Error::arg(position, "OverflowError: int too long to convert"));
                }
                let r = m.repr(CType::Int);
                (r, mask_int(*i, r) as u64)
            }
            Value::Bool(x) => (m.repr(CType::Int), *x as u64),
            Value::None => (pointer, 0),
            Value::Bytes(bytes) => (pointer, temporary(b, lib, bytes, 1, cv)?),
            Value::Str(s) => (pointer, temporary(b, lib, &crate::memory::encode_wide(s), 0, cv)?),
            Value::Pointer(p) => (pointer, own_pointer(p)?),
            Value::Float(_) | Value::Struct(_) | Value::List(_) | Value::Typed(..) => {
                return Err(Error::arg(
                    position,
                    format!(
                        "TypeError: Don't know how to convert parameter {position} (a {} needs argtypes)",
                        v.py_type()
                    ),
                ))
            }
        });
    };
    let r = m.repr(t);
    let bits = match t {
        CType::Void => {
            return Err(Error::arg(
                position,
                "TypeError: void is not an argument type",
            ))
        }
        CType::Float | CType::Double => {
            let x = match v {
                Value::Float(x) => *x,
                Value::Int(i) => *i as f64,
                Value::Bool(x) => *x as u8 as f64,
                other => return Err(wrong_type(position, t, other)),
            };
            if t == CType::Float {
                (x as f32).to_bits() as u64
            } else {
                x.to_bits()
            }
        }
        CType::CharP | CType::WCharP | CType::VoidP => match v {
            Value::None => 0,
            Value::Int(i) => address(*i),
            Value::Pointer(p) => own_pointer(p)?,
            Value::Bytes(bytes) if t != CType::WCharP => temporary(b, lib, bytes, 1, cv)?,
            Value::Str(s) if t != CType::CharP => {
                temporary(b, lib, &crate::memory::encode_wide(s), 0, cv)?
            }
            other => return Err(wrong_type(position, t, other)),
        },
        CType::Char => match v {
            Value::Bytes(bytes) if bytes.len() == 1 => bytes[0] as u64,
            Value::Int(i) => mask_int(*i, r) as u64,
            other => {
                return Err(Error::arg(
                    position,
                    format!(
                        "TypeError: one character bytes, bytearray or integer expected, got {}",
                        other.py_type()
                    ),
                ))
            }
        },
        CType::WChar => match v {
            Value::Str(s) if s.chars().count() == 1 => s.chars().next().unwrap_or('\0') as u64,
            other => {
                return Err(Error::arg(
                    position,
                    format!(
                        "TypeError: unicode string of length 1 expected, got {}",
                        other.py_type()
                    ),
                ))
            }
        },
        CType::Bool => match v {
            Value::Int(i) => (*i != 0) as u64,
            Value::Bool(x) => *x as u64,
            Value::None => 0,
            Value::Float(x) => (*x != 0.0) as u64,
            Value::Bytes(x) => (!x.is_empty()) as u64,
            Value::Str(x) => (!x.is_empty()) as u64,
            Value::List(x) => (!x.is_empty()) as u64,
            Value::Pointer(_) | Value::Struct(_) | Value::Typed(..) => 1,
        },
        _ => match v.as_int() {
            Some(i) => mask_int(i, r) as u64,
            None => return Err(wrong_type(position, t, v)),
        },
    };
    Ok((r, bits))
}

/// Converts a raw result slot to a value of `restype`, as ctypes does.
pub(crate) fn convert_result(
    b: &mut dyn Backend,
    m: DataModel,
    restype: CType,
    raw: u64,
) -> Result<Value> {
    let r = m.repr(restype);
    Ok(match restype {
        CType::Void => Value::None,
        CType::Bool => Value::Bool(raw as u8 != 0),
        CType::Char => Value::Bytes(vec![raw as u8]),
        CType::WChar => Value::Str(char::from_u32(raw as u32).unwrap_or('\u{fffd}').to_string()),
        CType::Float => Value::Float(f32::from_bits(raw as u32) as f64),
        CType::Double => Value::Float(f64::from_bits(raw)),
        CType::CharP | CType::WCharP | CType::VoidP => {
            let addr = int_from_bits(raw, r) as u64;
            if addr == 0 {
                Value::None
            } else if restype == CType::CharP {
                Value::Bytes(read_string(b, addr)?)
            } else if restype == CType::WCharP {
                Value::Str(read_wstring(b, addr)?)
            } else {
                Value::Int(addr as i128)
            }
        }
        _ => Value::Int(int_from_bits(raw, r)),
    })
}
