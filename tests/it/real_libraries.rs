//! What real C libraries need, built as their build systems build them: objects compiled one
//! by one, an archive, a shared library made from the whole archive, libraries that refer to
//! each other's data; for the sandbox with `wasmctypes cc`/`ar`, natively with the host's
//! `cc`/`ar`, and the same answers from both.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use wasmctypes::{create_string_buffer, BackendKind, CType, LoadOptions, Sandbox, Value, CDLL};

const PARTS: &[&str] = &[
    "parts_init",
    "parts_tls",
    "parts_weak",
    "parts_strong",
    "parts_sys",
    "parts_wide",
];

fn source(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("guest-c/real")
        .join(format!("{name}.c"))
}

fn run(program: &str, args: &[&str], dir: &Path) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The libraries built for `kind` into a directory of this test run: `libparts.so` from the
/// archive `libparts.a`, `libprovider.so` and `libuser.so` (for the sandbox all wasm
/// modules, named as the host's are).
fn built(kind: BackendKind) -> &'static PathBuf {
    static DIRS: [OnceLock<PathBuf>; 2] = [OnceLock::new(), OnceLock::new()];
    DIRS[kind as usize].get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("real-{kind}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let wasmctypes = env!("CARGO_BIN_EXE_wasmctypes");
        let (cc, cc_pre, ar, ar_pre): (&str, &[&str], &str, &[&str]) = match kind {
            BackendKind::Wasm => (wasmctypes, &["cc"], wasmctypes, &["ar"]),
            BackendKind::Native => ("cc", &["-fPIC"], "ar", &[]),
        };
        let cc_args = |rest: &[&str]| -> Vec<String> {
            cc_pre.iter().chain(rest).map(|s| s.to_string()).collect()
        };
        let mut objects = Vec::new();
        for part in PARTS {
            let object = format!("{part}.o");
            let src = source(part).display().to_string();
            let args = cc_args(&["-O2", "-c", &src, "-o", &object]);
            run(
                cc,
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
                &dir,
            );
            objects.push(object);
        }
        let mut ar_args: Vec<&str> = ar_pre.to_vec();
        ar_args.extend(["rcs", "libparts.a"]);
        ar_args.extend(objects.iter().map(String::as_str));
        run(ar, &ar_args, &dir);
        let links: [(&str, Vec<String>); 3] = [
            (
                "libparts.so",
                vec![
                    "-Wl,--whole-archive".into(),
                    "libparts.a".into(),
                    "-Wl,--no-whole-archive".into(),
                ],
            ),
            (
                "libprovider.so",
                vec![source("provider").display().to_string()],
            ),
            ("libuser.so", vec![source("user").display().to_string()]),
        ];
        for (out, inputs) in &links {
            let mut rest: Vec<&str> = vec!["-shared", "-O2", "-o", out];
            rest.extend(inputs.iter().map(String::as_str));
            let args = cc_args(&rest);
            run(
                cc,
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
                &dir,
            );
        }
        dir
    })
}

fn load(sb: &Sandbox, kind: BackendKind, name: &str) -> CDLL {
    // SAFETY: the project's own test libraries, called as their sources declare.
    unsafe { sb.load_unchecked(built(kind).join(name)) }.unwrap()
}

fn call(lib: &CDLL, name: &str, args: &[CType], ret: CType, values: &[Value]) -> Value {
    let mut f = lib.function(name).unwrap();
    f.set_argtypes(args).unwrap().set_restype(ret).unwrap();
    f.call(values).unwrap()
}

#[test]
fn a_module_built_for_the_sandbox_is_a_wasm_module_whatever_its_name() {
    let head = std::fs::read(built(BackendKind::Wasm).join("libparts.so")).unwrap();
    assert_eq!(&head[..4], b"\0asm");
    let head = std::fs::read(built(BackendKind::Native).join("libparts.so")).unwrap();
    assert_eq!(&head[..4], b"\x7fELF");
}

#[test]
fn constructors_thread_locals_and_weak_symbols_behave_as_natively() {
    for kind in BackendKind::ALL {
        let sb = Sandbox::open(kind, &LoadOptions::default()).unwrap();
        let lib = load(&sb, kind, "libparts.so");
        let int = |name: &str| call(&lib, name, &[], CType::Int, &[]).as_int();
        // The constructors ran at load, in priority order.
        assert_eq!(int("init_value"), Some(42), "{kind}");
        assert_eq!(int("init_order"), Some(1), "{kind}");
        // One thread: one copy of the thread-local, from its initial value.
        assert_eq!(int("tls_next"), Some(11), "{kind}");
        assert_eq!(int("tls_next"), Some(12), "{kind}");
        // tunable() is the strong definition, fallback() the weak one, absent is NULL.
        assert_eq!(int("weak_result"), Some(370), "{kind}");
    }
}

#[test]
fn entropy_sysconf_and_clocks_answer() {
    let mut first = None;
    for kind in [BackendKind::Wasm, BackendKind::Wasm, BackendKind::Native] {
        let sb = Sandbox::open(kind, &LoadOptions::default()).unwrap();
        let lib = load(&sb, kind, "libparts.so");
        let buf = create_string_buffer(&lib, 32).unwrap();
        let r = call(
            &lib,
            "entropy",
            &[CType::VoidP, CType::Int],
            CType::Int,
            &[(&buf).into(), Value::Int(32)],
        );
        assert_eq!(r.as_int(), Some(0), "{kind}");
        let bytes = buf.raw().unwrap();
        assert_ne!(bytes, vec![0u8; 32], "{kind}");
        if kind == BackendKind::Wasm {
            // Deterministic: a fresh sandbox with the same seed draws the same bytes.
            match &first {
                None => first = Some(bytes),
                Some(before) => assert_eq!(before, &bytes),
            }
        }
        let page = call(&lib, "page_size", &[], CType::Long, &[])
            .as_int()
            .unwrap();
        assert!(
            page > 0 && page & (page - 1) == 0,
            "{kind}: page size {page}"
        );
        let clock = call(&lib, "clock_ok", &[], CType::Int, &[]);
        assert_eq!(clock.as_int(), Some(1), "{kind}");
    }
}

#[test]
fn relocations_across_libraries_are_resolved_at_load() {
    for kind in BackendKind::ALL {
        let sb = Sandbox::open(kind, &LoadOptions::default()).unwrap();
        let _provider = load(&sb, kind, "libprovider.so");
        let user = load(&sb, kind, "libuser.so");
        assert_eq!(
            call(&user, "use_table", &[], CType::Int, &[]).as_int(),
            Some(9),
            "{kind}"
        );
        assert_eq!(
            call(
                &user,
                "use_op",
                &[CType::Int],
                CType::Int,
                &[Value::Int(21)]
            )
            .as_int(),
            Some(42),
            "{kind}"
        );
        assert_eq!(
            call(&user, "use_names", &[], CType::SizeT, &[]).as_int(),
            Some(4),
            "{kind}"
        );
        // A function pointer from one library, handed back into another call.
        let op = call(&user, "user_get_op", &[], CType::VoidP, &[]);
        assert!(op.as_int().unwrap_or(0) != 0, "{kind}");
        let r = call(
            &user,
            "call_op",
            &[CType::VoidP, CType::Int],
            CType::Int,
            &[op, Value::Int(5)],
        );
        assert_eq!(r.as_int(), Some(10), "{kind}");
    }
}

#[test]
fn a_library_that_needs_another_is_an_oserror_naming_the_symbol_until_it_is_loaded() {
    // In the sandbox only: natively the process's global scope is shared with the other
    // tests of this binary, one of which may have loaded the provider already.
    {
        let kind = BackendKind::Wasm;
        let sb = Sandbox::open(kind, &LoadOptions::default()).unwrap();
        // SAFETY: as above.
        let e = unsafe { sb.load_unchecked(built(kind).join("libuser.so")) }.unwrap_err();
        assert_eq!(e.kind(), "OSError", "{kind}");
        assert!(e.message().contains("provider_"), "{kind}: {e}");
        // The sandbox stays usable: load the provider, then the user.
        let _provider = load(&sb, kind, "libprovider.so");
        let user = load(&sb, kind, "libuser.so");
        assert_eq!(
            call(&user, "use_table", &[], CType::Int, &[]).as_int(),
            Some(9),
            "{kind}"
        );
    }
}

#[test]
fn compiler_builtins_are_in_the_library_not_imported() {
    let bytes = std::fs::read(built(BackendKind::Wasm).join("libparts.so")).unwrap();
    let imports: Vec<String> = wasmparser::Parser::new(0)
        .parse_all(&bytes)
        .filter_map(|p| match p {
            Ok(wasmparser::Payload::ImportSection(r)) => Some(r),
            _ => None,
        })
        .flat_map(|r| {
            r.into_imports()
                .map(|i| i.unwrap().name.to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    for builtin in ["__multi3", "__udivti3", "__multf3"] {
        assert!(
            !imports.iter().any(|i| i == builtin),
            "{builtin} is imported: {imports:?}"
        );
    }
    for kind in BackendKind::ALL {
        let sb = Sandbox::open(kind, &LoadOptions::default()).unwrap();
        let lib = load(&sb, kind, "libparts.so");
        let u64s = [CType::ULongLong, CType::ULongLong];
        let hi = call(
            &lib,
            "mul_hi",
            &u64s,
            CType::ULongLong,
            &[Value::Int(u64::MAX as i128), Value::Int(3)],
        );
        assert_eq!(hi.as_int(), Some(2), "{kind}");
        let q = call(
            &lib,
            "div_wide",
            &[CType::ULongLong, CType::ULongLong, CType::ULongLong],
            CType::ULongLong,
            &[Value::Int(1), Value::Int(0), Value::Int(2)],
        );
        assert_eq!(q.as_int(), Some(1 << 63), "{kind}");
        assert_eq!(
            call(&lib, "long_double_ok", &[], CType::Int, &[]).as_int(),
            Some(6)
        );
    }
}
