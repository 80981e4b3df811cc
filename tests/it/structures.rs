//! Structures, unions and bitfields: layouts identical to what the C compiler reports on each
//! target, fields read and written on both sides, and structures passed and returned by value.

use std::rc::Rc;

use crate::common::both;
use wasmctypes::{
    cast, Array, CData, CStruct, CType, Error, Field, StructType, StructValue, Type, Value, CDLL,
    POINTER,
};

fn s1() -> Rc<StructType> {
    StructType::structure(
        "S1",
        vec![
            Field::new("c", CType::Char),
            Field::new("i", CType::Int),
            Field::new("s", CType::Short),
        ],
    )
}

/// Every layout of guest-c/structs.c, as ctypes would declare it.
fn layouts() -> Vec<(&'static str, Rc<StructType>)> {
    use CType::*;
    vec![
        ("S1", s1()),
        (
            "S2",
            StructType::structure(
                "S2",
                vec![
                    Field::new("c", Char),
                    Field::new("l", Long),
                    Field::new("d", Char),
                ],
            ),
        ),
        (
            "S3",
            StructType::structure(
                "S3",
                vec![
                    Field::new("c", Char),
                    Field::new("p", VoidP),
                    Field::new("i", Int),
                ],
            ),
        ),
        (
            "S4",
            StructType::structure(
                "S4",
                vec![
                    Field::new("c", Char),
                    Field::new("d", Double),
                    Field::new("f", Float),
                ],
            ),
        ),
        (
            "S5",
            StructType::structure(
                "S5",
                vec![Field::new("ll", LongLong), Field::new("c", Char)],
            ),
        ),
        (
            "B1",
            StructType::structure(
                "B1",
                vec![
                    Field::bits("a", UInt, 3),
                    Field::bits("b", UInt, 5),
                    Field::bits("c", UInt, 10),
                    Field::bits("d", Int, 14),
                ],
            ),
        ),
        (
            "B2",
            StructType::structure(
                "B2",
                vec![
                    Field::bits("a", UByte, 4),
                    Field::bits("b", UInt, 30),
                    Field::bits("c", UShort, 9),
                ],
            ),
        ),
        (
            "B3",
            StructType::structure(
                "B3",
                vec![
                    Field::bits("a", Int, 7),
                    Field::bits("", Int, 0),
                    Field::new("b", Char),
                    Field::bits("c", Long, 20),
                ],
            ),
        ),
        (
            "P1",
            StructType::packed(
                "P1",
                vec![
                    Field::new("c", Char),
                    Field::new("i", Int),
                    Field::new("s", Short),
                ],
                1,
            ),
        ),
        (
            "P2",
            StructType::packed(
                "P2",
                vec![
                    Field::new("c", Char),
                    Field::new("ll", LongLong),
                    Field::new("d", Char),
                ],
                2,
            ),
        ),
        (
            "N1",
            StructType::structure(
                "N1",
                vec![
                    Field::new("c", Char),
                    Field::new("inner", s1()),
                    Field::new("d", Double),
                ],
            ),
        ),
        (
            "U1",
            StructType::union(
                "U1",
                vec![
                    Field::new("c", Char),
                    Field::new("i", Int),
                    Field::new("d", Double),
                    Field::new("l", Long),
                ],
            ),
        ),
        (
            "A1",
            StructType::structure(
                "A1",
                vec![
                    Field::new("name", Type::array(Char, 5)),
                    Field::new("vals", Type::array(Int, 3)),
                    Field::new("s", Short),
                ],
            ),
        ),
    ]
}

fn c_size(lib: &CDLL, symbol: &str, args: &[Value]) -> usize {
    let mut f = lib.function(symbol).unwrap();
    f.set_restype(CType::SizeT).unwrap();
    match f.call(args).unwrap() {
        Value::Int(v) => v as usize,
        other => panic!("{symbol}: {other:?}"),
    }
}

#[test]
fn layouts_match_the_c_compiler_on_both_targets() {
    for lib in both("structs") {
        let m = lib.data_model();
        for (name, ty) in layouts() {
            let layout = ty.layout(m);
            assert_eq!(
                layout.size,
                c_size(&lib, &format!("{name}_size"), &[]),
                "sizeof({name}) on {}",
                lib.backend()
            );
            assert_eq!(
                layout.align,
                c_size(&lib, &format!("{name}_align"), &[]),
                "alignof({name}) on {}",
                lib.backend()
            );
            if ty.fields().iter().all(|f| f.bits.is_none()) && !ty.is_union() {
                for (k, f) in ty.fields().iter().enumerate() {
                    let c = c_size(&lib, &format!("{name}_off"), &[Value::Int(k as i128)]);
                    assert_eq!(
                        ty.offset_of(&f.name, m),
                        Some(c),
                        "offsetof({name}, {}) on {}",
                        f.name,
                        lib.backend()
                    );
                }
            }
        }
    }
}

fn filled(lib: &CDLL, ty: &Rc<StructType>, fill: &str) -> CStruct {
    let s = CStruct::new(lib, ty, &[]).unwrap();
    let mut f = lib.function(fill).unwrap();
    f.set_argtypes(&[POINTER(ty.clone())])
        .unwrap()
        .set_restype(CType::Void)
        .unwrap();
    f.call(&[(&s).into()]).unwrap();
    s
}

#[test]
fn bitfields_are_placed_as_c_places_them() {
    let all = layouts();
    let get = |n: &str| all.iter().find(|(name, _)| *name == n).unwrap().1.clone();
    for lib in both("structs") {
        for (name, expected) in [
            ("B1", vec![("a", 1), ("b", 2), ("c", 3), ("d", -4)]),
            ("B2", vec![("a", 1), ("b", 2), ("c", 3)]),
            ("B3", vec![("a", -1), ("b", 2), ("c", -3)]),
        ] {
            let ty = get(name);
            // C writes, the host reads through its own layout.
            let s = filled(&lib, &ty, &format!("{name}_fill"));
            for (field, v) in &expected {
                let got = s.get(field).unwrap();
                let want = if *field == "b" && name == "B3" {
                    Value::Bytes(vec![2])
                } else {
                    Value::Int(*v)
                };
                assert_eq!(got, want, "{name}.{field} on {}", lib.backend());
            }
            // The host writes, C checks.
            let mine = CStruct::new(&lib, &ty, &[]).unwrap();
            for (field, v) in &expected {
                mine.set(field, Value::Int(*v)).unwrap();
            }
            let mut check = lib.function(&format!("{name}_check")).unwrap();
            check.set_argtypes(&[POINTER(ty.clone())]).unwrap();
            assert_eq!(
                check.call(&[(&mine).into()]).unwrap(),
                Value::Int(1),
                "{name} checked by C on {}",
                lib.backend()
            );
            // Masked to the width: 9 in a 3-bit field is 1.
            if name == "B1" {
                mine.set("a", 9).unwrap();
                assert_eq!(mine.get("a").unwrap(), Value::Int(1));
            }
        }
    }
}

#[test]
fn packed_nested_and_array_fields_read_what_c_wrote() {
    let all = layouts();
    let get = |n: &str| all.iter().find(|(name, _)| *name == n).unwrap().1.clone();
    for lib in both("structs") {
        let p1 = filled(&lib, &get("P1"), "P1_fill");
        assert_eq!(p1.get("i").unwrap(), Value::Int(2));
        assert_eq!(p1.get("s").unwrap(), Value::Int(3));
        let p2 = filled(&lib, &get("P2"), "P2_fill");
        assert_eq!(p2.get("ll").unwrap(), Value::Int(2));
        assert_eq!(p2.get("d").unwrap(), Value::Bytes(vec![3]));
        let n1 = filled(&lib, &get("N1"), "N1_fill");
        let Value::Struct(inner) = n1.get("inner").unwrap() else {
            panic!("nested structure expected")
        };
        assert_eq!(inner.get("i").unwrap(), Value::Int(3));
        assert_eq!(inner.get("s").unwrap(), Value::Int(4));
        assert_eq!(n1.get("d").unwrap(), Value::Float(5.5));
        let a1 = filled(&lib, &get("A1"), "A1_fill");
        assert_eq!(
            a1.get("vals").unwrap(),
            Value::List(vec![Value::Int(10), Value::Int(11), Value::Int(12)].into())
        );
        assert_eq!(a1.get("s").unwrap(), Value::Int(7));
        assert_eq!(a1.get("nope").unwrap_err().kind(), "AttributeError");
    }
}

/// ctypes: a `c_char * 5` member reads as bytes and a `c_wchar * 4` member as str, up to the
/// first NUL; both take bytes / str, also in the constructor (`Named(5, b"hello", "wxy")`);
/// too long is `ValueError: bytes too long (7, maximum length 5)`.
#[test]
fn character_array_members_are_bytes_and_str() {
    let named = StructType::structure(
        "Named",
        vec![
            Field::new("id", CType::Int),
            Field::new("name", Type::array(CType::Char, 5)),
            Field::new("tag", Type::array(CType::WChar, 4)),
        ],
    );
    for lib in both("structs") {
        let n = CStruct::new(&lib, &named, &[5.into(), b"hello".into(), "wxy".into()]).unwrap();
        let check = lib.function("Named_check").unwrap();
        assert_eq!(
            check.call(&[(&n).into()]).unwrap(),
            Value::Int(1),
            "{}",
            lib.backend()
        );
        assert_eq!(n.get("name").unwrap(), Value::Bytes(b"hello".to_vec()));
        assert_eq!(n.get("tag").unwrap(), Value::Str("wxy".into()));
        let mut fill = lib.function("Named_fill").unwrap();
        fill.set_restype(CType::Void).unwrap();
        fill.call(&[(&n).into()]).unwrap();
        assert_eq!(n.get("name").unwrap(), Value::Bytes(b"ab".to_vec()));
        assert_eq!(n.get("tag").unwrap(), Value::Str("zz".into()));
        n.set("name", b"xyz".as_slice()).unwrap();
        assert_eq!(n.get("name").unwrap(), Value::Bytes(b"xyz".to_vec()));
        let e = n.set("name", b"toolong".as_slice()).unwrap_err();
        assert_eq!(e.kind(), "ValueError", "{}", lib.backend());
        assert_eq!(e.message(), "bytes too long (7, maximum length 5)");
        let e = n.set("tag", "abcde").unwrap_err();
        assert_eq!(e.message(), "string too long (5, maximum length 4)");
        // A host copy reads the same way.
        let copy = StructValue::from_values(
            &named,
            lib.data_model(),
            &[5.into(), b"hello".into(), "wxy".into()],
        )
        .unwrap();
        assert_eq!(copy.get("name").unwrap(), Value::Bytes(b"hello".to_vec()));
        assert_eq!(copy.get("tag").unwrap(), Value::Str("wxy".into()));
    }
}

#[test]
fn a_union_shares_its_bytes() {
    let all = layouts();
    let u1 = all.iter().find(|(n, _)| *n == "U1").unwrap().1.clone();
    for lib in both("structs") {
        let u = CStruct::new(&lib, &u1, &[]).unwrap();
        u.set("i", 0x41424344).unwrap();
        assert_eq!(u.get("c").unwrap(), Value::Bytes(b"D".to_vec()));
        let f = lib.function("U1_c_of_i").unwrap();
        assert_eq!(f.call(&[0x41424344.into()]).unwrap(), Value::Int(0x44));
        assert_eq!(u.size(), 8);
    }
}

fn point() -> Rc<StructType> {
    StructType::structure(
        "POINT",
        vec![Field::new("x", CType::Int), Field::new("y", CType::Int)],
    )
}

fn rect() -> Rc<StructType> {
    StructType::structure(
        "RECT",
        vec![
            Field::new("upperleft", point()),
            Field::new("lowerright", point()),
        ],
    )
}

/// ctypes: `PointInRectByValue(rc, OtherPOINT(1, 2))` raises `ArgumentError: argument 2:
/// TypeError: expected POINT instance instead of POINT` when `OtherPOINT` is another class
/// that only shares the name; the bytes of a smaller structure must never reach C.
#[test]
fn a_structure_by_value_must_be_of_the_declared_type_not_only_its_name() {
    for lib in both("structs") {
        let m = lib.data_model();
        let impostor = StructType::structure(
            "POINT",
            vec![Field::new("x", CType::Short), Field::new("y", CType::Short)],
        );
        let r = StructValue::new(&rect(), m);
        let mut g = lib.function("PointInRectByValue").unwrap();
        g.set_argtypes(&[Type::from(rect()), point().into()])
            .unwrap();
        let fake = StructValue::from_values(&impostor, m, &[1.into(), 2.into()]).unwrap();
        let e = g.call(&[r.clone().into(), fake.into()]).unwrap_err();
        let Error::ArgumentError { position, cause } = &e else {
            panic!("{}: expected an ArgumentError, got {e:?}", lib.backend())
        };
        assert_eq!(*position, Some(2), "{}", lib.backend());
        assert!(
            matches!(&**cause, Error::WrongType { expected, got } if expected == "POINT" && got == "POINT"),
            "{}: {e}",
            lib.backend()
        );
        assert_eq!(
            e.to_string(),
            "ArgumentError: argument 2: TypeError: expected POINT instance instead of POINT"
        );
        // An equal definition made separately is the same type, as the layout is the same.
        let same = StructValue::from_values(&point(), m, &[0.into(), 0.into()]).unwrap();
        assert_eq!(g.call(&[r.into(), same.into()]).unwrap(), Value::Int(1));
    }
}

#[test]
fn structures_pass_and_return_by_value() {
    for lib in both("structs") {
        let m = lib.data_model();
        let (pt, rc) = (point(), rect());
        let inside = StructValue::from_values(&pt, m, &[5.into(), 5.into()]).unwrap();
        let outside = StructValue::from_values(&pt, m, &[50.into(), 5.into()]).unwrap();
        let r = StructValue::from_values(
            &rc,
            m,
            &[
                Value::Struct(StructValue::from_values(&pt, m, &[0.into(), 0.into()]).unwrap()),
                Value::Struct(StructValue::from_values(&pt, m, &[10.into(), 10.into()]).unwrap()),
            ],
        )
        .unwrap();
        // PointInRect(RECT *, POINT): by pointer and by value.
        let in_memory = CStruct::from_value(&lib, &r).unwrap();
        let mut f = lib.function("PointInRect").unwrap();
        f.set_argtypes(&[POINTER(rc.clone()), pt.clone().into()])
            .unwrap();
        assert_eq!(
            f.call(&[(&in_memory).into(), inside.clone().into()])
                .unwrap(),
            Value::Int(1),
            "{}",
            lib.backend()
        );
        assert_eq!(
            f.call(&[(&in_memory).into(), outside.clone().into()])
                .unwrap(),
            Value::Int(0)
        );
        let mut g = lib.function("PointInRectByValue").unwrap();
        g.set_argtypes(&[Type::from(rc.clone()), pt.clone().into()])
            .unwrap();
        assert_eq!(
            g.call(&[r.clone().into(), inside.into()]).unwrap(),
            Value::Int(1)
        );
        assert_eq!(
            g.call(&[r.clone().into(), outside.into()]).unwrap(),
            Value::Int(0)
        );
        // Results by value: small (in registers natively), and larger (through a hidden pointer).
        let mut mk = lib.function("make_point").unwrap();
        mk.set_argtypes(&[CType::Int, CType::Int])
            .unwrap()
            .set_restype(pt.clone())
            .unwrap();
        let Value::Struct(p) = mk.call(&[3.into(), 4.into()]).unwrap() else {
            panic!("struct expected")
        };
        assert_eq!(
            (p.get("x").unwrap(), p.get("y").unwrap()),
            (Value::Int(3), Value::Int(4))
        );
        let mut mr = lib.function("make_rect").unwrap();
        mr.set_argtypes(&[CType::Int, CType::Int, CType::Int, CType::Int])
            .unwrap()
            .set_restype(rc.clone())
            .unwrap();
        let Value::Struct(got) = mr
            .call(&[0.into(), 0.into(), 10.into(), 10.into()])
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(got, r, "{}", lib.backend());
        // A single-scalar structure (a scalar in wasm32).
        let wrapped = StructType::structure("Wrapped", vec![Field::new("value", CType::Double)]);
        let mut w = lib.function("wrap_double").unwrap();
        w.set_argtypes(&[CType::Double])
            .unwrap()
            .set_restype(wrapped.clone())
            .unwrap();
        let Value::Struct(wv) = w.call(&[1.25.into()]).unwrap() else {
            panic!()
        };
        assert_eq!(wv.get("value").unwrap(), Value::Float(2.5));
        let mut u = lib.function("unwrap_double").unwrap();
        u.set_argtypes(std::slice::from_ref(&wrapped))
            .unwrap()
            .set_restype(CType::Double)
            .unwrap();
        assert_eq!(u.call(&[wv.into()]).unwrap(), Value::Float(2.5));
        // long and a pointer inside: sizes differ, the values do not.
        let record = StructType::structure(
            "Record",
            vec![
                Field::new("tag", CType::Char),
                Field::new("count", CType::Long),
                Field::new("name", CType::CharP),
            ],
        );
        let mut make = lib.function("make_record").unwrap();
        make.set_argtypes(&[CType::Long])
            .unwrap()
            .set_restype(record.clone())
            .unwrap();
        let Value::Struct(rec) = make.call(&[41.into()]).unwrap() else {
            panic!()
        };
        assert_eq!(
            rec.bytes().len(),
            if m == wasmctypes::DataModel::ILP32 {
                12
            } else {
                24
            }
        );
        let Value::Int(name) = rec.get("name").unwrap() else {
            panic!()
        };
        assert_eq!(lib.string_at(name as u64).unwrap(), b"record");
        let mut count = lib.function("record_count").unwrap();
        count
            .set_argtypes(std::slice::from_ref(&record))
            .unwrap()
            .set_restype(CType::Long)
            .unwrap();
        assert_eq!(
            count.call(&[rec.into()]).unwrap(),
            Value::Int(41 + b'r' as i128)
        );
    }
}

#[test]
fn arrays_of_structures_and_pointers_to_them() {
    for lib in both("structs") {
        let m = lib.data_model();
        let pt = point();
        let pts: Vec<Value> = (0..3)
            .map(|i| {
                Value::Struct(
                    StructValue::from_values(&pt, m, &[Value::Int(i), Value::Int(i * 10)]).unwrap(),
                )
            })
            .collect();
        let a = wasmctypes::Array::from_values(&lib, pt.clone(), &pts).unwrap();
        assert_eq!(a.size(), 3 * 8);
        let Value::Struct(second) = a.get(1).unwrap() else {
            panic!("a structure")
        };
        assert_eq!(second.get("y").unwrap(), Value::Int(10));
        // A POINTER(POINT) argument given the array: PointInRect reads the first element.
        let rc = rect();
        let r = CStruct::new(&lib, &rc, &[pts[0].clone(), pts[2].clone()]).unwrap();
        let mut f = lib.function("PointInRect").unwrap();
        f.set_argtypes(&[POINTER(rc.clone()), pt.clone().into()])
            .unwrap();
        assert_eq!(
            f.call(&[(&r).into(), a.get(1).unwrap()]).unwrap(),
            Value::Int(1),
            "{}",
            lib.backend()
        );
    }
}

fn person() -> Rc<StructType> {
    StructType::structure(
        "Person",
        vec![
            Field::new("id", CType::Int),
            Field::new("name", CType::CharP),
        ],
    )
}

/// ctypes: `Person(2, b"ada")` copies the bytes and keeps them alive; `p.name` reads
/// `b'ada'` (None for NULL); `(c_char_p * 4)(b"a", b"bc", None, b"def")` works the same way
/// for elements, and so does `POINTER(c_char_p)`'s `p[i]`.
#[test]
fn char_p_members_and_elements_are_bytes() {
    for lib in both("structs") {
        let k = lib.backend();
        let p = CStruct::new(&lib, &person(), &[2.into(), b"ada".into()]).unwrap();
        assert_eq!(p.get("name").unwrap(), Value::Bytes(b"ada".to_vec()), "{k}");
        let len = lib.function("person_name_len").unwrap();
        assert_eq!(len.call(&[(&p).into()]).unwrap(), Value::Int(5), "{k}");
        p.set("name", b"grace".as_slice()).unwrap();
        assert_eq!(p.get("name").unwrap(), Value::Bytes(b"grace".to_vec()));
        assert_eq!(len.call(&[(&p).into()]).unwrap(), Value::Int(7), "{k}");
        p.set("name", Value::None).unwrap();
        assert_eq!(p.get("name").unwrap(), Value::None);
        assert_eq!(len.call(&[(&p).into()]).unwrap(), Value::Int(0));
        assert_eq!(p.set("name", "text").unwrap_err().kind(), "TypeError");

        let a = Array::from_values(
            &lib,
            CType::CharP,
            &[b"a".into(), b"bc".into(), Value::None, b"def".into()],
        )
        .unwrap();
        assert_eq!(a.get(1).unwrap(), Value::Bytes(b"bc".to_vec()), "{k}");
        assert_eq!(a.get(2).unwrap(), Value::None);
        let total = lib.function("total_len").unwrap();
        assert_eq!(
            total.call(&[(&a).into(), 4.into()]).unwrap(),
            Value::Int(1 + 2 + 100 + 3),
            "{k}"
        );
        let ptr = cast(&a, CType::CharP);
        assert_eq!(ptr.get(3).unwrap(), Value::Bytes(b"def".to_vec()));
        ptr.set(0, b"wxyz".as_slice()).unwrap();
        assert_eq!(a.get(0).unwrap(), Value::Bytes(b"wxyz".to_vec()));
        assert_eq!(
            total.call(&[(&a).into(), 4.into()]).unwrap(),
            Value::Int(4 + 2 + 100 + 3)
        );
    }
}

/// ctypes: `POINT.in_dll(lib, "a_point")` and `(c_int * 4).in_dll(lib, "some_ints")` are the
/// library's own globals, read and written in place.
#[test]
fn structures_and_arrays_in_dll() {
    for lib in both("structs") {
        let k = lib.backend();
        let pt = CStruct::in_dll(&lib, &point(), "a_point").unwrap();
        assert_eq!(pt.get("y").unwrap(), Value::Int(4), "{k}");
        pt.set("x", 30).unwrap();
        let sum = lib.function("a_point_sum").unwrap();
        assert_eq!(sum.call(&[]).unwrap(), Value::Int(34), "{k}");
        let ints = Array::in_dll(&lib, CType::Int, 4, "some_ints").unwrap();
        assert_eq!(ints.get(3).unwrap(), Value::Int(40), "{k}");
        ints.set(2, -3).unwrap();
        let some = lib.function("some_int").unwrap();
        assert_eq!(some.call(&[2.into()]).unwrap(), Value::Int(-3), "{k}");
        assert_eq!(
            CStruct::in_dll(&lib, &point(), "no_such_global")
                .unwrap_err()
                .kind(),
            "AttributeError"
        );
    }
}

/// ctypes: `r.lowerright.x = 9` writes into `r` (a member is a view, not a copy), and so does
/// `a1.vals[1] = 99`.
#[test]
fn nested_members_are_views_that_write_through() {
    let all = layouts();
    let a1_ty = all.iter().find(|(n, _)| *n == "A1").unwrap().1.clone();
    for lib in both("structs") {
        let k = lib.backend();
        let r = CStruct::new(&lib, &rect(), &[]).unwrap();
        r.member("lowerright").unwrap().set("x", 9).unwrap();
        let right = lib.function("rect_right").unwrap();
        assert_eq!(right.call(&[(&r).into()]).unwrap(), Value::Int(9), "{k}");
        assert_eq!(
            r.get("lowerright")
                .unwrap()
                .as_struct()
                .unwrap()
                .get("x")
                .unwrap(),
            Value::Int(9)
        );
        let a1 = CStruct::new(&lib, &a1_ty, &[]).unwrap();
        a1.member_array("vals").unwrap().set(1, 99).unwrap();
        let val = lib.function("A1_val").unwrap();
        assert_eq!(
            val.call(&[(&a1).into(), 1.into()]).unwrap(),
            Value::Int(99),
            "{k}"
        );
        assert_eq!(r.member("upperleft").unwrap().size(), 8);
        assert_eq!(r.member_array("upperleft").unwrap_err().kind(), "TypeError");
    }
}

/// ctypes: with `restype = POINTER(POINT)`, `p.contents.x` and `p[2].x` read the structures C
/// points at.
#[test]
fn pointers_to_structures_give_views() {
    for lib in both("structs") {
        let k = lib.backend();
        let pt = point();
        let mut points = lib.function("points").unwrap();
        points.set_restype(POINTER(pt.clone())).unwrap();
        let p = points.call(&[]).unwrap();
        let first = CStruct::from_pointer(&lib, &pt, &p).unwrap();
        assert_eq!(first.get("y").unwrap(), Value::Int(2), "{k}");
        assert_eq!(first.index(2).get("x").unwrap(), Value::Int(5), "{k}");
        first.index(1).set("y", 40).unwrap();
        assert_eq!(
            CStruct::from_pointer(&lib, &pt, &p)
                .unwrap()
                .index(1)
                .get("y")
                .unwrap(),
            Value::Int(40)
        );
        assert_eq!(
            CStruct::from_pointer(&lib, &pt, &Value::None)
                .unwrap_err()
                .kind(),
            "ValueError"
        );
    }
}

/// ctypes passes and returns structures with bitfields by value on every platform; natively
/// they reach libffi as storage units that the System V ABI classifies as the compiler does.
#[test]
fn structures_with_bitfields_pass_and_return_by_value() {
    let bf = StructType::structure(
        "BF",
        vec![
            Field::bits("a", CType::UInt, 3),
            Field::bits("b", CType::Int, 10),
            Field::new("f", CType::Float),
        ],
    );
    let bf2 = StructType::structure(
        "BF2",
        vec![
            Field::new("d", CType::Double),
            Field::bits("x", CType::UInt, 4),
            Field::bits("y", CType::UInt, 4),
        ],
    );
    for lib in both("structs") {
        let (k, m) = (lib.backend(), lib.data_model());
        let mut sum = lib.function("bf_sum").unwrap();
        sum.set_argtypes(&[Type::from(bf.clone())]).unwrap();
        let v = StructValue::from_values(&bf, m, &[5.into(), (-100).into(), 1.5.into()]).unwrap();
        assert_eq!(
            sum.call(&[v.into()]).unwrap(),
            Value::Int(5 - 100 + 3),
            "{k}"
        );
        let mut make = lib.function("make_bf").unwrap();
        make.set_argtypes(&[CType::Int, CType::Int])
            .unwrap()
            .set_restype(bf.clone())
            .unwrap();
        let made = make.call(&[6.into(), (-7).into()]).unwrap();
        let made = made.as_struct().unwrap();
        assert_eq!(made.get("a").unwrap(), Value::Int(6), "{k}");
        assert_eq!(made.get("b").unwrap(), Value::Int(-7), "{k}");
        assert_eq!(made.get("f").unwrap(), Value::Float(2.5), "{k}");
        let mut sum2 = lib.function("bf2_sum").unwrap();
        sum2.set_argtypes(&[Type::from(bf2.clone())])
            .unwrap()
            .set_restype(CType::Double)
            .unwrap();
        let v2 = StructValue::from_values(&bf2, m, &[0.25.into(), 9.into(), 15.into()]).unwrap();
        assert_eq!(sum2.call(&[v2.into()]).unwrap(), Value::Float(24.25), "{k}");
        let mut make2 = lib.function("make_bf2").unwrap();
        make2
            .set_argtypes(&[CType::Double])
            .unwrap()
            .set_restype(bf2.clone())
            .unwrap();
        let made2 = make2.call(&[1.5.into()]).unwrap();
        let made2 = made2.as_struct().unwrap();
        assert_eq!(
            (
                made2.get("d").unwrap(),
                made2.get("x").unwrap(),
                made2.get("y").unwrap()
            ),
            (Value::Float(1.5), Value::Int(3), Value::Int(5)),
            "{k}"
        );
    }
}
