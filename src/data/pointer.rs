//! Typed pointers: ctypes' `POINTER(T)`, `pointer(obj)`, `.contents`, `p[i]` and `cast`.
//!
//! A [`Ptr`] is an address in one library's memory plus the type it points at. `p[i]` reads
//! and writes at `address + i * sizeof(T)`; [`Ptr::offset`] is pointer arithmetic in elements.
//! NULL is falsy, and dereferencing it is a ValueError on both backends, never a crash.
//!
//! ```no_run
//! use wasmctypes::{cast, Array, CType, Value, CDLL};
//! let lib = CDLL::open_wasm("target/guest/sum.wasm")?;
//! let a = Array::from_values(&lib, CType::Int, &[1.into(), 258.into()])?;
//! let p = cast(&a, CType::Int);                   // cast(a, POINTER(c_int))
//! assert_eq!(p.get(1)?, Value::Int(258));
//! let bytes = cast(&a, CType::UByte);             // cast(a, POINTER(c_ubyte))
//! assert_eq!(bytes.get(4)?, Value::Int(2));       // little-endian
//! # Ok::<(), wasmctypes::Error>(())
//! ```

use std::cmp::Ordering;
use std::rc::Rc;

use std::cell::RefCell;

use crate::data::memory::{load_pointee, store_pointee, Block, CData};
use crate::data::simple::CValue;
use crate::error::{Error, Result};
use crate::library::CDLL;
use crate::types::CType;
use crate::value::{decode, encode};
use crate::value::{Pointer, Value};

/// A typed pointer into one library's memory: an instance of ctypes' `POINTER(T)`.
#[derive(Clone)]
pub struct Ptr {
    lib: CDLL,
    addr: u64,
    target: CType,
    /// Keeps the pointed-to object alive when the pointer was made from one.
    _owner: Option<Rc<Block>>,
    /// Copies of the bytes stored through the pointer into `c_char_p` slots.
    kept: Rc<RefCell<Vec<Rc<Block>>>>,
}

impl std::fmt::Debug for Ptr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<LP_{} 0x{:x} ({})>",
            self.target,
            self.addr,
            self.lib.backend()
        )
    }
}

/// `ctypes.pointer(obj)`: a pointer to a value, keeping it alive.
pub fn pointer(obj: &CValue) -> Ptr {
    Ptr {
        lib: obj.library(),
        addr: obj.addressof(),
        target: obj.ctype(),
        _owner: obj.owner(),
        kept: Rc::default(),
    }
}

/// `ctypes.cast(obj, POINTER(target))`: a pointer to `obj`'s memory seen as `target`.
pub fn cast(obj: &dyn CData, target: CType) -> Ptr {
    Ptr {
        lib: obj.library(),
        addr: obj.addressof(),
        target,
        _owner: obj.owner(),
        kept: Rc::default(),
    }
}

impl Ptr {
    /// `POINTER(T)()`: a NULL pointer.
    pub fn null(lib: &CDLL, target: CType) -> Ptr {
        Ptr::from_address(lib, 0, target)
    }

    /// `cast(addr, POINTER(T))`: a pointer to a raw address, such as one C returned. The host
    /// does not own what it points at.
    pub fn from_address(lib: &CDLL, addr: u64, target: CType) -> Ptr {
        Ptr {
            lib: lib.clone(),
            addr,
            target,
            _owner: None,
            kept: Rc::default(),
        }
    }

    /// The pointer a call returned with restype `POINTER(T)` (or any pointer value into this
    /// library): ctypes gives an `LP_T` instance, which this is. NULL stays a (falsy) pointer.
    pub fn from_value(lib: &CDLL, v: &Value, target: CType) -> Result<Ptr> {
        match v {
            Value::Pointer(p) if p.lib == lib.id() => Ok(Ptr::from_address(lib, p.addr, target)),
            Value::Pointer(_) => Err(Error::ValueError(
                "the pointer belongs to another library".into(),
            )),
            Value::Int(addr) => Ok(Ptr::from_address(lib, *addr as u64, target)),
            Value::None => Ok(Ptr::null(lib, target)),
            other => Err(Error::TypeError(format!(
                "expected a pointer, got {}",
                other.py_type()
            ))),
        }
    }

    /// The address.
    pub fn address(&self) -> u64 {
        self.addr
    }

    /// The pointed-to type.
    pub fn target(&self) -> CType {
        self.target
    }

    /// `bool(p)` is false for NULL.
    pub fn is_null(&self) -> bool {
        self.addr == 0
    }

    /// `cast(p, POINTER(T))`: the same address seen as another type.
    pub fn cast(&self, target: CType) -> Ptr {
        Ptr {
            target,
            ..self.clone()
        }
    }

    /// Pointer arithmetic: `p + n` elements (negative goes back).
    pub fn offset(&self, n: isize) -> Ptr {
        let step = self.lib.sizeof(self.target) as i64 * n as i64;
        Ptr {
            addr: (self.addr as i64).wrapping_add(step) as u64,
            ..self.clone()
        }
    }

    /// The number of elements from `other` to `self` (`self - other` in C). Pointers into
    /// different libraries have no distance: ValueError.
    pub fn distance(&self, other: &Ptr) -> Result<isize> {
        if self.lib.id() != other.lib.id() {
            return Err(Error::ValueError(
                "pointers into different libraries".into(),
            ));
        }
        let size = self.lib.sizeof(self.target).max(1) as i64;
        Ok(((self.addr as i64).wrapping_sub(other.addr as i64) / size) as isize)
    }

    fn element(&self, i: isize) -> Result<u64> {
        if self.addr == 0 {
            return Err(Error::ValueError("NULL pointer access".into()));
        }
        Ok(self.offset(i).addr)
    }

    /// `p.contents`: a view of the pointed-to value. NULL is a ValueError.
    pub fn contents(&self) -> Result<CValue> {
        let addr = self.element(0)?;
        Ok(CValue::from_address(&self.lib, self.target, addr))
    }

    /// `p[i]`: reads at `address + i * sizeof(T)`; a `c_char_p` target reads as its bytes.
    pub fn get(&self, i: isize) -> Result<Value> {
        let addr = self.element(i)?;
        let repr = self.lib.data_model().repr(self.target);
        let raw = self.lib.read(addr, repr.size())?;
        load_pointee(&self.lib, self.target, decode(self.target, repr, &raw))
    }

    /// `p[i] = v`: writes at `address + i * sizeof(T)`, masked to `T`. Bytes stored through a
    /// `POINTER(c_char_p)` are copied into the library's memory and kept alive by the pointer.
    pub fn set(&self, i: isize, v: impl Into<Value>) -> Result<()> {
        let addr = self.element(i)?;
        let repr = self.lib.data_model().repr(self.target);
        let (v, block) = store_pointee(&self.lib, self.target, v.into())?;
        let bits = encode(self.target, repr, &v)?;
        self.lib.write(addr, &bits.to_le_bytes()[..repr.size()])?;
        self.kept.borrow_mut().extend(block);
        Ok(())
    }

    /// The pointer as an argument.
    pub fn as_ptr(&self) -> Pointer {
        Pointer {
            lib: self.lib.id(),
            addr: self.addr,
        }
    }
}

impl From<&Ptr> for Value {
    fn from(p: &Ptr) -> Value {
        Value::Pointer(p.as_ptr())
    }
}

impl PartialEq for Ptr {
    fn eq(&self, other: &Ptr) -> bool {
        self.lib.id() == other.lib.id() && self.addr == other.addr
    }
}

impl PartialOrd for Ptr {
    /// Pointers compare by address within one library; across libraries they are unordered.
    fn partial_cmp(&self, other: &Ptr) -> Option<Ordering> {
        (self.lib.id() == other.lib.id()).then(|| self.addr.cmp(&other.addr))
    }
}
