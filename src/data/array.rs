//! Arrays in a library's memory: ctypes' `(c_int * n)(...)`.

use std::ops::Range;
use std::rc::Rc;

use crate::data::memory::{Block, CData};
use crate::error::{Error, Result};
use crate::library::CDLL;
use crate::types::Type;
use crate::types::{CType, DataModel};
use crate::value::Value;
use crate::value::{read_value, write_value};

/// An array in a library's memory: ctypes' `(T * n)(...)`, for any element type (fundamental
/// types, pointers, structures, nested arrays).
#[derive(Debug)]
pub struct Array {
    block: Rc<Block>,
    elem: Type,
    /// The element size in the library's data model.
    size: usize,
    model: DataModel,
    len: usize,
}

impl Array {
    /// `(elem * len)()`: a zeroed array.
    pub fn new(lib: &CDLL, elem: impl Into<Type>, len: usize) -> Result<Array> {
        let elem = elem.into();
        if elem == Type::Simple(CType::Void) {
            return Err(Error::TypeError("an array of void is not a type".into()));
        }
        let model = lib.data_model();
        let size = elem.sizeof(model);
        let block = Block::alloc(lib, size * len)?;
        Ok(Array {
            block,
            elem,
            size,
            model,
            len,
        })
    }

    /// `(elem * len(items))(*items)`.
    pub fn from_values(lib: &CDLL, elem: impl Into<Type>, items: &[Value]) -> Result<Array> {
        let a = Array::new(lib, elem, items.len())?;
        for (i, v) in items.iter().enumerate() {
            a.set(i, v)?;
        }
        Ok(a)
    }

    /// `len(a)`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The element type.
    pub fn elem(&self) -> &Type {
        &self.elem
    }

    fn check(&self, i: usize) -> Result<()> {
        if i >= self.len {
            return Err(Error::IndexError("invalid index".into()));
        }
        Ok(())
    }

    /// `a[i]`. Out of range is an IndexError. A structure element is copied out.
    pub fn get(&self, i: usize) -> Result<Value> {
        self.check(i)?;
        let raw = self.block.read(i * self.size, self.size)?;
        Ok(read_value(&self.elem, self.model, &raw))
    }

    /// `a[i] = v`, masked to the element type. Out of range is an IndexError.
    pub fn set(&self, i: usize, v: &Value) -> Result<()> {
        self.check(i)?;
        let mut raw = vec![0; self.size];
        write_value(&self.elem, self.model, &mut raw, v)?;
        self.block.write(i * self.size, &raw)
    }

    /// `list(a)`.
    pub fn to_vec(&self) -> Result<Vec<Value>> {
        self.slice(0..self.len)
    }
}

impl Array {
    /// `a[range]`: the elements in `range`; out of range is an IndexError.
    pub fn slice(&self, range: Range<usize>) -> Result<Vec<Value>> {
        if range.start > range.end || range.end > self.len {
            return Err(Error::IndexError(format!(
                "slice {}..{} of an array of length {}",
                range.start, range.end, self.len
            )));
        }
        let raw = self
            .block
            .read(range.start * self.size, self.size * range.len())?;
        if self.size == 0 {
            return Ok(vec![read_value(&self.elem, self.model, &[]); range.len()]);
        }
        Ok(raw
            .chunks_exact(self.size)
            .map(|c| read_value(&self.elem, self.model, c))
            .collect())
    }

    /// `a[range] = values`: the lengths must match, as in ctypes (ValueError otherwise).
    pub fn set_slice(&self, start: usize, values: &[Value]) -> Result<()> {
        if start + values.len() > self.len {
            return Err(Error::ValueError(
                "Can only assign sequence of same size".into(),
            ));
        }
        for (i, v) in values.iter().enumerate() {
            self.set(start + i, v)?;
        }
        Ok(())
    }

    /// `iter(a)`: the elements in order; stops at the first read error.
    pub fn iter(&self) -> impl Iterator<Item = Value> + '_ {
        (0..self.len).map_while(move |i| self.get(i).ok())
    }

    /// `(elem * n).from_buffer_copy(data)`: a new array holding a copy of host bytes. Fewer
    /// bytes than the array needs is a ValueError, as in ctypes.
    pub fn from_buffer_copy(
        lib: &CDLL,
        elem: impl Into<Type>,
        len: usize,
        data: &[u8],
    ) -> Result<Array> {
        let a = Array::new(lib, elem, len)?;
        let need = a.block.size;
        if data.len() < need {
            return Err(Error::ValueError(format!(
                "Buffer size too small ({} instead of at least {need} bytes)",
                data.len()
            )));
        }
        a.block.write(0, &data[..need])?;
        Ok(a)
    }
}

crate::data::memory::cdata_in_block!(Array);

impl From<&Array> for Value {
    fn from(a: &Array) -> Value {
        Value::Pointer(a.as_ptr())
    }
}
