//! Arrays of fundamental types in a library's memory: ctypes' `(c_int * n)(...)`.

use std::ops::Range;
use std::rc::Rc;

use crate::ctype::{CType, Repr};
use crate::error::{Error, Result};
use crate::library::CDLL;
use crate::memory::{decode, encode, Block, CData};
use crate::value::Value;

/// An array of a fundamental type in a library's memory: ctypes' `(c_int * n)(...)`.
#[derive(Debug)]
pub struct Array {
    block: Rc<Block>,
    elem: CType,
    repr: Repr,
    len: usize,
}

impl Array {
    /// `(elem * len)()`: a zeroed array.
    pub fn new(lib: &CDLL, elem: CType, len: usize) -> Result<Array> {
        if elem == CType::Void {
            return Err(Error::TypeError("an array of void is not a type".into()));
        }
        let repr = lib.data_model().repr(elem);
        let block = Block::alloc(lib, repr.size() * len)?;
        Ok(Array {
            block,
            elem,
            repr,
            len,
        })
    }

    /// `(elem * len(items))(*items)`.
    pub fn from_values(lib: &CDLL, elem: CType, items: &[Value]) -> Result<Array> {
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
    pub fn elem(&self) -> CType {
        self.elem
    }

    fn check(&self, i: usize) -> Result<()> {
        if i >= self.len {
            return Err(Error::IndexError("invalid index".into()));
        }
        Ok(())
    }

    /// `a[i]`. Out of range is an IndexError.
    pub fn get(&self, i: usize) -> Result<Value> {
        self.check(i)?;
        let size = self.repr.size();
        let raw = self.block.read(i * size, size)?;
        Ok(decode(self.elem, self.repr, &raw))
    }

    /// `a[i] = v`, masked to the element type. Out of range is an IndexError.
    pub fn set(&self, i: usize, v: &Value) -> Result<()> {
        self.check(i)?;
        let size = self.repr.size();
        let bits = encode(self.elem, self.repr, v)?;
        self.block.write(i * size, &bits.to_le_bytes()[..size])
    }

    /// `list(a)`.
    pub fn to_vec(&self) -> Result<Vec<Value>> {
        let size = self.repr.size();
        let raw = self.block.read(0, size * self.len)?;
        Ok(raw
            .chunks_exact(size.max(1))
            .map(|c| decode(self.elem, self.repr, c))
            .collect())
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
        let size = self.repr.size();
        let raw = self.block.read(range.start * size, size * range.len())?;
        Ok(raw
            .chunks_exact(size.max(1))
            .map(|c| decode(self.elem, self.repr, c))
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
    pub fn from_buffer_copy(lib: &CDLL, elem: CType, len: usize, data: &[u8]) -> Result<Array> {
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

crate::memory::cdata_in_block!(Array);

impl From<&Array> for Value {
    fn from(a: &Array) -> Value {
        Value::Pointer(a.as_ptr())
    }
}
