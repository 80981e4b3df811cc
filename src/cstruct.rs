//! Structure instances: a host-side copy ([`StructValue`], what a by-value call returns) and
//! an instance in a library's memory ([`CStruct`], what C gets a pointer to).
//!
//! Fields are read and written by name with ctypes' conversions; bitfields are masked to their
//! width and sign-extended when their type is signed.

use std::mem::ManuallyDrop;
use std::rc::Rc;

use crate::boxed::Boxed;
use crate::ctype::{CType, DataModel, Repr};
use crate::error::{Error, Result};
use crate::library::CDLL;
use crate::memory::{decode, encode, Block, CData};
use crate::structure::StructType;
use crate::types::Type;
use crate::value::Value;

/// A structure's bytes held by the host, laid out for one data model: what a function that
/// returns a structure by value gives back (RLBox would call it copied-out), and what can be
/// passed by value.
///
/// Its fields are dropped by one out-of-line call (see [`Boxed`]), so that a [`Value`] holding
/// one does not make every `Value`'s drop glue save registers.
#[derive(Clone, Debug, PartialEq)]
pub struct StructValue {
    ty: ManuallyDrop<Rc<StructType>>,
    model: DataModel,
    bytes: ManuallyDrop<Vec<u8>>,
}

impl Drop for StructValue {
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: the fields are dropped here only, once, and never used afterwards.
        unsafe {
            ManuallyDrop::drop(&mut self.ty);
            ManuallyDrop::drop(&mut self.bytes);
        }
    }
}

fn field_index(ty: &StructType, name: &str) -> Result<usize> {
    ty.index_of(name).ok_or_else(|| Error::AttributeError {
        library: ty.name().to_string(),
        symbol: name.to_string(),
    })
}

/// Reads a value of type `t` from `bytes` (exactly its size).
pub(crate) fn read_value(t: &Type, m: DataModel, bytes: &[u8]) -> Value {
    match t {
        Type::Simple(c) => decode(*c, m.repr(*c), bytes),
        Type::Pointer(_) => decode(CType::VoidP, m.repr(CType::VoidP), bytes),
        Type::Array(elem, n) => {
            let size = elem.sizeof(m);
            Value::List(Boxed::new(
                (0..*n)
                    .map(|i| read_value(elem, m, &bytes[i * size..(i + 1) * size]))
                    .collect(),
            ))
        }
        Type::Struct(s) => Value::Struct(StructValue {
            ty: ManuallyDrop::new(s.clone()),
            model: m,
            bytes: ManuallyDrop::new(bytes.to_vec()),
        }),
    }
}

/// Writes `v` as type `t` into `bytes` (exactly its size), masked as ctypes does.
pub(crate) fn write_value(t: &Type, m: DataModel, bytes: &mut [u8], v: &Value) -> Result<()> {
    match (t, v) {
        (Type::Simple(c), _) => {
            let r = m.repr(*c);
            let bits = encode(*c, r, v)?;
            bytes.copy_from_slice(&bits.to_le_bytes()[..r.size()]);
        }
        (Type::Pointer(_), _) => {
            let r = m.repr(CType::VoidP);
            let bits = encode(CType::VoidP, r, v)?;
            bytes.copy_from_slice(&bits.to_le_bytes()[..r.size()]);
        }
        (Type::Array(elem, n), Value::List(items)) => {
            if items.len() > *n {
                return Err(Error::IndexError("too many initializers".into()));
            }
            let size = elem.sizeof(m);
            for (i, item) in items.iter().enumerate() {
                write_value(elem, m, &mut bytes[i * size..(i + 1) * size], item)?;
            }
        }
        (Type::Struct(s), Value::Struct(sv)) if Rc::ptr_eq(s, &sv.ty) || **s == **sv.ty => {
            bytes.copy_from_slice(&sv.bytes);
        }
        _ => {
            return Err(Error::TypeError(format!(
                "expected {}, got {}",
                t.name(),
                v.py_type()
            )))
        }
    }
    Ok(())
}

impl StructValue {
    /// A zeroed instance (`T()` with no arguments), laid out for `model`.
    pub fn new(ty: &Rc<StructType>, model: DataModel) -> StructValue {
        StructValue {
            ty: ManuallyDrop::new(ty.clone()),
            model,
            bytes: ManuallyDrop::new(vec![0; ty.layout(model).size]),
        }
    }

    /// `T(*values)`: fields set in order from `values`.
    pub fn from_values(
        ty: &Rc<StructType>,
        model: DataModel,
        values: &[Value],
    ) -> Result<StructValue> {
        if values.len() > ty.fields().len() {
            return Err(Error::TypeError("too many initializers".into()));
        }
        let mut s = StructValue::new(ty, model);
        for (f, v) in ty.fields().iter().zip(values) {
            let name = f.name.clone();
            s.set(&name, v)?;
        }
        Ok(s)
    }

    /// `T.from_buffer_copy(bytes)`: at least `sizeof(T)` bytes, else ValueError.
    pub fn from_bytes(ty: &Rc<StructType>, model: DataModel, bytes: &[u8]) -> Result<StructValue> {
        let size = ty.layout(model).size;
        if bytes.len() < size {
            return Err(Error::ValueError(format!(
                "Buffer size too small ({} instead of at least {size} bytes)",
                bytes.len()
            )));
        }
        Ok(StructValue {
            ty: ManuallyDrop::new(ty.clone()),
            model,
            bytes: ManuallyDrop::new(bytes[..size].to_vec()),
        })
    }

    /// The type.
    pub fn ty(&self) -> &Rc<StructType> {
        &self.ty
    }

    /// The data model the bytes are laid out for.
    pub fn model(&self) -> DataModel {
        self.model
    }

    /// `bytes(s)`.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `s.name`. A missing field is an AttributeError.
    pub fn get(&self, name: &str) -> Result<Value> {
        let i = field_index(&self.ty, name)?;
        let field = &self.ty.fields()[i];
        let fl = &self.ty.layout(self.model).fields[i];
        let size = field.ty.sizeof(self.model);
        if let Some((bit, width)) = fl.bitfield {
            let c = field.ty.simple().unwrap_or(CType::Int);
            let raw = self.unit(fl.offset, size);
            let v = ((raw >> bit) & ((1u128 << width) - 1)) as i128;
            let signed = matches!(self.model.repr(c), Repr::Int(_));
            let v = if signed { sign_extend(v, width) } else { v };
            return Ok(Value::Int(v));
        }
        Ok(read_value(
            &field.ty,
            self.model,
            &self.bytes[fl.offset..fl.offset + size],
        ))
    }

    /// `s.name = v`, masked to the field's type (and bit width).
    pub fn set(&mut self, name: &str, v: &Value) -> Result<()> {
        let i = field_index(&self.ty, name)?;
        let field = self.ty.fields()[i].clone();
        let fl = self.ty.layout(self.model).fields[i].clone();
        let size = field.ty.sizeof(self.model);
        if let Some((bit, width)) = fl.bitfield {
            let x = v.as_int().ok_or_else(|| {
                Error::TypeError(format!(
                    "int expected for bitfield {name}, got {}",
                    v.py_type()
                ))
            })?;
            let mask = ((1u128 << width) - 1) << bit;
            let raw = self.unit(fl.offset, size);
            let new = (raw & !mask) | (((x as u128) << bit) & mask);
            let end = (fl.offset + size).min(self.bytes.len());
            let n = end - fl.offset;
            self.bytes[fl.offset..end].copy_from_slice(&new.to_le_bytes()[..n]);
            return Ok(());
        }
        write_value(
            &field.ty,
            self.model,
            &mut self.bytes[fl.offset..fl.offset + size],
            v,
        )
    }

    /// The storage unit of a bitfield as an integer (clipped to the structure's end).
    fn unit(&self, offset: usize, size: usize) -> u128 {
        let mut b = [0u8; 16];
        let end = (offset + size).min(self.bytes.len());
        b[..end - offset].copy_from_slice(&self.bytes[offset..end]);
        u128::from_le_bytes(b)
    }
}

fn sign_extend(v: i128, width: u32) -> i128 {
    let shift = 128 - width;
    (v << shift) >> shift
}

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
