//! The native register shims against libffi: one generated C function for every shim
//! (0–6 integer arguments × 0–8 float arguments × integer or float result), with the two
//! classes interleaved and of mixed widths. Each is called through `CDLL` (which must pick the
//! shim), through a raw libffi CIF on the same symbol, and in wasm; all three must agree.

use std::ffi::c_void;

use libffi::middle::{Arg, Cif, CodePtr, Type as FfiType};
use wasmctypes::{BackendKind, CType, Toolchain, Value, CDLL};

/// The C integer types the arguments cycle through (same size on both targets), with their
/// ctypes and libffi names.
const INTS: [(&str, CType); 5] = [
    ("int", CType::Int),
    ("long long", CType::LongLong),
    ("signed char", CType::Byte),
    ("unsigned short", CType::UShort),
    ("unsigned int", CType::UInt),
];
const FLOATS: [(&str, CType); 2] = [("double", CType::Double), ("float", CType::Float)];
const INT_RESULTS: [(&str, CType); 4] = [
    ("long long", CType::LongLong),
    ("int", CType::Int),
    ("unsigned char", CType::UByte),
    ("short", CType::Short),
];
const FLOAT_RESULTS: [(&str, CType); 2] = [("double", CType::Double), ("float", CType::Float)];

struct Case {
    name: String,
    args: Vec<CType>,
    ret: CType,
}

/// Argument `k` of a case: negative and wide enough to show missing sign extension.
fn value_of(t: CType, k: usize) -> Value {
    match t {
        CType::Double => Value::Float(-1.5 - k as f64 * 0.25),
        CType::Float => Value::Float(2.5 + k as f64 * 0.5),
        _ => Value::Int(-3 - 7 * k as i128),
    }
}

fn cases() -> (String, Vec<Case>) {
    let mut src = String::new();
    let mut cases = Vec::new();
    for ni in 0..=6 {
        for nf in 0..=8 {
            for float_result in [false, true] {
                // Interleave: int, float, int, float, ... then the rest of the larger class.
                let mut args = Vec::new();
                let (mut i, mut f) = (0, 0);
                while i < ni || f < nf {
                    if i < ni {
                        args.push(INTS[(i + nf) % INTS.len()]);
                        i += 1;
                    }
                    if f < nf {
                        args.push(FLOATS[(f + ni) % FLOATS.len()]);
                        f += 1;
                    }
                }
                let ret = if float_result {
                    FLOAT_RESULTS[(ni + nf) % 2]
                } else {
                    INT_RESULTS[(ni + nf) % 4]
                };
                let name = format!("s_{ni}i_{nf}f_{}", if float_result { "rf" } else { "ri" });
                let params: Vec<String> = args
                    .iter()
                    .enumerate()
                    .map(|(k, (c, _))| format!("{c} a{k}"))
                    .collect();
                // Position-sensitive: a swapped or mis-extended argument changes the result.
                let mut body = String::from("    double h = 0.5;\n");
                for (k, (c, _)) in args.iter().enumerate() {
                    let _ = c;
                    body.push_str(&format!("    h = h * 1.75 + (double)a{k} * {};\n", k + 1));
                }
                // Integer results go through long long, so narrowing wraps the same on both
                // targets (a float out of a narrow type's range would be undefined).
                let result = if float_result {
                    format!("({})h", ret.0)
                } else {
                    format!("({})(long long)(h * 3.0)", ret.0)
                };
                src.push_str(&format!(
                    "{} {name}({}) {{\n{body}    return {result};\n}}\n",
                    ret.0,
                    if params.is_empty() {
                        "void".into()
                    } else {
                        params.join(", ")
                    },
                ));
                cases.push(Case {
                    name,
                    args: args.iter().map(|a| a.1).collect(),
                    ret: ret.1,
                });
            }
        }
    }
    (src, cases)
}

fn ffi_type(t: CType) -> FfiType {
    match t {
        CType::Int => FfiType::i32(),
        CType::LongLong => FfiType::i64(),
        CType::Byte => FfiType::i8(),
        CType::UByte => FfiType::u8(),
        CType::Short => FfiType::i16(),
        CType::UShort => FfiType::u16(),
        CType::UInt => FfiType::u32(),
        CType::Double => FfiType::f64(),
        CType::Float => FfiType::f32(),
        other => panic!("no libffi type for {other}"),
    }
}

/// The raw slot libffi reads the argument from (the low bytes, little-endian).
fn slot_of(t: CType, v: &Value) -> u64 {
    match (t, v) {
        (CType::Double, Value::Float(x)) => x.to_bits(),
        (CType::Float, Value::Float(x)) => (*x as f32).to_bits() as u64,
        (_, Value::Int(i)) => *i as u64,
        _ => unreachable!(),
    }
}

/// The call through a raw libffi CIF, as a ctypes result value.
fn through_libffi(lib: &libloading::Library, case: &Case) -> Value {
    let code: libloading::Symbol<*mut c_void> = unsafe { lib.get(case.name.as_bytes()) }.unwrap();
    let cif = Cif::new(case.args.iter().map(|t| ffi_type(*t)), ffi_type(case.ret));
    let slots: Vec<u64> = case
        .args
        .iter()
        .enumerate()
        .map(|(k, t)| slot_of(*t, &value_of(*t, k)))
        .collect();
    let args: Vec<Arg> = slots.iter().map(Arg::new).collect();
    let code = CodePtr(*code);
    unsafe {
        match case.ret {
            CType::Double => Value::Float(cif.call::<f64>(code, &args)),
            CType::Float => Value::Float(cif.call::<f32>(code, &args) as f64),
            CType::LongLong => Value::Int(cif.call::<i64>(code, &args) as i128),
            CType::Int => Value::Int(cif.call::<i32>(code, &args) as i128),
            CType::UByte => Value::Int((cif.call::<u64>(code, &args) as u8) as i128),
            CType::Short => Value::Int((cif.call::<u64>(code, &args) as i16) as i128),
            other => panic!("no result type {other}"),
        }
    }
}

#[test]
fn every_shim_agrees_with_libffi_and_with_wasm() {
    let (src, cases) = cases();
    assert_eq!(cases.len(), 7 * 9 * 2);
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shims.c");
    std::fs::write(&path, &src).unwrap();
    let built = Toolchain::find()
        .and_then(|t| t.build_cached(&path))
        .unwrap();
    let native = crate::common::load(&built.native, BackendKind::Native).unwrap();
    let wasm = CDLL::open_wasm(&built.wasm).unwrap();
    let raw = unsafe { libloading::Library::new(&built.native) }.unwrap();
    let mut shims_used = std::collections::BTreeSet::new();
    for case in &cases {
        let expected = through_libffi(&raw, case);
        let args: Vec<Value> = case
            .args
            .iter()
            .enumerate()
            .map(|(k, t)| value_of(*t, k))
            .collect();
        for lib in [&native, &wasm] {
            let mut f = lib.function(&case.name).unwrap();
            f.set_argtypes(&case.args).unwrap();
            f.set_restype(case.ret).unwrap();
            // Twice: the first call prepares, the second takes the fast path.
            for _ in 0..2 {
                let got = f.call(&args).unwrap();
                assert_eq!(got, expected, "{} on {}", case.name, lib.backend());
            }
            if lib.backend() == BackendKind::Native && cfg!(target_arch = "x86_64") {
                let path = f.call_path().unwrap();
                assert!(path.starts_with("shim("), "{}: {path}", case.name);
                shims_used.insert(path);
            }
        }
    }
    if cfg!(target_arch = "x86_64") {
        assert_eq!(shims_used.len(), 7 * 9 * 2, "every shim is exercised");
    }
}

#[test]
fn signatures_past_the_registers_stay_with_libffi() {
    // Seven integers: the seventh goes on the stack, which no shim does.
    let src = "long long seven(long long a, long long b, long long c, long long d, long long e, long long f, long long g) { return a + 2*b + 3*c + 4*d + 5*e + 6*f + 7*g; }\n";
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("seven.c");
    std::fs::write(&path, src).unwrap();
    let built = Toolchain::find()
        .and_then(|t| t.build_cached(&path))
        .unwrap();
    for (file, kind) in [
        (&built.native, BackendKind::Native),
        (&built.wasm, BackendKind::Wasm),
    ] {
        let lib = crate::common::load(file, kind).unwrap();
        let mut f = lib.function("seven").unwrap();
        f.set_argtypes(&[CType::LongLong; 7]).unwrap();
        f.set_restype(CType::LongLong).unwrap();
        let args: Vec<Value> = (1..=7).map(Value::Int).collect();
        assert_eq!(f.call(&args).unwrap(), Value::Int(140), "{kind}");
        if kind == BackendKind::Native {
            assert_eq!(f.call_path().unwrap(), "libffi");
        }
    }
}
