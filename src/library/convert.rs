//! ctypes' argument and result conversions for a call (CPython's `ConvParam` and
//! `GetResult`): how a Python value becomes a raw argument slot for a declared or inferred
//! type, and how a raw result slot becomes a Python value.

use std::rc::Rc;

use super::call::{temporary, wrong_type, Converted};
use super::cdll::{read_string, read_wstring};
use super::inner::LibInner;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::types::{CType, DataModel, Repr, Type};
use crate::value::{encode_bytes, from_bits, int_from_bits, mask_int, Pointer, Value};

/// Converts one argument to its raw slot, following ctypes' rules for `declared` (or its
/// inference rules when there is no declared type).
pub(super) fn convert_arg(
    b: &mut dyn Backend,
    lib: &LibInner,
    position: usize,
    declared: Option<&Type>,
    v: &Value,
    cv: &mut Converted,
) -> Result<(Repr, u64)> {
    let m = lib.model;
    let pointer = m.repr(CType::VoidP);
    let own_pointer = |p: &Pointer| -> Result<u64> {
        if p.lib != lib.id {
            return Err(Error::arg(
                position,
                Error::ValueError(format!(
                    "pointer 0x{:x} belongs to another library's memory (library id {}), not {} (id {})",
                    p.addr, p.lib, lib.name, lib.id
                )),
            ));
        }
        Ok(p.addr)
    };
    let address = |i: i128| -> u64 { mask_int(i, pointer) as u64 };
    let declared = match declared {
        None => None,
        Some(Type::Simple(t)) => Some(*t),
        Some(Type::Pointer(_) | Type::Array(..)) => {
            // POINTER(T): a pointer into this library, an address, or NULL.
            let bits = match v {
                Value::None => 0,
                Value::Int(i) => address(*i),
                Value::Pointer(p) => own_pointer(p)?,
                other => return Err(wrong_type(position, CType::VoidP, other)),
            };
            return Ok((pointer, bits));
        }
        Some(Type::Function(proto)) => {
            // CFUNCTYPE(...): only an instance of the same prototype, as ctypes checks it
            // (not None, not an int).
            return match v {
                Value::Function(fp) if fp.proto == *proto => Ok((pointer, own_pointer(&fp.ptr)?)),
                other => Err(Error::arg(
                    position,
                    Error::wrong_type("CFunctionType", other.py_type()),
                )),
            };
        }
        Some(Type::Struct(s)) => {
            // By value: the bytes are copied into the library's memory for the call.
            let bytes = match v {
                // The same structure type: the same object, or one equal in name, fields and
                // packing (so the same layout). A different structure that only shares the
                // name is rejected, as ctypes rejects an instance of another class.
                Value::Struct(sv)
                    if sv.model() == m && (Rc::ptr_eq(sv.ty(), s) || sv.ty() == s) =>
                {
                    sv.bytes().to_vec()
                }
                Value::Pointer(p) => {
                    let mut bytes = vec![0; s.layout(m).size];
                    b.read(own_pointer(p)?, &mut bytes)?;
                    bytes
                }
                other => {
                    let given = match other {
                        Value::Struct(sv) => sv.ty().name(),
                        other => other.py_type(),
                    };
                    return Err(Error::arg(position, Error::wrong_type(s.name(), given)));
                }
            };
            return Ok((pointer, temporary(b, lib, &bytes, 0, cv)?));
        }
    };
    if let Value::Typed(t, inner) = v {
        // A ctypes instance (`c_double(2.5)`): its own type, which must match a declared one.
        if declared.is_some_and(|d| d != *t) {
            return Err(wrong_type(position, declared.unwrap_or(*t), v));
        }
        return convert_arg(b, lib, position, Some(&Type::Simple(*t)), inner, cv);
    }
    let Some(t) = declared else {
        // ctypes' conversions for arguments without argtypes.
        return Ok(match v {
            Value::Int(i) => {
                if *i < i64::MIN as i128 || *i > u64::MAX as i128 {
                    return Err(Error::arg(
                        position,
                        Error::OverflowError("int too long to convert".into()),
                    ));
                }
                let r = m.repr(CType::Int);
                (r, mask_int(*i, r) as u64)
            }
            Value::Bool(x) => (m.repr(CType::Int), *x as u64),
            Value::None => (pointer, 0),
            Value::Bytes(bytes) => (pointer, temporary(b, lib, bytes, 1, cv)?),
            Value::Str(s) => (
                pointer,
                temporary(b, lib, &crate::value::encode_wide(s), 0, cv)?,
            ),
            Value::Pointer(p) => (pointer, own_pointer(p)?),
            Value::Function(fp) => (pointer, own_pointer(&fp.ptr)?),
            Value::Float(_) | Value::Struct(_) | Value::List(_) | Value::Typed(..) => {
                return Err(Error::arg(
                    position,
                    Error::TypeError(format!(
                        "Don't know how to convert parameter {position} (a {} needs argtypes)",
                        v.py_type()
                    )),
                ))
            }
        });
    };
    let r = m.repr(t);
    let bits = match t {
        CType::LongDouble => {
            // 16 bytes no slot holds: converted by the conversion table, copied into the
            // library's memory for the call, and their address passed (`Passing::Memory`).
            let (bytes, n) = encode_bytes(t, r, v).map_err(|_| wrong_type(position, t, v))?;
            return Ok((pointer, temporary(b, lib, &bytes[..n], 0, cv)?));
        }
        CType::Void => {
            return Err(Error::arg(
                position,
                Error::TypeError("void is not an argument type".into()),
            ))
        }
        CType::Float | CType::Double => {
            let x = match v {
                Value::Float(x) => *x,
                Value::Int(i) => *i as f64,
                Value::Bool(x) => *x as u8 as f64,
                other => return Err(wrong_type(position, t, other)),
            };
            if t == CType::Float {
                (x as f32).to_bits() as u64
            } else {
                x.to_bits()
            }
        }
        CType::CharP | CType::WCharP | CType::VoidP => match v {
            Value::None => 0,
            // c_void_p takes an address; c_char_p and c_wchar_p do not ("wrong type" in
            // ctypes), as their from_param takes only strings, NULL and char pointers.
            Value::Int(i) if t == CType::VoidP => address(*i),
            Value::Pointer(p) => own_pointer(p)?,
            // ctypes' c_void_p takes a function pointer too.
            Value::Function(fp) if t == CType::VoidP => own_pointer(&fp.ptr)?,
            Value::Bytes(bytes) if t != CType::WCharP => temporary(b, lib, bytes, 1, cv)?,
            Value::Str(s) if t != CType::CharP => {
                temporary(b, lib, &crate::value::encode_wide(s), 0, cv)?
            }
            other => return Err(wrong_type(position, t, other)),
        },
        CType::Char => match v {
            Value::Bytes(bytes) if bytes.len() == 1 => bytes[0] as u64,
            Value::Int(i) => mask_int(*i, r) as u64,
            other => {
                return Err(Error::arg(
                    position,
                    Error::TypeError(format!(
                        "one character bytes, bytearray or integer expected, got {}",
                        other.py_type()
                    )),
                ))
            }
        },
        CType::WChar => match v {
            Value::Str(s) if s.chars().count() == 1 => s.chars().next().unwrap_or('\0') as u64,
            other => {
                return Err(Error::arg(
                    position,
                    Error::TypeError(format!(
                        "unicode string of length 1 expected, got {}",
                        other.py_type()
                    )),
                ))
            }
        },
        CType::Bool => match v {
            Value::Int(i) => (*i != 0) as u64,
            Value::Bool(x) => *x as u64,
            Value::None => 0,
            Value::Float(x) => (*x != 0.0) as u64,
            Value::Bytes(x) => (!x.is_empty()) as u64,
            Value::Str(x) => (!x.is_empty()) as u64,
            Value::List(x) => (!x.is_empty()) as u64,
            Value::Pointer(_) | Value::Struct(_) | Value::Typed(..) | Value::Function(_) => 1,
        },
        _ => match v.as_int() {
            Some(i) => mask_int(i, r) as u64,
            None => return Err(wrong_type(position, t, v)),
        },
    };
    Ok((r, bits))
}

/// Converts a raw result slot to a value of `restype`, as ctypes does.
pub(crate) fn convert_result(
    b: &mut dyn Backend,
    m: DataModel,
    restype: CType,
    raw: u64,
) -> Result<Value> {
    let r = m.repr(restype);
    Ok(match restype {
        // A long double result is in memory, at the address the slot gives.
        CType::LongDouble => {
            let mut bytes = [0u8; 16];
            b.read(raw, &mut bytes)?;
            Value::Float(crate::value::long_double_value(r, &bytes))
        }
        // ctypes reads a char * result as the string (None for NULL), a void * as its address.
        CType::CharP | CType::WCharP | CType::VoidP => {
            let addr = int_from_bits(raw, r) as u64;
            if addr == 0 {
                Value::None
            } else if restype == CType::CharP {
                Value::Bytes(read_string(b, addr)?)
            } else if restype == CType::WCharP {
                Value::Str(read_wstring(b, addr)?)
            } else {
                Value::Int(addr as i128)
            }
        }
        other => from_bits(other, r, raw),
    })
}
