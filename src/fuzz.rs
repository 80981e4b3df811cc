//! Property tests over what needs no C toolchain: the CLI's argument grammar, the conversion
//! table and the structure layout engine. A panic, or an error of a kind the rule does not
//! allow, is a failure. `cargo test` runs a few thousand cases; `./run fuzz` runs them by the
//! hundred thousand (`PROPTEST_CASES`).

use std::rc::Rc;

use proptest::prelude::*;

use crate::tools::invoke::ArgSpec;
use crate::types::{CType, DataModel, Field, Repr, StructType, Type};
use crate::value::{
    decode, encode, from_bits, mask_int, read_value, write_value, StructValue, Value,
};

/// Cases per property: `PROPTEST_CASES`, else 500.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(500);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn model() -> impl Strategy<Value = DataModel> {
    prop_oneof![Just(DataModel::ILP32), Just(DataModel::LP64)]
}

fn ctype() -> impl Strategy<Value = CType> {
    let all: Vec<CType> = CType::all().filter(|t| *t != CType::Void).collect();
    proptest::sample::select(all)
}

fn number() -> impl Strategy<Value = CType> {
    let all: Vec<CType> = CType::all()
        .filter(|t| t.is_integer() && !matches!(t, CType::Char | CType::WChar))
        .collect();
    proptest::sample::select(all)
}

/// Text that looks like the CLI's grammar more often than chance would make it.
fn arg_text() -> impl Strategy<Value = String> {
    let prefix = proptest::sample::select(vec![
        "c_int",
        "c_uint",
        "c_long",
        "c_bool",
        "c_char",
        "c_wchar",
        "c_double",
        "c_float",
        "c_char_p",
        "c_wchar_p",
        "c_void_p",
        "buf",
        "wbuf",
        "c_int[]",
        "c_double[]",
        "c_nope",
        "",
        "null",
    ]);
    let body = prop_oneof![
        any::<String>(),
        any::<i128>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|i| format!("0x{i:x}")),
        any::<f64>().prop_map(|x| x.to_string()),
        proptest::collection::vec(any::<i64>(), 0..5)
            .prop_map(|v| { v.iter().map(i64::to_string).collect::<Vec<_>>().join(",") }),
        Just("\\x4".to_string()),
        Just("\\".to_string()),
    ];
    prop_oneof![
        any::<String>(),
        (prefix, body).prop_map(|(p, b)| if p.is_empty() { b } else { format!("{p}:{b}") }),
    ]
}

/// A field type: a fundamental type, an array of one, or a nested structure.
fn field_type(depth: u32) -> BoxedStrategy<Type> {
    let simple = ctype().prop_map(Type::Simple);
    if depth == 0 {
        return simple.boxed();
    }
    prop_oneof![
        4 => simple,
        1 => (ctype(), 0usize..5).prop_map(|(t, n)| Type::array(t, n)),
        1 => structure(depth - 1).prop_map(Type::Struct),
    ]
    .boxed()
}

/// A structure (sometimes packed, sometimes with bitfields) of up to six fields.
fn structure(depth: u32) -> BoxedStrategy<Rc<StructType>> {
    let field = (field_type(depth), proptest::option::of(0u32..33)).prop_map(|(t, bits)| {
        match (&t, bits) {
            // Bitfields are integers no wider than their type.
            (Type::Simple(c), Some(b)) if c.is_integer() && *c != CType::Bool => {
                let width = DataModel::LP64.sizeof(*c) as u32 * 8;
                (t.clone(), Some(b.min(width)))
            }
            _ => (t, None),
        }
    });
    (
        proptest::collection::vec(field, 0..7),
        proptest::option::of(proptest::sample::select(vec![1usize, 2, 4, 8])),
    )
        .prop_map(|(fields, pack)| {
            let fields = fields
                .into_iter()
                .enumerate()
                .map(|(i, (t, bits))| match bits {
                    Some(b) => Field::bits(&format!("f{i}"), t, b),
                    None => Field::new(&format!("f{i}"), t),
                })
                .collect();
            match pack {
                Some(p) => StructType::packed("S", fields, p),
                None => StructType::structure("S", fields),
            }
        })
        .boxed()
}

/// Equal values, where any two NaNs are equal: a float field read and written back may quiet a
/// signalling NaN, as the C conversion between float and double does.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::List(xs), Value::List(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys.iter()).all(|(x, y)| same(x, y))
        }
        (Value::Struct(x), Value::Struct(y)) => {
            x.ty() == y.ty()
                && x.ty().fields().iter().all(
                    |f| matches!((x.get(&f.name), y.get(&f.name)), (Ok(p), Ok(q)) if same(&p, &q)),
                )
        }
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any text: a parsed argument or a typed error, never a panic.
    #[test]
    fn fuzz_the_argument_grammar_never_panics(text in arg_text()) {
        if let Err(e) = ArgSpec::parse(&text) {
            prop_assert!(
                matches!(e.kind(), "TypeError" | "ArgumentError" | "OverflowError" | "ValueError"),
                "{text:?}: {e}"
            );
        }
    }

    /// Any integer into any integer type keeps exactly what ctypes keeps: the low bits, read
    /// back signed or unsigned (`c_bool` any non-zero as True).
    #[test]
    fn fuzz_integers_are_masked_as_ctypes_masks_them(
        t in number(), m in model(), i in any::<i64>().prop_map(i128::from)
    ) {
        let r = m.repr(t);
        let bits = encode(t, r, &Value::Int(i)).unwrap();
        let want = match r {
            Repr::Bool => Value::Bool(i != 0),
            _ => Value::Int(mask_int(i, r)),
        };
        prop_assert_eq!(&decode(t, r, &bits.to_le_bytes()[..r.size()]), &want);
        prop_assert_eq!(&from_bits(t, r, bits), &want);
        let independent = match r {
            Repr::Int(n) => {
                let shift = 128 - 8 * n as u32;
                (i << shift) >> shift
            }
            Repr::UInt(n) => i & ((1i128 << (8 * n as u32)) - 1),
            _ => (i != 0) as i128,
        };
        prop_assert_eq!(mask_int(i, r), if r == Repr::Bool { (i != 0) as i128 } else { independent });
    }

    /// A double's bits survive the table, NaN payloads included; a float is `x as f32`.
    #[test]
    fn fuzz_floats_keep_their_bits(bits in any::<u64>(), m in model()) {
        let x = f64::from_bits(bits);
        let r = m.repr(CType::Double);
        let stored = encode(CType::Double, r, &Value::Float(x)).unwrap();
        prop_assert_eq!(stored, bits);
        let Value::Float(back) = decode(CType::Double, r, &stored.to_le_bytes()) else {
            panic!("a double reads as a float")
        };
        prop_assert_eq!(back.to_bits(), bits);
        let f = m.repr(CType::Float);
        let single = encode(CType::Float, f, &Value::Float(x)).unwrap();
        prop_assert_eq!(single, (x as f32).to_bits() as u64);
    }

    /// Any value into any fundamental type: stored, or a TypeError; never a panic.
    #[test]
    fn fuzz_any_value_into_any_type_is_stored_or_refused(
        t in ctype(), m in model(),
        v in prop_oneof![
            any::<i128>().prop_map(Value::Int),
            any::<f64>().prop_map(Value::Float),
            any::<bool>().prop_map(Value::Bool),
            proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
            any::<String>().prop_map(Value::Str),
            Just(Value::None),
        ]
    ) {
        if let Err(e) = encode(t, m.repr(t), &v) {
            prop_assert_eq!(e.kind(), "TypeError", "{} {}: {}", t, v, e);
        }
    }

    /// The layout engine's invariants in both data models: the size is a multiple of the
    /// alignment, every field lies inside the structure, and an unpacked field that is not a
    /// bitfield is aligned to its type and overlaps no other.
    #[test]
    fn fuzz_layouts_are_consistent(s in structure(2)) {
        for m in [DataModel::ILP32, DataModel::LP64] {
            let l = s.layout(m);
            prop_assert!(l.align >= 1 && l.size % l.align == 0, "{m}: {l:?}");
            let mut spans = Vec::new();
            for (f, fl) in s.fields().iter().zip(&l.fields) {
                let size = f.ty.sizeof(m);
                if fl.bitfield.is_none() {
                    prop_assert!(fl.offset + size <= l.size, "{m}: {} past the end", f.name);
                    if s.pack().is_none() {
                        prop_assert_eq!(fl.offset % f.ty.alignment(m), 0, "{}: {}", m, f.name);
                    }
                    if size > 0 {
                        spans.push((fl.offset, fl.offset + size));
                    }
                }
            }
            spans.sort();
            for w in spans.windows(2) {
                prop_assert!(w[0].1 <= w[1].0, "{m}: fields overlap: {spans:?}");
            }
        }
    }

    /// Any bytes read as any structure, and every field of it read and written back: values
    /// or typed errors, never a panic; a field written and read again keeps its value.
    #[test]
    fn fuzz_structure_values_read_and_write_any_bytes(
        s in structure(1), m in model(), seed in proptest::collection::vec(any::<u8>(), 0..256)
    ) {
        let size = s.layout(m).size;
        let bytes: Vec<u8> = (0..size).map(|i| seed.get(i % seed.len().max(1)).copied().unwrap_or(0)).collect();
        let mut v = StructValue::from_bytes(&s, m, &bytes).unwrap();
        for f in s.fields() {
            let got = v.get(&f.name).unwrap();
            match v.set(&f.name, got.clone()) {
                Ok(()) => prop_assert!(same(&v.get(&f.name).unwrap(), &got), "{}: {}", f.name, got),
                Err(e) => prop_assert!(
                    matches!(e.kind(), "TypeError" | "ValueError" | "IndexError"),
                    "{}: {}", f.name, e
                ),
            }
        }
        // The whole structure copied as a value keeps its bytes exactly.
        let t = Type::Struct(s.clone());
        let mut out = vec![0u8; size];
        write_value(&t, m, &mut out, &read_value(&t, m, &bytes)).unwrap();
        prop_assert_eq!(out, bytes);
    }
}
