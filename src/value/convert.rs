//! The one conversion table: how each C type is stored as raw bits and bytes, masked, read
//! back, promoted and handed to a callback, as ctypes' `cfield.c` setters and getters do.
//!
//! Calls, memory reads and writes, structures, arrays, callbacks and typed calls all convert
//! through these functions, so a rule of ctypes lives in one place.

use std::mem::ManuallyDrop;
use std::rc::Rc;

use super::{Boxed, StructValue, Value};
use crate::error::{Error, Result};
use crate::types::{CType, DataModel, Repr, Type};

/// Masks an integer to a C integer representation, as ctypes does on assignment and on call:
/// the low bits are kept and read back signed or unsigned. `c_bool` reads any non-zero as 1.
pub fn mask_int(v: i128, repr: Repr) -> i128 {
    match repr {
        Repr::Bool => (v != 0) as i128,
        Repr::Int(n) => {
            let shift = 128 - 8 * n as u32;
            (v << shift) >> shift
        }
        Repr::UInt(n) => {
            let bits = 8 * n as u32;
            v & ((1i128 << bits) - 1)
        }
        Repr::F32 | Repr::F64 | Repr::F80 | Repr::F128 | Repr::Void => v,
    }
}

/// Reads raw call bits (as a backend returns them in a 64-bit slot) as an integer of `repr`.
pub(crate) fn int_from_bits(bits: u64, repr: Repr) -> i128 {
    mask_int(bits as i128, repr)
}

/// UTF-32LE bytes to a string (invalid code points become U+FFFD).
pub(crate) fn decode_wide(raw: &[u8]) -> String {
    raw.chunks_exact(4)
        .map(|c| char::from_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]])).unwrap_or('\u{fffd}'))
        .collect()
}

/// A string to NUL-terminated UTF-32LE bytes, as `wchar_t` is on both targets.
pub(crate) fn encode_wide(s: &str) -> Vec<u8> {
    s.chars()
        .chain(std::iter::once('\0'))
        .flat_map(|c| (c as u32).to_le_bytes())
        .collect()
}

/// A `long double` of representation `r` (x87 extended or IEEE quad, 16 bytes in memory)
/// holding the double `x` exactly.
pub(crate) fn long_double_bytes(r: Repr, x: f64) -> [u8; 16] {
    use rustc_apfloat::ieee::{Double, Quad, X87DoubleExtended};
    use rustc_apfloat::{Float, FloatConvert};
    let d = Double::from_bits(x.to_bits() as u128);
    let mut lost = false;
    let bits = match r {
        Repr::F80 => FloatConvert::<X87DoubleExtended>::convert(d, &mut lost)
            .value
            .to_bits(),
        _ => FloatConvert::<Quad>::convert(d, &mut lost).value.to_bits(),
    };
    bits.to_le_bytes()
}

/// The double nearest to the `long double` of representation `r` in `raw` (its 16 bytes),
/// as ctypes reads one.
pub(crate) fn long_double_value(r: Repr, raw: &[u8]) -> f64 {
    use rustc_apfloat::ieee::{Double, Quad, X87DoubleExtended};
    use rustc_apfloat::{Float, FloatConvert};
    let mut b = [0u8; 16];
    let n = raw.len().min(16);
    b[..n].copy_from_slice(&raw[..n]);
    let bits = u128::from_le_bytes(b);
    let mut lost = false;
    let d: Double = match r {
        Repr::F80 => {
            // The 80 bits of x87's format; the 6 bytes of padding are not part of it.
            let e = X87DoubleExtended::from_bits(bits & ((1u128 << 80) - 1));
            e.convert(&mut lost).value
        }
        _ => Quad::from_bits(bits).convert(&mut lost).value,
    };
    f64::from_bits(d.to_bits() as u64)
}

/// Stores a value of a fundamental type as the bytes it has in memory (its size of them;
/// 16 for a `long double`), masked and converted as ctypes does.
pub(crate) fn encode_bytes(t: CType, r: Repr, v: &Value) -> Result<([u8; 16], usize)> {
    if r.is_long_double() {
        let bits = encode(t, r, v)?;
        return Ok((long_double_bytes(r, f64::from_bits(bits)), 16));
    }
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&encode(t, r, v)?.to_le_bytes());
    Ok((out, r.size()))
}

/// Stores a value of a fundamental type as raw little-endian bits, masked as ctypes does. A
/// `long double`, which no 64-bit slot holds, is the bits of its value as a double here (see
/// [`encode_bytes`] for its bytes in memory).
pub(crate) fn encode(t: CType, r: Repr, v: &Value) -> Result<u64> {
    let wrong = || Error::TypeError(format!("wrong type: expected {t}, got {}", v.py_type()));
    Ok(match (r, v) {
        (Repr::F80 | Repr::F128, Value::Float(x)) => x.to_bits(),
        (Repr::F80 | Repr::F128, _) => (v.as_int().ok_or_else(wrong)? as f64).to_bits(),
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
        (_, Value::Function(fp)) if t == CType::VoidP => fp.ptr.addr,
        _ => mask_int(v.as_int().ok_or_else(wrong)?, r) as u64,
    })
}

/// Reads a value of a fundamental type from raw little-endian bytes.
pub(crate) fn decode(t: CType, r: Repr, raw: &[u8]) -> Value {
    if r.is_long_double() {
        return Value::Float(long_double_value(r, raw));
    }
    from_bits(t, r, bits_le(raw))
}

/// The value of type `t` stored at `addr` in memory of data model `m`, whose bytes `read`
/// copies out: one read, no allocation; NULL is a ValueError. What `Memory::get` and
/// `CDLL::get` do.
pub(crate) fn load(
    m: DataModel,
    addr: u64,
    t: CType,
    read: impl FnOnce(u64, &mut [u8]) -> Result<()>,
) -> Result<Value> {
    if addr == 0 {
        return Err(Error::ValueError("NULL pointer access".into()));
    }
    let r = m.repr(t);
    let mut raw = [0u8; 16];
    read(addr, &mut raw[..r.size()])?;
    Ok(decode(t, r, &raw[..r.size()]))
}

/// Stores `v` as type `t` at `addr` in memory of data model `m` (masked to the width, as
/// ctypes' setters do), with `write`; NULL is a ValueError. What `Memory::set` and
/// `CDLL::set` do.
pub(crate) fn store(
    m: DataModel,
    addr: u64,
    t: CType,
    v: &Value,
    write: impl FnOnce(u64, &[u8]) -> Result<()>,
) -> Result<()> {
    if addr == 0 {
        return Err(Error::ValueError("NULL pointer access".into()));
    }
    let (bytes, n) = encode_bytes(t, m.repr(t), v)?;
    write(addr, &bytes[..n])
}

/// The little-endian number in the first 8 bytes of `raw` (zero-extended when shorter), read
/// with one load of the width for the usual widths: a scalar just copied in by a `memcpy` of
/// its own width reads back without the store-forwarding stall of an 8-byte load over it.
#[inline]
pub(crate) fn bits_le(raw: &[u8]) -> u64 {
    fn le<const N: usize>(raw: &[u8]) -> [u8; N] {
        let mut b = [0u8; N];
        b.copy_from_slice(&raw[..N]);
        b
    }
    match raw.len() {
        1 => u64::from(raw[0]),
        2 => u64::from(u16::from_le_bytes(le(raw))),
        4 => u64::from(u32::from_le_bytes(le(raw))),
        8.. => u64::from_le_bytes(le(raw)),
        n => {
            let mut b = [0u8; 8];
            b[..n].copy_from_slice(raw);
            u64::from_le_bytes(b)
        }
    }
}

/// ctypes' getter of a fundamental type from its raw bits (a call's result slot, a callback's
/// argument, or the bytes in memory): only the low bits of `r`'s width count. Pointers are
/// their address as an integer; the caller decides what a `c_char_p` reads as. A `long
/// double` in a slot is the bits of its value as a double (see [`encode`]).
pub(crate) fn from_bits(t: CType, r: Repr, bits: u64) -> Value {
    match t {
        CType::Void => Value::None,
        CType::LongDouble => Value::Float(f64::from_bits(bits)),
        CType::Float => Value::Float(f32::from_bits(bits as u32) as f64),
        CType::Double => Value::Float(f64::from_bits(bits)),
        CType::Bool => Value::Bool(bits as u8 != 0),
        CType::Char => Value::Bytes(vec![bits as u8]),
        CType::WChar => Value::Str(
            char::from_u32(bits as u32)
                .unwrap_or('\u{fffd}')
                .to_string(),
        ),
        _ => Value::Int(int_from_bits(bits, r)),
    }
}

/// C's default argument promotions, applied to variadic arguments: integers narrower than
/// `int` become `int`, `float` becomes `double`.
pub(crate) fn promote(repr: Repr, bits: u64) -> (Repr, u64) {
    match repr {
        Repr::Bool | Repr::Int(1 | 2) | Repr::UInt(1 | 2) => {
            (Repr::Int(4), int_from_bits(bits, repr) as u64)
        }
        Repr::F32 => (Repr::F64, (f32::from_bits(bits as u32) as f64).to_bits()),
        other => (other, bits),
    }
}

/// Reads a value of type `t` from `bytes` (exactly its size).
pub(crate) fn read_value(t: &Type, m: DataModel, bytes: &[u8]) -> Value {
    match t {
        Type::Simple(c) => decode(*c, m.repr(*c), bytes),
        // A function pointer member is its address here; the memory objects, which know the
        // library, make it a `CFunctionType` instance.
        Type::Pointer(_) | Type::Function(_) => decode(CType::VoidP, m.repr(CType::VoidP), bytes),
        // ctypes reads a `c_char * n` member as bytes and a `c_wchar * n` member as str, up
        // to the first NUL (its `.value`).
        Type::Array(elem, _) if **elem == Type::Simple(CType::Char) => {
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            Value::Bytes(bytes[..end].to_vec())
        }
        Type::Array(elem, _) if **elem == Type::Simple(CType::WChar) => {
            let text = decode_wide(bytes);
            Value::Str(text.split('\0').next().unwrap_or_default().to_string())
        }
        Type::Array(elem, n) => {
            let size = elem.sizeof(m);
            Value::List(Boxed::new(
                (0..*n)
                    .map(|i| read_value(elem, m, &bytes[i * size..(i + 1) * size]))
                    .collect(),
            ))
        }
        Type::Struct(s) => Value::Struct(StructValue {
            ty: ManuallyDrop::new(s.clone()),
            model: m,
            bytes: ManuallyDrop::new(bytes.to_vec()),
        }),
    }
}

/// Writes `v` as type `t` into `bytes` (exactly its size), masked as ctypes does.
pub(crate) fn write_value(t: &Type, m: DataModel, bytes: &mut [u8], v: &Value) -> Result<()> {
    match (t, v) {
        (Type::Simple(c), _) => {
            let r = m.repr(*c);
            let (raw, n) = encode_bytes(*c, r, v)?;
            bytes.copy_from_slice(&raw[..n]);
        }
        (Type::Pointer(_), _) => {
            let r = m.repr(CType::VoidP);
            let bits = encode(CType::VoidP, r, v)?;
            bytes.copy_from_slice(&bits.to_le_bytes()[..r.size()]);
        }
        // Only an instance of the same prototype fits a function pointer, as in ctypes.
        (Type::Function(proto), Value::Function(fp)) if *fp.proto == **proto => {
            let r = m.repr(CType::VoidP);
            bytes.copy_from_slice(&fp.ptr.addr.to_le_bytes()[..r.size()]);
        }
        (Type::Function(_), other) => {
            return Err(Error::wrong_type("CFunctionType", other.py_type()));
        }
        // `c_char * n` takes bytes and `c_wchar * n` a str, as ctypes' setters do: at most n
        // units, NUL-terminated when there is room.
        (Type::Array(elem, n), Value::Bytes(data)) if **elem == Type::Simple(CType::Char) => {
            if data.len() > *n {
                return Err(Error::ValueError(format!(
                    "bytes too long ({}, maximum length {n})",
                    data.len()
                )));
            }
            bytes[..data.len()].copy_from_slice(data);
            if data.len() < *n {
                bytes[data.len()] = 0;
            }
        }
        (Type::Array(elem, n), Value::Str(text)) if **elem == Type::Simple(CType::WChar) => {
            let count = text.chars().count();
            if count > *n {
                return Err(Error::ValueError(format!(
                    "string too long ({count}, maximum length {n})"
                )));
            }
            let wide = encode_wide(text);
            let len = (4 * (count + 1)).min(bytes.len());
            bytes[..len].copy_from_slice(&wide[..len]);
        }
        (Type::Array(elem, n), Value::List(items)) => {
            if items.len() > *n {
                return Err(Error::IndexError("too many initializers".into()));
            }
            let size = elem.sizeof(m);
            for (i, item) in items.iter().enumerate() {
                write_value(elem, m, &mut bytes[i * size..(i + 1) * size], item)?;
            }
        }
        (Type::Struct(s), Value::Struct(sv)) if Rc::ptr_eq(s, &sv.ty) || **s == **sv.ty => {
            bytes.copy_from_slice(&sv.bytes);
        }
        _ => {
            return Err(Error::TypeError(format!(
                "expected {}, got {}",
                t.name(),
                v.py_type()
            )))
        }
    }
    Ok(())
}

/// Converts a callback's result to raw bits of `t`.
pub(crate) fn callback_result(t: CType, m: DataModel, v: &Value) -> Result<u64> {
    if t == CType::Void {
        return Ok(0);
    }
    let r = m.repr(t);
    if let (Repr::F32 | Repr::F64 | Repr::F80 | Repr::F128, Value::Int(i)) = (r, v) {
        return encode(t, r, &Value::Float(*i as f64));
    }
    encode(t, r, v)
        .map_err(|e| Error::TypeError(format!("callback returned a bad value for {t}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_le_reads_every_width_zero_extended() {
        let raw = [0x88u8, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xff];
        assert_eq!(bits_le(&raw[..0]), 0);
        assert_eq!(bits_le(&raw[..1]), 0x88);
        assert_eq!(bits_le(&raw[..2]), 0x7788);
        assert_eq!(bits_le(&raw[..3]), 0x66_7788);
        assert_eq!(bits_le(&raw[..4]), 0x5566_7788);
        assert_eq!(bits_le(&raw[..6]), 0x3344_5566_7788);
        assert_eq!(bits_le(&raw[..8]), 0x1122_3344_5566_7788);
        assert_eq!(
            bits_le(&raw),
            0x1122_3344_5566_7788,
            "only the first 8 bytes"
        );
    }

    #[test]
    fn masks_like_ctypes() {
        assert_eq!(mask_int((1 << 32) + 5, Repr::Int(4)), 5);
        assert_eq!(mask_int(-1, Repr::UInt(1)), 255);
        assert_eq!(mask_int(255, Repr::Int(1)), -1);
        assert_eq!(mask_int(1 << 31, Repr::Int(4)), -(1 << 31));
        assert_eq!(mask_int(-1, Repr::UInt(8)), u64::MAX as i128);
        assert_eq!(mask_int(7, Repr::Bool), 1);
    }

    /// Every fundamental type in both data models: what a setter stores, the getter reads
    /// back, masked as ctypes masks it.
    #[test]
    fn every_setter_and_getter_round_trip_in_both_models() {
        use CType::*;
        for m in [DataModel::ILP32, DataModel::LP64] {
            for (t, given, read) in [
                (Int, Value::Int((1 << 32) + 5), Value::Int(5)),
                (UInt, Value::Int(-1), Value::Int(u32::MAX as i128)),
                (Byte, Value::Int(200), Value::Int(-56)),
                (UByte, Value::Int(-1), Value::Int(255)),
                (Short, Value::Int(40000), Value::Int(40000 - 65536)),
                (LongLong, Value::Int(-2), Value::Int(-2)),
                (ULongLong, Value::Int(-1), Value::Int(u64::MAX as i128)),
                (Bool, Value::Int(7), Value::Bool(true)),
                (Bool, Value::Bool(false), Value::Bool(false)),
                (Float, Value::Float(0.1), Value::Float(0.1f32 as f64)),
                (Float, Value::Int(3), Value::Float(3.0)),
                (Double, Value::Float(-2.5), Value::Float(-2.5)),
                (
                    Char,
                    Value::Bytes(b"x".to_vec()),
                    Value::Bytes(b"x".to_vec()),
                ),
                (Char, Value::Int(65), Value::Bytes(b"A".to_vec())),
                (WChar, Value::Str("é".into()), Value::Str("é".into())),
                (VoidP, Value::None, Value::Int(0)),
            ] {
                let r = m.repr(t);
                let bits = encode(t, r, &given).unwrap_or_else(|e| panic!("{t} {given}: {e}"));
                let bytes = bits.to_le_bytes();
                assert_eq!(decode(t, r, &bytes[..r.size()]), read, "{t} in {m}");
                assert_eq!(from_bits(t, r, bits), read, "{t} in {m}");
            }
            // c_long and pointers follow the data model.
            let long = m.repr(Long);
            let kept = encode(Long, long, &Value::Int((1 << 32) + 7)).unwrap();
            let expect = if m == DataModel::ILP32 {
                7
            } else {
                (1 << 32) + 7
            };
            assert_eq!(from_bits(Long, long, kept), Value::Int(expect));
        }
        // Wrong types are TypeErrors, not silent conversions.
        let r = DataModel::LP64.repr(Int);
        assert_eq!(
            encode(Int, r, &Value::Float(1.5)).unwrap_err().kind(),
            "TypeError"
        );
        assert_eq!(
            encode(Int, r, &Value::Bytes(b"1".to_vec()))
                .unwrap_err()
                .kind(),
            "TypeError"
        );
        assert_eq!(
            encode(
                Char,
                DataModel::LP64.repr(Char),
                &Value::Bytes(b"ab".to_vec())
            )
            .unwrap_err()
            .kind(),
            "TypeError"
        );
    }

    #[test]
    fn variadic_promotion_and_callback_results_follow_c() {
        assert_eq!(promote(Repr::Int(1), 0xff), (Repr::Int(4), u64::MAX));
        assert_eq!(promote(Repr::UInt(2), 0xffff), (Repr::Int(4), 0xffff));
        assert_eq!(
            promote(Repr::F32, 1.5f32.to_bits() as u64),
            (Repr::F64, 1.5f64.to_bits())
        );
        assert_eq!(promote(Repr::Int(8), 5), (Repr::Int(8), 5));
        let m = DataModel::ILP32;
        // A callback declared to return a double may return an int, as in Python.
        assert_eq!(
            callback_result(CType::Double, m, &Value::Int(2)).unwrap(),
            2.0f64.to_bits()
        );
        assert_eq!(callback_result(CType::Void, m, &Value::Int(2)).unwrap(), 0);
        assert_eq!(
            callback_result(CType::Int, m, &Value::Str("x".into()))
                .unwrap_err()
                .kind(),
            "TypeError"
        );
        let args = [CType::CharP, CType::Char, CType::Int];
        let values: Vec<Value> = args
            .iter()
            .zip([0, 0x41, u64::MAX])
            .map(|(&t, bits)| {
                crate::backend::CallbackArg::Scalar(t)
                    .value(m, bits, &[])
                    .unwrap()
            })
            .collect();
        assert_eq!(
            values,
            vec![Value::None, Value::Bytes(b"A".to_vec()), Value::Int(-1)]
        );
    }

    #[test]
    fn char_and_wchar_arrays_are_bytes_and_str() {
        let m = DataModel::LP64;
        let chars = Type::array(CType::Char, 4);
        let mut bytes = [0xffu8; 4];
        write_value(&chars, m, &mut bytes, &Value::Bytes(b"ab".to_vec())).unwrap();
        assert_eq!(&bytes, b"ab\0\xff");
        assert_eq!(read_value(&chars, m, &bytes), Value::Bytes(b"ab".to_vec()));
        write_value(&chars, m, &mut bytes, &Value::Bytes(b"abcd".to_vec())).unwrap();
        assert_eq!(
            read_value(&chars, m, &bytes),
            Value::Bytes(b"abcd".to_vec())
        );
        let e = write_value(&chars, m, &mut bytes, &Value::Bytes(b"abcde".to_vec())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ValueError: bytes too long (5, maximum length 4)"
        );
        let wide = Type::array(CType::WChar, 3);
        let mut raw = [0u8; 12];
        write_value(&wide, m, &mut raw, &Value::Str("hé".into())).unwrap();
        assert_eq!(read_value(&wide, m, &raw), Value::Str("hé".into()));
        let ints = Type::array(CType::Int, 2);
        let mut raw = [0u8; 8];
        write_value(
            &ints,
            m,
            &mut raw,
            &Value::List(vec![Value::Int(1), Value::Int(-1)].into()),
        )
        .unwrap();
        assert_eq!(
            read_value(&ints, m, &raw),
            Value::List(vec![Value::Int(1), Value::Int(-1)].into())
        );
    }
}
