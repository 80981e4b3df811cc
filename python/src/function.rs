//! A C function with its prototype, prepared: the call path from Python in Rust.

use std::cell::Cell;
use std::rc::Rc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyString, PyTuple, PyType};

use wasmctypes::{BackendKind, CType, Error, LibId, Pointer, Type, Value};

use crate::cdata::CDataBase;
use crate::convert::{object, type_of, value};
use crate::error::{py_err, ArgumentError, OrPy};
use crate::process::Process;

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
pub(crate) const SPARE_MAX: usize = 64 * 1024;

/// `(position, type)` pairs of [`Prepared::by_address`].
pub(crate) type Learned = smallvec::SmallVec<[(usize, Py<PyType>); 4]>;

/// How many `(position, type)` pairs a function learns to pass as addresses.
pub(crate) const LEARNED: usize = 16;

/// The arguments of one call, on the stack for the usual counts.
pub(crate) type Args = smallvec::SmallVec<[Value; 6]>;

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
            .then(|| self.pointer(obj.get().addr.load(a.py())))
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
    pub(crate) fn fast(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
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
        let outcome = self.call(py, &values)?;
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

    /// The call itself, with the process claimed for it (see [`Gate`](crate::gate::Gate));
    /// the outer error is the claim's or an exception C set through the interpreter's API.
    #[inline]
    pub(crate) fn call(
        &self,
        py: Python<'_>,
        values: &[Value],
    ) -> PyResult<wasmctypes::Result<Value>> {
        let process = self.process.get();
        let claim = process.claim(py)?;
        let outcome = self.f.call(values);
        drop(claim);
        if self.python_api {
            if let Some(e) = PyErr::take(py) {
                return Err(e);
            }
        }
        Ok(outcome)
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
        let native = process.get().sandbox.backend() == BackendKind::Native;
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
                process: process.clone().unbind(),
                lib,
                python_api: !release_gil,
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
        let ret = self.p.call(py, &values)?.py()?;
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
