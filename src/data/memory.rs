//! Memory in a library, as ctypes sees it: owned blocks, the [`CData`] trait every instance
//! implements, and the functions over raw memory (`string_at`, `wstring_at`, `memmove`,
//! `memset`).
//!
//! In ctypes every instance owns a block of memory that C can see. Here the block lives in the
//! library's own memory: allocated with the guest's exported `malloc` in wasm, on the host heap
//! natively. It is freed with the same library's `free` when the last Rust object using it is
//! dropped. Pointers that C returns are raw addresses: the host does not own them.
//!
//! Every host-side access goes through the backend, so in wasm it is bounds-checked against the
//! memory's current size; natively it is raw, as in ctypes. NULL is never dereferenced: that is
//! a ValueError on both backends.

use std::rc::Rc;

use crate::error::{Error, Result};
use crate::library::{read_wstring, LibInner, CDLL};
use crate::types::{CType, Type};
use crate::value::{decode_wide, encode_wide, Boxed, FuncPtr, Pointer, Value};

/// A block of a library's memory that the host owns and frees, with the library's own `free`,
/// when the last object using it is dropped. Opaque: objects share it to keep memory alive.
pub struct Block {
    pub(crate) lib: Rc<LibInner>,
    pub(crate) addr: u64,
    pub(crate) size: usize,
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
    /// Allocates `size` zeroed bytes with the library's malloc.
    pub(crate) fn alloc(lib: &CDLL, size: usize) -> Result<Rc<Block>> {
        let addr = lib.inner.backend()?.malloc(size)?;
        let block = Block {
            lib: lib.inner.clone(),
            addr,
            size,
        };
        // Zeroed in pieces: a buffer of N bytes never costs N bytes of host memory here.
        let zeros = [0u8; 64 * 1024];
        let mut done = 0;
        while done < size {
            let n = zeros.len().min(size - done);
            block.write(done, &zeros[..n])?;
            done += n;
        }
        Ok(Rc::new(block))
    }

    /// Allocates a block holding a copy of `data`.
    pub(crate) fn with_bytes(lib: &CDLL, data: &[u8]) -> Result<Rc<Block>> {
        let block = Block::alloc(lib, data.len())?;
        block.write(0, data)?;
        Ok(block)
    }

    pub(crate) fn read(&self, offset: usize, len: usize) -> Result<Vec<u8>> {
        let mut out = crate::error::zeroed(len)?;
        self.lib
            .backend()?
            .read(self.addr + offset as u64, &mut out)?;
        Ok(out)
    }

    pub(crate) fn write(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.lib.backend()?.write(self.addr + offset as u64, data)
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Ok(mut b) = self.lib.backend() {
            let _ = b.free(self.addr);
        }
    }
}

/// What every ctypes instance is: a typed region of one library's memory.
pub trait CData {
    /// The library whose memory holds the object.
    fn library(&self) -> CDLL;
    /// `ctypes.addressof(obj)`.
    fn addressof(&self) -> u64;
    /// `ctypes.sizeof(obj)`.
    fn size(&self) -> usize;
    /// The owned block the object lives in, if the host owns it; views keep it alive.
    #[doc(hidden)]
    fn owner(&self) -> Option<Rc<Block>>;
    /// The object as a pointer argument: what ctypes passes for `byref(obj)`.
    fn as_ptr(&self) -> Pointer {
        Pointer {
            lib: self.library().id(),
            addr: self.addressof(),
        }
    }
    /// `bytes(obj)`: a copy of the object's bytes.
    fn to_bytes(&self) -> Result<Vec<u8>> {
        self.library().read(self.addressof(), self.size())
    }
}

/// Implements [`CData`] for a type whose `block` field is the `Rc<Block>` it owns.
macro_rules! cdata_in_block {
    ($($t:ty),*) => {$(
        impl $crate::data::memory::CData for $t {
            fn library(&self) -> $crate::library::CDLL {
                $crate::library::CDLL::of_sandbox(&self.block.lib)
            }
            fn addressof(&self) -> u64 {
                self.block.addr
            }
            fn size(&self) -> usize {
                self.block.size
            }
            fn owner(&self) -> Option<std::rc::Rc<$crate::data::memory::Block>> {
                Some(self.block.clone())
            }
        }
    )*};
}
pub(crate) use cdata_in_block;

/// `ctypes.byref(obj, offset)`: a light pointer to `obj`'s memory, for passing as an argument.
pub fn byref(obj: &dyn CData, offset: usize) -> Value {
    let p = obj.as_ptr();
    Value::Pointer(Pointer {
        lib: p.lib,
        addr: p.addr + offset as u64,
    })
}

/// `ctypes.string_at(addr, size)`: `size` bytes at `addr`, or with `None` the NUL-terminated
/// string there. NULL is a ValueError; outside guest memory is an OutOfBounds error.
pub fn string_at(lib: &CDLL, addr: u64, size: Option<usize>) -> Result<Vec<u8>> {
    if addr == 0 {
        return Err(Error::ValueError("NULL pointer access".into()));
    }
    match size {
        Some(n) => lib.read(addr, n),
        None => lib.string_at(addr),
    }
}

/// `ctypes.wstring_at(addr, size)`: `size` wide characters at `addr` (4 bytes each on both
/// targets), or with `None` the NUL-terminated wide string there.
pub fn wstring_at(lib: &CDLL, addr: u64, size: Option<usize>) -> Result<String> {
    if addr == 0 {
        return Err(Error::ValueError("NULL pointer access".into()));
    }
    match size {
        Some(n) => Ok(decode_wide(&lib.read(addr, n * 4)?)),
        None => read_wstring(&mut **lib.inner.backend()?, addr),
    }
}

/// `ctypes.memmove(dst, src, count)`: copies `count` bytes inside the library's memory
/// (overlap allowed). Returns `dst`.
pub fn memmove(lib: &CDLL, dst: u64, src: u64, count: usize) -> Result<u64> {
    if (dst == 0 || src == 0) && count > 0 {
        return Err(Error::ValueError("NULL pointer access".into()));
    }
    let data = lib.read(src, count)?;
    lib.write(dst, &data)?;
    Ok(dst)
}

/// `ctypes.memset(dst, c, count)`: fills `count` bytes with the low byte of `c`. Returns `dst`.
pub fn memset(lib: &CDLL, dst: u64, c: i32, count: usize) -> Result<u64> {
    if dst == 0 && count > 0 {
        return Err(Error::ValueError("NULL pointer access".into()));
    }
    lib.write(dst, &vec![c as u8; count])?;
    Ok(dst)
}

/// ctypes' getter of a string pointer in memory: a `c_char_p` reads as the bytes it points at
/// and a `c_wchar_p` as the text, NULL as None; a `c_void_p` is its address (None for NULL).
/// Any other type's value is returned as it is.
pub(crate) fn load_pointee(lib: &CDLL, t: CType, v: Value) -> Result<Value> {
    Ok(match (t, &v) {
        (CType::CharP | CType::WCharP | CType::VoidP, Value::Int(0)) => Value::None,
        (CType::CharP, Value::Int(a)) => Value::Bytes(lib.string_at(*a as u64)?),
        (CType::WCharP, Value::Int(a)) => Value::Str(wstring_at(lib, *a as u64, None)?),
        _ => v,
    })
}

/// ctypes' setter of a string pointer: bytes for a `c_char_p` (or `c_void_p`) and a str for a
/// `c_wchar_p` are copied, NUL-terminated, into fresh memory of the library. The value to store
/// becomes that address, and the block must live as long as the object stored into (ctypes
/// keeps it in the object's `_objects`). Any other value is returned as it is.
pub(crate) fn store_pointee(lib: &CDLL, t: CType, v: Value) -> Result<(Value, Option<Rc<Block>>)> {
    let block = match (t, &v) {
        (CType::CharP | CType::VoidP, Value::Bytes(b)) => {
            let mut data = Vec::with_capacity(b.len() + 1);
            data.extend_from_slice(b);
            data.push(0);
            Block::with_bytes(lib, &data)?
        }
        (CType::WCharP, Value::Str(s)) => Block::with_bytes(lib, &encode_wide(s))?,
        (CType::CharP, Value::Str(_)) | (CType::WCharP, Value::Bytes(_)) => {
            return Err(Error::TypeError(format!(
                "{t} cannot hold a {} value",
                v.py_type()
            )))
        }
        _ => return Ok((v, None)),
    };
    Ok((Value::Int(block.addr as i128), Some(block)))
}

/// ctypes' getter of a member or element of type `t` in `lib`'s memory: string pointers as
/// [`load_pointee`] reads them, a function pointer as a `CFunctionType` instance.
pub(crate) fn load_member(lib: &CDLL, t: &Type, v: Value) -> Result<Value> {
    match (t, v) {
        (Type::Simple(c), v) => load_pointee(lib, *c, v),
        (Type::Function(proto), Value::Int(addr)) => Ok(Value::Function(Boxed::new(FuncPtr {
            proto: proto.clone(),
            ptr: Pointer {
                lib: lib.id(),
                addr: addr as u64,
            },
        }))),
        (_, v) => Ok(v),
    }
}

/// ctypes' setter of a member or element of type `t`: string pointers as [`store_pointee`]
/// stores them; a function pointer must be one of this library.
pub(crate) fn store_member(lib: &CDLL, t: &Type, v: Value) -> Result<(Value, Option<Rc<Block>>)> {
    match (t, &v) {
        (Type::Simple(c), _) => store_pointee(lib, *c, v),
        (Type::Function(_), Value::Function(fp)) if fp.ptr.lib != lib.id() => Err(
            Error::ValueError("the function pointer belongs to another library".into()),
        ),
        _ => Ok((v, None)),
    }
}
