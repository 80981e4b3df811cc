//! Memory owned by the host inside a library: string buffers and arrays.
//!
//! In ctypes every instance owns a block of memory that C can see. Here the block lives in the
//! library's own memory: allocated with the guest's exported `malloc` in wasm, on the host heap
//! natively. It is freed with the same library's `free` when the Rust object is dropped.
//!
//! ```no_run
//! use wasmctypes::{create_string_buffer, BackendKind, CDLL};
//! let lib = CDLL::open("target/guest/upper.wasm", BackendKind::Wasm)?;
//! let buf = create_string_buffer(&lib, b"abcde")?;   // create_string_buffer(b"abcde")
//! assert_eq!(buf.len(), 6);
//! assert_eq!(buf.raw()?, b"abcde\0");
//! # Ok::<(), wasmctypes::Error>(())
//! ```

use std::rc::Rc;

use crate::ctype::{CType, Repr};
use crate::error::{Error, Result};
use crate::library::{LibInner, CDLL};
use crate::value::{mask_int, Pointer, Value};

/// A block of a library's memory that the host owns and frees on drop.
pub(crate) struct Block {
    lib: Rc<LibInner>,
    addr: u64,
    size: usize,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<{} bytes at 0x{:x} in {}>",
            self.size, self.addr, self.lib.name
        )
    }
}

impl Block {
    pub(crate) fn alloc(lib: &CDLL, size: usize) -> Result<Block> {
        let addr = lib.inner.backend()?.malloc(size)?;
        let block = Block {
            lib: lib.inner.clone(),
            addr,
            size,
        };
        block.write(0, &vec![0; size])?;
        Ok(block)
    }

    fn read(&self, offset: usize, len: usize) -> Result<Vec<u8>> {
        let mut out = vec![0; len];
        self.lib
            .backend()?
            .read(self.addr + offset as u64, &mut out)?;
        Ok(out)
    }

    fn write(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.lib.backend()?.write(self.addr + offset as u64, data)
    }

    fn pointer(&self) -> Pointer {
        Pointer {
            lib: self.lib.id,
            addr: self.addr,
        }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Ok(mut b) = self.lib.backend() {
            let _ = b.free(self.addr);
        }
    }
}

/// What [`create_string_buffer`] is made from: ctypes' `init_or_size` argument.
pub enum BufferInit<'a> {
    /// `create_string_buffer(n)`: n zero bytes.
    Size(usize),
    /// `create_string_buffer(b"...")`: the bytes plus a NUL.
    Bytes(&'a [u8]),
    /// `create_string_buffer(b"...", size)`: the bytes in a buffer of `size` bytes.
    BytesSized(&'a [u8], usize),
}

impl From<usize> for BufferInit<'_> {
    fn from(n: usize) -> Self {
        BufferInit::Size(n)
    }
}
impl<'a> From<&'a [u8]> for BufferInit<'a> {
    fn from(b: &'a [u8]) -> Self {
        BufferInit::Bytes(b)
    }
}
impl<'a, const N: usize> From<&'a [u8; N]> for BufferInit<'a> {
    fn from(b: &'a [u8; N]) -> Self {
        BufferInit::Bytes(b)
    }
}

/// A `c_char` array in a library's memory, as `create_string_buffer` makes it.
#[derive(Debug)]
pub struct StringBuffer {
    block: Block,
}

/// `ctypes.create_string_buffer(init_or_size[, size])` in `lib`'s memory.
///
/// From bytes, the buffer is one byte longer than them and NUL-terminated; with an explicit
/// size smaller than the bytes it is a ValueError, as in ctypes.
pub fn create_string_buffer<'a>(
    lib: &CDLL,
    init: impl Into<BufferInit<'a>>,
) -> Result<StringBuffer> {
    let (data, size): (&[u8], usize) = match init.into() {
        BufferInit::Size(n) => (&[], n),
        BufferInit::Bytes(b) => (b, b.len() + 1),
        BufferInit::BytesSized(b, n) => {
            if b.len() > n {
                return Err(Error::ValueError("byte string too long".into()));
            }
            (b, n)
        }
    };
    let block = Block::alloc(lib, size)?;
    block.write(0, data)?;
    Ok(StringBuffer { block })
}

impl StringBuffer {
    /// `len(buf)` / `sizeof(buf)`: the size in bytes.
    pub fn len(&self) -> usize {
        self.block.size
    }

    /// Whether the buffer has no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.block.size == 0
    }

    /// `addressof(buf)`: its address in the library's memory.
    pub fn addressof(&self) -> u64 {
        self.block.addr
    }

    /// The buffer as a pointer argument (what passing `buf` to a function passes).
    pub fn as_ptr(&self) -> Pointer {
        self.block.pointer()
    }

    /// `buf.raw`: every byte.
    pub fn raw(&self) -> Result<Vec<u8>> {
        self.block.read(0, self.block.size)
    }

    /// `buf.value`: the bytes before the first NUL.
    pub fn value(&self) -> Result<Vec<u8>> {
        let mut raw = self.raw()?;
        if let Some(n) = raw.iter().position(|b| *b == 0) {
            raw.truncate(n);
        }
        Ok(raw)
    }

    /// `buf.raw = data`: overwrites the first `len(data)` bytes; longer than the buffer is a
    /// ValueError.
    pub fn set_raw(&self, data: &[u8]) -> Result<()> {
        if data.len() > self.block.size {
            return Err(Error::ValueError("byte string too long".into()));
        }
        self.block.write(0, data)
    }

    /// `buf.value = data`: writes the bytes and a NUL after them if there is room; longer than
    /// the buffer is a ValueError.
    pub fn set_value(&self, data: &[u8]) -> Result<()> {
        if data.len() > self.block.size {
            return Err(Error::ValueError("byte string too long".into()));
        }
        self.block.write(0, data)?;
        if data.len() < self.block.size {
            self.block.write(data.len(), &[0])?;
        }
        Ok(())
    }
}

impl From<&StringBuffer> for Value {
    fn from(b: &StringBuffer) -> Value {
        Value::Pointer(b.as_ptr())
    }
}

/// An array of a fundamental type in a library's memory: ctypes' `(c_int * n)(...)`.
#[derive(Debug)]
pub struct Array {
    block: Block,
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

    /// `addressof(a)`.
    pub fn addressof(&self) -> u64 {
        self.block.addr
    }

    /// The array as a pointer argument (a pointer to its first element).
    pub fn as_ptr(&self) -> Pointer {
        self.block.pointer()
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

impl From<&Array> for Value {
    fn from(a: &Array) -> Value {
        Value::Pointer(a.as_ptr())
    }
}

/// Stores a value of a fundamental type as raw little-endian bits, masked as ctypes does.
pub(crate) fn encode(t: CType, r: Repr, v: &Value) -> Result<u64> {
    let wrong = || Error::TypeError(format!("wrong type: expected {t}, got {}", v.py_type()));
    Ok(match (r, v) {
        (Repr::F32, Value::Float(x)) => (*x as f32).to_bits() as u64,
        (Repr::F32, _) => (v.as_int().ok_or_else(wrong)? as f32).to_bits() as u64,
        (Repr::F64, Value::Float(x)) => x.to_bits(),
        (Repr::F64, _) => (v.as_int().ok_or_else(wrong)? as f64).to_bits(),
        (_, Value::Bytes(b)) if t == CType::Char && b.len() == 1 => b[0] as u64,
        (_, Value::Str(s)) if t == CType::WChar && s.chars().count() == 1 => {
            s.chars().next().unwrap_or('\0') as u64
        }
        (_, Value::None) if t.is_pointer() => 0,
        (_, Value::Pointer(p)) if t.is_pointer() => p.addr,
        _ => mask_int(v.as_int().ok_or_else(wrong)?, r) as u64,
    })
}

/// Reads a value of a fundamental type from raw little-endian bytes.
pub(crate) fn decode(t: CType, r: Repr, raw: &[u8]) -> Value {
    let mut b = [0u8; 8];
    b[..raw.len()].copy_from_slice(raw);
    let bits = u64::from_le_bytes(b);
    match t {
        CType::Float => Value::Float(f32::from_bits(bits as u32) as f64),
        CType::Double => Value::Float(f64::from_bits(bits)),
        CType::Bool => Value::Bool(bits != 0),
        CType::Char => Value::Bytes(vec![bits as u8]),
        CType::WChar => Value::Str(
            char::from_u32(bits as u32)
                .unwrap_or('\u{fffd}')
                .to_string(),
        ),
        _ => Value::Int(mask_int(bits as i128, r)),
    }
}
