//! Property tests that need the C toolchain or the binary: generated structures laid out as
//! the compiler lays them out on both targets, and generated command lines that end in a
//! result or one clear error, never a panic. `./run fuzz` runs more cases (`FUZZ_LAYOUT_CASES`,
//! `FUZZ_CLI_CASES`).

use std::path::PathBuf;
use std::process::Command;
use std::rc::Rc;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use wasmctypes::{BackendKind, CType, DataModel, Field, StructType, Toolchain, Type, Value};

fn cases(var: &str, default: u32) -> u32 {
    std::env::var(var)
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default)
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// The C spelling of each fundamental type.
const C_TYPES: &[(CType, &str)] = &[
    (CType::Bool, "_Bool"),
    (CType::Char, "char"),
    (CType::WChar, "wchar_t"),
    (CType::Byte, "signed char"),
    (CType::UByte, "unsigned char"),
    (CType::Short, "short"),
    (CType::UShort, "unsigned short"),
    (CType::Int, "int"),
    (CType::UInt, "unsigned int"),
    (CType::Long, "long"),
    (CType::ULong, "unsigned long"),
    (CType::LongLong, "long long"),
    (CType::ULongLong, "unsigned long long"),
    (CType::SizeT, "size_t"),
    (CType::Int8, "int8_t"),
    (CType::UInt16, "uint16_t"),
    (CType::Int32, "int32_t"),
    (CType::UInt64, "uint64_t"),
    (CType::Float, "float"),
    (CType::Double, "double"),
    (CType::CharP, "char *"),
    (CType::VoidP, "void *"),
];

/// One generated field: its C type index, an array length (0: not an array), a bit width
/// (integers only), or the nested structure in place of a fundamental type.
#[derive(Clone, Debug)]
struct GenField {
    ty: usize,
    array: usize,
    bits: Option<u32>,
    nested: bool,
}

fn gen_field() -> impl Strategy<Value = GenField> {
    (
        0..C_TYPES.len(),
        prop_oneof![4 => Just(0usize), 1 => 1usize..4],
        proptest::option::weighted(0.25, 1u32..17),
        proptest::bool::weighted(0.15),
    )
        .prop_map(|(ty, array, bits, nested)| {
            let integer = C_TYPES[ty].0.is_integer() && C_TYPES[ty].0 != CType::Bool;
            GenField {
                ty,
                array: if nested { 0 } else { array },
                // A bit width no wider than the type on either target, as C requires.
                bits: bits
                    .filter(|_| integer && array == 0 && !nested)
                    .map(|b| b.min(8 * DataModel::ILP32.sizeof(C_TYPES[ty].0) as u32)),
                nested,
            }
        })
}

/// A structure (fields, pack) with an inner structure of plain fields.
fn gen_struct() -> impl Strategy<Value = (Vec<GenField>, Vec<usize>, Option<usize>)> {
    (
        proptest::collection::vec(gen_field(), 1..7),
        proptest::collection::vec(0..C_TYPES.len(), 1..4),
        proptest::option::weighted(0.3, proptest::sample::select(vec![1usize, 2, 4])),
    )
}

fn field_type(f: &GenField, inner: &Rc<StructType>) -> Type {
    let base: Type = if f.nested {
        Type::Struct(inner.clone())
    } else {
        C_TYPES[f.ty].0.into()
    };
    if f.array > 0 {
        Type::array(base, f.array)
    } else {
        base
    }
}

fn c_source(fields: &[GenField], inner: &[usize], pack: Option<usize>) -> String {
    let mut c = String::from("#include <stddef.h>\n#include <stdint.h>\n#include <wchar.h>\n");
    c.push_str("struct In {");
    for (i, t) in inner.iter().enumerate() {
        c.push_str(&format!(" {} i{i};", C_TYPES[*t].1));
    }
    c.push_str(" };\n");
    if let Some(p) = pack {
        c.push_str(&format!("#pragma pack(push, {p})\n"));
    }
    c.push_str("struct S {");
    for (i, f) in fields.iter().enumerate() {
        let ty = if f.nested {
            "struct In"
        } else {
            C_TYPES[f.ty].1
        };
        match (f.array, f.bits) {
            (0, Some(b)) => c.push_str(&format!(" {ty} f{i} : {b};")),
            (0, None) => c.push_str(&format!(" {ty} f{i};")),
            (n, _) => c.push_str(&format!(" {ty} f{i}[{n}];")),
        }
    }
    c.push_str(" };\n");
    if pack.is_some() {
        c.push_str("#pragma pack(pop)\n");
    }
    c.push_str("size_t s_size(void) { return sizeof(struct S); }\n");
    c.push_str("size_t s_align(void) { return _Alignof(struct S); }\n");
    c.push_str("size_t s_off(int k) { switch (k) {");
    for (i, f) in fields.iter().enumerate() {
        if f.bits.is_none() {
            c.push_str(&format!(" case {i}: return offsetof(struct S, f{i});"));
        }
    }
    c.push_str(" default: return (size_t)-1; } }\n");
    c
}

/// Generated structures (plain, nested, arrays, bitfields, packed) have the size, alignment and
/// field offsets that clang gives them, on wasm32 and natively.
#[test]
fn fuzz_generated_structures_are_laid_out_as_the_compiler_does() {
    let toolchain = Toolchain::find().expect("the guest toolchain");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-layouts");
    let n = std::cell::Cell::new(0);
    runner(cases("FUZZ_LAYOUT_CASES", 6))
        .run(&gen_struct(), |(fields, inner, pack)| {
            n.set(n.get() + 1);
            let case = dir.join(format!("case{}", n.get()));
            std::fs::create_dir_all(&case).unwrap();
            let src = case.join("layout.c");
            std::fs::write(&src, c_source(&fields, &inner, pack)).unwrap();
            let built = toolchain.build(&src, &case).unwrap();
            let inner_ty = StructType::structure(
                "In",
                inner
                    .iter()
                    .enumerate()
                    .map(|(i, t)| Field::new(&format!("i{i}"), C_TYPES[*t].0))
                    .collect(),
            );
            let ours: Vec<Field> = fields
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let t = field_type(f, &inner_ty);
                    match f.bits {
                        Some(b) => Field::bits(&format!("f{i}"), t, b),
                        None => Field::new(&format!("f{i}"), t),
                    }
                })
                .collect();
            let s = match pack {
                Some(p) => StructType::packed("S", ours, p),
                None => StructType::structure("S", ours),
            };
            for (kind, path) in [
                (BackendKind::Wasm, &built.wasm),
                (BackendKind::Native, &built.native),
            ] {
                let lib = crate::common::load(path, kind).unwrap();
                let m: DataModel = lib.data_model();
                let call = |name: &str, args: &[Value]| {
                    let mut f = lib.function(name).unwrap();
                    f.set_restype(CType::SizeT).unwrap();
                    f.call(args).unwrap().as_int().unwrap() as usize
                };
                let layout = s.layout(m);
                let source = std::fs::read_to_string(&src).unwrap();
                prop_assert_eq!(layout.size, call("s_size", &[]), "{}: {}", kind, source);
                prop_assert_eq!(layout.align, call("s_align", &[]), "{}: {}", kind, source);
                for (i, f) in fields.iter().enumerate() {
                    if f.bits.is_none() {
                        prop_assert_eq!(
                            layout.fields[i].offset,
                            call("s_off", &[(i as i32).into()]),
                            "{}: f{} in {}",
                            kind,
                            i,
                            source
                        );
                    }
                }
            }
            Ok(())
        })
        .unwrap();
}

/// Generated argument lists for `wasmctypes call`: an answer or one clear error line, exit 0
/// or 2, valid JSON under `--json`; never a panic, an abort or a Rust backtrace.
#[test]
fn fuzz_the_cli_never_panics() {
    let lib = crate::common::built("testlib");
    let arg = prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        any::<String>().prop_filter("no NUL in argv", |s| !s.contains('\0')),
        (
            proptest::sample::select(vec![
                "c_int",
                "c_uint",
                "c_long",
                "c_bool",
                "c_char",
                "c_double",
                "c_char_p",
                "c_void_p",
                "buf",
                "wbuf",
                "c_int[]",
                "c_short[]",
                "c_nope",
            ]),
            prop_oneof![
                any::<i128>().prop_map(|i| i.to_string()),
                any::<f64>().prop_map(|x| x.to_string()),
                proptest::collection::vec(
                    proptest::sample::select(vec!['a', 'z', '0', '7', ',', '\\', 'x', '-']),
                    0..12
                )
                .prop_map(|v| v.into_iter().collect::<String>()),
            ],
        )
            .prop_map(|(t, v)| format!("{t}:{v}")),
        Just("null".to_string()),
    ];
    let symbol = proptest::sample::select(vec!["add", "str_len", "no_such", "divide", "is_null"]);
    let strategy = (
        symbol,
        proptest::collection::vec(arg, 0..5),
        proptest::bool::ANY,
        proptest::sample::select(vec!["wasm", "native"]),
    );
    runner(cases("FUZZ_CLI_CASES", 24))
        .run(&strategy, |(symbol, args, json, backend)| {
            let path = if backend == "wasm" {
                &lib.wasm
            } else {
                &lib.native
            };
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmctypes"));
            cmd.arg("call").arg(path).arg(symbol).args(&args);
            cmd.args(["--backend", backend, "--timeout", "5s"]);
            if json {
                cmd.arg("--json");
            }
            // Natively a generated pointer may crash the process, as it would crash ctypes:
            // that ends in a signal, not a panic; the sandbox must never.
            let o = cmd.env("RUST_BACKTRACE", "1").output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            prop_assert!(
                !err.contains("panicked")
                    && !err.contains("RUST_BACKTRACE")
                    && !err.contains("internal error"),
                "{symbol} {args:?}: {err}"
            );
            match o.status.code() {
                Some(0) | Some(2) => {}
                other => prop_assert!(
                    backend == "native" && other.is_none(),
                    "{backend} {symbol} {args:?}: status {other:?}: {err}"
                ),
            }
            if json && o.status.code().is_some() {
                let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&o.stdout);
                prop_assert!(
                    parsed.is_ok(),
                    "{symbol} {args:?}: {}",
                    String::from_utf8_lossy(&o.stdout)
                );
            }
            Ok(())
        })
        .unwrap();
}
