//! A structure's bytes held by the host: what a by-value call returns and what can be passed
//! by value.

use std::mem::ManuallyDrop;
use std::rc::Rc;

use super::{read_value, write_value, Value};
use crate::error::{Error, Result};
use crate::types::{CType, DataModel, Repr, StructType};

/// A structure's bytes held by the host, laid out for one data model: what a function that
/// returns a structure by value gives back (RLBox would call it copied-out), and what can be
/// passed by value.
///
/// Its fields are dropped by one out-of-line call (see [`Boxed`](crate::Boxed)), so that a [`Value`] holding
/// one does not make every `Value`'s drop glue save registers.
#[derive(Clone, Debug, PartialEq)]
pub struct StructValue {
    pub(crate) ty: ManuallyDrop<Rc<StructType>>,
    pub(crate) model: DataModel,
    pub(crate) bytes: ManuallyDrop<Vec<u8>>,
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

pub(crate) fn field_index(ty: &StructType, name: &str) -> Result<usize> {
    ty.index_of(name).ok_or_else(|| Error::AttributeError {
        library: ty.name().to_string(),
        symbol: name.to_string(),
    })
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
    pub fn set(&mut self, name: &str, v: impl Into<Value>) -> Result<()> {
        let v = &v.into();
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

/// `v`, the low `width` bits of a signed bitfield, sign-extended. A zero-width bitfield (C's
/// `int : 0`, which only closes a storage unit) holds nothing and reads as 0.
fn sign_extend(v: i128, width: u32) -> i128 {
    if width == 0 {
        return 0;
    }
    let shift = 128 - width.min(128);
    (v << shift) >> shift
}
