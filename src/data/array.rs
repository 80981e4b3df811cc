//! Arrays in a library's memory: ctypes' `(c_int * n)(...)`.

use std::ops::Range;
use std::rc::Rc;

use std::cell::RefCell;

use crate::data::memory::{load_member, store_member, Block, CData};
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
    lib: CDLL,
    addr: u64,
    /// The block the host allocated for it; `None` for a view of memory it does not own (an
    /// exported global, an array member of a structure, an address C returned).
    owner: Option<Rc<Block>>,
    /// Copies of the bytes and strings stored into `c_char_p` / `c_wchar_p` elements, alive as
    /// long as the array (ctypes' `_objects`).
    kept: RefCell<Vec<Rc<Block>>>,
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
            lib: lib.clone(),
            addr: block.addr,
            owner: Some(block),
            kept: RefCell::new(Vec::new()),
            elem,
            size,
            model,
            len,
        })
    }

    /// `(elem * len).from_address(addr)`: a view of an array the host does not own (one that
    /// C returned a pointer to, or a member of a structure).
    pub fn from_address(lib: &CDLL, elem: impl Into<Type>, len: usize, addr: u64) -> Array {
        let elem = elem.into();
        let model = lib.data_model();
        Array {
            lib: lib.clone(),
            addr,
            owner: None,
            kept: RefCell::new(Vec::new()),
            size: elem.sizeof(model),
            elem,
            model,
            len,
        }
    }

    /// `(elem * len).in_dll(lib, name)`: the library's exported array `name`, read and written
    /// in place. A missing symbol is an AttributeError.
    pub fn in_dll(lib: &CDLL, elem: impl Into<Type>, len: usize, name: &str) -> Result<Array> {
        Ok(Array::from_address(lib, elem, len, lib.data_address(name)?))
    }

    /// A view of the elements from `owner`'s memory at `addr`, keeping `owner` alive.
    pub(crate) fn view_in(
        lib: &CDLL,
        elem: Type,
        len: usize,
        addr: u64,
        owner: Option<Rc<Block>>,
    ) -> Array {
        Array {
            owner,
            ..Array::from_address(lib, elem, len, addr)
        }
    }

    fn read(&self, offset: usize, len: usize) -> Result<Vec<u8>> {
        self.lib.read(self.addr + offset as u64, len)
    }

    fn write(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.lib.write(self.addr + offset as u64, data)
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

    /// `a[i]`. Out of range is an IndexError. A structure element is copied out; a
    /// `c_char_p` element reads as its bytes (None for NULL), as in ctypes.
    pub fn get(&self, i: usize) -> Result<Value> {
        self.check(i)?;
        let raw = self.read(i * self.size, self.size)?;
        self.pointee(read_value(&self.elem, self.model, &raw))
    }

    /// `a[i] = v`, masked to the element type. Out of range is an IndexError. Bytes stored
    /// into a `c_char_p` element (a str into `c_wchar_p`) are copied into the library's memory
    /// and kept alive by the array.
    pub fn set(&self, i: usize, v: impl Into<Value>) -> Result<()> {
        self.check(i)?;
        let (v, block) = store_member(&self.lib, &self.elem, v.into())?;
        self.kept.borrow_mut().extend(block);
        let mut raw = vec![0; self.size];
        write_value(&self.elem, self.model, &mut raw, &v)?;
        self.write(i * self.size, &raw)
    }

    /// A string pointer element as ctypes reads it.
    fn pointee(&self, v: Value) -> Result<Value> {
        load_member(&self.lib, &self.elem, v)
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
        let raw = self.read(range.start * self.size, self.size * range.len())?;
        if self.size == 0 {
            return Ok(vec![read_value(&self.elem, self.model, &[]); range.len()]);
        }
        raw.chunks_exact(self.size)
            .map(|c| self.pointee(read_value(&self.elem, self.model, c)))
            .collect()
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
        let need = a.size * a.len;
        if data.len() < need {
            return Err(Error::ValueError(format!(
                "Buffer size too small ({} instead of at least {need} bytes)",
                data.len()
            )));
        }
        a.write(0, &data[..need])?;
        Ok(a)
    }
}

impl CData for Array {
    fn library(&self) -> CDLL {
        self.lib.clone()
    }
    fn addressof(&self) -> u64 {
        self.addr
    }
    fn size(&self) -> usize {
        self.size * self.len
    }
    fn owner(&self) -> Option<Rc<Block>> {
        self.owner.clone()
    }
}

impl From<&Array> for Value {
    fn from(a: &Array) -> Value {
        Value::Pointer(a.as_ptr())
    }
}
