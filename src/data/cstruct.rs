//! Structure instances: a host-side copy ([`StructValue`], what a by-value call returns) and
//! an instance in a library's memory ([`CStruct`], what C gets a pointer to).
//!
//! Fields are read and written by name with ctypes' conversions; bitfields are masked to their
//! width and sign-extended when their type is signed.

use std::rc::Rc;

use crate::data::memory::{Block, CData};
use crate::error::{Error, Result};
use crate::library::CDLL;
use crate::types::StructType;
use crate::value::{StructValue, Value};

/// A structure instance in a library's memory: what C sees at `addressof(s)`.
pub struct CStruct {
    lib: CDLL,
    addr: u64,
    ty: Rc<StructType>,
    owner: Option<Rc<Block>>,
}

impl std::fmt::Debug for CStruct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<{} at 0x{:x} ({})>",
            self.ty.name(),
            self.addr,
            self.lib.backend()
        )
    }
}

impl CStruct {
    /// `T(*values)` in `lib`'s memory.
    pub fn new(lib: &CDLL, ty: &Rc<StructType>, values: &[Value]) -> Result<CStruct> {
        let v = StructValue::from_values(ty, lib.data_model(), values)?;
        CStruct::from_value(lib, &v)
    }

    /// A copy of a host-side value in `lib`'s memory. Its data model must be the library's.
    pub fn from_value(lib: &CDLL, v: &StructValue) -> Result<CStruct> {
        if v.model != lib.data_model() {
            return Err(Error::TypeError(format!(
                "{} is laid out for {}, the library is {}",
                v.ty.name(),
                v.model,
                lib.data_model()
            )));
        }
        let block = Block::with_bytes(lib, &v.bytes)?;
        Ok(CStruct {
            lib: lib.clone(),
            addr: block.addr,
            ty: Rc::clone(&v.ty),
            owner: Some(block),
        })
    }

    /// `T.from_address(addr)`: a view of a structure the host does not own (one that C
    /// returned a pointer to, or an exported global).
    pub fn from_address(lib: &CDLL, ty: &Rc<StructType>, addr: u64) -> CStruct {
        CStruct {
            lib: lib.clone(),
            addr,
            ty: ty.clone(),
            owner: None,
        }
    }

    /// The type.
    pub fn ty(&self) -> &Rc<StructType> {
        &self.ty
    }

    /// A host-side copy of the whole structure.
    pub fn value(&self) -> Result<StructValue> {
        if self.addr == 0 {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        let bytes = self.lib.read(self.addr, self.size())?;
        StructValue::from_bytes(&self.ty, self.lib.data_model(), &bytes)
    }

    /// `s.name`.
    pub fn get(&self, name: &str) -> Result<Value> {
        self.value()?.get(name)
    }

    /// `s.name = v`.
    pub fn set(&self, name: &str, v: impl Into<Value>) -> Result<()> {
        let mut copy = self.value()?;
        copy.set(name, &v.into())?;
        self.lib.write(self.addr, &copy.bytes)
    }
}

impl CData for CStruct {
    fn library(&self) -> CDLL {
        self.lib.clone()
    }
    fn addressof(&self) -> u64 {
        self.addr
    }
    fn size(&self) -> usize {
        self.ty.layout(self.lib.data_model()).size
    }
    fn owner(&self) -> Option<Rc<Block>> {
        self.owner.clone()
    }
}

impl From<&CStruct> for Value {
    /// Passing a structure passes a pointer to it (use [`CStruct::value`] to pass by value).
    fn from(s: &CStruct) -> Value {
        Value::Pointer(s.as_ptr())
    }
}

impl From<StructValue> for Value {
    fn from(s: StructValue) -> Value {
        Value::Struct(s)
    }
}
