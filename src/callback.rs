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
//! use wasmctypes::{BackendKind, CType, Callback, Value, CDLL, CFUNCTYPE};
//! let lib = CDLL::open("target/guest/callbacks.wasm", BackendKind::Wasm)?;
//! let cmp = CFUNCTYPE(CType::Int, &[CType::VoidP, CType::VoidP]);
//! let by_value = Callback::new(&lib, &cmp, |mem, args| {
//!     let (a, b) = (mem.get(args[0].as_int().unwrap() as u64, CType::Int)?, mem.get(args[1].as_int().unwrap() as u64, CType::Int)?);
//!     Ok(Value::Int(a.as_int().unwrap() - b.as_int().unwrap()))
//! })?;
//! # Ok::<(), wasmctypes::Error>(())
//! ```

use std::rc::Rc;

use crate::ctype::{CType, DataModel, Repr};
use crate::error::{Error, Result};
use crate::library::{LibInner, CDLL};
use crate::memory::{decode, encode};
use crate::value::{int_from_bits, Pointer, Value};

/// A view of a library's memory, given to a callback while C is running.
pub trait Memory {
    /// Copies bytes out (bounds-checked in wasm).
    fn read_into(&mut self, addr: u64, out: &mut [u8]) -> Result<()>;
    /// Copies bytes in (bounds-checked in wasm).
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<()>;
    /// The library's data model.
    fn data_model(&self) -> DataModel;
}

impl dyn Memory + '_ {
    /// `len` bytes at `addr`.
    pub fn read(&mut self, addr: u64, len: usize) -> Result<Vec<u8>> {
        if addr == 0 && len > 0 {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        let mut out = vec![0; len];
        self.read_into(addr, &mut out)?;
        Ok(out)
    }

    /// The value of type `t` at `addr` (`cast(addr, POINTER(t))[0]`).
    pub fn get(&mut self, addr: u64, t: CType) -> Result<Value> {
        let r = self.data_model().repr(t);
        let raw = self.read(addr, r.size())?;
        Ok(decode(t, r, &raw))
    }

    /// Stores `v` as type `t` at `addr`.
    pub fn set(&mut self, addr: u64, t: CType, v: &Value) -> Result<()> {
        if addr == 0 {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        let r = self.data_model().repr(t);
        let bits = encode(t, r, v)?;
        self.write(addr, &bits.to_le_bytes()[..r.size()])
    }
}

/// What a callback runs: the converted arguments in, the result out.
pub type CallbackFn = dyn Fn(&mut dyn Memory, &[Value]) -> Result<Value>;

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

/// Converts the raw arguments of a callback to values (pointers as integer addresses).
pub(crate) fn callback_args(types: &[CType], m: DataModel, raw: &[u64]) -> Vec<Value> {
    types
        .iter()
        .zip(raw)
        .map(|(t, bits)| match t {
            CType::Float => Value::Float(f32::from_bits(*bits as u32) as f64),
            CType::Double => Value::Float(f64::from_bits(*bits)),
            CType::Bool => Value::Bool(*bits as u8 != 0),
            CType::CharP | CType::WCharP | CType::VoidP if *bits == 0 => Value::None,
            other => Value::Int(int_from_bits(*bits, m.repr(*other))),
        })
        .collect()
}

/// Converts a callback's result to raw bits of `t`.
pub(crate) fn callback_result(t: CType, m: DataModel, v: &Value) -> Result<u64> {
    if t == CType::Void {
        return Ok(0);
    }
    let r = m.repr(t);
    if let (Repr::F32 | Repr::F64, Value::Int(i)) = (r, v) {
        return encode(t, r, &Value::Float(*i as f64));
    }
    encode(t, r, v)
        .map_err(|e| Error::TypeError(format!("callback returned a bad value for {t}: {e}")))
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
