//! A C function with its prototype, prepared: the call path from Python in Rust.

use std::cell::Cell;
use std::rc::Rc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyString, PyTuple, PyType};

use wasmctypes::{CType, Error, LibId, Pointer, StructValue, Type, Value};

use crate::carg::CArg;
use crate::cdata::CDataBase;
use crate::convert::{object, type_of, value, StructDesc};
use crate::error::{py_err, ArgumentError, OrPy};
use crate::gate::Claim;
use crate::mirror::Direction;
use crate::process::Process;
use crate::staging::Staged;

/// A function with its prototype, prepared: what a call converts, calls and converts back in
/// Rust. Shared by its [`Func`] and by the function object's [`CDataBase`].
pub(crate) struct Prepared {
    f: wasmctypes::Function,
    /// The process the function belongs to, whose gate every call claims.
    process: Py<Process>,
    /// The id of the process whose memory the function's pointer arguments point into.
    lib: LibId,
    /// ctypes' `PyDLL`: the GIL is kept during calls, and an exception C set (natively,
    /// through the interpreter's API) is raised after the call.
    python_api: bool,
    /// The positions where a `bytes` argument passes as a pointer to its bytes (declared
    /// `c_char_p` or `c_void_p`, or not declared: see [`crate::staging`]).
    bytes_ok: u64,
    /// The positions declared as a pointer, array, function pointer or structure type,
    /// whose `from_param` takes no plain value; of those, the structures' and function
    /// pointers' take no None either ([`Func::_objects_only`]).
    objects_only: Cell<u64>,
    none_refused: Cell<u64>,
    /// The structure types learned to pass by value ([`Pass::ByValue`]).
    structs: std::cell::RefCell<smallvec::SmallVec<[Py<StructDesc>; 2]>>,
    /// `(position, type, how)`: the ctypes types whose instances pass the same way for every
    /// instance there, as ctypes' rules say ([`Func::_learn`]). At most [`LEARNED`] of them.
    by_address: std::cell::RefCell<Learned>,
}

/// How the instances of a learned type pass at a position (see [`Prepared::by_address`]).
#[derive(Clone, Copy)]
pub(crate) enum Pass {
    /// As their address.
    Address,
    /// Without argtypes, a number type's instance as the number it holds, of this C type.
    Number(CType),
    /// `byref(obj)` of an instance (a cparam whose object is of the type): as its address.
    ByRef,
    /// A function pointer: as the address it holds.
    Held,
    /// A structure by value, of the layout of [`Prepared::structs`]'s entry.
    ByValue(usize),
}

/// `(position, type, how)` triples of [`Prepared::by_address`].
pub(crate) type Learned = smallvec::SmallVec<[(usize, Py<PyType>, Pass); 4]>;

/// How many `(position, type)` pairs a function learns to pass as addresses.
pub(crate) const LEARNED: usize = 16;

/// The arguments of one call, on the stack for the usual counts.
pub(crate) type Args = smallvec::SmallVec<[Value; 6]>;

impl Prepared {
    /// Argument `i` as its type was learned to pass there ([`Func::_learn`]): `a`'s address
    /// as a pointer, or the number it holds, typed; `None` if its type was not learned.
    fn address_of(&self, i: usize, a: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
        let py = a.py();
        if let Ok(carg) = a.cast_exact::<CArg>() {
            // byref(obj): learned for obj's type, its address.
            let carg = carg.get();
            let Some(addr) = carg.addr(py) else {
                return Ok(None);
            };
            return Ok(self
                .learned(i, &carg.obj.bind(py).get_type())
                .filter(|how| matches!(how, Pass::ByRef))
                .map(|_| self.pointer(addr)));
        }
        let Ok(obj) = a.cast::<CDataBase>() else {
            return Ok(None);
        };
        let addr = obj.get().addr.load(py);
        match self.learned(i, &a.get_type()) {
            Some(Pass::Address) => Ok(Some(self.pointer(addr))),
            Some(Pass::Number(ct)) => {
                // The value as `_SimpleCData._as_arg` reads it: the host's bytes first, if
                // the object is a mirror of a host buffer.
                let process = self.process.get();
                process.sync_range(py, Direction::In, addr, process.sandbox.sizeof(ct))?;
                let v = process.sandbox.get(addr, ct).py()?;
                Ok(Some(Value::Typed(ct, v.into())))
            }
            Some(Pass::Held) => {
                let held = self.process.get().pointer_at(py, addr)?;
                Ok(Some(self.pointer(held)))
            }
            Some(Pass::ByValue(k)) => {
                let Some(desc) = self.structs.borrow().get(k).map(|d| d.clone_ref(py)) else {
                    return Ok(None);
                };
                let d = desc.borrow(py);
                let size = d.ty.layout(d.model).size;
                let process = self.process.get();
                process.sync_range(py, Direction::In, addr, size)?;
                let mut bytes = smallvec::SmallVec::<[u8; 64]>::from_elem(0, size);
                process.sandbox.read_into(addr, &mut bytes).py()?;
                let v = StructValue::from_bytes(&d.ty, d.model, &bytes).py()?;
                Ok(Some(Value::Struct(v)))
            }
            Some(Pass::ByRef) | None => Ok(None),
        }
    }

    /// How instances of `ty` were learned to pass at position `i`, if they were.
    fn learned(&self, i: usize, ty: &Bound<'_, PyType>) -> Option<Pass> {
        self.by_address
            .borrow()
            .iter()
            .find(|(p, t, _)| *p == i && t.bind(ty.py()).is(ty))
            .map(|(_, _, how)| *how)
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
    fn argument<'py>(
        &self,
        i: usize,
        a: &Bound<'py, PyAny>,
        staged: &mut Staged<'py>,
    ) -> PyResult<Option<Value>> {
        let bit = 1u64 << i.min(63);
        if self.objects_only.get() & bit != 0 {
            // A pointer or array type: None (NULL), or an object of a type learned to pass
            // as its address; a function pointer or structure: an object of a type learned to
            // pass so. Anything else is for its from_param.
            return match a.is_none() {
                true if self.none_refused.get() & bit == 0 => Ok(Some(Value::None)),
                true => Ok(None),
                false => self.address_of(i, a),
            };
        }
        if a.is_exact_instance_of::<PyInt>() {
            if let Ok(n) = a.extract::<i64>() {
                return Ok(Some(Value::Int(n as i128)));
            }
            return value(a, self.lib).map(Some);
        }
        if let Ok(b) = a.cast_exact::<PyBytes>() {
            if self.bytes_ok & bit == 0 {
                return Ok(None);
            }
            return self.process.get().stage_bytes(a.py(), b, staged).map(Some);
        }
        if a.is_none()
            || a.is_exact_instance_of::<PyFloat>()
            || a.is_exact_instance_of::<PyString>()
        {
            return value(a, self.lib).map(Some);
        }
        self.address_of(i, a)
    }

    /// The call, if every argument is a plain Python value (int, float, bytes, str, None)
    /// that the core converts alone; `NotImplemented`, with nothing called, if one needs
    /// ctypes' own conversions (`from_param`, an object's address) or is refused, so that
    /// the Python layer converts it and reports the error ctypes reports. The hot path:
    /// no exception is made for the fallback.
    pub(crate) fn fast(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        if args.len() > wasmctypes::MAX_ARGS {
            return Ok(py.NotImplemented());
        }
        let process = self.process.get();
        let claim = process.claim(py)?;
        let mut staged = Staged::default();
        let mut values = Args::new();
        for (i, a) in args.iter().enumerate() {
            match self.argument(i, &a, &mut staged) {
                Ok(Some(v)) => values.push(v),
                Ok(None) => {
                    process.unstage(py, staged);
                    return Ok(py.NotImplemented());
                }
                Err(e) => {
                    process.unstage(py, staged);
                    return Err(e);
                }
            }
        }
        let outcome = self.call(py, &values, staged, claim)?;
        match outcome {
            Ok(ret) => object(py, ret),
            Err(Error::ArgumentError { .. }) => Ok(py.NotImplemented()),
            Err(e) => Err(py_err(e)),
        }
    }

    /// The call itself, with the process claimed (see [`Gate`](crate::gate::Gate)): the
    /// host buffers mirrored in the sandbox synced around it ([`crate::mirror`]), the
    /// arguments' staged copies copied back after it ([`crate::staging`]). The outer error
    /// is a sync's, or an exception C set through the interpreter's API.
    pub(crate) fn call(
        &self,
        py: Python<'_>,
        values: &[Value],
        staged: Staged<'_>,
        claim: Claim<'_>,
    ) -> PyResult<wasmctypes::Result<Value>> {
        let process = self.process.get();
        if let Err(e) = process.sync_mirrors(py, Direction::In) {
            process.unstage(py, staged);
            return Err(e);
        }
        let outcome = self.f.call(values);
        let synced = process.sync_mirrors(py, Direction::Out);
        process.unstage(py, staged);
        drop(claim);
        synced?;
        if self.python_api {
            if let Some(e) = PyErr::take(py) {
                return Err(e);
            }
        }
        Ok(outcome)
    }

    /// An argument the Python layer converted (see [`Func::__call__`]) as the core takes it:
    /// [`value`], but `bytes` (plain, or typed `("z", b)` / `("P", b)`) pass as a pointer to
    /// their bytes (see [`crate::staging`]).
    fn converted<'py>(&self, a: &Bound<'py, PyAny>, staged: &mut Staged<'py>) -> PyResult<Value> {
        let process = self.process.get();
        if let Ok(b) = a.cast_exact::<PyBytes>() {
            return process.stage_bytes(a.py(), b, staged);
        }
        if let Ok(t) = a.cast_exact::<PyTuple>() {
            if t.len() == 2 {
                if let (Ok(code), Ok(b)) = (t.get_item(0)?.extract::<String>(), t.get_item(1)) {
                    if let (Some(ct), Ok(b)) = (
                        match code.as_str() {
                            "z" => Some(CType::CharP),
                            "P" => Some(CType::VoidP),
                            _ => None,
                        },
                        b.cast_exact::<PyBytes>(),
                    ) {
                        let p = process.stage_bytes(a.py(), b, staged)?;
                        return Ok(Value::Typed(ct, p.into()));
                    }
                }
            }
        }
        value(a, self.lib)
    }
}

/// A function with its prototype (see [`Prepared`]), as the Python layer holds it.
#[pyclass(frozen, module = "wasmctypes._core")]
pub(crate) struct Func {
    pub(crate) p: Rc<Prepared>,
}

impl Func {
    pub(crate) fn declared(
        process: &Bound<'_, Process>,
        mut f: wasmctypes::Function,
        argtypes: Option<Vec<Bound<'_, PyAny>>>,
        restype: Bound<'_, PyAny>,
        use_errno: bool,
        release_gil: bool,
    ) -> PyResult<Func> {
        let lib = process.get().sandbox.id();
        f.set_detach(release_gil);
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
        // Bytes pass as a pointer where declared c_char_p or c_void_p, and past the
        // declared arguments (variadic ones, or all without argtypes: as c_char_p).
        let declared = f.argtypes().unwrap_or(&[]);
        let mut bytes_ok = u64::MAX << declared.len().min(63);
        for (i, t) in declared.iter().enumerate() {
            if matches!(t, Type::Simple(CType::CharP | CType::VoidP)) && i < 64 {
                bytes_ok |= 1 << i;
            }
        }
        Ok(Func {
            p: Rc::new(Prepared {
                f,
                process: process.clone().unbind(),
                lib,
                python_api: !release_gil,
                bytes_ok,
                objects_only: Cell::new(0),
                none_refused: Cell::new(0),
                structs: Default::default(),
                by_address: Default::default(),
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
        let process = self.p.process.get();
        let claim = process.claim(py)?;
        let mut staged = Staged::default();
        let mut values = Args::new();
        for (i, a) in args.iter().enumerate() {
            match self.p.converted(&a, &mut staged) {
                Ok(v) => values.push(v),
                Err(e) => {
                    process.unstage(py, staged);
                    return Err(ArgumentError::new_err(format!(
                        "argument {}: {}",
                        i + 1,
                        e.value(py)
                    )));
                }
            }
        }
        let ret = self.p.call(py, &values, staged, claim)?.py()?;
        object(py, ret)
    }

    /// Marks the positions (bits of `mask`) declared as pointer or array types: a plain
    /// value there is for the Python layer's `from_param`, never converted by the core.
    /// Of those, the bits of `no_none` take no None either (structures, function pointers).
    #[pyo3(signature = (mask, no_none = 0))]
    fn _objects_only(&self, mask: u64, no_none: u64) {
        self.p.none_refused.set(no_none);
        self.p.objects_only.set(mask);
    }

    /// Instances of `ty` pass at position `i` from now on on the fast path as their address,
    /// or, with `code` (a number type's, without argtypes), as the number they hold, typed:
    /// ctypes' rules give that for every instance of the type (the Python layer's `_quick`
    /// and `_call`). With `code` `"&"`, `byref()` of an instance of `ty` passes there as its
    /// address (`_byref_quick`).
    #[pyo3(signature = (i, ty, code=None))]
    fn _learn(&self, i: usize, ty: Bound<'_, PyType>, code: Option<&str>) -> PyResult<()> {
        let how = match code {
            None => Pass::Address,
            Some("&") => Pass::ByRef,
            Some("*") => Pass::Held,
            Some(code) => {
                let ct = crate::convert::ctype(code)?;
                if !(ct.is_integer() || matches!(ct, CType::Float | CType::Double))
                    || matches!(ct, CType::Bool | CType::Char | CType::WChar)
                {
                    return Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "{code:?} is not a number type's code"
                    )));
                }
                Pass::Number(ct)
            }
        };
        let mut learned = self.p.by_address.borrow_mut();
        if learned.len() < LEARNED
            && !learned
                .iter()
                .any(|(p, t, _)| *p == i && t.bind(ty.py()).is(&ty))
        {
            learned.push((i, ty.unbind(), how));
        }
        Ok(())
    }

    /// Instances of the structure type `ty` pass at position `i` from now on by value, with
    /// the layout `desc` (the Python layer's `_quick`: ctypes' rules pass any instance so).
    fn _learn_struct(&self, i: usize, ty: Bound<'_, PyType>, desc: Py<StructDesc>) {
        let mut structs = self.p.structs.borrow_mut();
        let mut learned = self.p.by_address.borrow_mut();
        if learned.len() < LEARNED
            && !learned
                .iter()
                .any(|(p, t, _)| *p == i && t.bind(ty.py()).is(&ty))
        {
            structs.push(desc);
            learned.push((i, ty.unbind(), Pass::ByValue(structs.len() - 1)));
        }
    }

    /// [`Prepared::fast`].
    #[pyo3(signature = (*args))]
    fn fast(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        self.p.fast(py, args)
    }
}
