//! Instances of the fundamental types: ctypes' `c_int(42)`, `c_char_p(b"...")`.
//!
//! A [`CValue`] is a typed slot in a library's memory. Writing `.value` masks to the type, as
//! ctypes does. A `c_char_p` or `c_wchar_p` holds a pointer: assigning new bytes points it at a
//! fresh copy and leaves the old memory alone.
//!
//! ```no_run
//! use wasmctypes::{CType, CValue, Value, CDLL};
//! let lib = CDLL::open_wasm("target/guest/sum.wasm")?;
//! let i = CValue::new(&lib, CType::Int, 42)?;      // i = c_int(42)
//! i.set_value(-99)?;                                 // i.value = -99
//! assert_eq!(i.value()?, Value::Int(-99));
//! # Ok::<(), wasmctypes::Error>(())
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use crate::data::memory::{load_pointee, store_pointee, Block, CData};
use crate::error::{Error, Result};
use crate::library::CDLL;
use crate::types::{CType, Repr};
use crate::value::Value;
use crate::value::{decode, encode_bytes};

/// An instance of a fundamental type in a library's memory.
pub struct CValue {
    lib: CDLL,
    addr: u64,
    ty: CType,
    repr: Repr,
    /// The block this value lives in, when the host owns it (None for a view).
    owner: Option<Rc<Block>>,
    /// For `c_char_p` / `c_wchar_p`: every copy of bytes the pointer was pointed at. They live
    /// as long as the instance, so an address read from it earlier stays valid after the
    /// pointer is repointed (ctypes keeps such objects alive the same way, in `_objects`).
    strings: RefCell<Vec<Rc<Block>>>,
}

impl std::fmt::Debug for CValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.value() {
            Ok(v) => write!(f, "{}({v})", self.ty),
            Err(_) => write!(f, "{}(<unreadable at 0x{:x}>)", self.ty, self.addr),
        }
    }
}

impl CValue {
    /// `T(init)`: allocates `sizeof(T)` bytes in `lib`'s memory and stores `init` (masked).
    pub fn new(lib: &CDLL, ty: CType, init: impl Into<Value>) -> Result<CValue> {
        if ty == CType::Void {
            return Err(Error::TypeError("void has no instances".into()));
        }
        let repr = lib.data_model().repr(ty);
        let block = Block::alloc(lib, repr.size())?;
        let v = CValue {
            lib: lib.clone(),
            addr: block.addr,
            ty,
            repr,
            owner: Some(block),
            strings: RefCell::new(Vec::new()),
        };
        v.set_value(init)?;
        Ok(v)
    }

    /// `T.from_address(addr)`: a view of memory the host does not own.
    pub fn from_address(lib: &CDLL, ty: CType, addr: u64) -> CValue {
        CValue {
            lib: lib.clone(),
            addr,
            ty,
            repr: lib.data_model().repr(ty),
            owner: None,
            strings: RefCell::new(Vec::new()),
        }
    }

    /// `T.in_dll(lib, name)`: a view of an exported data symbol.
    pub fn in_dll(lib: &CDLL, ty: CType, name: &str) -> Result<CValue> {
        Ok(CValue::from_address(lib, ty, lib.data_address(name)?))
    }

    /// `T.from_buffer(obj, offset)`: a view that shares `obj`'s memory (and keeps it alive).
    /// The object must be large enough: ValueError otherwise, as in ctypes.
    pub fn from_buffer(obj: &dyn CData, ty: CType, offset: usize) -> Result<CValue> {
        let lib = obj.library();
        let size = lib.data_model().sizeof(ty);
        if offset + size > obj.size() {
            return Err(Error::ValueError(format!(
                "Buffer size too small ({} instead of at least {} bytes)",
                obj.size(),
                offset + size
            )));
        }
        let mut v = CValue::from_address(&lib, ty, obj.addressof() + offset as u64);
        v.owner = obj.owner();
        Ok(v)
    }

    /// `T.from_buffer_copy(data)`: a new instance holding a copy of host bytes (at least
    /// `sizeof(T)` of them, else ValueError).
    pub fn from_buffer_copy(lib: &CDLL, ty: CType, data: &[u8]) -> Result<CValue> {
        let size = lib.data_model().sizeof(ty);
        if data.len() < size {
            return Err(Error::ValueError(format!(
                "Buffer size too small ({} instead of at least {size} bytes)",
                data.len()
            )));
        }
        let v = CValue::new(lib, ty, 0)?;
        lib.write(v.addr, &data[..size])?;
        Ok(v)
    }

    /// The type.
    pub fn ctype(&self) -> CType {
        self.ty
    }

    /// `.value`. For `c_char_p` the bytes at the pointer (None for NULL), for `c_wchar_p` the
    /// text, for `c_void_p` the address (None for NULL).
    pub fn value(&self) -> Result<Value> {
        let mut raw = [0u8; 16];
        let raw = &mut raw[..self.repr.size()];
        self.lib.read_into(self.addr, raw)?;
        load_pointee(&self.lib, self.ty, decode(self.ty, self.repr, raw))
    }

    /// `.value = v`, masked to the type. Bytes for a `c_char_p` (str for `c_wchar_p`) are
    /// copied into fresh memory and the pointer is repointed; the old memory is not touched.
    pub fn set_value(&self, v: impl Into<Value>) -> Result<()> {
        let (v, fresh) = store_pointee(&self.lib, self.ty, v.into())?;
        let (bytes, n) = encode_bytes(self.ty, self.repr, &v)?;
        self.lib.write(self.addr, &bytes[..n])?;
        if let Some(block) = fresh {
            self.strings.borrow_mut().push(block);
        }
        Ok(())
    }
}

impl CData for CValue {
    fn library(&self) -> CDLL {
        self.lib.clone()
    }
    fn addressof(&self) -> u64 {
        self.addr
    }
    fn size(&self) -> usize {
        self.repr.size()
    }
    fn owner(&self) -> Option<Rc<Block>> {
        self.owner.clone()
    }
}

impl From<&CValue> for Value {
    /// Passing an instance as an argument passes its value (as ctypes does for simple types);
    /// use [`crate::byref`] to pass its address.
    fn from(v: &CValue) -> Value {
        v.value().unwrap_or(Value::None)
    }
}
