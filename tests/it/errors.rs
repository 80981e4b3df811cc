//! Bad input gets a typed error named after the ctypes exception, never a panic, and the
//! library stays usable afterwards.

use crate::common::{both, open};
use wasmctypes::{BackendKind, CType, Error, TrapKind, Value, CDLL};

#[test]
fn a_missing_file_is_an_os_error_with_the_path() {
    for kind in BackendKind::ALL {
        let path = format!("/nonexistent/{}", kind.file_name("nothing"));
        let e = crate::common::load(&path, kind).unwrap_err();
        assert!(
            matches!(&e, Error::OsError { path: p, .. } if p == std::path::Path::new(&path)),
            "{e}"
        );
    }
}

#[test]
fn a_file_of_the_wrong_kind_is_an_os_error() {
    let dir = std::env::temp_dir().join(format!("wasmctypes-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.bin");
    std::fs::write(&junk, b"this is not a library").unwrap();
    for kind in BackendKind::ALL {
        let e = crate::common::load(&junk, kind).unwrap_err();
        assert!(
            matches!(&e, Error::OsError { path, .. } if *path == junk),
            "{kind}: {e}"
        );
    }
    // Each backend refuses the other's file.
    let built = crate::common::built("testlib");
    assert_eq!(
        CDLL::open_wasm(&built.native).unwrap_err().kind(),
        "OSError"
    );
    assert_eq!(
        crate::common::load(&built.wasm, BackendKind::Native)
            .unwrap_err()
            .kind(),
        "OSError"
    );
    // A wasm header with a broken body.
    let broken = dir.join("broken.wasm");
    std::fs::write(&broken, b"\0asm\x01\0\0\0\x99garbage").unwrap();
    assert_eq!(CDLL::open_wasm(&broken).unwrap_err().kind(), "OSError");
}

#[test]
fn a_missing_symbol_is_an_attribute_error_naming_symbol_and_library() {
    for lib in both("testlib") {
        let e = lib.function("no_such_function").unwrap_err();
        assert!(matches!(e, Error::AttributeError { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("no_such_function") && text.contains("testlib"),
            "{text}"
        );
        assert_eq!(
            lib.function("add")
                .unwrap()
                .call(&[1.into(), 2.into()])
                .unwrap(),
            Value::Int(3)
        );
    }
}

fn trap_kind(lib: &CDLL, name: &str, args: &[Value], restype: CType) -> TrapKind {
    let mut f = lib.function(name).unwrap();
    f.set_restype(restype).unwrap();
    match f.call(args) {
        Err(Error::Trap {
            kind, backtrace, ..
        }) => {
            assert!(
                backtrace.contains(name),
                "backtrace names {name}: {backtrace}"
            );
            kind
        }
        other => panic!("{name}: expected a trap, got {other:?}"),
    }
}

#[test]
fn guest_traps_are_typed_errors_and_the_library_stays_usable() {
    let lib = open("testlib", BackendKind::Wasm);
    assert_eq!(
        trap_kind(&lib, "divide", &[1.into(), 0.into()], CType::Int),
        TrapKind::IntegerDivisionByZero
    );
    assert_eq!(
        trap_kind(&lib, "divide", &[i32::MIN.into(), (-1).into()], CType::Int),
        TrapKind::IntegerOverflow
    );
    assert_eq!(
        trap_kind(&lib, "crash_unreachable", &[], CType::Void),
        TrapKind::Unreachable
    );
    assert_eq!(
        trap_kind(&lib, "deref", &[Value::Int(0x7fff_fff0)], CType::Int),
        TrapKind::MemoryOutOfBounds
    );
    assert_eq!(
        lib.function("add")
            .unwrap()
            .call(&[2.into(), 2.into()])
            .unwrap(),
        Value::Int(4)
    );
}

#[test]
fn repeated_traps_do_not_leak_the_guest_stack() {
    let lib = open("testlib", BackendKind::Wasm);
    // Each trap abandons a 4 KiB frame; without restoring the stack pointer, 100 of them would
    // run through the 64 KiB shadow stack into the data below it.
    for i in 0..100 {
        assert_eq!(
            trap_kind(&lib, "trap_with_frame", &[Value::Int(i)], CType::Int),
            TrapKind::Unreachable
        );
    }
    let mut hello = lib.function("hello").unwrap();
    hello.set_restype(CType::CharP).unwrap();
    assert_eq!(
        hello.call(&[]).unwrap(),
        Value::Bytes(b"hello from C".to_vec())
    );
}

#[test]
fn a_host_access_outside_guest_memory_is_an_error() {
    let lib = open("testlib", BackendKind::Wasm);
    let e = lib.read(u32::MAX as u64 - 2, 16).unwrap_err();
    assert_eq!(e.kind(), "OutOfBounds", "{e}");
    assert_eq!(lib.write(1 << 40, b"x").unwrap_err().kind(), "OutOfBounds");
    assert_eq!(lib.string_at(0).unwrap_err().kind(), "ValueError");
    // Still usable.
    assert_eq!(
        lib.function("add")
            .unwrap()
            .call(&[2.into(), 3.into()])
            .unwrap(),
        Value::Int(5)
    );
}

#[test]
fn a_prototype_that_contradicts_the_wasm_signature_is_refused() {
    let lib = open("testlib", BackendKind::Wasm);
    let mut f = lib.function("add").unwrap();
    f.set_argtypes(&[CType::Double, CType::Int]).unwrap();
    let e = f.call(&[Value::Float(1.0), 2.into()]).unwrap_err();
    assert_eq!(e.kind(), "TypeError", "{e}");
    // A void function called with the default c_int restype (ctypes' tutorial calls `qsort`
    // so) is not refused: natively it returns what the register held, in wasm 0.
    let r = lib.function("noop").unwrap().call(&[]).unwrap();
    assert_eq!(r, Value::Int(0));
    // A result the function does not have in another type is refused, and names restype.
    let mut f = lib.function("noop").unwrap();
    f.set_restype(CType::Double).unwrap();
    let e = f.call(&[]).unwrap_err();
    assert!(e.to_string().contains("restype"), "{e}");
    // Wrong count without argtypes: the wasm signature knows better. A count is ctypes'
    // TypeError, as in "this function takes at least 2 arguments (1 given)".
    let e = lib.function("add").unwrap().call(&[1.into()]).unwrap_err();
    assert!(matches!(e, Error::TypeError(_)), "{e}");
}
