//! String buffers: `create_string_buffer` and `create_unicode_buffer`.
//!
//! ```no_run
//! use wasmctypes::{create_string_buffer, CDLL};
//! let lib = CDLL::open_wasm("target/guest/upper.wasm")?;
//! let buf = create_string_buffer(&lib, b"abcde")?;   // create_string_buffer(b"abcde")
//! assert_eq!(buf.len(), 6);
//! assert_eq!(buf.raw()?, b"abcde\0");
//! # Ok::<(), wasmctypes::Error>(())
//! ```

use std::rc::Rc;

use crate::data::memory::{Block, CData};
use crate::error::{Error, Result};
use crate::library::CDLL;
use crate::value::Value;
use crate::value::{decode_wide, encode_wide};

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
    block: Rc<Block>,
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

crate::data::memory::cdata_in_block!(StringBuffer);

impl From<&StringBuffer> for Value {
    fn from(b: &StringBuffer) -> Value {
        Value::Pointer(b.as_ptr())
    }
}

/// A `c_wchar` array in a library's memory, as `create_unicode_buffer` makes it. `wchar_t` is
/// 4 bytes (UTF-32) on both targets.
#[derive(Debug)]
pub struct WideBuffer {
    block: Rc<Block>,
}

/// `ctypes.create_unicode_buffer(init_or_size)` in `lib`'s memory: from text, one character
/// longer than it and NUL-terminated; from a size, that many zero characters.
pub fn create_unicode_buffer(lib: &CDLL, init: WideInit<'_>) -> Result<WideBuffer> {
    let (text, chars) = match init {
        WideInit::Size(n) => ("", n),
        WideInit::Text(t) => (t, t.chars().count() + 1),
        WideInit::TextSized(t, n) => {
            if t.chars().count() > n {
                return Err(Error::ValueError("string too long".into()));
            }
            (t, n)
        }
    };
    let block = Block::alloc(lib, chars * 4)?;
    let mut data = encode_wide(text);
    data.truncate(chars * 4);
    block.write(0, &data)?;
    Ok(WideBuffer { block })
}

/// What [`create_unicode_buffer`] is made from.
pub enum WideInit<'a> {
    /// `create_unicode_buffer(n)`.
    Size(usize),
    /// `create_unicode_buffer("text")`.
    Text(&'a str),
    /// `create_unicode_buffer("text", n)`.
    TextSized(&'a str, usize),
}

impl WideBuffer {
    /// `len(buf)`: the size in characters.
    pub fn len(&self) -> usize {
        self.block.size / 4
    }

    /// Whether the buffer has no characters at all.
    pub fn is_empty(&self) -> bool {
        self.block.size == 0
    }

    /// `buf.value`: the characters before the first NUL.
    pub fn value(&self) -> Result<String> {
        let s = decode_wide(&self.block.read(0, self.block.size)?);
        Ok(s.split('\0').next().unwrap_or("").to_string())
    }

    /// `buf.value = text`: writes it and a NUL if there is room; too long is a ValueError.
    pub fn set_value(&self, text: &str) -> Result<()> {
        let n = text.chars().count();
        if n > self.len() {
            return Err(Error::ValueError("string too long".into()));
        }
        let mut data = encode_wide(text);
        data.truncate(self.block.size);
        self.block.write(0, &data)
    }
}

crate::data::memory::cdata_in_block!(WideBuffer);

impl From<&WideBuffer> for Value {
    fn from(b: &WideBuffer) -> Value {
        Value::Pointer(b.as_ptr())
    }
}
