//! What a callback receives while C is running: a view of the library's memory, and the
//! converted arguments.

use std::rc::Rc;

use crate::error::{Error, Result};
use crate::types::{CType, DataModel, StructType};
use crate::value::{from_bits, StructValue, Value};

/// How one argument reaches a callback: a scalar of a fundamental type (pointers and function
/// pointers as `c_void_p`), or a structure by value.
#[derive(Clone, Debug)]
pub(crate) enum CallbackArg {
    Scalar(CType),
    Struct(Rc<StructType>),
}

impl CallbackArg {
    /// The value of a scalar argument from its raw bits (NULL pointers as None, as ctypes
    /// gives them), or of a structure from its bytes.
    pub(crate) fn value(&self, m: DataModel, bits: u64, bytes: &[u8]) -> Result<Value> {
        Ok(match self {
            CallbackArg::Scalar(t) => CallbackArg::scalar(*t, m, bits),
            CallbackArg::Struct(s) => Value::Struct(StructValue::from_bytes(s, m, bytes)?),
        })
    }

    /// The value of a scalar argument of type `t` from its raw bits (see
    /// [`CallbackArg::value`]); it cannot fail.
    #[inline]
    pub(crate) fn scalar(t: CType, m: DataModel, bits: u64) -> Value {
        match t {
            CType::CharP | CType::WCharP | CType::VoidP if bits == 0 => Value::None,
            t => from_bits(t, m.repr(t), bits),
        }
    }
}

/// A view of a library's memory, given to a callback while C is running.
pub trait Memory {
    /// Copies bytes out (bounds-checked in wasm).
    fn read_into(&mut self, addr: u64, out: &mut [u8]) -> Result<()>;
    /// Copies bytes in (bounds-checked in wasm).
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<()>;
    /// The library's data model.
    fn data_model(&self) -> DataModel;
    /// `malloc(size)` with the library's own allocator, from inside the callback: memory
    /// that outlives it and that [`Memory::free`] (or the library, after the call) releases.
    /// Never NULL: failure is an error.
    fn malloc(&mut self, size: usize) -> Result<u64>;
    /// Releases memory from [`Memory::malloc`] or from the library's own `malloc`.
    fn free(&mut self, addr: u64) -> Result<()>;
}

impl dyn Memory + '_ {
    /// `len` bytes at `addr`.
    pub fn read(&mut self, addr: u64, len: usize) -> Result<Vec<u8>> {
        if addr == 0 && len > 0 {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        let mut out = crate::error::zeroed(len)?;
        self.read_into(addr, &mut out)?;
        Ok(out)
    }

    /// The value of type `t` at `addr` (`cast(addr, POINTER(t))[0]`).
    pub fn get(&mut self, addr: u64, t: CType) -> Result<Value> {
        let m = self.data_model();
        crate::value::load(m, addr, t, |at, out| self.read_into(at, out))
    }

    /// Stores `v` as type `t` at `addr`.
    pub fn set(&mut self, addr: u64, t: CType, v: &Value) -> Result<()> {
        let m = self.data_model();
        crate::value::store(m, addr, t, v, |at, bytes| self.write(at, bytes))
    }
}

/// What a callback runs: the converted arguments in, the result out.
pub type CallbackFn = dyn Fn(&mut dyn Memory, &[Value]) -> Result<Value>;

/// A callback's converted arguments, on the stack for the usual counts.
pub(crate) type CallbackValues = smallvec::SmallVec<[Value; 6]>;
