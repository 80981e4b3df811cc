//! `wasmctypes._core`: the Python extension over the wasmctypes library.
//!
//! It exposes what the Python layer (`python/wasmctypes/`) builds ctypes' object model on: a
//! process (a wasm [`Sandbox`], or this process natively) with its libraries, their functions
//! (argument conversion, the call and the result all in Rust), blocks of memory owned by
//! Python objects, bounds-checked reads and writes, and callbacks. Every error becomes the
//! Python exception ctypes raises for it; a trap becomes `SandboxError`, an `OSError` that
//! carries the trap kind and the wasm backtrace.

use std::cell::Cell;
use std::ffi::{c_int, CString};
use std::rc::Rc;

use pyo3::create_exception;
use pyo3::exceptions::{
    PyAttributeError, PyException, PyIndexError, PyMemoryError, PyOSError, PyOverflowError,
    PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyString, PyTuple, PyType};

use wasmctypes::{
    BackendKind, CFuncType, CType, Callback, DataModel, Error, Field, LibId, LoadOptions, Memory,
    Pointer, Sandbox, StructType, StructValue, Type, Value, CDLL,
};

create_exception!(_core, ArgumentError, PyException);
create_exception!(_core, SandboxError, PyOSError);

/// The Python exception for a wasmctypes error, as ctypes raises it.
fn py_err(e: Error) -> PyErr {
    let message = e.message();
    match &e {
        Error::Trap {
            kind, backtrace, ..
        } => Python::attach(|py| {
            let err = SandboxError::new_err(format!("{}: {message}", kind.name()));
            let value = err.value(py);
            let _ = value.setattr("kind", kind.name());
            let _ = value.setattr("backtrace", backtrace.as_str());
            err
        }),
        Error::ArgumentError { .. } => ArgumentError::new_err(message),
        Error::AttributeError { .. } => PyAttributeError::new_err(message),
        Error::OsError { .. } | Error::Toolchain(_) | Error::Compile { .. } => {
            PyOSError::new_err(message)
        }
        _ => match e.kind() {
            "TypeError" | "WrongType" | "Signature" => PyTypeError::new_err(message),
            "ValueError" | "OutOfBounds" => PyValueError::new_err(message),
            "IndexError" => PyIndexError::new_err(message),
            "OverflowError" => PyOverflowError::new_err(message),
            "MemoryError" => PyMemoryError::new_err(message),
            _ => PyRuntimeError::new_err(format!("{}: {message}", e.kind())),
        },
    }
}

trait OrPy<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> OrPy<T> for wasmctypes::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(py_err)
    }
}

/// A ctypes type code (`_type_`: `i`, `L`, `z`, `P`, ...) as the C type it names.
fn ctype(code: &str) -> PyResult<CType> {
    Ok(match code {
        "?" => CType::Bool,
        "c" => CType::Char,
        "u" => CType::WChar,
        "b" => CType::Byte,
        "B" => CType::UByte,
        "h" => CType::Short,
        "H" => CType::UShort,
        "i" => CType::Int,
        "I" => CType::UInt,
        "l" => CType::Long,
        "L" => CType::ULong,
        "q" => CType::LongLong,
        "Q" => CType::ULongLong,
        "f" => CType::Float,
        "d" => CType::Double,
        "g" => CType::LongDouble,
        "z" => CType::CharP,
        "Z" => CType::WCharP,
        // py_object: a handle the Python layer keeps (a PyObject * natively), passed as a pointer.
        "P" | "O" => CType::VoidP,
        "n" => CType::SizeT,
        "N" => CType::SSizeT,
        "void" => CType::Void,
        // VARIANT_BOOL (ctypes.wintypes): a 16-bit boolean, -1 for true.
        "v" => CType::Short,
        other => {
            return Err(PyTypeError::new_err(format!(
                "unknown ctypes type code {other:?}"
            )))
        }
    })
}

/// A structure or union type as the core sees it, for calls that pass or return it by value
/// (the Python layer lays out memory itself; this describes it to libffi and to the wasm ABI).
#[pyclass(frozen, unsendable, module = "wasmctypes._core")]
struct StructDesc {
    ty: Rc<StructType>,
    model: DataModel,
}

#[pymethods]
impl StructDesc {
    /// `sizeof` of the type as the core lays it out.
    #[getter]
    fn size(&self) -> usize {
        self.ty.layout(self.model).size
    }
}

/// A type descriptor from the Python layer as a [`Type`]: a type code (`"i"`), a
/// [`StructDesc`], or `("A", descriptor, length)` for an array.
fn type_of(obj: &Bound<'_, PyAny>) -> PyResult<Type> {
    if let Ok(code) = obj.extract::<String>() {
        return Ok(ctype(&code)?.into());
    }
    if let Ok(desc) = obj.cast::<StructDesc>() {
        return Ok(Type::Struct(desc.borrow().ty.clone()));
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        if t.len() == 3 && t.get_item(0)?.extract::<String>()? == "A" {
            let elem = type_of(&t.get_item(1)?)?;
            let n: usize = t.get_item(2)?.extract()?;
            return Ok(Type::Array(Rc::new(elem), n));
        }
    }
    Err(PyTypeError::new_err(format!(
        "invalid type descriptor: {}",
        obj.repr()?
    )))
}

/// A Python argument as the [`Value`] the call converts: ints, floats, bytes, str, None,
/// bools; the Python layer passes objects as their address or value, an object's address as
/// `("&", address)` (a pointer into the memory of the process whose id is `lib`).
fn value(obj: &Bound<'_, PyAny>, lib: LibId) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::None);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(obj.extract()?));
    }
    if obj.is_instance_of::<PyInt>() {
        // i64 first: one C call under the limited API, where i128 goes through Python.
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Int(i as i128));
        }
        return Ok(Value::Int(obj.extract()?));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Value::Float(obj.extract()?));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        // One copy of the buffer (extracting a Vec<u8> would go item by item).
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(Value::Str(obj.extract()?));
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        // (StructDesc, bytes): a structure passed by value.
        if t.len() == 2 {
            if let Ok(desc) = t.get_item(0)?.cast::<StructDesc>() {
                let bytes: Vec<u8> = t.get_item(1)?.extract()?;
                let d = desc.borrow();
                return StructValue::from_bytes(&d.ty, d.model, &bytes)
                    .map(Value::Struct)
                    .py();
            }
        }
        // (code, value): a typed object, as `c_int(5)` passed without argtypes.
        if t.len() == 2 {
            let code: String = t.get_item(0)?.extract()?;
            if code == "&" {
                let addr: u64 = t.get_item(1)?.extract()?;
                return Ok(Value::Pointer(Pointer { lib, addr }));
            }
            let inner = value(&t.get_item(1)?, lib)?;
            return Ok(Value::Typed(ctype(&code)?, inner.into()));
        }
    }
    Err(ArgumentError::new_err(format!(
        "Don't know how to convert parameter of type {}",
        obj.get_type().name()?
    )))
}

/// A result as Python sees it.
fn object(py: Python<'_>, v: Value) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Value::None => py.None(),
        Value::Bool(b) => PyBool::new(py, b).to_owned().into_any().unbind(),
        Value::Int(i) => match i64::try_from(i) {
            Ok(small) => small.into_pyobject(py)?.into_any().unbind(),
            Err(_) => i.into_pyobject(py)?.into_any().unbind(),
        },
        Value::Float(f) => f.into_pyobject(py)?.into_any().unbind(),
        Value::Bytes(b) => PyBytes::new(py, &b).into_any().unbind(),
        Value::Str(s) => s.into_pyobject(py)?.into_any().unbind(),
        Value::Pointer(p) => p.addr.into_pyobject(py)?.into_any().unbind(),
        Value::Function(f) => f.ptr.addr.into_pyobject(py)?.into_any().unbind(),
        Value::Typed(_, inner) => object(py, (*inner).clone())?,
        Value::Struct(s) => PyBytes::new(py, s.bytes()).into_any().unbind(),
        other => {
            return Err(PyTypeError::new_err(format!(
                "a result of this kind is not supported yet: {other:?}"
            )))
        }
    })
}

thread_local! {
    /// The memory of the callback running now, if any, with the id of the process it belongs
    /// to: while C is in a call, that process is busy, and a callback's reads and writes of its
    /// memory go through the memory it was given. Another process's memory is not it.
    static CALLBACK_MEMORY: Cell<Option<(LibId, *mut (dyn Memory + 'static))>> = const { Cell::new(None) };
}

/// The memory a running callback was given, if it belongs to the process `id`.
fn callback_memory(id: LibId) -> Option<*mut (dyn Memory + 'static)> {
    match CALLBACK_MEMORY.with(Cell::get) {
        Some((owner, mem)) if owner == id => Some(mem),
        _ => None,
    }
}

/// A process: a wasm sandbox with its libc, or this process natively.
#[pyclass(frozen, unsendable, module = "wasmctypes._core")]
struct Process {
    sandbox: Sandbox,
    /// Buffers (memoryviews) open on the process's memory: `reset` would free what they
    /// point at, so it waits until there are none.
    exports: Cell<usize>,
}

impl Process {
    /// The value of C type `t` at `addr`, as Python sees it (bounds-checked in wasm; NULL is
    /// a ValueError).
    fn load_value(&self, py: Python<'_>, addr: u64, t: CType) -> PyResult<Py<PyAny>> {
        if addr == 0 {
            return Err(PyValueError::new_err("NULL pointer access"));
        }
        let v = self.memory(
            |m| m.get(addr, t),
            |lib| wasmctypes::CValue::from_address(lib, t, addr).value(),
        )?;
        object(py, v)
    }

    /// Stores `v` as C type `t` at `addr` (ctypes' setter: masked to the width).
    fn store(&self, addr: u64, t: CType, v: Value) -> PyResult<()> {
        if addr == 0 {
            return Err(PyValueError::new_err("NULL pointer access"));
        }
        self.memory(
            |m| m.set(addr, t, &v),
            |lib| wasmctypes::CValue::from_address(lib, t, addr).set_value(v.clone()),
        )
    }

    /// `n` zero bytes (see [`Process::block`]).
    fn new_block(slf: &Bound<'_, Self>, n: usize) -> PyResult<Block> {
        let this = slf.borrow();
        let addr = this.memory(|m| m.malloc(n), |lib| lib.malloc(n))?;
        let block = Block {
            addr,
            size: n,
            process: slf.clone().unbind(),
        };
        // Zeroed in pieces from one static block of zeros: a block of N bytes never costs N
        // bytes of host memory, nor zeroing a buffer of our own, here.
        static ZEROS: [u8; 16 * 1024] = [0; 16 * 1024];
        let mut done = 0;
        while done < n {
            let k = ZEROS.len().min(n - done);
            let at = addr + done as u64;
            this.memory(
                |m| m.write(at, &ZEROS[..k]),
                |lib| lib.write(at, &ZEROS[..k]),
            )?;
            done += k;
        }
        Ok(block)
    }

    /// The pointer stored at `addr` (as `c_void_p`).
    fn pointer_at(&self, addr: u64) -> PyResult<Value> {
        self.memory(
            |m| m.get(addr, CType::VoidP),
            |lib| wasmctypes::CValue::from_address(lib, CType::VoidP, addr).value(),
        )
    }

    /// Runs `f` on the memory a running callback was given, or on the process.
    fn memory<T>(
        &self,
        in_callback: impl FnOnce(&mut dyn Memory) -> wasmctypes::Result<T>,
        outside: impl FnOnce(&CDLL) -> wasmctypes::Result<T>,
    ) -> PyResult<T> {
        match callback_memory(self.sandbox.id()) {
            // SAFETY: the pointer is set only for the duration of a callback's Python code
            // (see `Process::callback`), on this thread, to the memory the callback was given.
            Some(mem) => in_callback(unsafe { &mut *mem }).py(),
            None => outside(&self.sandbox).py(),
        }
    }
}

#[pymethods]
impl Process {
    /// A new process on `backend` (`wasm` or `native`).
    #[new]
    #[pyo3(signature = (backend, use_errno = true))]
    fn new(backend: &str, use_errno: bool) -> PyResult<Self> {
        let kind: BackendKind = backend.parse().map_err(PyValueError::new_err)?;
        let options = LoadOptions {
            use_errno,
            capture_output: Some(false),
            ..LoadOptions::default()
        };
        Ok(Process {
            sandbox: Sandbox::open(kind, &options).py()?,
            exports: Cell::new(0),
        })
    }

    /// `wasm` or `native`.
    #[getter]
    fn backend(&self) -> &'static str {
        self.sandbox.backend().name()
    }

    /// Loads a library into the process (`dlopen(path, RTLD_GLOBAL)`).
    fn load(&self, path: &str) -> PyResult<Library> {
        // SAFETY: natively this is ctypes' `CDLL(path)`: the script chose to run this library.
        let lib = unsafe { self.sandbox.load_unchecked(path) }.py()?;
        Ok(Library { lib })
    }

    /// The C library (`CDLL(None)`, `find_library("c")`).
    fn libc(&self) -> Library {
        Library {
            lib: self.sandbox.libc(),
        }
    }

    /// `sizeof` of a type code.
    fn sizeof(&self, code: &str) -> PyResult<usize> {
        Ok(self.sandbox.sizeof(ctype(code)?))
    }

    /// The alignment of a type code.
    fn alignment(&self, code: &str) -> PyResult<usize> {
        Ok(self.sandbox.data_model().alignment(ctype(code)?))
    }

    /// A structure (or union) type for by-value calls: `fields` are `(name, descriptor,
    /// bits)` in order (see [`type_of`]); `pack` is `_pack_` (0: none).
    fn struct_type(
        &self,
        name: &str,
        union: bool,
        pack: usize,
        fields: Vec<(String, Bound<'_, PyAny>, Option<u32>)>,
    ) -> PyResult<StructDesc> {
        let fields = fields
            .iter()
            .map(|(n, t, bits)| {
                let ty = type_of(t)?;
                Ok(match bits {
                    Some(b) => Field::bits(n, ty, *b),
                    None => Field::new(n, ty),
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let ty = match (union, pack) {
            (true, _) => StructType::union(name, fields),
            (false, 0) => StructType::structure(name, fields),
            (false, p) => StructType::packed(name, fields, p),
        };
        Ok(StructDesc {
            ty,
            model: self.sandbox.data_model(),
        })
    }

    /// `n` zero bytes of memory, freed when the block is dropped. Inside a callback (C is
    /// running, the process is busy) they come from the memory the callback was given, with
    /// the same allocator, so that a callback can make ctypes objects too.
    fn block(slf: &Bound<'_, Self>, n: usize) -> PyResult<Block> {
        Process::new_block(slf, n)
    }

    /// How the instances of a type of `size` bytes get their memory: a type's `_b_alloc_`,
    /// with which [`CDataBase::_new`] makes them in Rust.
    fn alloc(slf: &Bound<'_, Self>, size: usize) -> Alloc {
        Alloc {
            process: slf.clone().unbind(),
            size,
        }
    }

    /// `n` bytes at `addr` (bounds-checked in wasm; NULL is a ValueError).
    fn read<'py>(&self, py: Python<'py>, addr: u64, n: usize) -> PyResult<Bound<'py, PyBytes>> {
        if addr == 0 && n > 0 {
            return Err(PyValueError::new_err("NULL pointer access"));
        }
        let bytes = self.memory(
            |m| {
                let mut out = vec![0u8; n];
                m.read_into(addr, &mut out)?;
                Ok(out)
            },
            |lib| lib.read(addr, n),
        )?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Writes `data` at `addr`.
    fn write(&self, addr: u64, data: &[u8]) -> PyResult<()> {
        if addr == 0 && !data.is_empty() {
            return Err(PyValueError::new_err("NULL pointer access"));
        }
        self.memory(|m| m.write(addr, data), |lib| lib.write(addr, data))
    }

    /// The value of type code `code` at `addr`, as a ctypes getter gives it (`p[i]` of a
    /// pointer or array of a fundamental type): one read, no bytes object in between.
    fn get(&self, py: Python<'_>, addr: u64, code: &str) -> PyResult<Py<PyAny>> {
        self.load_value(py, addr, ctype(code)?)
    }

    /// Stores `value` as type code `code` at `addr` (ctypes' setter: masked to the width).
    fn set(&self, addr: u64, code: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let t = ctype(code)?;
        self.store(addr, t, self::value(value, self.sandbox.id())?)
    }

    /// The item kind of an array of `length` items of type code `code`, or of a pointer to
    /// one when `length` is None: a type's `_b_items_`, which lets [`CDataBase::__getitem__`]
    /// and [`CDataBase::__setitem__`] read and write its items in Rust.
    fn items(slf: &Bound<'_, Self>, code: &str, length: Option<u64>) -> PyResult<Items> {
        let t = ctype(code)?;
        if matches!(t, CType::Void | CType::CharP | CType::WCharP | CType::VoidP) {
            return Err(PyTypeError::new_err("items of this type are not numbers"));
        }
        Ok(Items {
            process: slf.clone().unbind(),
            lib: slf.borrow().sandbox.id(),
            code: t,
            size: slf.borrow().sandbox.sizeof(t) as u64,
            length,
        })
    }

    /// The NUL-terminated bytes at `addr` (`string_at(addr)`).
    fn string_at<'py>(&self, py: Python<'py>, addr: u64) -> PyResult<Bound<'py, PyBytes>> {
        if addr == 0 {
            return Err(PyValueError::new_err("NULL pointer access"));
        }
        let bytes = self.memory(
            |m| {
                let mut out = Vec::new();
                let mut at = addr;
                loop {
                    let mut b = [0u8; 1];
                    m.read_into(at, &mut b)?;
                    if b[0] == 0 {
                        return Ok(out);
                    }
                    out.push(b[0]);
                    at += 1;
                }
            },
            |lib| lib.string_at(addr),
        )?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// `ctypes.get_errno()`.
    fn get_errno(&self) -> PyResult<i32> {
        self.sandbox.get_errno().py()
    }

    /// `ctypes.set_errno(value)`: returns the old value.
    fn set_errno(&self, value: i32) -> PyResult<i32> {
        self.sandbox.set_errno(value).py()
    }

    /// Drops everything the sandbox holds and reloads its libraries (wasm).
    fn reset(&self) -> PyResult<()> {
        if self.exports.get() > 0 {
            return Err(pyo3::exceptions::PyBufferError::new_err(
                "Existing exports of data: the sandbox cannot be reset",
            ));
        }
        self.sandbox.reset().py()
    }

    /// A C function pointer that calls `callable` with arguments of the type descriptors
    /// `args` and converts its result to `restype`, as ctypes' callbacks do, in Rust:
    ///
    /// - argument `i` is given to `callable` as it is when `convs[i]` is None, as a pointer
    ///   object when `convs[i]` is a pointer type (see [`CDataBase::_of`]), and as
    ///   `convs[i](value)` otherwise;
    /// - an exception is given to `error(exc)` (which reports it: ctypes' unraisable
    ///   message), and C gets zero;
    /// - a void callback's result is ignored; an int (for an integer restype) or a float
    ///   (for `c_float`, `c_double`) goes to C as it is; any other result is converted by
    ///   `result(r)` first, which reports its own errors and returns zero then.
    #[allow(clippy::too_many_arguments)]
    fn callback(
        &self,
        py: Python<'_>,
        restype: Bound<'_, PyAny>,
        args: Vec<Bound<'_, PyAny>>,
        callable: Py<PyAny>,
        convs: Vec<Option<Py<PyAny>>>,
        result: Py<PyAny>,
        error: Py<PyAny>,
    ) -> PyResult<CallbackObj> {
        let argtypes: Vec<Type> = args.iter().map(type_of).collect::<PyResult<_>>()?;
        if convs.len() != argtypes.len() {
            return Err(PyValueError::new_err("one conversion per argument"));
        }
        let proto = CFuncType {
            restype: type_of(&restype)?,
            argtypes,
        };
        // What C gets when the callback fails: zero, as ctypes gives it.
        let zero = match &proto.restype {
            Type::Simple(CType::Void) => Value::None,
            Type::Simple(CType::Float | CType::Double | CType::LongDouble) => Value::Float(0.0),
            _ => Value::Int(0),
        };
        let passes = match &proto.restype {
            Type::Simple(CType::Void) => Passes::Nothing,
            Type::Simple(CType::Float | CType::Double | CType::LongDouble) => Passes::Float,
            Type::Simple(t) if t.is_integer() && !matches!(t, CType::Char | CType::WChar) => {
                Passes::Int
            }
            _ => Passes::Converted,
        };
        let lib = self.sandbox.id();
        let convs = convs
            .into_iter()
            .map(|c| -> PyResult<Conv> {
                let Some(c) = c else {
                    return Ok(Conv::Plain);
                };
                let c = c.into_bound(py);
                Ok(match c.cast::<PyType>() {
                    Ok(cls) if cls.is_subclass_of::<CDataBase>()? => {
                        let items = cls.getattr(pyo3::intern!(py, "_b_items_"))?;
                        let items = items.cast::<Items>().ok().map(|t| t.clone().unbind());
                        Conv::Pointer(cls.clone().unbind(), Constructor::of(cls)?, items)
                    }
                    _ => Conv::Call(c.unbind()),
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        // The Python objects live in a cell that the Python object can traverse and clear, so
        // that a cycle through them (an object keeping a callback of its own method) is
        // collected.
        let target = Rc::new(std::cell::RefCell::new(Some(Target {
            callable,
            convs,
            result,
            error,
        })));
        let held = target.clone();
        let cb = Callback::new(&self.sandbox, &proto, move |mem, values| {
            Python::attach(|py| {
                let Ok(cell) = held.try_borrow() else {
                    return Ok(zero.clone());
                };
                let Some(t) = cell.as_ref() else {
                    return Ok(zero.clone());
                };
                let mem: *mut (dyn Memory + '_) = mem;
                // SAFETY: erasing the lifetime is sound because the pointer is cleared before
                // this closure returns, and only used on this thread meanwhile.
                let mem: *mut (dyn Memory + 'static) = unsafe { std::mem::transmute(mem) };
                let before = CALLBACK_MEMORY.with(|c| c.replace(Some((lib, mem))));
                let outcome = t.run(py, values, passes, lib);
                CALLBACK_MEMORY.with(|c| c.set(before));
                Ok(outcome.unwrap_or_else(|_| zero.clone()))
            })
        })
        .py()?;
        Ok(CallbackObj { cb, target })
    }
}

/// What a callback's result goes to C as (see [`Process::callback`]).
#[derive(Clone, Copy)]
enum Passes {
    Nothing,
    Int,
    Float,
    Converted,
}

/// What a callback's argument becomes (see [`Process::callback`]).
enum Conv {
    /// The value as it is.
    Plain,
    /// A pointer object of this type (made by its constructor), with the type's
    /// `_b_items_`.
    Pointer(Py<PyType>, Constructor, Option<Py<Items>>),
    /// What this Python callable makes of the value.
    Call(Py<PyAny>),
}

/// A callback's Python side: the callable and its conversions (see [`Process::callback`]).
struct Target {
    callable: Py<PyAny>,
    convs: Vec<Conv>,
    result: Py<PyAny>,
    error: Py<PyAny>,
}

impl Target {
    /// One call from C: the arguments converted, the callable called, its result converted.
    /// An error has been reported (to `error` or by `result`) when this returns `Err`.
    fn run(
        &self,
        py: Python<'_>,
        values: &[Value],
        passes: Passes,
        lib: LibId,
    ) -> Result<Value, ()> {
        let called = (|| -> PyResult<Bound<'_, PyAny>> {
            let mut args: smallvec::SmallVec<[Bound<'_, PyAny>; 6]> = smallvec::SmallVec::new();
            for (v, conv) in values.iter().zip(&self.convs) {
                let arg = match conv {
                    Conv::Plain => object(py, v.clone())?.into_bound(py),
                    Conv::Pointer(cls, new, items) => {
                        let addr = match v {
                            Value::Pointer(p) => p.addr,
                            Value::Int(i) => *i as u64,
                            _ => 0,
                        };
                        let p = new.make(cls.bind(py))?;
                        {
                            let mut o = p.borrow_mut();
                            o.ptr = Some(addr);
                            o.items = items.as_ref().map(|t| t.clone_ref(py));
                        }
                        p.into_any()
                    }
                    Conv::Call(c) => c.call1(py, (object(py, v.clone())?,))?.into_bound(py),
                };
                args.push(arg);
            }
            self.callable.bind(py).call1(PyTuple::new(py, args)?)
        })();
        let r = match called {
            Ok(r) => r,
            Err(e) => {
                if let Err(again) = self.error.call1(py, (e.value(py),)) {
                    again.write_unraisable(py, Some(self.callable.bind(py)));
                }
                return Err(());
            }
        };
        let converted = match passes {
            Passes::Nothing => return Ok(Value::None),
            Passes::Int if r.is_exact_instance_of::<PyInt>() => value(&r, lib),
            Passes::Float if r.is_exact_instance_of::<PyFloat>() => value(&r, lib),
            _ => self
                .result
                .call1(py, (r,))
                .and_then(|c| value(c.bind(py), lib)),
        };
        converted.map_err(|e| e.write_unraisable(py, Some(self.callable.bind(py))))
    }
}

/// What a buffer export holds until it is released: the format and shape it points at, and
/// the process whose memory it shares.
struct Export {
    format: CString,
    shape: Vec<ffi::Py_ssize_t>,
    process: Py<Process>,
}

/// The base of every ctypes instance (`_CData`): it gives them ctypes' buffer protocol, so
/// that `memoryview(obj)`, `bytes(obj)` and `hexlify(obj)` share the object's memory, as
/// CPython's ctypes does. The Python layer says where the memory is: `obj._b_buffer_()`
/// returns `(process, address, size, format, itemsize, shape)`.
///
/// A C function object (`_CFuncPtr`) also keeps here the prepared call of its hot path, and
/// `_CFuncPtr.__call__` is [`CDataBase::call`]: a call with plain arguments goes from Python
/// straight to Rust, with no Python frame between.
///
/// It also holds what every instance has, so that the hot paths (items of pointers and
/// arrays, a callback's pointer arguments) read and make them in Rust: the address of its
/// memory (`_b_addr`), the object that memory belongs to (`_b_base_`), the block it owns
/// (`_b_block`), the objects it keeps alive (`_objects`), its size after `resize`
/// (`_b_size`), and a pointer's own value when it has no memory (`_b_ptr_`, see
/// [`CDataBase::_of`]).
///
/// Everything it holds is a Python object or a number, so it is not bound to a thread (and
/// pays no thread check on each access, as the `unsendable` classes here do).
#[pyclass(subclass, module = "wasmctypes._core", name = "CData")]
struct CDataBase {
    fast: Option<Py<Func>>,
    #[pyo3(get, set, name = "_b_addr")]
    addr: u64,
    #[pyo3(get, set, name = "_b_ptr_")]
    ptr: Option<u64>,
    #[pyo3(get, set, name = "_b_base_")]
    base: Option<Py<PyAny>>,
    #[pyo3(get, set, name = "_b_block")]
    block: Option<Py<PyAny>>,
    #[pyo3(get, set, name = "_objects")]
    objects: Option<Py<PyAny>>,
    #[pyo3(get, set, name = "_b_size")]
    size: Option<usize>,
    /// Its index in `_b_base_` (a field's or an item's), for the keys of `_objects`.
    #[pyo3(get, set, name = "_b_index")]
    index: isize,
    /// What the object keeps alive that CPython's ctypes would not need (copies of bytes in
    /// the process's memory, handles): not in `_objects`, which is ctypes' own.
    #[pyo3(get, set, name = "_b_keep_")]
    keep: Option<Py<PyAny>>,
    /// Its type's `_b_items_`, copied when a callback makes it (no lookup per item).
    items: Option<Py<Items>>,
}

/// A new instance of `cls` (a subclass of `_core.CData`) with no memory yet: what
/// `_core.CData.__new__(cls)` makes, without a Python frame.
fn bare_instance<'py>(cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, CDataBase>> {
    Constructor::of(cls)?.make(cls)
}

/// The constructor of a class's instances, checked once: PyO3's `tp_new` of `CData`, or of
/// `CFuncPtr` for its subclasses (whose instances have its layout).
#[derive(Clone, Copy)]
struct Constructor(ffi::newfunc);

impl Constructor {
    /// The constructor for `cls`, a subclass of `CData` (TypeError otherwise).
    fn of(cls: &Bound<'_, PyType>) -> PyResult<Constructor> {
        let py = cls.py();
        if !cls.is_subclass_of::<CDataBase>()? {
            return Err(PyTypeError::new_err("not a ctypes type"));
        }
        // Looked up once each.
        static NEW: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        static NEW_FUNC: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let (cell, base) = match cls.is_subclass_of::<CFuncBase>()? {
            true => (&NEW_FUNC, py.get_type::<CFuncBase>()),
            false => (&NEW, py.get_type::<CDataBase>()),
        };
        let slot = *cell.get_or_init(|| {
            // SAFETY: reading a slot of a live type object.
            unsafe { ffi::PyType_GetSlot(base.as_type_ptr(), ffi::Py_tp_new) as usize }
        });
        if slot == 0 {
            return Err(PyTypeError::new_err("CData has no constructor"));
        }
        // SAFETY: `slot` is a non-NULL `tp_new`, whose type is `newfunc`.
        Ok(Constructor(unsafe {
            std::mem::transmute::<usize, ffi::newfunc>(slot)
        }))
    }

    /// A new instance of `cls`, which must be the class (or a subclass of the class) this
    /// constructor was looked up for.
    fn make<'py>(self, cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, CDataBase>> {
        let py = cls.py();
        // SAFETY: `self.0` is `tp_new` of `CData` or `CFuncPtr`, PyO3's constructor, which
        // takes any subtype of its class (`Constructor::of` checked `cls`, and a subclass of
        // `CFuncPtr` gets its own), a tuple of arguments and NULL keywords, and returns a new
        // reference or NULL with an exception set.
        unsafe {
            let args = PyTuple::empty(py);
            let obj = (self.0)(cls.as_type_ptr(), args.as_ptr(), std::ptr::null_mut());
            Ok(Bound::from_owned_ptr_or_err(py, obj)?.cast_into_unchecked::<CDataBase>())
        }
    }
}

/// How the instances of a type get their memory: a new zeroed block of `size` bytes of the
/// process (see [`CDataBase::_new`]).
#[pyclass(frozen, module = "wasmctypes._core")]
struct Alloc {
    process: Py<Process>,
    size: usize,
}

/// What the items of an array or pointer type are, when they are numbers the core reads and
/// writes in one step: the type's `_b_items_` (see [`Process::items`]).
#[pyclass(frozen, module = "wasmctypes._core")]
struct Items {
    process: Py<Process>,
    /// The process's id (see [`callback_memory`]).
    lib: LibId,
    code: CType,
    size: u64,
    /// An array's length; `None` for a pointer.
    length: Option<u64>,
}

impl Items {
    /// Item `i` of `obj`, read: inside a callback of its process straight from the memory the
    /// callback was given (no borrow of the process), otherwise through the process.
    fn load(&self, py: Python<'_>, obj: &CDataBase, i: i64) -> PyResult<Py<PyAny>> {
        if let Some(mem) = callback_memory(self.lib) {
            // SAFETY: as in `Process::memory`: set for the duration of a callback of this
            // process's, on this thread, to the memory it was given; nothing else holds it now.
            let m = unsafe { &mut *mem };
            let addr = self.address(obj, i, |at| m.get(at, CType::VoidP).py())?;
            if addr == 0 {
                return Err(PyValueError::new_err("NULL pointer access"));
            }
            return object(py, m.get(addr, self.code).py()?);
        }
        let process = self.process.borrow(py);
        let addr = self.address(obj, i, |at| process.pointer_at(at))?;
        process.load_value(py, addr, self.code)
    }

    /// The address of item `i` of `obj`, checked as ctypes checks it: in range for an array,
    /// through a non-NULL pointer for a pointer (read by `pointer_at`).
    fn address(
        &self,
        obj: &CDataBase,
        i: i64,
        pointer_at: impl FnOnce(u64) -> PyResult<Value>,
    ) -> PyResult<u64> {
        match self.length {
            Some(n) => {
                let j = if i < 0 {
                    i as i128 + n as i128
                } else {
                    i as i128
                };
                if j < 0 || j >= n as i128 {
                    return Err(PyIndexError::new_err("invalid index"));
                }
                item_address(obj.addr, j, self.size)
            }
            None => {
                let base = match obj.ptr {
                    Some(p) => p,
                    None => match pointer_at(obj.addr)? {
                        Value::Int(a) => a as u64,
                        Value::Pointer(p) => p.addr,
                        _ => 0,
                    },
                };
                if base == 0 {
                    return Err(PyValueError::new_err("NULL pointer access"));
                }
                item_address(base, i as i128, self.size)
            }
        }
    }
}

/// The address of item `i` (of `size` bytes) from `base`: an error, never a wrapped address,
/// when it falls outside the 64-bit address space (natively ctypes would read wherever the
/// sum wrapped to, or crash; in wasm it would be inside the sandbox, but the wrong place).
fn item_address(base: u64, i: i128, size: u64) -> PyResult<u64> {
    u64::try_from(base as i128 + i * size as i128).map_err(|_| {
        PyValueError::new_err(format!(
            "item {i} of {size} bytes from 0x{base:x} is outside the address space"
        ))
    })
}

/// The Python layer's item method `name` of `obj`; a TypeError that says the object `what`
/// when its type has none.
fn python_item_method<'py>(
    obj: &Bound<'py, CDataBase>,
    name: &Bound<'py, PyString>,
    what: &str,
) -> PyResult<Bound<'py, PyAny>> {
    match obj.getattr(name) {
        Ok(m) => Ok(m),
        Err(e) if e.is_instance_of::<PyAttributeError>(obj.py()) => Err(PyTypeError::new_err(
            format!("'{}' object {what}", obj.get_type().name()?),
        )),
        Err(e) => Err(e),
    }
}

/// `type(obj)._b_items_` (or the object's copy of it) when it is an [`Items`] and `i` an int
/// that fits.
fn scalar_items<'py>(
    obj: &Bound<'py, CDataBase>,
    this: &CDataBase,
    i: &Bound<'py, PyAny>,
) -> Option<(Bound<'py, Items>, i64)> {
    if !i.is_exact_instance_of::<PyInt>() {
        return None;
    }
    let cached = this.items.as_ref().map(|t| t.bind(obj.py()).clone());
    let items = match cached {
        Some(items) => items,
        None => obj
            .get_type()
            .getattr(pyo3::intern!(obj.py(), "_b_items_"))
            .ok()?
            .cast_into::<Items>()
            .ok()?,
    };
    Some((items, i.extract().ok()?))
}

#[pymethods]
impl CDataBase {
    /// An instance with no memory yet (`_core.CData.__new__(cls)`); the Python layer's
    /// types are made by [`CDataBase::_new`].
    #[new]
    fn new() -> Self {
        CDataBase {
            fast: None,
            addr: 0,
            ptr: None,
            base: None,
            block: None,
            objects: None,
            size: None,
            index: 0,
            keep: None,
            items: None,
        }
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        for o in [&self.base, &self.block, &self.objects, &self.keep]
            .into_iter()
            .flatten()
        {
            visit.call(o)?;
        }
        if let Some(f) = &self.fast {
            visit.call(f)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.base = None;
        self.objects = None;
        self.keep = None;
        self.fast = None;
    }

    /// Points the object at `addr`, memory that belongs to `base` (or to nobody, or to the
    /// object itself when it owns `block`), with nothing kept alive yet. Returns the object.
    #[pyo3(signature = (addr, base = None, block = None))]
    fn _attach<'py>(
        slf: Bound<'py, Self>,
        addr: u64,
        base: Option<Py<PyAny>>,
        block: Option<Py<PyAny>>,
    ) -> Bound<'py, Self> {
        {
            let mut s = slf.borrow_mut();
            s.addr = addr;
            s.base = base;
            s.block = block;
            s.objects = None;
            s.size = None;
            s.index = 0;
            s.keep = None;
        }
        slf
    }

    /// `T.__new__`: an instance of `cls` with memory of its own. A type whose instances all
    /// get a new zeroed block of one size says so in `cls._b_alloc_` (see [`Process::alloc`])
    /// and is made here, in Rust; any other has its memory made by its `_new_block()`.
    #[staticmethod]
    #[pyo3(signature = (cls, *_args, **_kwargs))]
    fn _new<'py>(
        cls: &Bound<'py, PyType>,
        _args: &Bound<'py, PyTuple>,
        _kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, CDataBase>> {
        let py = cls.py();
        let obj = bare_instance(cls)?;
        let alloc = cls.getattr(pyo3::intern!(py, "_b_alloc_"))?;
        match alloc.cast::<Alloc>() {
            Ok(a) => {
                let a = a.get();
                let block = Process::new_block(a.process.bind(py), a.size)?;
                let mut o = obj.borrow_mut();
                o.addr = block.addr;
                o.block = Some(Bound::new(py, block)?.into_any().unbind());
            }
            Err(_) => {
                obj.call_method0(pyo3::intern!(py, "_new_block"))?;
            }
        }
        Ok(obj)
    }

    /// A pointer of type `cls` to `addr` that needs no memory of its own: a callback's
    /// argument (the process is busy in the call, nothing can be allocated).
    #[classmethod]
    fn _of<'py>(cls: &Bound<'py, PyType>, addr: Option<u64>) -> PyResult<Bound<'py, CDataBase>> {
        let p = bare_instance(cls)?;
        p.borrow_mut().ptr = Some(addr.unwrap_or(0));
        Ok(p)
    }

    /// `obj[i]`: a number item of an array or pointer of numbers in Rust, anything else by
    /// the Python layer's `_getitem` (a type without one is not subscriptable). A slot of
    /// the base class, so that no Python lookup comes between.
    fn __getitem__(slf: &Bound<'_, Self>, i: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.borrow();
        // A callback's pointer carries its items (no lookup, no reference counted).
        if let (Some(items), true) = (&this.items, i.is_exact_instance_of::<PyInt>()) {
            if let Ok(n) = i.extract::<i64>() {
                return items.get().load(py, &this, n);
            }
        }
        if let Some((items, i)) = scalar_items(slf, &this, i) {
            return items.get().load(py, &this, i);
        }
        drop(this);
        let m = python_item_method(slf, pyo3::intern!(py, "_getitem"), "is not subscriptable")?;
        Ok(m.call1((i,))?.unbind())
    }

    /// `obj[i] = v`: as [`CDataBase::__getitem__`], for an int (or, for `c_float` and
    /// `c_double` items, a float); the Python layer's `_setitem` otherwise.
    fn __setitem__(
        slf: &Bound<'_, Self>,
        i: &Bound<'_, PyAny>,
        v: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let this = slf.borrow();
        if let Some((items, i)) = scalar_items(slf, &this, i) {
            let items = items.get();
            let float = matches!(items.code, CType::Float | CType::Double);
            let fits =
                v.is_exact_instance_of::<PyInt>() || (float && v.is_exact_instance_of::<PyFloat>());
            if fits {
                let process = items.process.borrow(py);
                let addr = items.address(&this, i, |at| process.pointer_at(at))?;
                let value = if float {
                    Value::Float(v.extract()?)
                } else {
                    self::value(v, process.sandbox.id())?
                };
                return process.store(addr, items.code, value);
            }
        }
        drop(this);
        let m = python_item_method(
            slf,
            pyo3::intern!(py, "_setitem"),
            "does not support item assignment",
        )?;
        m.call1((i, v))?;
        Ok(())
    }

    /// `del obj[i]`: the Python layer's `_delitem`, which says why not.
    fn __delitem__(slf: &Bound<'_, Self>, i: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let m = python_item_method(
            slf,
            pyo3::intern!(py, "_delitem"),
            "doesn't support item deletion",
        )?;
        m.call1((i,))?;
        Ok(())
    }

    /// Sets (or clears) the prepared call that [`CDataBase::call`] tries first.
    fn _set_fast(&mut self, f: Option<Py<Func>>) {
        self.fast = f;
    }

    /// An instance of `cls` with no memory yet (`from_address` and kin attach it).
    #[staticmethod]
    fn _bare<'py>(cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, CDataBase>> {
        bare_instance(cls)
    }

    /// A C function object's call (see [`CFuncBase`]): the prepared call if every argument
    /// is a plain Python value ([`Func::fast`]), else the Python layer's general call,
    /// `self._call(args, None)`.
    #[pyo3(signature = (*args))]
    fn call(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let fast = slf.borrow().fast.as_ref().map(|f| f.borrow(py).p.clone());
        if let Some(p) = fast {
            let r = p.fast(py, args)?;
            if !r.is(py.NotImplemented()) {
                return Ok(r);
            }
        }
        Ok(slf
            .call_method1(pyo3::intern!(py, "_call"), (args, py.None()))?
            .unbind())
    }

    /// # Safety
    ///
    /// `view` is the `Py_buffer` CPython passes to `bf_getbuffer`.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        if view.is_null() {
            return Err(pyo3::exceptions::PyBufferError::new_err("View is null"));
        }
        let info = slf.call_method0("_b_buffer_")?;
        let (process, addr, size, format, itemsize, shape): (
            Bound<'_, Process>,
            u64,
            usize,
            String,
            usize,
            Vec<isize>,
        ) = info.extract()?;
        let _ = flags; // every view is writable, C-contiguous and formatted, as ctypes'
        let ptr = if size == 0 {
            std::ptr::NonNull::<u8>::dangling()
        } else {
            process.borrow().sandbox.host_pointer(addr, size).py()?
        };
        let export = Box::new(Export {
            format: CString::new(format)
                .map_err(|_| PyValueError::new_err("a buffer format has a NUL"))?,
            shape: shape.iter().map(|&n| n as ffi::Py_ssize_t).collect(),
            process: process.clone().unbind(),
        });
        let p = process.borrow();
        p.exports.set(p.exports.get() + 1);
        // SAFETY: `view` is valid for writes (CPython's contract for bf_getbuffer). The
        // format and shape live in `export` until `__releasebuffer__` frees it; the memory
        // stays where it is while the object (held in `obj`) and its process live.
        unsafe {
            (*view).obj = slf.clone().into_any().into_ptr();
            (*view).buf = ptr.as_ptr().cast();
            (*view).len = size as ffi::Py_ssize_t;
            (*view).readonly = 0;
            (*view).itemsize = itemsize as ffi::Py_ssize_t;
            (*view).format = export.format.as_ptr() as *mut _;
            (*view).ndim = export.shape.len() as c_int;
            (*view).shape = if export.shape.is_empty() {
                std::ptr::null_mut()
            } else {
                export.shape.as_ptr() as *mut _
            };
            (*view).strides = std::ptr::null_mut();
            (*view).suboffsets = std::ptr::null_mut();
            (*view).internal = Box::into_raw(export).cast();
        }
        Ok(())
    }

    /// # Safety
    ///
    /// `view` is a view that `__getbuffer__` filled.
    unsafe fn __releasebuffer__(&self, py: Python<'_>, view: *mut ffi::Py_buffer) {
        // SAFETY: `internal` is the `Export` that `__getbuffer__` leaked for this view.
        let export = unsafe { Box::from_raw((*view).internal.cast::<Export>()) };
        let p = export.process.borrow(py);
        p.exports.set(p.exports.get().saturating_sub(1));
    }
}

/// The base of C function objects (`_CFuncPtr`: a library's function, a function pointer, a
/// callback): a `CData` whose type's call slot is [`CDataBase::call`], so that calling one
/// goes from Python straight to Rust, with no lookup of `__call__` between.
#[pyclass(extends = CDataBase, subclass, module = "wasmctypes._core", name = "CFuncPtr")]
struct CFuncBase {}

#[pymethods]
impl CFuncBase {
    #[new]
    fn new() -> PyClassInitializer<Self> {
        PyClassInitializer::from(CDataBase::new()).add_subclass(CFuncBase {})
    }

    /// `f(*args)`: [`CDataBase::call`]; with keywords (paramflags), the Python layer's
    /// `self._call(args, kwargs)`.
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        match kwargs.filter(|k| !k.is_empty()) {
            None => CDataBase::call(slf.as_super(), args),
            Some(k) => Ok(slf
                .call_method1(pyo3::intern!(slf.py(), "_call"), (args, k))?
                .unbind()),
        }
    }
}

/// A loaded library (a module of a process).
#[pyclass(frozen, unsendable, module = "wasmctypes._core")]
struct Library {
    lib: CDLL,
}

#[pymethods]
impl Library {
    /// The function `name`, with argtypes (`None`: unset) and restype as type codes, and
    /// ctypes' `use_errno` (errno swapped with the process's private copy around calls).
    #[pyo3(signature = (name, argtypes, restype, use_errno = false))]
    fn function(
        &self,
        name: &str,
        argtypes: Option<Vec<Bound<'_, PyAny>>>,
        restype: Bound<'_, PyAny>,
        use_errno: bool,
    ) -> PyResult<Func> {
        let f = self.lib.function(name).py()?;
        let native = self.lib.backend() == BackendKind::Native;
        Func::declared(self.lib.id(), native, f, argtypes, restype, use_errno)
    }

    /// The function at a C function pointer (`CFUNCTYPE(...)(address)`), with its prototype
    /// as in [`Library::function`]. In wasm the address is checked against the sandbox's
    /// function table when the call is prepared.
    #[pyo3(signature = (address, argtypes, restype, use_errno = false))]
    fn function_at(
        &self,
        address: u64,
        argtypes: Option<Vec<Bound<'_, PyAny>>>,
        restype: Bound<'_, PyAny>,
        use_errno: bool,
    ) -> PyResult<Func> {
        // SAFETY: natively this is ctypes' own contract for calling a function pointer: the
        // script vouches for the address and the prototype. In wasm every address is checked.
        let f = unsafe { self.lib.function_at(address) }.py()?;
        let native = self.lib.backend() == BackendKind::Native;
        Func::declared(self.lib.id(), native, f, argtypes, restype, use_errno)
    }

    /// Whether the library finds a function called `name`.
    fn has(&self, name: &str) -> bool {
        self.lib.function(name).is_ok()
    }

    /// The address of the data symbol `name` (`in_dll`).
    fn data_address(&self, name: &str) -> PyResult<u64> {
        self.lib.data_address(name).py()
    }

    /// The file it was loaded from.
    #[getter]
    fn path(&self) -> String {
        self.lib.path().display().to_string()
    }
}

/// A function with its prototype, prepared: what a call converts, calls and converts back in
/// Rust. Shared by its [`Func`] and by the function object's [`CDataBase`].
struct Prepared {
    f: wasmctypes::Function,
    /// The id of the process whose memory the function's pointer arguments point into.
    lib: LibId,
    /// Natively, the positions declared `c_char_p` or `c_void_p`: a bytes argument there is
    /// passed as a pointer to the bytes object's own (NUL-terminated) buffer, as ctypes
    /// passes it, with no copy. In wasm none: bytes are copied into the sandbox.
    borrow_bytes: u64,
    /// The positions declared as a pointer or array type, whose `from_param` takes no plain
    /// value but None ([`Func::_objects_only`]).
    objects_only: Cell<u64>,
    /// `(position, type)`: the ctypes types whose instances pass as their address there, as
    /// ctypes' rules say for every instance of the type ([`Func::_learn`]). At most
    /// [`LEARNED`] of them.
    by_address: std::cell::RefCell<Learned>,
    /// A buffer for the bytes of a call's argument, kept between calls (see
    /// [`Prepared::fast`]); empty while a call holds it.
    spare: Cell<Vec<u8>>,
}

/// The largest buffer a function keeps for its bytes arguments between calls.
const SPARE_MAX: usize = 64 * 1024;

/// `(position, type)` pairs of [`Prepared::by_address`].
type Learned = smallvec::SmallVec<[(usize, Py<PyType>); 4]>;

/// How many `(position, type)` pairs a function learns to pass as addresses.
const LEARNED: usize = 16;

/// The arguments of one call, on the stack for the usual counts.
type Args = smallvec::SmallVec<[Value; 6]>;

impl Prepared {
    /// `a`'s address as a pointer, argument `i`, when its type was learned to pass as its
    /// address there ([`Func::_learn`]).
    fn address_of(&self, i: usize, a: &Bound<'_, PyAny>) -> Option<Value> {
        let obj = a.cast::<CDataBase>().ok()?;
        let ty = a.get_type();
        let learned = self.by_address.borrow();
        learned
            .iter()
            .any(|(p, t)| *p == i && t.bind(a.py()).is(&ty))
            .then(|| self.pointer(obj.borrow().addr))
    }

    /// A pointer into the function's process.
    fn pointer(&self, addr: u64) -> Value {
        Value::Pointer(Pointer {
            lib: self.lib,
            addr,
        })
    }

    /// Argument `i` as the core takes it, if the core converts it alone (see
    /// [`Prepared::fast`]); `None` if it is for the Python layer.
    fn argument(&self, i: usize, a: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
        let bit = 1u64 << i.min(63);
        if self.objects_only.get() & bit != 0 {
            // A pointer or array type: None (NULL), or an object of a type learned to pass as
            // its address; anything else is for its from_param.
            return Ok(match a.is_none() {
                true => Some(Value::None),
                false => self.address_of(i, a),
            });
        }
        if a.is_exact_instance_of::<PyInt>() {
            if let Ok(n) = a.extract::<i64>() {
                return Ok(Some(Value::Int(n as i128)));
            }
            return value(a, self.lib).map(Some);
        }
        if let Ok(b) = a.cast_exact::<PyBytes>() {
            if self.borrow_bytes & bit != 0 {
                // The bytes object's own buffer (CPython keeps it NUL-terminated), alive for
                // the call since `args` holds the object; C must not keep it, as with ctypes.
                return Ok(Some(self.pointer(b.as_bytes().as_ptr() as u64)));
            }
            // Copied (into the sandbox, by the core) from a buffer this function keeps
            // between calls: no allocation per call.
            let mut v = self.spare.take();
            v.clear();
            v.extend_from_slice(b.as_bytes());
            return Ok(Some(Value::Bytes(v)));
        }
        if a.is_none()
            || a.is_exact_instance_of::<PyFloat>()
            || a.is_exact_instance_of::<PyString>()
        {
            return value(a, self.lib).map(Some);
        }
        Ok(self.address_of(i, a))
    }

    /// The call, if every argument is a plain Python value (int, float, bytes, str, None)
    /// that the core converts alone; `NotImplemented`, with nothing called, if one needs
    /// ctypes' own conversions (`from_param`, an object's address) or is refused, so that
    /// the Python layer converts it and reports the error ctypes reports. The hot path:
    /// no exception is made for the fallback.
    fn fast(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        if args.len() > wasmctypes::MAX_ARGS {
            return Ok(py.NotImplemented());
        }
        let mut values = Args::new();
        for (i, a) in args.iter().enumerate() {
            match self.argument(i, &a)? {
                Some(v) => values.push(v),
                None => return Ok(py.NotImplemented()),
            }
        }
        let outcome = self.f.call(&values);
        // The largest bytes buffer goes back for the next call.
        for v in values {
            if let Value::Bytes(b) = v {
                let kept = self.spare.take();
                let larger = b.capacity() > kept.capacity() && b.capacity() <= SPARE_MAX;
                self.spare.set(if larger { b } else { kept });
            }
        }
        match outcome {
            Ok(ret) => object(py, ret),
            Err(Error::ArgumentError { .. }) => Ok(py.NotImplemented()),
            Err(e) => Err(py_err(e)),
        }
    }
}

/// A function with its prototype (see [`Prepared`]), as the Python layer holds it.
#[pyclass(frozen, unsendable, module = "wasmctypes._core")]
struct Func {
    p: Rc<Prepared>,
}

impl Func {
    fn declared(
        lib: LibId,
        native: bool,
        mut f: wasmctypes::Function,
        argtypes: Option<Vec<Bound<'_, PyAny>>>,
        restype: Bound<'_, PyAny>,
        use_errno: bool,
    ) -> PyResult<Func> {
        // The process keeps the private copy (it is made with use_errno); each function
        // swaps it only if its library or prototype asks, as in ctypes.
        if f.use_errno() != use_errno {
            f.set_use_errno(use_errno).py()?;
        }
        if let Some(descs) = argtypes {
            let types: Vec<Type> = descs.iter().map(type_of).collect::<PyResult<_>>()?;
            f.set_argtypes(&types).py()?;
        }
        f.set_restype(type_of(&restype)?).py()?;
        let mut borrow_bytes = 0u64;
        if native {
            for (i, t) in f.argtypes().unwrap_or(&[]).iter().enumerate() {
                if matches!(t, Type::Simple(CType::CharP | CType::VoidP)) && i < 64 {
                    borrow_bytes |= 1 << i;
                }
            }
        }
        Ok(Func {
            p: Rc::new(Prepared {
                f,
                lib,
                borrow_bytes,
                objects_only: Cell::new(0),
                by_address: Default::default(),
                spare: Cell::new(Vec::new()),
            }),
        })
    }
}

#[pymethods]
impl Func {
    #[pyo3(signature = (*args))]
    fn __call__(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        if args.len() > wasmctypes::MAX_ARGS {
            return Err(ArgumentError::new_err(format!(
                "too many arguments ({}), maximum is {}",
                args.len(),
                wasmctypes::MAX_ARGS
            )));
        }
        let mut values = Args::new();
        for (i, a) in args.iter().enumerate() {
            values.push(value(&a, self.p.lib).map_err(|e| {
                ArgumentError::new_err(format!("argument {}: {}", i + 1, e.value(py)))
            })?);
        }
        let ret = self.p.f.call(&values).py()?;
        object(py, ret)
    }

    /// Marks the positions (bits of `mask`) declared as pointer or array types: a plain
    /// value there is for the Python layer's `from_param`, never converted by the core.
    fn _objects_only(&self, mask: u64) {
        self.p.objects_only.set(mask);
    }

    /// Instances of `ty` pass as their address at position `i` from now on, on the fast path
    /// (ctypes' rules give that for every instance of the type: the Python layer's `_quick`).
    fn _learn(&self, i: usize, ty: Bound<'_, PyType>) {
        let mut learned = self.p.by_address.borrow_mut();
        if learned.len() < LEARNED
            && !learned
                .iter()
                .any(|(p, t)| *p == i && t.bind(ty.py()).is(&ty))
        {
            learned.push((i, ty.unbind()));
        }
    }

    /// [`Prepared::fast`].
    #[pyo3(signature = (*args))]
    fn fast(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        self.p.fast(py, args)
    }
}

/// A block of the process's memory owned by a Python object: freed when it is dropped, with
/// the memory a running callback was given if there is one (the process is busy then).
#[pyclass(frozen, unsendable, module = "wasmctypes._core")]
struct Block {
    addr: u64,
    size: usize,
    process: Py<Process>,
}

#[pymethods]
impl Block {
    /// Its address.
    #[getter]
    fn address(&self) -> u64 {
        self.addr
    }

    /// Its size in bytes.
    #[getter]
    fn size(&self) -> usize {
        self.size
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        Python::attach(|py| {
            let p = self.process.borrow(py);
            // SAFETY: the block's own memory, from `Process::block`, freed once, here.
            let _ = p.memory(|m| m.free(self.addr), |lib| unsafe { lib.free(self.addr) });
        });
    }
}

/// A callback's function pointer, alive as long as this object.
#[pyclass(unsendable, module = "wasmctypes._core")]
struct CallbackObj {
    cb: Callback,
    target: Rc<std::cell::RefCell<Option<Target>>>,
}

#[pymethods]
impl CallbackObj {
    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if let Ok(target) = self.target.try_borrow() {
            if let Some(t) = target.as_ref() {
                visit.call(&t.callable)?;
                visit.call(&t.result)?;
                visit.call(&t.error)?;
                for c in &t.convs {
                    match c {
                        Conv::Plain => {}
                        Conv::Pointer(cls, _, items) => {
                            visit.call(cls)?;
                            if let Some(items) = items {
                                visit.call(items)?;
                            }
                        }
                        Conv::Call(f) => visit.call(f)?,
                    }
                }
            }
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        if let Ok(mut target) = self.target.try_borrow_mut() {
            *target = None;
        }
    }

    /// The C function pointer.
    #[getter]
    fn address(&self) -> u64 {
        self.cb.address()
    }
}

/// Where a Python buffer's memory is: `(address, size, readonly, c_contiguous)`, for
/// `from_buffer` on the native backend (the caller keeps a memoryview of `obj`, so that the
/// memory stays where it is).
#[pyfunction]
fn buffer_info(obj: &Bound<'_, PyAny>) -> PyResult<(usize, usize, bool, bool)> {
    let mut view = std::mem::MaybeUninit::<ffi::Py_buffer>::uninit();
    // SAFETY: `view` is written by PyObject_GetBuffer on success, and released below.
    unsafe {
        if ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), ffi::PyBUF_FULL_RO) != 0 {
            return Err(PyErr::fetch(obj.py()));
        }
        let v = view.assume_init_mut();
        let info = (
            v.buf as usize,
            v.len as usize,
            v.readonly != 0,
            ffi::PyBuffer_IsContiguous(v, b'C' as std::ffi::c_char) != 0,
        );
        ffi::PyBuffer_Release(v);
        Ok(info)
    }
}

/// Builds a C file with the project's toolchain (cached by content): `(module, shared object)`.
#[pyfunction]
fn build(source: &str) -> PyResult<(String, String)> {
    let built = wasmctypes::Toolchain::find()
        .and_then(|t| t.build_cached(source.as_ref()))
        .py()?;
    Ok((
        built.wasm.display().to_string(),
        built.native.display().to_string(),
    ))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(build, m)?)?;
    m.add_function(wrap_pyfunction!(buffer_info, m)?)?;
    m.add_class::<Process>()?;
    m.add_class::<Library>()?;
    m.add_class::<Func>()?;
    m.add_class::<Block>()?;
    m.add_class::<CallbackObj>()?;
    m.add_class::<StructDesc>()?;
    m.add_class::<CDataBase>()?;
    m.add_class::<CFuncBase>()?;
    m.add_class::<Items>()?;
    m.add_class::<Alloc>()?;
    m.add("ArgumentError", m.py().get_type::<ArgumentError>())?;
    m.add("MAX_ARGS", wasmctypes::MAX_ARGS)?;
    m.add("SandboxError", m.py().get_type::<SandboxError>())?;
    Ok(())
}
