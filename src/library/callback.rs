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

use crate::backend::Memory;
use crate::error::{Error, Result};
use crate::library::{LibInner, CDLL};
use crate::types::CType;
use crate::value::{Pointer, Value};

/// A callback prototype: ctypes' `CFUNCTYPE(restype, *argtypes)`.
#[derive(Clone, Debug, PartialEq)]
pub struct CFuncType {
    /// The result type (`CType::Void` for none).
    pub restype: CType,
    /// The argument types.
    pub argtypes: Vec<CType>,
}

/// `CFUNCTYPE(restype, *argtypes)`.
#[allow(non_snake_case)]
pub fn CFUNCTYPE(restype: CType, argtypes: &[CType]) -> CFuncType {
    CFuncType {
        restype,
        argtypes: argtypes.to_vec(),
    }
}

/// A C function pointer that calls a Rust closure, valid while this object lives.
pub struct Callback {
    lib: Rc<LibInner>,
    ptr: u64,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<CFunctionType 0x{:x} in {}>", self.ptr, self.lib.name)
    }
}

impl Callback {
    /// `proto(f)`: makes `f` callable from C in `lib`.
    pub fn new(
        lib: &CDLL,
        proto: &CFuncType,
        f: impl Fn(&mut dyn Memory, &[Value]) -> Result<Value> + 'static,
    ) -> Result<Callback> {
        if proto.argtypes.contains(&CType::Void) {
            return Err(Error::TypeError("void is not an argument type".into()));
        }
        let ptr = lib
            .inner
            .backend()?
            .make_callback(&proto.argtypes, proto.restype, Rc::new(f))?;
        Ok(Callback {
            lib: lib.inner.clone(),
            ptr,
        })
    }

    /// The function pointer C sees: a table index in wasm, a code address natively.
    pub fn address(&self) -> u64 {
        self.ptr
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
    fn from(c: &Callback) -> Value {
        Value::Pointer(Pointer {
            lib: c.lib.id,
            addr: c.ptr,
        })
    }
}
