//! Variadic calls, as ctypes makes them: the fixed arguments are declared in argtypes, the rest
//! are converted by their own types and promoted as C promotes them.

use crate::common::both;
use wasmctypes::{create_string_buffer, CType, Value};

#[test]
fn variadic_arguments_are_promoted_and_laid_out_as_c_expects() {
    for lib in both("variadic") {
        let mut format = lib.function("myformat").unwrap();
        format
            .set_argtypes(&[CType::CharP, CType::Int, CType::CharP])
            .unwrap();
        let buf = create_string_buffer(&lib, 64).unwrap();
        // A char and a float are promoted to int and double; a long long keeps 8 bytes.
        format
            .call(&[
                (&buf).into(),
                64.into(),
                b"%c|%.1f|%lld|%u|%s".into(),
                Value::typed(CType::Char, Value::Bytes(b"A".to_vec())),
                Value::typed(CType::Float, 1.5),
                Value::typed(CType::LongLong, 1i64 << 40),
                Value::typed(CType::UInt, -1),
                b"end".into(),
            ])
            .unwrap();
        assert_eq!(
            buf.value().unwrap(),
            b"A|1.5|1099511627776|4294967295|end",
            "{}",
            lib.backend()
        );
        let mut sum = lib.function("sum_longlongs").unwrap();
        sum.set_argtypes(&[CType::Int])
            .unwrap()
            .set_restype(CType::LongLong)
            .unwrap();
        let args = [
            3.into(),
            Value::typed(CType::LongLong, 1),
            Value::typed(CType::LongLong, 1i64 << 33),
            Value::typed(CType::LongLong, -5),
        ];
        assert_eq!(sum.call(&args).unwrap(), Value::Int(1 + (1 << 33) - 5));
        let mut avg = lib.function("average").unwrap();
        avg.set_argtypes(&[CType::Int])
            .unwrap()
            .set_restype(CType::Double)
            .unwrap();
        let args = [
            2.into(),
            Value::typed(CType::Double, 1.0),
            Value::typed(CType::Double, 2.0),
        ];
        assert_eq!(avg.call(&args).unwrap(), Value::Float(1.5));
    }
}

/// A variadic function called without argtypes, or with only some of its fixed arguments
/// declared, or with zero variadic arguments: in wasm its module says it is variadic and how
/// many fixed parameters it has (libc's from its headers, a library built here from its
/// source), so the call is made as clang's ABI needs it, never with an argument where the
/// buffer's address belongs; natively libffi calls it as ctypes does.
#[test]
fn a_variadic_function_is_called_as_one_whatever_the_declaration() {
    for lib in both("variadic") {
        let kind = lib.backend();
        let buf = create_string_buffer(&lib, 64).unwrap();
        // No argtypes at all.
        let format = lib.function("myformat").unwrap();
        let n = format
            .call(&[
                (&buf).into(),
                64.into(),
                b"%d-%s".into(),
                7.into(),
                b"x".into(),
            ])
            .unwrap();
        assert_eq!(n, Value::Int(3), "{kind}");
        assert_eq!(buf.value().unwrap(), b"7-x", "{kind}");
        // Only the first fixed argument declared.
        let mut format = lib.function("myformat").unwrap();
        format.set_argtypes(&[CType::CharP]).unwrap();
        format
            .call(&[(&buf).into(), 64.into(), b"%d".into(), 8.into()])
            .unwrap();
        assert_eq!(buf.value().unwrap(), b"8", "{kind}");
        // The fixed arguments declared, and no variadic one (libc's open(path, flags)).
        let mut sum = lib.function("sum_longlongs").unwrap();
        sum.set_argtypes(&[CType::Int])
            .unwrap()
            .set_restype(CType::LongLong)
            .unwrap();
        assert_eq!(sum.call(&[0.into()]).unwrap(), Value::Int(0), "{kind}");
        let mut open = lib.function("open").unwrap();
        open.set_argtypes(&[CType::CharP, CType::Int]).unwrap();
        assert_eq!(
            open.call(&[b"/no/such/file".into(), 0.into()]).unwrap(),
            Value::Int(-1),
            "{kind}"
        );
        // libc's printf without argtypes, into a buffer: snprintf.
        let snprintf = lib.function("snprintf").unwrap();
        let n = snprintf
            .call(&[
                (&buf).into(),
                64.into(),
                b"%s=%d".into(),
                b"k".into(),
                42.into(),
            ])
            .unwrap();
        assert_eq!(n, Value::Int(4), "{kind}");
        assert_eq!(buf.value().unwrap(), b"k=42", "{kind}");
    }
}
