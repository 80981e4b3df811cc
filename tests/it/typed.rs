//! `Function::typed`: the signature checked once against Rust types, then calls with plain
//! Rust values. Same answers as the dynamic call on both backends; mismatches are TypeErrors.

use crate::common::{both, both_captured, open_with};
use wasmctypes::{BackendKind, CType, Error, LoadOptions, Mismatch, Value};

#[test]
fn typed_calls_agree_with_dynamic_calls() {
    use CType::*;
    for lib in both("testlib") {
        let kind = lib.backend();
        let mut add = lib.function("add").unwrap();
        add.set_argtypes(&[Int, Int]).unwrap();
        let typed = add.typed::<(i32, i32), i32>().unwrap();
        assert_eq!(typed.call((2, 3)).unwrap(), 5, "{kind}");
        assert_eq!(typed.call((i32::MAX, 1)).unwrap(), i32::MIN, "{kind}");
        assert_eq!(
            add.call(&[Value::Int(2), Value::Int(3)]).unwrap(),
            Value::Int(5)
        );

        let mix = crate::common::mix(&lib);
        let typed = mix.typed::<(i32, f64, f32, i64, i8, f64), f64>().unwrap();
        let dynamic = mix.call(&crate::common::mix_args()).unwrap();
        assert_eq!(
            Value::Float(typed.call((1, 2.5, 0.5, 10, 2, 0.25)).unwrap()),
            dynamic
        );
        assert_eq!(dynamic, Value::Float(16.25), "{kind}");

        // Narrow results keep only their own bits; a negative byte is sign-extended.
        let mut neg = lib.function("neg_byte").unwrap();
        neg.set_argtypes(&[Byte])
            .unwrap()
            .set_restype(Byte)
            .unwrap();
        let neg = neg.typed::<(i8,), i8>().unwrap();
        assert_eq!(neg.call((127,)).unwrap(), -127);
        assert_eq!(neg.call((-128,)).unwrap(), -128);
        let mut ub = lib.function("ubyte_id").unwrap();
        ub.set_argtypes(&[UByte])
            .unwrap()
            .set_restype(UByte)
            .unwrap();
        assert_eq!(ub.typed::<(u8,), u8>().unwrap().call((255,)).unwrap(), 255);
        let mut half = lib.function("half_f").unwrap();
        half.set_argtypes(&[Float])
            .unwrap()
            .set_restype(Float)
            .unwrap();
        assert_eq!(
            half.typed::<(f32,), f32>().unwrap().call((5.0,)).unwrap(),
            2.5
        );

        let mut noop = lib.function("noop").unwrap();
        noop.set_argtypes::<CType>(&[])
            .unwrap()
            .set_restype(Void)
            .unwrap();
        noop.typed::<(), ()>().unwrap().call(()).unwrap();
    }
}

#[test]
fn c_long_is_i32_sandboxed_and_i64_native() {
    for lib in both("testlib") {
        let mut f = lib.function("long_id").unwrap();
        f.set_argtypes(&[CType::Long])
            .unwrap()
            .set_restype(CType::Long)
            .unwrap();
        match lib.backend() {
            BackendKind::Wasm => {
                assert_eq!(f.typed::<(i32,), i32>().unwrap().call((-7,)).unwrap(), -7);
                let e = f.typed::<(i64,), i64>().err().unwrap();
                assert_eq!(e.kind(), "TypeError");
                let Error::Signature { mismatch, .. } = &e else {
                    panic!("expected a signature mismatch, got {e}")
                };
                assert!(
                    matches!(
                        **mismatch,
                        Mismatch::Type {
                            position: Some(1),
                            needs: "i32",
                            rust: "i64",
                            ..
                        }
                    ),
                    "{e}"
                );
            }
            BackendKind::Native => {
                let big = (1i64 << 40) + 7;
                assert_eq!(f.typed::<(i64,), i64>().unwrap().call((big,)).unwrap(), big);
                assert!(f.typed::<(i32,), i32>().is_err());
            }
        }
    }
}

#[test]
fn mismatched_signatures_are_type_errors() {
    for lib in both("testlib") {
        let mut add = lib.function("add").unwrap();
        // No argtypes yet.
        let mismatch = |e: Error| match e {
            Error::Signature { mismatch, .. } => *mismatch,
            other => panic!("expected a signature mismatch, got {other}"),
        };
        let e = add.typed::<(i32, i32), i32>().err().unwrap();
        assert_eq!(mismatch(e), Mismatch::NoArgtypes);
        add.set_argtypes(&[CType::Int, CType::Int]).unwrap();
        // Wrong count, wrong argument type, wrong result type.
        let e = add.typed::<(i32,), i32>().err().unwrap();
        assert_eq!(
            mismatch(e),
            Mismatch::Count {
                declared: 2,
                rust: 1
            }
        );
        let e = add.typed::<(i32, f64), i32>().err().unwrap();
        assert!(matches!(
            mismatch(e),
            Mismatch::Type {
                position: Some(2),
                rust: "f64",
                ..
            }
        ));
        let e = add.typed::<(i32, i32), u32>().err().unwrap();
        assert!(matches!(
            mismatch(e),
            Mismatch::Type {
                position: None,
                needs: "i32",
                rust: "u32",
                ..
            }
        ));
        // Pointers stay with call().
        let mut len = lib.function("str_len").unwrap();
        len.set_argtypes(&[CType::CharP]).unwrap();
        let e = len.typed::<(u64,), i32>().err().unwrap();
        assert_eq!(e.kind(), "TypeError");
        assert!(matches!(
            mismatch(e),
            Mismatch::NotANumber {
                position: Some(1),
                ..
            }
        ));
    }
}

#[test]
fn a_trap_in_a_typed_call_is_an_error_and_the_library_stays_usable() {
    let lib = crate::common::open("testlib", BackendKind::Wasm);
    let mut div = lib.function("divide").unwrap();
    div.set_argtypes(&[CType::Int, CType::Int]).unwrap();
    let div = div.typed::<(i32, i32), i32>().unwrap();
    let e = div.call((1, 0)).unwrap_err();
    assert!(matches!(e, Error::Trap { .. }), "{e}");
    assert_eq!(div.call((12, 4)).unwrap(), 3);
}

#[test]
fn typed_calls_swap_errno_with_use_errno() {
    for kind in BackendKind::ALL {
        let lib = open_with(
            "variadic",
            kind,
            LoadOptions {
                use_errno: true,
                ..LoadOptions::default()
            },
        );
        let mut fail = lib.function("fail_with").unwrap();
        fail.set_argtypes(&[CType::Int]).unwrap();
        let fail = fail.typed::<(i32,), i32>().unwrap();
        assert_eq!(fail.call((34,)).unwrap(), -1);
        assert_eq!(lib.get_errno().unwrap(), 34, "{kind}");
    }
}

#[test]
fn typed_arguments_reach_their_registers_in_any_order() {
    use CType::*;
    for lib in both("testlib") {
        let kind = lib.backend();
        // Natively, each class fills its own registers: three integers, five floats.
        let mut f = lib.function("interleave").unwrap();
        f.set_argtypes(&[Double, Int, Float, LongLong, Double, Int, Float, Double])
            .unwrap()
            .set_restype(Double)
            .unwrap();
        let typed = f
            .typed::<(f64, i32, f32, i64, f64, i32, f32, f64), f64>()
            .unwrap();
        // 1 + 2*2 + 4*3 + 8*4 + 16*5 + 32*6 + 64*7 + 128*8, and with negative integers.
        assert_eq!(
            typed.call((1.0, 2, 3.0, 4, 5.0, 6, 7.0, 8.0)).unwrap(),
            1793.0,
            "{kind}"
        );
        assert_eq!(
            typed.call((0.5, -1, 0.25, -2, 0.0, -3, 0.0, 0.0)).unwrap(),
            0.5 - 2.0 + 1.0 - 16.0 - 96.0,
            "{kind}"
        );
        let dynamic = f
            .call(&[
                Value::Float(1.0),
                Value::Int(2),
                Value::Float(3.0),
                Value::Int(4),
                Value::Float(5.0),
                Value::Int(6),
                Value::Float(7.0),
                Value::Float(8.0),
            ])
            .unwrap();
        assert_eq!(dynamic, Value::Float(1793.0), "{kind}");

        // Seven integers: natively one goes on the stack, so no register shim calls it.
        let mut f = lib.function("weigh7").unwrap();
        f.set_argtypes(&[Int; 7])
            .unwrap()
            .set_restype(LongLong)
            .unwrap();
        let typed = f
            .typed::<(i32, i32, i32, i32, i32, i32, i32), i64>()
            .unwrap();
        assert_eq!(typed.call((1, 2, 3, 4, 5, 6, 7)).unwrap(), 140, "{kind}");
        assert_eq!(
            typed.call((0, 0, 0, 0, 0, 0, i32::MIN)).unwrap(),
            7 * i64::from(i32::MIN),
            "{kind}"
        );
    }
}

#[test]
fn typed_calls_capture_output_as_dynamic_calls_do() {
    for lib in both_captured("testlib") {
        let kind = lib.backend();
        let mut shout = lib.function("shout").unwrap();
        shout.set_argtypes(&[CType::Int]).unwrap();
        let typed = shout.typed::<(i32,), i32>().unwrap();
        let _ = lib.take_output();
        assert_eq!(typed.call((21,)).unwrap(), 42, "{kind}");
        assert_eq!(typed.call((-4,)).unwrap(), -8, "{kind}");
        assert_eq!(lib.take_output().stdout, b"21\n-4\n", "{kind}");
    }
}

#[test]
fn typed_calls_survive_reset() {
    let lib = crate::common::open("testlib", BackendKind::Wasm);
    let mut add = lib.function("add").unwrap();
    add.set_argtypes(&[CType::Int, CType::Int]).unwrap();
    let typed = add.typed::<(i32, i32), i32>().unwrap();
    assert_eq!(typed.call((2, 3)).unwrap(), 5);
    for _ in 0..2 {
        lib.reset().unwrap();
        // wasmtime's `TypedFunc` belongs to the old store: the call takes the scalar path.
        for _ in 0..2 {
            assert_eq!(typed.call((40, 2)).unwrap(), 42);
            assert_eq!(
                add.call(&[Value::Int(40), Value::Int(2)]).unwrap(),
                Value::Int(42)
            );
        }
    }
}
