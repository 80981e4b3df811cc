//! Calls and conversions: every rule on both backends, against the answer CPython's ctypes gives.

use crate::common::both;
use wasmctypes::{BackendKind, CType, Error, Value, CDLL};

fn call(
    lib: &CDLL,
    name: &str,
    argtypes: &[CType],
    restype: CType,
    args: &[Value],
) -> Result<Value, Error> {
    let mut f = lib.function(name)?;
    f.set_argtypes(argtypes)?.set_restype(restype)?;
    let first = f.call(args);
    // The first call prepares the prototype; later ones take the scalar fast path where the
    // prototype qualifies, which must give the same answer.
    let again = f.call(args);
    match (&first, &again) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}: fast path differs"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{name}"),
        _ => panic!("{name}: {first:?} then {again:?}"),
    }
    first
}

fn int(v: i128) -> Value {
    Value::Int(v)
}

#[test]
fn integers_are_masked_to_their_c_type() {
    use CType::*;
    // (function, type, argument, what ctypes returns)
    let cases: &[(&str, CType, i128, i128)] = &[
        ("ubyte_id", UByte, -1, 255),
        ("ubyte_id", UByte, 256 + 7, 7),
        ("neg_byte", Byte, 127, -127),
        ("neg_byte", Byte, 128, -128 * -1 - 256), // c_byte(128) is -128; -(-128) wraps to -128
        ("short_id", Short, 70000, 70000 - 65536),
        ("ushort_id", UShort, -1, 65535),
        ("add_uint", UInt, -1, 4294967295),
        ("longlong_id", LongLong, 1 << 63, -(1 << 63)),
        ("ulonglong_id", ULongLong, -1, (1 << 64) - 1),
    ];
    for lib in both("testlib") {
        for &(name, t, arg, expected) in cases {
            let args: Vec<Value> = if name == "add_uint" {
                vec![int(arg), int(0)]
            } else {
                vec![int(arg)]
            };
            let types: Vec<CType> = args.iter().map(|_| t).collect();
            let got = call(&lib, name, &types, t, &args).unwrap();
            assert_eq!(got, int(expected), "{name}({arg}) on {}", lib.backend());
        }
        // c_int(2**32 + 5) is 5, and int overflow wraps as C does.
        assert_eq!(
            call(&lib, "add", &[Int, Int], Int, &[int((1 << 32) + 5), int(0)]).unwrap(),
            int(5)
        );
        assert_eq!(
            call(
                &lib,
                "add",
                &[Int, Int],
                Int,
                &[int(i32::MAX as i128), int(1)]
            )
            .unwrap(),
            int(i32::MIN as i128)
        );
    }
}

#[test]
fn default_restype_is_c_int_and_untyped_ints_are_c_int() {
    for lib in both("testlib") {
        let f = lib.function("add").unwrap();
        assert_eq!(f.restype(), &CType::Int.into());
        assert_eq!(f.call(&[int(40), int(2)]).unwrap(), int(42));
        // Untyped: masked to c_int as ctypes does.
        assert_eq!(f.call(&[int((1 << 32) + 1), int(1)]).unwrap(), int(2));
        // Beyond a C long: ctypes' "int too long to convert".
        let e = f.call(&[int(1 << 70), int(1)]).unwrap_err();
        assert!(
            matches!(
                &e,
                Error::ArgumentError {
                    position: Some(1),
                    cause,
                } if matches!(**cause, Error::OverflowError(_))
            ),
            "{e}"
        );
        assert_eq!(
            e.message(),
            "argument 1: OverflowError: int too long to convert"
        );
    }
}

#[test]
fn long_and_size_t_follow_the_data_model() {
    for lib in both("testlib") {
        let long_size = lib.sizeof(CType::Long);
        let c_says = call(&lib, "sizeof_long", &[], CType::SizeT, &[]).unwrap();
        assert_eq!(
            c_says,
            int(long_size as i128),
            "sizeof(long) on {}",
            lib.backend()
        );
        let c_ptr = call(&lib, "sizeof_pointer", &[], CType::SizeT, &[]).unwrap();
        assert_eq!(c_ptr, int(lib.sizeof(CType::VoidP) as i128));
        let expected = match lib.backend() {
            BackendKind::Wasm => 4,
            BackendKind::Native => 8,
        };
        assert_eq!(long_size, expected);
        // c_long(2**32 + 7): 7 where long is 32-bit, unchanged where it is 64-bit.
        let got = call(
            &lib,
            "long_id",
            &[CType::Long],
            CType::Long,
            &[int((1 << 32) + 7)],
        )
        .unwrap();
        assert_eq!(got, int(if expected == 4 { 7 } else { (1 << 32) + 7 }));
        let max = call(&lib, "ulong_id", &[CType::ULong], CType::ULong, &[int(-1)]).unwrap();
        assert_eq!(max, int((1i128 << (8 * expected)) - 1));
        let size = call(&lib, "size_id", &[CType::SizeT], CType::SizeT, &[int(-1)]).unwrap();
        assert_eq!(size, int((1i128 << (8 * expected)) - 1));
        // ULONG_MAX + 1 computed in C: 2**32 sandboxed, 2**64 (wraps to 0 in 64 bits) natively.
        let wrap = call(&lib, "ulong_max_plus_one", &[], CType::ULongLong, &[]).unwrap();
        assert_eq!(wrap, int(if expected == 4 { 1 << 32 } else { 0 }));
    }
}

#[test]
fn bool_char_and_floats() {
    use CType::*;
    for lib in both("testlib") {
        assert_eq!(
            call(&lib, "is_nonzero", &[Int], Bool, &[int(5)]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            call(&lib, "is_nonzero", &[Int], Bool, &[int(0)]).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            call(
                &lib,
                "next_char",
                &[Char],
                Char,
                &[Value::Bytes(b"a".to_vec())]
            )
            .unwrap(),
            Value::Bytes(b"b".to_vec())
        );
        assert_eq!(
            call(&lib, "half_f", &[Float], Float, &[Value::Float(3.0)]).unwrap(),
            Value::Float(1.5)
        );
        // An int is accepted where a float is declared.
        assert_eq!(
            call(&lib, "half_f", &[Float], Float, &[int(5)]).unwrap(),
            Value::Float(2.5)
        );
        let args = [
            int(1),
            Value::Float(2.5),
            Value::Float(0.5),
            int(10),
            Value::Bytes(b"\x02".to_vec()),
            Value::Float(0.25),
        ];
        let got = call(
            &lib,
            "mix",
            &[Int, Double, Float, LongLong, Char, Double],
            Double,
            &args,
        )
        .unwrap();
        assert_eq!(got, Value::Float(16.25));
        assert_eq!(
            call(
                &lib,
                "scale",
                &[Double, Int],
                Double,
                &[Value::Float(1.5), int(4)]
            )
            .unwrap(),
            Value::Float(6.0)
        );
    }
}

#[test]
fn floats_never_convert_silently() {
    for lib in both("testlib") {
        // No argtypes: ctypes raises ArgumentError for a float.
        let scale = lib.function("add").unwrap();
        let e = scale.call(&[Value::Float(2.5), int(1)]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::ArgumentError {
                    position: Some(1),
                    ..
                }
            ),
            "{e}"
        );
        // Declared c_int: a float is a TypeError naming the argument and type.
        let e = call(
            &lib,
            "add",
            &[CType::Int, CType::Int],
            CType::Int,
            &[int(1), Value::Float(2.0)],
        )
        .unwrap_err();
        assert!(
            matches!(
                &e,
                Error::ArgumentError {
                    position: Some(2),
                    cause,
                } if matches!(&**cause, Error::WrongType { expected, got } if expected == "c_int" && got == "float")
            ),
            "{e}"
        );
    }
}

/// The fast path converts the common cases itself, position by position for up to six
/// arguments and in a loop beyond, and hands any other value to ctypes' general conversion:
/// both must give ctypes' answers at every position, including the seventh.
#[test]
fn every_argument_position_converts_as_ctypes_does() {
    use CType::*;
    let six = [Byte, Short, Int, Long, Float, Double];
    let seven = [Byte, Short, Int, Long, Float, Double, LongLong];
    let plain = [
        int(1),
        int(2),
        int(3),
        int(4),
        Value::Float(5.0),
        Value::Float(6.0),
        int(7),
    ];
    for lib in both("ctypes_test") {
        // >>> f = lib._testfunc_q_bhilfd; f.argtypes = (c_byte, c_short, c_int, c_long,
        // ...     c_float, c_double); f.restype = c_longlong; f(1, 2, 3, 4, 5.0, 6.0)
        // 21
        let f6 = |args: &[Value]| call(&lib, "_testfunc_q_bhilfd", &six, LongLong, args);
        let f7 = |args: &[Value]| call(&lib, "_testfunc_q_bhilfdq", &seven, LongLong, args);
        assert_eq!(f6(&plain[..6]).unwrap(), int(21));
        assert_eq!(f7(&plain).unwrap(), int(28));
        // Integers are masked to their type at any position: f(257, 65538, ...) == f(1, 2, ...).
        let mut wide = plain.clone();
        wide[0] = int(257);
        wide[1] = int(65538);
        wide[6] = int((1 << 64) + 7);
        assert_eq!(f6(&wide[..6]).unwrap(), int(21));
        assert_eq!(f7(&wide).unwrap(), int(28));
        // An int for c_float or c_double is converted by ctypes' general rules: 5 and 6 work.
        let mut ints = plain.clone();
        ints[4] = int(5);
        ints[5] = int(6);
        assert_eq!(f6(&ints[..6]).unwrap(), int(21));
        assert_eq!(f7(&ints).unwrap(), int(28));
        // A float for an integer type is ctypes' ArgumentError, naming the position.
        for (position, args) in [(1, &plain[..6]), (7, &plain[..])] {
            let mut bad = args.to_vec();
            bad[position - 1] = Value::Float(2.5);
            let e = if args.len() == 6 { f6(&bad) } else { f7(&bad) }.unwrap_err();
            assert!(
                matches!(e, Error::ArgumentError { position: Some(p), .. } if p == position),
                "{e}"
            );
        }
        // And the plain call still takes the fast path afterwards.
        assert_eq!(f7(&plain).unwrap(), int(28));
    }
}

#[test]
fn bytes_become_nul_terminated_char_pointers() {
    for lib in both("testlib") {
        let got = call(
            &lib,
            "str_len",
            &[CType::CharP],
            CType::Int,
            &[Value::Bytes(b"hello".to_vec())],
        )
        .unwrap();
        assert_eq!(got, int(5));
        // Without argtypes, bytes are c_char_p too.
        assert_eq!(
            lib.function("str_len")
                .unwrap()
                .call(&[b"abc".into()])
                .unwrap(),
            int(3)
        );
        // str is not bytes: TypeError.
        let e = call(
            &lib,
            "str_len",
            &[CType::CharP],
            CType::Int,
            &[Value::Str("x".into())],
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::ArgumentError {
                    position: Some(1),
                    ..
                }
            ),
            "{e}"
        );
    }
}

#[test]
fn none_is_null_and_null_results_are_none() {
    for lib in both("testlib") {
        assert_eq!(
            call(&lib, "is_null", &[CType::VoidP], CType::Int, &[Value::None]).unwrap(),
            int(1)
        );
        assert_eq!(
            lib.function("is_null")
                .unwrap()
                .call(&[Value::None])
                .unwrap(),
            int(1)
        );
        assert_eq!(
            call(&lib, "null_string", &[], CType::CharP, &[]).unwrap(),
            Value::None
        );
        assert_eq!(
            call(&lib, "null_pointer", &[], CType::VoidP, &[]).unwrap(),
            Value::None
        );
        assert_eq!(
            call(&lib, "hello", &[], CType::CharP, &[]).unwrap(),
            Value::Bytes(b"hello from C".to_vec())
        );
        // A c_void_p result is the address; string_at reads it.
        let Value::Int(addr) = call(&lib, "hello", &[], CType::VoidP, &[]).unwrap() else {
            panic!("address expected")
        };
        assert_eq!(lib.string_at(addr as u64).unwrap(), b"hello from C");
    }
}

#[test]
fn wide_strings_are_four_byte_wchar_t() {
    for lib in both("testlib") {
        assert_eq!(lib.sizeof(CType::WChar), 4);
        assert_eq!(
            call(
                &lib,
                "wide_len",
                &[CType::WCharP],
                CType::Int,
                &[Value::Str("h\u{e9}llo".into())]
            )
            .unwrap(),
            int(5)
        );
        assert_eq!(
            call(&lib, "wide_hello", &[], CType::WCharP, &[]).unwrap(),
            Value::Str("h\u{e9}llo".into())
        );
    }
}

#[test]
fn too_few_arguments_is_an_argument_error() {
    for lib in both("testlib") {
        let e = call(
            &lib,
            "add",
            &[CType::Int, CType::Int],
            CType::Int,
            &[int(1)],
        )
        .unwrap_err();
        // ctypes: TypeError: this function takes at least 2 arguments (1 given).
        assert!(matches!(e, Error::TypeError(_)), "{e}");
        assert_eq!(
            e.message(),
            "this function takes at least 2 arguments (1 given)"
        );
        // The function stays usable.
        assert_eq!(
            call(
                &lib,
                "add",
                &[CType::Int, CType::Int],
                CType::Int,
                &[int(1), int(2)]
            )
            .unwrap(),
            int(3)
        );
    }
}

#[test]
fn string_temporaries_of_any_size_and_number_are_copied_in_and_reclaimed() {
    for lib in both("testlib") {
        let kind = lib.backend();
        let mut len = lib.function("str_len").unwrap();
        len.set_argtypes(&[CType::CharP]).unwrap();
        // Small strings go through the library's scratch block, long ones get their own block.
        for n in [0usize, 1, 100, 4095, 4096, 10_000, 100_000] {
            let s = Value::Bytes(vec![b'x'; n]);
            assert_eq!(
                len.call(&[s]).unwrap(),
                int(n as i128),
                "{n} bytes on {kind}"
            );
        }
        // Many calls do not grow the sandbox's memory.
        let before = lib.info().unwrap().memory;
        for i in 0..20_000 {
            let s = Value::Bytes(vec![b'y'; 1 + i % 300]);
            assert_eq!(len.call(&[s]).unwrap(), int(1 + (i % 300) as i128));
        }
        if kind == BackendKind::Wasm {
            assert_eq!(lib.info().unwrap().memory, before);
        }
    }
    // Several temporaries in one call each keep their own bytes.
    for lib in both("variadic") {
        let mut format = lib.function("myformat").unwrap();
        format
            .set_argtypes(&[CType::CharP, CType::Int, CType::CharP])
            .unwrap();
        let buf = wasmctypes::create_string_buffer(&lib, 64).unwrap();
        format
            .call(&[
                (&buf).into(),
                64.into(),
                b"%s+%s".into(),
                b"left".into(),
                Value::Bytes(vec![b'r'; 5]),
            ])
            .unwrap();
        assert_eq!(buf.value().unwrap(), b"left+rrrrr", "{}", lib.backend());
    }
    // After reset() the scratch block of the old instance is not reused.
    let lib = crate::common::open("testlib", BackendKind::Wasm);
    let mut len = lib.function("str_len").unwrap();
    len.set_argtypes(&[CType::CharP]).unwrap();
    assert_eq!(len.call(&[b"abc".into()]).unwrap(), int(3));
    lib.reset().unwrap();
    // The new instance's first block lands where the old scratch block was.
    let keep = wasmctypes::create_string_buffer(&lib, b"keep me").unwrap();
    assert_eq!(len.call(&[b"abcdef".into()]).unwrap(), int(6));
    assert_eq!(keep.value().unwrap(), b"keep me");
}

#[test]
fn bytes_arguments_are_copied_for_each_call() {
    use CType::*;
    for lib in both("testlib") {
        let k = lib.backend();
        // lib.two_lengths.argtypes = [c_char_p, c_char_p]; lib.two_lengths(b"abc", b"hello")
        // is 30005 in ctypes: each string gets its own NUL-terminated copy.
        let two = |a: Value, b: Value| call(&lib, "two_lengths", &[CharP, CharP], Int, &[a, b]);
        let bytes = |n: usize, c: u8| Value::Bytes(vec![c; n]);
        assert_eq!(
            two(bytes(3, b'a'), bytes(5, b'h')).unwrap(),
            int(30005),
            "{k}"
        );
        // Larger than the library's 4 KiB scratch block: a block of its own, freed after.
        for _ in 0..200 {
            assert_eq!(
                two(bytes(5000, b'x'), bytes(10, b'y')).unwrap(),
                int(50_000_010),
                "{k}"
            );
        }
        // The second argument is wrong after the first was copied: ctypes raises
        // "ArgumentError: argument 2: TypeError: wrong type", and the library stays usable.
        let e = two(bytes(3, b'a'), Value::Float(1.0)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::ArgumentError {
                    position: Some(2),
                    ..
                }
            ),
            "{k}: {e}"
        );
        assert_eq!(
            two(bytes(1, b'a'), bytes(1, b'b')).unwrap(),
            int(10001),
            "{k}"
        );
        // A c_void_p takes bytes too (is_null(b"x") is 0 in ctypes), and None is NULL.
        assert_eq!(
            call(&lib, "is_null", &[VoidP], Int, &[bytes(1, b'x')]).unwrap(),
            int(0)
        );
        assert_eq!(
            call(&lib, "is_null", &[VoidP], Int, &[Value::None]).unwrap(),
            int(1)
        );
        // An int is an address: is_null(0) is 1.
        assert_eq!(
            call(&lib, "is_null", &[VoidP], Int, &[int(0)]).unwrap(),
            int(1)
        );
    }
}

/// ctypes: `restype = None` discards what a function returns (`add` returns an int, the call
/// gives None), on both backends; the same function still returns its value afterwards.
#[test]
fn restype_none_discards_a_returned_value() {
    for lib in both("sum") {
        let args = [int(2), int(3)];
        assert_eq!(
            call(&lib, "add", &[CType::Int, CType::Int], CType::Void, &args).unwrap(),
            Value::None,
            "{}",
            lib.backend()
        );
        assert_eq!(
            call(&lib, "add", &[CType::Int, CType::Int], CType::Int, &args).unwrap(),
            int(5)
        );
    }
}

/// `c_longdouble` (x87 extended natively, IEEE quad in wasm32): 16 bytes that no call slot
/// holds, passed and returned through memory, and read back as the nearest double, as
/// ctypes reads it. CPython: `_testfunc_D_bhilfD(1, 2, 3, 4, 5.0, 6.0) == 21.0`,
/// `tf_bD(0, 42.0) == 14.0`, `apply_ld(half, 5.0) == 3.5`.
#[test]
fn long_double_crosses_calls_callbacks_and_memory() {
    use wasmctypes::{CValue, Callback, CFUNCTYPE};
    for lib in both("ctypes_test") {
        let ld = CType::LongDouble;
        assert_eq!(lib.sizeof(ld), 16, "{:?}", lib.backend());
        let args = [
            1.into(),
            2.into(),
            3.into(),
            4.into(),
            5.0.into(),
            6.0.into(),
        ];
        let types = [
            CType::Byte,
            CType::Short,
            CType::Int,
            CType::Long,
            CType::Float,
            ld,
        ];
        let got = call(&lib, "_testfunc_D_bhilfD", &types, ld, &args).unwrap();
        assert_eq!(got, Value::Float(21.0));
        let tf_bd = |x: Value| call(&lib, "tf_bD", &[CType::Byte, ld], ld, &[0.into(), x]);
        assert_eq!(tf_bd(42.0.into()).unwrap(), Value::Float(14.0));
        // A third of 1e300 in long double, rounded to the nearest double: as 1e300 / 3.
        assert_eq!(tf_bd(1e300.into()).unwrap(), Value::Float(1e300 / 3.0));
        let err = tf_bd("x".into());
        assert_eq!(err.unwrap_err().kind(), "ArgumentError");
        // In memory: written and read back through the library's own representation.
        let v = CValue::new(&lib, ld, 0.5).unwrap();
        assert_eq!(v.value().unwrap(), Value::Float(0.5));
        v.set_value(Value::Float(-2.75)).unwrap();
        assert_eq!(v.value().unwrap(), Value::Float(-2.75));
    }
    for lib in both("callbacks") {
        let ld = CType::LongDouble;
        let half = Callback::new(&lib, &CFUNCTYPE(ld, &[ld]), |_, a| match a[0] {
            Value::Float(x) => Ok(Value::Float(x / 2.0)),
            _ => Err(Error::TypeError("float expected".into())),
        })
        .unwrap();
        let mut apply = lib.function("apply_ld").unwrap();
        apply
            .set_argtypes(&[CType::VoidP, ld])
            .unwrap()
            .set_restype(ld)
            .unwrap();
        assert_eq!(
            apply.call(&[(&half).into(), 5.0.into()]).unwrap(),
            Value::Float(3.5),
            "{:?}",
            lib.backend()
        );
    }
}
