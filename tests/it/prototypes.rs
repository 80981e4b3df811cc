//! The library's own C prototypes, read from its DWARF: printed, used to declare functions, and
//! used to catch bindings that disagree with the C. Every rule runs on both backends: the
//! sandbox's module (ILP32) and the host's shared object (LP64) each carry their own.

use std::rc::Rc;

use crate::common::{both, built, source};
use wasmctypes::{
    CType, Field, MismatchKind, Prototypes, StructType, Toolchain, Type, Value, CDLL, CFUNCTYPE,
    POINTER,
};

fn point() -> Rc<StructType> {
    StructType::structure(
        "Point",
        vec![Field::new("x", CType::Int), Field::new("y", CType::Int)],
    )
}

fn record(count: CType) -> Rc<StructType> {
    StructType::structure(
        "Record",
        vec![
            Field::new("name", Type::array(CType::Char, 8)),
            Field::new("weight", CType::Double),
            Field::new("count", count),
            Field::new("at", point()),
            Field::bits("kind", CType::UInt, 3),
            Field::bits("live", CType::UInt, 1),
        ],
    )
}

/// The mismatches of one binding: `restype` `None` is "not set".
fn check(
    lib: &CDLL,
    name: &str,
    argtypes: Option<&[Type]>,
    restype: Option<Type>,
) -> Vec<(MismatchKind, Option<usize>, String)> {
    let mut f = lib.function(name).unwrap();
    if let Some(a) = argtypes {
        f.set_argtypes(a).unwrap();
    }
    if let Some(r) = restype {
        f.set_restype(r).unwrap();
    }
    f.prototype_mismatches()
        .unwrap()
        .into_iter()
        .map(|m| (m.kind, m.parameter, m.to_string()))
        .collect()
}

fn t(c: CType) -> Type {
    Type::Simple(c)
}

#[test]
fn prototypes_are_read_as_the_source_declares_them() {
    for lib in both("prototypes") {
        let protos = lib.prototypes().unwrap().expect("built with -g");
        let decl = |name: &str| protos.declaration(protos.function(name).unwrap());
        assert_eq!(
            decl("ps_size"),
            "size_t ps_size(size_t n, ptrdiff_t d, ssize_t s)"
        );
        assert_eq!(decl("ps_strlen"), "size_t ps_strlen(const char *s)");
        assert_eq!(
            decl("ps_sum_rows"),
            "int ps_sum_rows(int (*rows)[3], int n)"
        );
        assert_eq!(decl("ps_apply"), "int ps_apply(binop f, int a, int b)");
        assert_eq!(decl("ps_sum_ints"), "int ps_sum_ints(int n, ...)");
        assert_eq!(decl("ps_nothing"), "void ps_nothing(void)");
        assert_eq!(decl("ps_bytes"), "const unsigned char *ps_bytes(void)");
        assert_eq!(decl("ps_enum"), "int ps_enum(enum color c)");
        // Only what the library exports: nothing of libc.
        assert!(protos.function("strlen").is_none());
        // Structures with the offsets of this data model; bitfields by bit.
        let (_, record) = protos
            .tagged()
            .find(|(n, _)| *n == "struct record")
            .unwrap();
        let long = lib.sizeof(CType::Long) as u64;
        assert_eq!(
            protos.size_of(record),
            Some(24 + 2 * long),
            "{}",
            lib.backend()
        );
        let text = protos.definition(record);
        assert!(text.contains("unsigned int kind : 3;"), "{text}");
        let (_, color) = protos.tagged().find(|(n, _)| *n == "enum color").unwrap();
        assert!(protos.definition(color).contains("BLUE = -1"));
        // Every exported function is there.
        assert_eq!(protos.functions().count(), 30, "{}", lib.backend());
    }
}

#[test]
fn functions_declared_from_their_prototypes_answer_as_hand_declared_ones() {
    for lib in both("prototypes") {
        let call = |name: &str, args: &[Value]| {
            lib.function_with_prototype(name)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .call(args)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        assert_eq!(call("ps_strlen", &[b"hello".into()]), Value::Int(5));
        assert_eq!(
            call("ps_size", &[1.into(), 2.into(), (-1).into()]),
            Value::Int(2)
        );
        assert_eq!(call("ps_greeting", &[]), Value::Bytes(b"hello".to_vec()));
        assert_eq!(
            call("ps_uint", &[(-1).into(), 0.into(), 0.into()]),
            Value::Int(0xffff_ffff)
        );
        assert_eq!(
            call("ps_llong", &[(1i64 << 40).into(), 1.into()]),
            Value::Int((1 << 40) + 1)
        );
        assert_eq!(
            call("ps_float", &[1.5.into(), 2.0.into()]),
            Value::Float(3.5)
        );
        assert_eq!(call("ps_bool", &[false.into()]), Value::Bool(true));
        assert_eq!(call("ps_nothing", &[]), Value::None);
        // The fixed part of a variadic function is declared; the rest pass as `...`.
        assert_eq!(
            call("ps_sum_ints", &[2.into(), 20.into(), 22.into()]),
            Value::Int(42)
        );
        // A structure by value has no ctypes type to declare it with.
        let e = lib.function_with_prototype("ps_point_make").unwrap_err();
        assert_eq!(e.kind(), "ValueError", "{e}");
        assert!(
            e.to_string()
                .contains("point_t ps_point_make(int x, int y)"),
            "{e}"
        );
        // A name the library does not export is ctypes' AttributeError.
        let e = lib.function_with_prototype("nope").unwrap_err();
        assert_eq!(e.kind(), "AttributeError");
    }
}

#[test]
fn correct_bindings_are_not_reported() {
    let void_p = t(CType::VoidP);
    let char_p = t(CType::CharP);
    for lib in both("prototypes") {
        let bindings: Vec<(&str, Vec<Type>, Option<Type>)> = vec![
            (
                "ps_schar",
                vec![t(CType::Byte), t(CType::UByte), t(CType::Char)],
                Some(t(CType::Byte)),
            ),
            (
                "ps_short",
                vec![t(CType::Short), t(CType::UShort)],
                Some(t(CType::Short)),
            ),
            (
                "ps_uint",
                vec![t(CType::Int), t(CType::UInt), t(CType::UInt32)],
                Some(t(CType::UInt)),
            ),
            (
                "ps_long",
                vec![t(CType::Long), t(CType::ULong)],
                Some(t(CType::Long)),
            ),
            (
                "ps_llong",
                vec![t(CType::LongLong), t(CType::UInt64)],
                Some(t(CType::Int64)),
            ),
            // size_t as c_size_t or c_ulong: both as wide as a pointer everywhere.
            (
                "ps_size",
                vec![t(CType::SizeT), t(CType::SSizeT), t(CType::Long)],
                Some(t(CType::ULong)),
            ),
            (
                "ps_fixed",
                vec![
                    t(CType::Int8),
                    t(CType::UInt16),
                    t(CType::Int),
                    t(CType::ULongLong),
                    t(CType::Int64),
                ],
                Some(t(CType::LongLong)),
            ),
            ("ps_bool", vec![t(CType::Bool)], Some(t(CType::Bool))),
            (
                "ps_float",
                vec![t(CType::Float), t(CType::Double)],
                Some(t(CType::Float)),
            ),
            (
                "ps_double",
                vec![t(CType::Double), t(CType::LongDouble)],
                Some(t(CType::Double)),
            ),
            ("ps_wchar", vec![t(CType::WChar)], Some(t(CType::Int))),
            // An enum as c_int (or c_uint: its signedness is the compiler's choice).
            ("ps_enum", vec![t(CType::UInt)], None),
            // Any pointer as c_void_p, c_char_p for bytes, c_size_t for an address.
            ("ps_strlen", vec![char_p.clone()], Some(t(CType::SizeT))),
            ("ps_bytes", vec![], Some(char_p.clone())),
            ("ps_greeting", vec![], Some(void_p.clone())),
            ("ps_identity", vec![t(CType::SizeT)], Some(void_p.clone())),
            ("ps_wcslen", vec![t(CType::WCharP)], Some(t(CType::SizeT))),
            (
                "ps_fill",
                vec![POINTER(CType::Int), t(CType::SizeT)],
                Some(t(CType::Void)),
            ),
            (
                "ps_fill",
                vec![Type::array(CType::Int32, 4), t(CType::SizeT)],
                None,
            ),
            ("ps_store_size", vec![POINTER(CType::SizeT)], None),
            ("ps_store_size", vec![POINTER(CType::UByte)], None),
            (
                "ps_sum_rows",
                vec![POINTER(Type::array(CType::Int, 3)), t(CType::Int)],
                None,
            ),
            ("ps_point_sum", vec![POINTER(point())], None),
            ("ps_point_sum", vec![void_p.clone()], None),
            (
                "ps_point_make",
                vec![t(CType::Int), t(CType::Int)],
                Some(Type::Struct(point())),
            ),
            ("ps_point_by_value", vec![Type::Struct(point())], None),
            (
                "ps_record_weight",
                vec![POINTER(record(CType::Long))],
                Some(t(CType::Double)),
            ),
            (
                "ps_union",
                vec![POINTER(StructType::union(
                    "N",
                    vec![Field::new("i", CType::Int), Field::new("d", CType::Double)],
                ))],
                None,
            ),
            (
                "ps_apply",
                vec![
                    CFUNCTYPE(CType::Int, &[CType::Int, CType::Int]).into(),
                    t(CType::Int),
                    t(CType::Int),
                ],
                None,
            ),
            // A variadic function's fixed part only, as ctypes wants it.
            ("ps_sum_ints", vec![t(CType::Int)], None),
            // A result ignored: restype None is always right.
            (
                "ps_double",
                vec![t(CType::Double), t(CType::LongDouble)],
                Some(t(CType::Void)),
            ),
            (
                "ps_tail",
                vec![POINTER(StructType::structure(
                    "T",
                    vec![Field::new("d", CType::Double), Field::new("c", CType::Char)],
                ))],
                Some(t(CType::Double)),
            ),
        ];
        for (name, argtypes, restype) in bindings {
            let found = check(&lib, name, Some(&argtypes), restype);
            assert!(found.is_empty(), "{} {name}: {found:?}", lib.backend());
        }
        // No argtypes (ctypes infers them) and the default restype on an `int` function.
        assert!(check(&lib, "ps_enum", None, None).is_empty());
        assert!(check(&lib, "ps_nothing", None, None).is_empty());
        assert!(check(&lib, "ps_strlen", Some(std::slice::from_ref(&char_p)), None).is_empty());
        assert!(check(&lib, "ps_long", None, None).is_empty());
    }
}

/// A wrong binding: function, argtypes, restype, and the mismatch it must give.
type Case = (
    &'static str,
    Option<Vec<Type>>,
    Option<Type>,
    MismatchKind,
    Option<usize>,
);

#[test]
fn each_wrong_binding_gets_exactly_the_mismatch_that_names_it() {
    use MismatchKind::*;
    let gap = |pack| {
        let fields = vec![Field::new("c", CType::Char), Field::new("i", CType::Int)];
        match pack {
            Some(p) => StructType::packed("Gap", fields, p),
            None => StructType::structure("Gap", fields),
        }
    };
    for lib in both("prototypes") {
        let cases: Vec<Case> = vec![
            // c_int where C takes size_t: signed, and 4 bytes where size_t is 8 natively.
            (
                "ps_size",
                Some(vec![t(CType::UInt), t(CType::SSizeT), t(CType::SSizeT)]),
                Some(t(CType::SizeT)),
                Width,
                Some(0),
            ),
            (
                "ps_uint",
                Some(vec![t(CType::Int), t(CType::Int), t(CType::UInt)]),
                Some(t(CType::UInt)),
                Signedness,
                Some(1),
            ),
            (
                "ps_strlen",
                Some(vec![t(CType::Int)]),
                Some(t(CType::SizeT)),
                PointerVsInteger,
                Some(0),
            ),
            (
                "ps_float",
                Some(vec![t(CType::Float), t(CType::Int)]),
                Some(t(CType::Float)),
                FloatVsInteger,
                Some(1),
            ),
            (
                "ps_float",
                Some(vec![t(CType::Float), t(CType::Float)]),
                Some(t(CType::Float)),
                Width,
                Some(1),
            ),
            ("ps_greeting", Some(vec![]), None, MissingRestype, None),
            (
                "ps_llong",
                Some(vec![t(CType::LongLong), t(CType::ULongLong)]),
                None,
                MissingRestype,
                None,
            ),
            (
                "ps_float",
                Some(vec![t(CType::Float), t(CType::Double)]),
                None,
                MissingRestype,
                None,
            ),
            (
                "ps_tail",
                Some(vec![POINTER(StructType::packed(
                    "T",
                    vec![Field::new("d", CType::Double), Field::new("c", CType::Char)],
                    1,
                ))]),
                Some(t(CType::Double)),
                StructSize,
                Some(0),
            ),
            (
                "ps_gap",
                Some(vec![POINTER(gap(Some(1)))]),
                Some(t(CType::Int)),
                MemberOffset,
                Some(0),
            ),
            (
                "ps_point_sum",
                Some(vec![POINTER(StructType::structure(
                    "P",
                    vec![Field::new("x", CType::Int)],
                ))]),
                Some(t(CType::Int)),
                Member,
                Some(0),
            ),
            (
                "ps_record_weight",
                Some(vec![POINTER(record(CType::LongLong))]),
                Some(t(CType::Double)),
                Member,
                Some(0),
            ),
            (
                "ps_point_by_value",
                Some(vec![t(CType::Int)]),
                None,
                StructVsScalar,
                Some(0),
            ),
            (
                "ps_short",
                Some(vec![t(CType::Short), t(CType::UShort), t(CType::Int)]),
                Some(t(CType::Short)),
                Arity,
                None,
            ),
            ("ps_sum_ints", None, None, VariadicWithoutArgtypes, None),
            (
                "ps_store_size",
                Some(vec![POINTER(CType::UInt)]),
                None,
                Width,
                Some(0),
            ),
            (
                "ps_apply",
                Some(vec![
                    CFUNCTYPE(CType::Int, &[CType::Int]).into(),
                    t(CType::Int),
                    t(CType::Int),
                ]),
                None,
                Arity,
                Some(0),
            ),
            (
                "ps_long",
                Some(vec![t(CType::LongLong), t(CType::ULong)]),
                Some(t(CType::Long)),
                Width,
                Some(0),
            ),
        ];
        for (name, argtypes, restype, kind, parameter) in cases {
            let found = check(&lib, name, argtypes.as_deref(), restype);
            assert_eq!(found.len(), 1, "{} {name}: {found:?}", lib.backend());
            assert_eq!(
                (found[0].0, found[0].1),
                (kind, parameter),
                "{} {name}: {}",
                lib.backend(),
                found[0].2
            );
            assert!(
                found[0].2.starts_with(&format!("{name}: ")),
                "{}",
                found[0].2
            );
            assert!(found[0].2.contains(kind.name()), "{}", found[0].2);
        }
        // The gap structure laid out as C lays it is right.
        assert!(check(&lib, "ps_gap", Some(&[POINTER(gap(None))]), None).is_empty());
    }
}

#[test]
fn a_stripped_build_has_no_prototypes_and_the_same_code() {
    let dir = std::env::temp_dir().join(format!("wasmctypes-strip-{}", std::process::id()));
    let tc = Toolchain::find().unwrap();
    let stripped = tc
        .clone()
        .with_debug_info(false)
        .build(&source("prototypes"), &dir.join("s"))
        .unwrap();
    let kept = built("prototypes");
    for path in [&stripped.wasm, &stripped.native] {
        assert_eq!(Prototypes::read(path).unwrap(), None, "{}", path.display());
    }
    // DWARF lives in custom sections: the module's code is the same with and without it.
    let code = |path: &std::path::Path| {
        let bytes = std::fs::read(path).unwrap();
        let mut code = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
            if let wasmparser::Payload::CodeSectionStart { range, .. } = payload.unwrap() {
                code = bytes[range].to_vec();
            }
        }
        code
    };
    assert_eq!(code(&stripped.wasm), code(&kept.wasm));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_debug_information_is_an_error_or_nothing_never_a_panic() {
    let b = built("prototypes");
    assert_eq!(
        Prototypes::parse(b"not a module").unwrap_err().kind(),
        "ValueError"
    );
    assert_eq!(
        Prototypes::parse(b"\x7fELF\x02\x01").unwrap_err().kind(),
        "ValueError"
    );
    for path in [&b.wasm, &b.native] {
        let bytes = std::fs::read(path).unwrap();
        assert!(Prototypes::parse(&bytes).unwrap().is_some());
        // Bytes of `.debug_info` flipped in turn, in a sample, and the file cut there: each
        // parse ends cleanly.
        let (start, end) = debug_info_range(&bytes);
        for offset in (start..end).step_by(((end - start) / 400).max(1)).take(400) {
            let mut bad = bytes.clone();
            bad[offset] ^= 0xff;
            let _ = Prototypes::parse(&bad);
            bad.truncate(offset);
            let _ = Prototypes::parse(&bad);
        }
    }
}

/// Where `.debug_info`'s content lies in a wasm module or an ELF file.
fn debug_info_range(bytes: &[u8]) -> (usize, usize) {
    if bytes.starts_with(b"\0asm") {
        for payload in wasmparser::Parser::new(0).parse_all(bytes) {
            if let wasmparser::Payload::CustomSection(c) = payload.unwrap() {
                if c.name() == ".debug_info" {
                    return (c.data_offset(), c.data_offset() + c.data().len());
                }
            }
        }
    } else {
        use object::{Object, ObjectSection};
        let file = object::File::parse(bytes).unwrap();
        let (at, len) = file
            .section_by_name(".debug_info")
            .unwrap()
            .file_range()
            .unwrap();
        return (at as usize, (at + len) as usize);
    }
    panic!("no .debug_info");
}
