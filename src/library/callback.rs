//! Callbacks: ctypes' `CFUNCTYPE(restype, *argtypes)(pyfunc)`, a Rust closure that C can call
//! through a function pointer.
//!
//! - In wasm the closure becomes a host function placed in the guest's indirect function
//!   table (a free slot, or a new one by growing the table); the function pointer C sees is its
//!   table index. The slot is released when the [`Callback`] is dropped.
//! - Natively it is a libffi closure: real executable code with a host address.
//!
//! The closure gets the arguments converted by the prototype, and a [`Memory`] to read and
//! write the library's memory (pointers it receives point there). A closure that returns an
//! error makes the whole call fail with that error: in wasm the guest is stopped at once; C
//! natively continues with a zero result, after which the call reports the error.
//!
//! ```no_run
//! use wasmctypes::{CType, Callback, Value, CDLL, CFUNCTYPE};
//! let lib = CDLL::open_wasm("target/guest/callbacks.wasm")?;
//! let cmp = CFUNCTYPE(CType::Int, &[CType::VoidP, CType::VoidP]);
//! let by_value = Callback::new(&lib, &cmp, |mem, args| {
//!     let (a, b) = (mem.get(args[0].as_int().unwrap() as u64, CType::Int)?, mem.get(args[1].as_int().unwrap() as u64, CType::Int)?);
//!     Ok(Value::Int(a.as_int().unwrap() - b.as_int().unwrap()))
//! })?;
//! # Ok::<(), wasmctypes::Error>(())
//! ```

use std::rc::Rc;

use crate::backend::{CallbackArg, CallbackFn, Memory};
use crate::error::{Error, Result};
use crate::library::{LibInner, CDLL};
use crate::types::{CFuncType, Type};
use crate::value::{Boxed, FuncPtr, Pointer, Value};

/// A C function pointer that calls a Rust closure, valid while this object lives.
pub struct Callback {
    lib: Rc<LibInner>,
    ptr: u64,
    proto: Rc<CFuncType>,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<CFunctionType 0x{:x} in {}>", self.ptr, self.lib.name)
    }
}

impl Callback {
    /// `proto(f)`: makes `f` callable from C in `lib`. Arguments are fundamental types,
    /// pointers (addresses), function pointers (`CFunctionType` instances) or structures by
    /// value (a copy: what the closure changes, C does not see); the result is a fundamental
    /// type, as in ctypes. An array or a void argument is a TypeError.
    pub fn new(
        lib: &CDLL,
        proto: &CFuncType,
        f: impl Fn(&mut dyn Memory, &[Value]) -> Result<Value> + 'static,
    ) -> Result<Callback> {
        let mut args = Vec::with_capacity(proto.argtypes.len());
        for t in &proto.argtypes {
            args.push(match t {
                Type::Struct(s) => CallbackArg::Struct(s.clone()),
                t => CallbackArg::Scalar(CFuncType::passing(t, false).ok_or_else(|| {
                    Error::TypeError(format!(
                        "a callback cannot take {} as an argument",
                        t.name()
                    ))
                })?),
            });
        }
        let ret = CFuncType::passing(&proto.restype, true).ok_or_else(|| {
            Error::TypeError(format!("a callback cannot return {}", proto.restype.name()))
        })?;
        let id = lib.id();
        let function_args: Vec<(usize, Rc<CFuncType>)> = proto
            .argtypes
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t {
                Type::Function(p) => Some((i, p.clone())),
                _ => None,
            })
            .collect();
        let run: Rc<CallbackFn> = if function_args.is_empty() {
            Rc::new(f)
        } else {
            // A function pointer argument reaches the closure as a `CFunctionType` instance.
            Rc::new(move |mem: &mut dyn Memory, values: &[Value]| {
                let mut values = values.to_vec();
                for (i, p) in &function_args {
                    if let Some(Value::Int(addr)) = values.get(*i) {
                        let ptr = Pointer {
                            lib: id,
                            addr: *addr as u64,
                        };
                        values[*i] = Value::Function(Boxed::new(FuncPtr {
                            proto: p.clone(),
                            ptr,
                        }));
                    }
                }
                f(mem, &values)
            })
        };
        let ptr = lib.inner.backend()?.make_callback(&args, ret, run)?;
        Ok(Callback {
            lib: lib.inner.clone(),
            ptr,
            proto: Rc::new(proto.clone()),
        })
    }

    /// The function pointer C sees: a table index in wasm, a code address natively.
    pub fn address(&self) -> u64 {
        self.ptr
    }

    /// Its prototype.
    pub fn proto(&self) -> &CFuncType {
        &self.proto
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        if let Ok(mut b) = self.lib.backend() {
            b.free_callback(self.ptr);
        }
    }
}

impl From<&Callback> for Value {
    /// The callback as an argument: a `CFunctionType` instance, which fits argtypes of its
    /// own prototype and `c_void_p`.
    fn from(c: &Callback) -> Value {
        Value::Function(Boxed::new(FuncPtr {
            proto: c.proto.clone(),
            ptr: Pointer {
                lib: c.lib.id,
                addr: c.ptr,
            },
        }))
    }
}
