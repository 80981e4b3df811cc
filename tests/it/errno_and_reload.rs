//! errno (ctypes' use_errno, get_errno, set_errno) and unloading and reloading a library, on
//! both backends.

use crate::common::{built, open_with};
use wasmctypes::{BackendKind, CType, CValue, LoadOptions, Value, CDLL};

fn with_errno(kind: BackendKind) -> CDLL {
    open_with(
        "variadic",
        kind,
        LoadOptions {
            use_errno: true,
            ..LoadOptions::default()
        },
    )
}

#[test]
fn errno_set_by_c_is_read_by_the_host_and_the_reverse() {
    for kind in BackendKind::ALL {
        let lib = with_errno(kind);
        let fail = lib.function("fail_with").unwrap();
        assert_eq!(fail.call(&[Value::Int(34)]).unwrap(), Value::Int(-1));
        assert_eq!(lib.get_errno().unwrap(), 34, "{kind}");
        // A libc function sets it too: strtol of an out-of-range number is ERANGE, whose
        // number is each libc's own (34 in glibc, 68 in wasi-libc).
        let Value::Int(erange) = lib.function("erange").unwrap().call(&[]).unwrap() else {
            panic!()
        };
        assert_eq!(erange, if kind == BackendKind::Wasm { 68 } else { 34 });
        let mut parse = lib.function("parse_long").unwrap();
        parse
            .set_argtypes(&[CType::CharP])
            .unwrap()
            .set_restype(CType::Long)
            .unwrap();
        parse.call(&[b"99999999999999999999999".into()]).unwrap();
        assert_eq!(lib.get_errno().unwrap() as i128, erange, "ERANGE on {kind}");
        // The host sets the private copy; C sees it at the next call.
        assert_eq!(lib.set_errno(7).unwrap() as i128, erange);
        let read = lib.function("read_errno").unwrap();
        assert_eq!(read.call(&[]).unwrap(), Value::Int(7), "{kind}");
        // Without use_errno there is no private copy.
        let plain = crate::common::open("variadic", kind);
        assert_eq!(plain.get_errno().unwrap_err().kind(), "TypeError");
    }
}

/// ctypes' use_errno is per function (`CDLL(name, use_errno=...)`): a function without it
/// leaves the private copy as it was, and C's errno is not set from it.
#[test]
fn a_function_without_use_errno_leaves_the_private_copy_alone() {
    for kind in BackendKind::ALL {
        let lib = with_errno(kind);
        let mut fail = lib.function("fail_with").unwrap();
        assert!(fail.use_errno(), "the library's option is the default");
        fail.set_argtypes(&[CType::Int]).unwrap();
        fail.set_use_errno(false).unwrap();
        lib.set_errno(5).unwrap();
        // Twice: the first call prepares, the second takes the fast path.
        for _ in 0..2 {
            assert_eq!(fail.call(&[Value::Int(34)]).unwrap(), Value::Int(-1));
            assert_eq!(lib.get_errno().unwrap(), 5, "{kind}");
        }
        fail.set_use_errno(true).unwrap();
        fail.call(&[Value::Int(34)]).unwrap();
        assert_eq!(lib.get_errno().unwrap(), 34, "{kind}");
        // Without the library's use_errno there is no private copy to swap with.
        let plain = crate::common::open("variadic", kind);
        let mut f = plain.function("fail_with").unwrap();
        assert_eq!(f.set_use_errno(true).unwrap_err().kind(), "TypeError");
    }
}

#[test]
fn a_library_can_be_dropped_and_reloaded() {
    let b = built("reload");
    for (kind, path) in [
        (BackendKind::Wasm, &b.wasm),
        (BackendKind::Native, &b.native),
    ] {
        let lib = crate::common::load(path, kind).unwrap();
        let bump = lib.function("bump").unwrap();
        assert_eq!(bump.call(&[]).unwrap(), Value::Int(101));
        assert_eq!(bump.call(&[]).unwrap(), Value::Int(102));
        drop(bump);
        drop(lib);
        // Unloaded: a fresh load starts from the initial data again.
        let again = crate::common::load(path, kind).unwrap();
        assert_eq!(
            CValue::in_dll(&again, CType::Int, "counter")
                .unwrap()
                .value()
                .unwrap(),
            Value::Int(100),
            "{kind}"
        );
        assert_eq!(
            again.function("bump").unwrap().call(&[]).unwrap(),
            Value::Int(101)
        );
    }
}
