//! A sandbox is a process: several libraries loaded into one sandbox share its memory and its
//! libc, objects belong to the sandbox, and pointers cross libraries, on both backends.

use std::path::PathBuf;

use wasmctypes::{
    byref, Array, BackendKind, CType, CValue, Callback, Error, LoadOptions, Sandbox, Type, Value,
    CDLL, CFUNCTYPE,
};

use crate::common::built;

/// `guest-c/linking/NAME.c`, built for `kind`.
fn library(name: &str, kind: BackendKind) -> PathBuf {
    let b = built(&format!("linking/{name}"));
    match kind {
        BackendKind::Wasm => b.wasm,
        BackendKind::Native => b.native,
    }
}

/// A sandbox on `kind` with liba then libb loaded into it.
fn pair(kind: BackendKind) -> (Sandbox, CDLL, CDLL) {
    let sb = Sandbox::open(kind, &LoadOptions::default()).unwrap();
    // SAFETY: the project's own test libraries, called as their sources declare.
    let a = unsafe { sb.load_unchecked(library("liba", kind)) }.unwrap();
    let b = unsafe { sb.load_unchecked(library("libb", kind)) }.unwrap();
    (sb, a, b)
}

fn function(lib: &CDLL, name: &str, args: &[CType], ret: impl Into<Type>) -> wasmctypes::Function {
    let mut f = lib.function(name).unwrap();
    f.set_argtypes(args).unwrap().set_restype(ret).unwrap();
    f
}

#[test]
fn a_structure_one_library_mallocs_is_read_and_freed_by_another() {
    for kind in BackendKind::ALL {
        let (_sb, a, b) = pair(kind);
        let new = function(
            &a,
            "pair_new",
            &[CType::Int, CType::CharP, CType::Double],
            CType::VoidP,
        );
        let take = function(&b, "pair_take", &[CType::VoidP], CType::Double);
        for i in 0..50 {
            let p = new
                .call(&[
                    Value::Int(i),
                    Value::Bytes(b"seven".to_vec()),
                    Value::Float(0.5),
                ])
                .unwrap();
            assert!(
                p.as_int().unwrap_or(0) != 0,
                "{kind}: pair_new returned NULL"
            );
            // weight + id + strlen(name), then libc's free, through the other library.
            assert_eq!(
                take.call(&[p]).unwrap(),
                Value::Float(0.5 + i as f64 + 5.0),
                "{kind}"
            );
        }
    }
}

#[test]
fn an_object_made_before_any_library_is_passed_to_both() {
    for kind in BackendKind::ALL {
        let sb = Sandbox::open(kind, &LoadOptions::default()).unwrap();
        let n = CValue::new(&sb, CType::Int, 40).unwrap();
        // SAFETY: the project's own test libraries, called as their sources declare.
        let a = unsafe { sb.load_unchecked(library("liba", kind)) }.unwrap();
        let b = unsafe { sb.load_unchecked(library("libb", kind)) }.unwrap();
        let a_add = function(&a, "a_add_to", &[CType::VoidP, CType::Int], CType::Int);
        let b_add = function(&b, "b_add_to", &[CType::VoidP, CType::Int], CType::Int);
        assert_eq!(
            a_add.call(&[byref(&n, 0), Value::Int(1)]).unwrap(),
            Value::Int(41)
        );
        assert_eq!(
            b_add.call(&[byref(&n, 0), Value::Int(1)]).unwrap(),
            Value::Int(42)
        );
        assert_eq!(n.value().unwrap(), Value::Int(42), "{kind}");
    }
}

#[test]
fn libc_qsort_sorts_with_a_host_callback() {
    for kind in BackendKind::ALL {
        let sb = Sandbox::open(kind, &LoadOptions::default()).unwrap();
        let values = [5, 1, 7, 33, 99, -3, 0];
        let arr = Array::from_values(&sb, CType::Int, &values.map(Value::from)).unwrap();
        let cmp = CFUNCTYPE(CType::Int, &[CType::VoidP, CType::VoidP]);
        let comparator = Callback::new(&sb, &cmp, |mem, args| {
            let x = mem.get(args[0].as_int().unwrap() as u64, CType::Int)?;
            let y = mem.get(args[1].as_int().unwrap() as u64, CType::Int)?;
            Ok(Value::Int(x.as_int().unwrap() - y.as_int().unwrap()))
        })
        .unwrap();
        let qsort = function(
            &sb,
            "qsort",
            &[CType::VoidP, CType::SizeT, CType::SizeT, CType::VoidP],
            CType::Void,
        );
        let size = sb.sizeof(CType::Int) as i128;
        qsort
            .call(&[
                (&arr).into(),
                Value::Int(7),
                Value::Int(size),
                (&comparator).into(),
            ])
            .unwrap();
        let sorted: Vec<i128> = arr
            .to_vec()
            .unwrap()
            .iter()
            .filter_map(Value::as_int)
            .collect();
        assert_eq!(sorted, vec![-3, 0, 1, 5, 7, 33, 99], "{kind}");
    }
}

#[test]
fn a_pointer_into_one_librarys_static_data_is_read_by_another() {
    for kind in BackendKind::ALL {
        let (_sb, a, b) = pair(kind);
        let motto = function(&a, "a_motto_ptr", &[], CType::VoidP)
            .call(&[])
            .unwrap();
        let counter = function(&a, "a_counter_ptr", &[], CType::VoidP)
            .call(&[])
            .unwrap();
        let b_strlen = function(&b, "b_strlen", &[CType::VoidP], CType::SizeT);
        let b_read = function(&b, "b_read_int", &[CType::VoidP], CType::Int);
        assert_eq!(b_strlen.call(&[motto]).unwrap(), Value::Int(6), "{kind}");
        assert_eq!(b_read.call(&[counter]).unwrap(), Value::Int(7), "{kind}");
        // By name: libb's `extern int a_counter` resolved to liba's at load time.
        let by_name = function(&b, "b_reads_a_counter", &[], CType::Int);
        assert_eq!(by_name.call(&[]).unwrap(), Value::Int(7), "{kind}");
        // And the data symbol itself, in_dll.
        let c = CValue::in_dll(&a, CType::Int, "a_counter").unwrap();
        c.set_value(9).unwrap();
        assert_eq!(by_name.call(&[]).unwrap(), Value::Int(9), "{kind}");
    }
}

#[test]
fn a_function_pointer_of_one_library_is_called_by_another() {
    for kind in BackendKind::ALL {
        let (_sb, a, b) = pair(kind);
        let twice = function(&a, "a_twice", &[], CType::VoidP)
            .call(&[])
            .unwrap();
        let call = function(&b, "b_call", &[CType::VoidP, CType::Int], CType::Int);
        assert_eq!(
            call.call(&[twice, Value::Int(21)]).unwrap(),
            Value::Int(42),
            "{kind}"
        );
    }
}

#[test]
fn strdup_in_one_library_is_freed_by_libc() {
    for kind in BackendKind::ALL {
        let (sb, _a, b) = pair(kind);
        let dup = function(&b, "b_dup", &[CType::CharP], CType::VoidP);
        let free = function(&sb, "free", &[CType::VoidP], CType::Void);
        for _ in 0..100 {
            let p = dup.call(&[Value::Bytes(b"hello".to_vec())]).unwrap();
            assert_eq!(sb.string_at(p.as_int().unwrap() as u64).unwrap(), b"hello");
            free.call(&[p]).unwrap();
        }
    }
}

#[test]
fn libc_by_name_on_both_backends() {
    for kind in BackendKind::ALL {
        // SAFETY: the C library, called as its headers declare.
        let libc = unsafe { CDLL::open(wasmctypes::LIBC, kind) }.unwrap();
        let strlen = function(&libc, "strlen", &[CType::CharP], CType::SizeT);
        assert_eq!(
            strlen.call(&[Value::Bytes(b"hello".to_vec())]).unwrap(),
            Value::Int(5)
        );
    }
}

#[test]
fn objects_of_another_sandbox_are_an_argument_error_but_natively_one_address_space() {
    for kind in BackendKind::ALL {
        let one = Sandbox::open(kind, &LoadOptions::default()).unwrap();
        let two = Sandbox::open(kind, &LoadOptions::default()).unwrap();
        let n = CValue::new(&one, CType::Int, 1).unwrap();
        // SAFETY: the project's own test library.
        let a = unsafe { two.load_unchecked(library("liba", kind)) }.unwrap();
        let add = function(&a, "a_add_to", &[CType::VoidP, CType::Int], CType::Int);
        match (kind, add.call(&[byref(&n, 0), Value::Int(1)])) {
            (BackendKind::Native, Ok(v)) => assert_eq!(v, Value::Int(2)),
            (
                BackendKind::Wasm,
                Err(Error::ArgumentError {
                    position: Some(1), ..
                }),
            ) => {}
            (kind, other) => panic!("{kind}: unexpected {other:?}"),
        }
    }
}

#[test]
fn a_missing_symbol_is_an_oserror_naming_it_and_the_sandbox_stays_usable() {
    for kind in BackendKind::ALL {
        let sb = Sandbox::open(kind, &LoadOptions::default()).unwrap();
        // libb needs liba's a_counter: loaded alone, the link fails as dlopen's would.
        // SAFETY: the project's own test libraries.
        match unsafe { sb.load_unchecked(library("libb", kind)) } {
            Err(Error::OsError { message, .. }) => {
                assert!(
                    message.contains("undefined symbol: a_counter"),
                    "{kind}: {message}"
                )
            }
            other => panic!("{kind}: expected OSError, got {other:?}"),
        }
        let _a = unsafe { sb.load_unchecked(library("liba", kind)) }.unwrap();
        let b = unsafe { sb.load_unchecked(library("libb", kind)) }.unwrap();
        let by_name = function(&b, "b_reads_a_counter", &[], CType::Int);
        assert_eq!(by_name.call(&[]).unwrap(), Value::Int(7), "{kind}");
    }
}

#[test]
fn reset_reloads_every_library_in_order() {
    let sb = Sandbox::new(&LoadOptions::default()).unwrap();
    let a = sb.load(library("liba", BackendKind::Wasm)).unwrap();
    let b = sb.load(library("libb", BackendKind::Wasm)).unwrap();
    let by_name = function(&b, "b_reads_a_counter", &[], CType::Int);
    CValue::in_dll(&a, CType::Int, "a_counter")
        .unwrap()
        .set_value(100)
        .unwrap();
    assert_eq!(by_name.call(&[]).unwrap(), Value::Int(100));
    sb.reset().unwrap();
    assert_eq!(by_name.call(&[]).unwrap(), Value::Int(7));
}

#[test]
fn a_standalone_module_loads_in_a_sandbox_of_its_own() {
    let t = wasmctypes::Toolchain::find().unwrap();
    let dir = tempdir("standalone");
    let out = dir.join("sum_reactor.wasm");
    t.build_reactor(&crate::common::source("sum"), &out)
        .unwrap();
    let lib = CDLL::open_wasm(&out).unwrap();
    let add = function(&lib, "add", &[CType::Int, CType::Int], CType::Int);
    assert_eq!(
        add.call(&[Value::Int(2), Value::Int(3)]).unwrap(),
        Value::Int(5)
    );
    // It cannot join a sandbox with a libc of its own.
    let sb = Sandbox::new(&LoadOptions::default()).unwrap();
    assert!(matches!(sb.load(&out), Err(Error::OsError { .. })));
    let _ = std::fs::remove_dir_all(dir);
}

/// A directory of this test's own (`test` names it): tests run in parallel threads of one
/// process, and one removes its directory when it ends.
fn tempdir(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("wasmctypes-linking-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn errno_after_a_failing_open_in_libc() {
    for kind in BackendKind::ALL {
        let opts = LoadOptions {
            use_errno: true,
            ..LoadOptions::default()
        };
        let sb = Sandbox::open(kind, &opts).unwrap();
        // int open(const char *, int, ...): the mode is its variadic argument.
        let open = function(&sb, "open", &[CType::CharP, CType::Int], CType::Int);
        let path = Value::Bytes(b"/etc/passwd-wasmctypes-missing".to_vec());
        let fd = open.call(&[path, Value::Int(0), Value::Int(0)]).unwrap();
        assert_eq!(fd, Value::Int(-1), "{kind}");
        // Natively ENOENT (2); in the sandbox, which was granted no directory, WASI's
        // ENOTCAPABLE (76): the path is outside every capability, whether or not it exists.
        let errno = match kind {
            BackendKind::Wasm => 76,
            BackendKind::Native => 2,
        };
        assert_eq!(sb.get_errno().unwrap(), errno, "{kind}");
    }
}

#[test]
fn a_trap_in_one_library_is_a_typed_error_and_the_sandbox_stays_usable() {
    let sb = Sandbox::new(&LoadOptions::default()).unwrap();
    let a = sb.load(library("liba", BackendKind::Wasm)).unwrap();
    let hostile = sb.load(built("hostile/divzero").wasm).unwrap();
    let counter = CValue::new(&sb, CType::Int, 1).unwrap();
    let divide = function(&hostile, "divide", &[CType::Int, CType::Int], CType::Int);
    let add = function(&a, "a_add_to", &[CType::VoidP, CType::Int], CType::Int);
    for round in 0..3 {
        match divide.call(&[Value::Int(1), Value::Int(0)]) {
            Err(Error::Trap { kind, .. }) => {
                assert_eq!(kind, wasmctypes::TrapKind::IntegerDivisionByZero)
            }
            other => panic!("expected a trap, got {other:?}"),
        }
        // The other library, libc and the objects made before all still work.
        let want = 2 + round;
        assert_eq!(
            add.call(&[byref(&counter, 0), Value::Int(1)]).unwrap(),
            Value::Int(want)
        );
        let strdup = function(&sb, "strdup", &[CType::CharP], CType::VoidP);
        let p = strdup
            .call(&[Value::Bytes(b"still here".to_vec())])
            .unwrap();
        assert_eq!(
            sb.string_at(p.as_int().unwrap() as u64).unwrap(),
            b"still here"
        );
        function(&sb, "free", &[CType::VoidP], CType::Void)
            .call(&[p])
            .unwrap();
    }
}

#[test]
fn hostile_side_modules_are_oserrors_not_crashes() {
    let dir = tempdir("hostile");
    let sb = Sandbox::new(&LoadOptions::default()).unwrap();
    // A standalone reactor's bytes cut short, and garbage after a wasm header.
    for (name, bytes) in [
        ("empty.wasm", b"\0asm".to_vec()),
        ("garbage.wasm", b"\0asm\x01\0\0\0\xff\xff\xff".to_vec()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        assert!(
            matches!(sb.load(&path), Err(Error::OsError { .. })),
            "{name}"
        );
    }
    // A side module that asks for 3 GiB of data: a MemoryError, no allocation.
    let mut huge = std::fs::read(library("liba", BackendKind::Wasm)).unwrap();
    // dylink.0 is the first section: id 0, size, name, then the mem-info subsection, whose
    // first field (memory size) is a LEB128 right after its own id and size.
    let name = b"dylink.0";
    let at = huge.windows(name.len()).position(|w| w == name).unwrap() + name.len();
    assert_eq!(huge[at], 1, "mem-info subsection");
    let field = at + 2;
    let old_len = huge[field..].iter().position(|b| b & 0x80 == 0).unwrap() + 1;
    let three_gib = [0x80, 0x80, 0x80, 0x80, 0x0c];
    huge.splice(field..field + old_len, three_gib);
    // Fix the lengths of the subsection and the section for the longer field.
    let grow = three_gib.len() - old_len;
    huge[at + 1] += grow as u8;
    huge[9] += grow as u8;
    let path = dir.join("huge.wasm");
    std::fs::write(&path, &huge).unwrap();
    match sb.load(&path) {
        Err(Error::MemoryError(m)) => assert!(m.contains("cannot allocate"), "{m}"),
        other => panic!("expected MemoryError, got {other:?}"),
    }
    // The sandbox is unharmed.
    let a = sb.load(library("liba", BackendKind::Wasm)).unwrap();
    let motto = function(&a, "a_motto_ptr", &[], CType::VoidP)
        .call(&[])
        .unwrap();
    assert_eq!(
        sb.string_at(motto.as_int().unwrap() as u64).unwrap(),
        b"from a"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn loading_a_library_twice_gives_the_same_library_as_dlopen() {
    for kind in BackendKind::ALL {
        let sb = Sandbox::open(kind, &LoadOptions::default()).unwrap();
        // SAFETY: the project's own test library.
        let first = unsafe { sb.load_unchecked(library("liba", kind)) }.unwrap();
        let again = unsafe { sb.load_unchecked(library("liba", kind)) }.unwrap();
        CValue::in_dll(&first, CType::Int, "a_counter")
            .unwrap()
            .set_value(11)
            .unwrap();
        let seen = CValue::in_dll(&again, CType::Int, "a_counter").unwrap();
        assert_eq!(seen.value().unwrap(), Value::Int(11), "{kind}");
    }
}

/// ctypes' `CDLL("libm.so.6")`: natively a bare name that is not a file here is searched for
/// as dlopen searches; in the sandbox nothing outside it is searched, and the name is an
/// `OSError` naming it (the Python package maps `libm` to libc, which contains it).
#[test]
fn a_bare_library_name_is_searched_natively_and_refused_in_the_sandbox() {
    for kind in BackendKind::ALL {
        let sb = Sandbox::open(kind, &LoadOptions::default()).unwrap();
        // SAFETY: the system's math library, called as its header declares.
        match (kind, unsafe { sb.load_unchecked("libm.so.6") }) {
            (BackendKind::Native, Ok(m)) => {
                let cos = function(&m, "cos", &[CType::Double], CType::Double);
                assert_eq!(cos.call(&[Value::Float(0.0)]).unwrap(), Value::Float(1.0));
            }
            (BackendKind::Wasm, Err(e)) => {
                assert_eq!(e.kind(), "OSError");
                assert!(e.to_string().contains("libm.so.6"), "{e}");
            }
            (kind, other) => panic!("{kind}: unexpected {other:?}"),
        }
        // SAFETY: nothing is loaded: the name does not exist.
        let missing = unsafe { sb.load_unchecked("libnowhere.so.9") }.unwrap_err();
        assert_eq!(missing.kind(), "OSError", "{kind}: {missing}");
    }
}
