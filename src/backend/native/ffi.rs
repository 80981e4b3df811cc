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
        Repr::F80 | Repr::F128 => Type::longdouble(),
        Repr::Void => Type::void(),
    }
}

/// The libffi type of a C type laid out in the host data model. Structures with bitfields or
/// `_pack_` cannot be described to libffi, so they cannot travel by value.
pub(super) fn ffi_of(t: &crate::types::Type) -> Result<Type> {
    use crate::types::Type as T;
    let m = crate::types::DataModel::host();
    Ok(match t {
        T::Simple(_) | T::Pointer(_) | T::Function(_) => {
            ffi_type(t.call_repr(m).unwrap_or(Repr::Void))
        }
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
    if s.pack().is_some() || s.is_union() {
        return Err(Error::TypeError(format!(
            "{} has _pack_ or is a union: libffi cannot pass it by value",
            s.name()
        )));
    }
    if !s.is_plain() {
        return ffi_storage_units(s);
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

/// What a byte of a structure holds, for the System V classification.
#[derive(Clone, Copy, PartialEq)]
enum ByteClass {
    Padding,
    Integer,
    Float,
}

/// Marks the bytes of `t` at `offset` in `classes`: floats as `Float`, everything else that
/// holds data as `Integer`.
fn mark(
    t: &crate::types::Type,
    offset: usize,
    m: crate::types::DataModel,
    classes: &mut [ByteClass],
) {
    use crate::types::Type as T;
    match t {
        T::Array(elem, n) => {
            let size = elem.sizeof(m);
            for i in 0..*n {
                mark(elem, offset + i * size, m, classes);
            }
        }
        T::Struct(s) => mark_struct(s, offset, m, classes),
        simple => {
            let class = match simple.call_repr(m) {
                Some(Repr::F32 | Repr::F64) => ByteClass::Float,
                _ => ByteClass::Integer,
            };
            for c in &mut classes[offset..offset + simple.sizeof(m)] {
                *c = class;
            }
        }
    }
}

/// [`mark`] for the fields of a structure at `offset`.
fn mark_struct(
    s: &crate::types::StructType,
    offset: usize,
    m: crate::types::DataModel,
    classes: &mut [ByteClass],
) {
    let layout = s.layout(m);
    for (f, fl) in s.fields().iter().zip(&layout.fields) {
        let at = offset + fl.offset;
        match fl.bitfield {
            // Only the bytes that hold the bits: the storage unit may overlap other fields.
            Some((_, 0)) => {}
            Some((bit, width)) => {
                let (first, last) = ((bit / 8) as usize, ((bit + width - 1) / 8) as usize);
                for c in &mut classes[at + first..=at + last] {
                    *c = ByteClass::Integer;
                }
            }
            None => mark(&f.ty, at, m, classes),
        }
    }
}

/// A structure with bitfields, described to libffi by its storage units, as CPython's ctypes
/// does: the structure is cut into pieces of its own alignment, each an integer of that size,
/// or a float or double where the piece holds only float data. The pieces tile the structure
/// exactly (its size is a multiple of its alignment), so libffi's layout has the same size and
/// alignment, and each eightbyte gets the System V class that the C compiler gives it.
fn ffi_storage_units(s: &crate::types::StructType) -> Result<Type> {
    let m = crate::types::DataModel::host();
    let layout = s.layout(m);
    let (size, align) = (layout.size, layout.align);
    if !matches!(align, 1 | 2 | 4 | 8) {
        return Err(Error::TypeError(format!(
            "{} is aligned to {align} bytes: libffi cannot pass it by value",
            s.name()
        )));
    }
    let mut classes = vec![ByteClass::Padding; size];
    mark_struct(s, 0, m, &mut classes);
    let pieces = classes.chunks(align).map(|piece| {
        let floats =
            piece.iter().all(|c| *c != ByteClass::Integer) && piece.contains(&ByteClass::Float);
        match (floats, align) {
            (true, 8) => Type::f64(),
            (true, 4) => Type::f32(),
            (_, 8) => Type::u64(),
            (_, 4) => Type::u32(),
            (_, 2) => Type::u16(),
            _ => Type::u8(),
        }
    });
    Ok(Type::structure(pieces.collect::<Vec<_>>()))
}

pub(super) fn ffi_passing(p: &crate::backend::Passing) -> Result<Type> {
    match p {
        crate::backend::Passing::Scalar(r) => Ok(ffi_type(*r)),
        crate::backend::Passing::Struct(s) => ffi_struct(s),
        crate::backend::Passing::Memory(r) => Ok(ffi_type(*r)),
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
