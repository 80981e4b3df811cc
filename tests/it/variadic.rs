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
