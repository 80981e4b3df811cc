//! Structure instances: a host-side copy ([`StructValue`], what a by-value call returns) and
//! an instance in a library's memory ([`CStruct`], what C gets a pointer to).
//!
//! Fields are read and written by name with ctypes' conversions; bitfields are masked to their
//! width and sign-extended when their type is signed.

use std::rc::Rc;

use std::cell::RefCell;

use crate::data::array::Array;
use crate::data::memory::{load_member, store_member, Block, CData};
use crate::error::{Error, Result};
use crate::library::CDLL;
use crate::types::{StructType, Type};
use crate::value::{field_index, StructValue, Value};

/// A structure instance in a library's memory: what C sees at `addressof(s)`.
pub struct CStruct {
    lib: CDLL,
    addr: u64,
    ty: Rc<StructType>,
    owner: Option<Rc<Block>>,
    /// Copies of the bytes and strings stored into `c_char_p` / `c_wchar_p` fields, alive as
    /// long as the instance (ctypes' `_objects`).
    kept: RefCell<Vec<Rc<Block>>>,
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
    /// `T(*values)` in `lib`'s memory. Bytes for a `c_char_p` field (a str for `c_wchar_p`)
    /// are copied into the library's memory and kept alive by the instance, as in ctypes.
    pub fn new(lib: &CDLL, ty: &Rc<StructType>, values: &[Value]) -> Result<CStruct> {
        let mut kept = Vec::new();
        let mut stored = Vec::with_capacity(values.len());
        for (field, v) in ty.fields().iter().zip(values) {
            let (v, block) = store_member(lib, &field.ty, v.clone())?;
            stored.push(v);
            kept.extend(block);
        }
        stored.extend(values.iter().skip(stored.len()).cloned());
        let v = StructValue::from_values(ty, lib.data_model(), &stored)?;
        let s = CStruct::from_value(lib, &v)?;
        s.kept.borrow_mut().extend(kept);
        Ok(s)
    }

    /// `T.in_dll(lib, name)`: the library's exported structure `name`, read and written in
    /// place. A missing symbol is an AttributeError.
    pub fn in_dll(lib: &CDLL, ty: &Rc<StructType>, name: &str) -> Result<CStruct> {
        Ok(CStruct::from_address(lib, ty, lib.data_address(name)?))
    }

    /// `POINTER(T)`'s `p.contents`: the structure a pointer value (a call's `POINTER(T)`
    /// result, an address) points at, as a view. NULL is a ValueError.
    pub fn from_pointer(lib: &CDLL, ty: &Rc<StructType>, p: &Value) -> Result<CStruct> {
        let addr = match p {
            Value::Pointer(ptr) if ptr.lib == lib.id() => ptr.addr,
            Value::Pointer(_) => {
                return Err(Error::ValueError(
                    "the pointer belongs to another library".into(),
                ))
            }
            Value::Int(a) => *a as u64,
            Value::None => 0,
            other => {
                return Err(Error::wrong_type(
                    format!("LP_{}", ty.name()),
                    other.py_type(),
                ))
            }
        };
        if addr == 0 {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        Ok(CStruct::from_address(lib, ty, addr))
    }

    /// `p[i]` for a pointer to this structure: the `i`-th structure from this one, as a view
    /// that keeps this one's memory alive.
    pub fn index(&self, i: isize) -> CStruct {
        let size = self.size() as i64;
        CStruct {
            lib: self.lib.clone(),
            addr: self.addr.wrapping_add_signed(i as i64 * size),
            ty: self.ty.clone(),
            owner: self.owner.clone(),
            kept: RefCell::new(Vec::new()),
        }
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
            kept: RefCell::new(Vec::new()),
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
            kept: RefCell::new(Vec::new()),
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

    /// `s.name`. A `c_char_p` field reads as the bytes it points at (None for NULL); a
    /// structure or array field is copied out (see [`CStruct::member`] and
    /// [`CStruct::member_array`] for views that write through).
    pub fn get(&self, name: &str) -> Result<Value> {
        let v = self.value()?.get(name)?;
        load_member(&self.lib, &self.field_type(name)?, v)
    }

    /// `s.name = v`. Bytes stored into a `c_char_p` field (a str into `c_wchar_p`) are
    /// copied into the library's memory and kept alive by this instance.
    pub fn set(&self, name: &str, v: impl Into<Value>) -> Result<()> {
        let (v, block) = store_member(&self.lib, &self.field_type(name)?, v.into())?;
        self.kept.borrow_mut().extend(block);
        let mut copy = self.value()?;
        copy.set(name, v)?;
        self.lib.write(self.addr, &copy.bytes)
    }

    /// `s.name` for a structure field, as ctypes gives it: a view of the member inside this
    /// structure, so `s.inner.b = 9` (`s.member("inner")?.set("b", 9)`) writes through.
    pub fn member(&self, name: &str) -> Result<CStruct> {
        let (ty, offset) = self.member_at(name)?;
        let Type::Struct(inner) = ty else {
            return Err(Error::TypeError(format!(
                "{}.{name} is {}, not a structure",
                self.ty.name(),
                ty.name()
            )));
        };
        Ok(CStruct {
            lib: self.lib.clone(),
            addr: self.addr + offset as u64,
            ty: inner,
            owner: self.owner.clone(),
            kept: RefCell::new(Vec::new()),
        })
    }

    /// `s.name` for an array field: a view of the member's elements inside this structure.
    pub fn member_array(&self, name: &str) -> Result<Array> {
        let (ty, offset) = self.member_at(name)?;
        let Type::Array(elem, len) = ty else {
            return Err(Error::TypeError(format!(
                "{}.{name} is {}, not an array",
                self.ty.name(),
                ty.name()
            )));
        };
        Ok(Array::view_in(
            &self.lib,
            (*elem).clone(),
            len,
            self.addr + offset as u64,
            self.owner.clone(),
        ))
    }

    fn field_type(&self, name: &str) -> Result<Type> {
        Ok(self.member_at(name)?.0)
    }

    /// The type and byte offset of field `name`; AttributeError if there is none.
    fn member_at(&self, name: &str) -> Result<(Type, usize)> {
        let i = field_index(&self.ty, name)?;
        let offset = self.ty.layout(self.lib.data_model()).fields[i].offset;
        Ok((self.ty.fields()[i].ty.clone(), offset))
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
