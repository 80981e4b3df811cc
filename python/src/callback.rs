//! Callbacks: C function pointers that call Python, their arguments and results converted in
//! Rust (ctypes' `CFUNCTYPE(...)(callable)`).

use std::rc::Rc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyInt, PyTuple, PyType};

use wasmctypes::{CFuncType, CType, Callback, LibId, Type, Value};

use crate::cdata::CDataBase;
use crate::convert::{object, type_of, value};
use crate::error::OrPy;
use crate::mirror::Direction;
use crate::pointer_arg::PointerArg;
use crate::process::Process;
use crate::release_gil::with_gil;

/// What a callback's result goes to C as (see [`CallbackObj::new`]).
#[derive(Clone, Copy)]
pub(crate) enum Passes {
    Nothing,
    Int,
    Float,
    Converted,
}

/// What a callback's argument becomes (see [`CallbackObj::new`]).
pub(crate) enum Conv {
    /// The value as it is.
    Plain,
    /// A pointer object of a pointer type.
    Pointer(PointerArg),
    /// What this Python callable makes of the value.
    Call(Py<PyAny>),
}

/// A callback's Python side: the callable and its conversions (see [`CallbackObj::new`]).
pub(crate) struct Target {
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
        // The pointer objects made, with the callback's own reference to each (see
        // `PointerArg::done`).
        let mut made: smallvec::SmallVec<[(&PointerArg, Bound<'_, CDataBase>); 2]> =
            smallvec::SmallVec::new();
        let called = (|| -> PyResult<Bound<'_, PyAny>> {
            let mut args: smallvec::SmallVec<[Bound<'_, PyAny>; 6]> = smallvec::SmallVec::new();
            for (v, conv) in values.iter().zip(&self.convs) {
                let arg = match conv {
                    Conv::Plain => object(py, v.clone())?.into_bound(py),
                    Conv::Pointer(pa) => {
                        let addr = match v {
                            Value::Pointer(p) => p.addr,
                            Value::Int(i) => *i as u64,
                            _ => 0,
                        };
                        let p = pa.make(py, addr)?;
                        made.push((pa, p.clone()));
                        p.into_any()
                    }
                    Conv::Call(c) => c.call1(py, (object(py, v.clone())?,))?.into_bound(py),
                };
                args.push(arg);
            }
            self.callable.bind(py).call1(PyTuple::new(py, args)?)
        })();
        let outcome = self.result(py, called, passes, lib);
        for (pa, p) in made {
            pa.done(p);
        }
        outcome
    }

    /// What the callable's result `called` goes to C as (see [`Target::run`]).
    fn result(
        &self,
        py: Python<'_>,
        called: PyResult<Bound<'_, PyAny>>,
        passes: Passes,
        lib: LibId,
    ) -> Result<Value, ()> {
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

/// A callback's function pointer, alive as long as this object.
#[pyclass(module = "wasmctypes._core")]
pub(crate) struct CallbackObj {
    /// `None` once dropped (see `Drop`).
    cb: Option<Callback>,
    target: Rc<std::cell::RefCell<Option<Target>>>,
    process: Py<Process>,
}

impl Drop for CallbackObj {
    fn drop(&mut self) {
        // Its table slot is released now if the sandbox is free for this thread, else when it
        // next is (another thread's call may be using the table).
        if let Some(cb) = self.cb.take() {
            Python::attach(|py| {
                let process = self.process.get();
                match process.gate.try_claim() {
                    Some(_claim) => drop(cb),
                    None => process.defer(py, crate::process::Deferred::Callback(cb)),
                }
            });
        }
    }
}

#[pymethods]
impl CallbackObj {
    /// `_core.CallbackObj(process, restype, args, callable, convs, result, error)`: a C
    /// function pointer of `process` that calls `callable` with arguments of the type descriptors
    /// `args` and converts its result to `restype`, as ctypes' callbacks do, in Rust:
    ///
    /// - argument `i` is given to `callable` as it is when `convs[i]` is None, as a pointer
    ///   object when `convs[i]` is a pointer type (see [`PointerArg`]), and as
    ///   `convs[i](value)` otherwise;
    /// - an exception is given to `error(exc)` (which reports it: ctypes' unraisable
    ///   message), and C gets zero;
    /// - a void callback's result is ignored; an int (for an integer restype) or a float
    ///   (for `c_float`, `c_double`) goes to C as it is; any other result is converted by
    ///   `result(r)` first, which reports its own errors and returns zero then.
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        process: Bound<'_, Process>,
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
        let lib = process.get().sandbox.id();
        let convs = convs
            .into_iter()
            .map(|c| -> PyResult<Conv> {
                let Some(c) = c else {
                    return Ok(Conv::Plain);
                };
                let c = c.into_bound(py);
                Ok(match c.cast::<PyType>() {
                    Ok(cls) if cls.is_subclass_of::<CDataBase>()? => {
                        Conv::Pointer(PointerArg::new(cls)?)
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
        let owner = process.clone().unbind();
        let claim = process.get().claim(py)?;
        // The callback's Python code uses the sandbox as its own caller does (C is suspended
        // in the callback: the call's claim is this thread's), through the process.
        let cb = Callback::new(&process.get().sandbox, &proto, move |_, values| {
            with_gil(|py| {
                let Ok(cell) = held.try_borrow() else {
                    return Ok(zero.clone());
                };
                let Some(t) = cell.as_ref() else {
                    return Ok(zero.clone());
                };
                let process = owner.get();
                // C may have written to host buffers' mirrors: the callback's Python code
                // sees what it wrote, and C sees what the callback writes.
                let _ = process.sync_mirrors(py, Direction::Out);
                let outcome = process.gate.in_callback(|| t.run(py, values, passes, lib));
                let _ = process.sync_mirrors(py, Direction::In);
                Ok(outcome.unwrap_or_else(|_| zero.clone()))
            })
        })
        .py()?;
        drop(claim);
        Ok(CallbackObj {
            cb: Some(cb),
            target,
            process: process.unbind(),
        })
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if let Ok(target) = self.target.try_borrow() {
            if let Some(t) = target.as_ref() {
                visit.call(&t.callable)?;
                visit.call(&t.result)?;
                visit.call(&t.error)?;
                for c in &t.convs {
                    match c {
                        Conv::Plain => {}
                        Conv::Pointer(pa) => pa.traverse(&visit)?,
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
        self.cb.as_ref().map_or(0, Callback::address)
    }
}
