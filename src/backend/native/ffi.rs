//! Describing a prototype to libffi: scalar types, structures by their fields, and the CIF.

use std::ffi::c_void;

use libffi::middle::Type;

use super::{NativeLibrary, NativeProto, MAX_ARGS};
use crate::error::{Error, Result};
use crate::types::Repr;

pub(super) fn ffi_type(r: Repr) -> Type {
    match r {
        Repr::Bool | Repr::UInt(1) => Type::u8(),
        Repr::Int(1) => Type::i8(),
        Repr::Int(2) => Type::i16(),
        Repr::UInt(2) => Type::u16(),
        Repr::Int(4) => Type::i32(),
        Repr::UInt(4) => Type::u32(),
        Repr::Int(_) => Type::i64(),
        Repr::UInt(_) => Type::u64(),
        Repr::F32 => Type::f32(),
        Repr::F64 => Type::f64(),
        Repr::Void => Type::void(),
    }
}

/// The libffi type of a C type laid out in the host data model. Structures with bitfields or
/// `_pack_` cannot be described to libffi, so they cannot travel by value.
pub(super) fn ffi_of(t: &crate::types::Type) -> Result<Type> {
    use crate::types::Type as T;
    let m = crate::types::DataModel::host();
    Ok(match t {
        T::Simple(_) | T::Pointer(_) => ffi_type(t.call_repr(m).unwrap_or(Repr::Void)),
        // libffi has no array type: an array inside a structure is its elements in a row.
        T::Array(..) => {
            return Err(Error::TypeError(
                "an array cannot be passed by value".into(),
            ))
        }
        T::Struct(s) => ffi_struct(s)?,
    })
}

pub(super) fn ffi_struct(s: &crate::types::StructType) -> Result<Type> {
    use crate::types::Type as T;
    if !s.is_plain() || s.is_union() {
        return Err(Error::TypeError(format!(
            "{} has bitfields, _pack_ or is a union: libffi cannot pass it by value",
            s.name()
        )));
    }
    let mut elems = Vec::new();
    for f in s.fields() {
        match &f.ty {
            T::Array(elem, n) => {
                let e = ffi_of(elem)?;
                elems.extend(std::iter::repeat_n(e, *n));
            }
            other => elems.push(ffi_of(other)?),
        }
    }
    Ok(Type::structure(elems))
}

pub(super) fn ffi_passing(p: &crate::backend::Passing) -> Result<Type> {
    match p {
        crate::backend::Passing::Scalar(r) => Ok(ffi_type(*r)),
        crate::backend::Passing::Struct(s) => ffi_struct(s),
    }
}

impl NativeLibrary {
    /// The libffi call, for every prototype without a shim.
    #[inline(never)]
    pub(super) fn ffi_call(p: &NativeProto, args: &[u64], ret_addr: u64) -> u64 {
        let mut values = [std::ptr::null_mut::<c_void>(); MAX_ARGS];
        for (i, (v, a)) in values.iter_mut().zip(args).enumerate() {
            *v = if p.struct_args & (1 << i) != 0 {
                *a as *mut c_void
            } else {
                a as *const u64 as *mut c_void
            };
        }
        // Room for any scalar return, widened to ffi_arg by libffi.
        let mut ret = [0u64; 2];
        let rvalue = if p.struct_ret {
            ret_addr as *mut c_void
        } else {
            ret.as_mut_ptr() as *mut c_void
        };
        // SAFETY: `values` points at one 8-byte slot per scalar argument of the CIF (on this
        // little-endian target the low bytes of each slot are the argument's value at its own
        // width), or at a structure's bytes; a structure result goes to `ret_addr`, which the
        // caller sized for it. `code` is the symbol's address; that it has the declared prototype is the
        // caller's promise, as in ctypes.
        unsafe {
            let code: unsafe extern "C" fn() = std::mem::transmute(p.code);
            libffi::raw::ffi_call(p.cif.as_raw_ptr(), Some(code), rvalue, values.as_mut_ptr());
        }
        ret[0]
    }
}
