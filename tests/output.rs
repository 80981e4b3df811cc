//! What C writes to stdout and stderr, captured per call on both backends.
//!
//! Natively the capture redirects the process's fd 1 and fd 2 around the call, so this binary
//! holds a single test: nothing else (such as the test harness reporting another test) writes
//! to those descriptors while a call is captured.

#[path = "it/common.rs"]
mod common;

use common::both_captured as both;
use wasmctypes::{BackendKind, CType, Value};

#[test]
fn stdout_and_stderr_are_captured_per_call() {
    for lib in both("testlib") {
        let mut say = lib.function("say").unwrap();
        say.set_argtypes(&[CType::CharP])
            .unwrap()
            .set_restype(CType::Void)
            .unwrap();
        let _ = lib.take_output();
        say.call(&[b"first".into()]).unwrap();
        let out = lib.take_output();
        assert_eq!(out.stdout, b"first\n", "{}", lib.backend());
        assert_eq!(out.stderr, b"err:first\n", "{}", lib.backend());
        say.call(&[b"second".into()]).unwrap();
        assert_eq!(lib.take_output().stdout, b"second\n");
    }
    for lib in both("greeting") {
        let mut greet = lib.function("greet").unwrap();
        greet.set_restype(CType::Void).unwrap();
        let _ = lib.take_output();
        assert_eq!(greet.call(&[b"World".into()]).unwrap(), Value::None);
        assert_eq!(
            lib.take_output().stdout,
            b"Hello, World!\n",
            "{}",
            lib.backend()
        );
    }
    // myprintf("%d %.2f %s\n", 5, 2.5, "x"): variadic, with the fixed argument declared.
    for lib in both("variadic") {
        let mut printf = lib.function("myprintf").unwrap();
        printf.set_argtypes(&[CType::CharP]).unwrap();
        let _ = lib.take_output();
        let n = printf
            .call(&[
                b"%d %.2f %s\n".into(),
                5.into(),
                Value::typed(CType::Double, 2.5),
                b"x".into(),
            ])
            .unwrap();
        assert_eq!(n, Value::Int(9));
        assert_eq!(lib.take_output().stdout, b"5 2.50 x\n", "{}", lib.backend());
        // An untyped float is an ArgumentError, as in ctypes.
        let e = printf.call(&[b"%f\n".into(), 2.5.into()]).unwrap_err();
        assert_eq!(e.kind(), "ArgumentError");
    }
    typed_and_fast_path_calls_are_captured_and_survive_reset();
    a_flood_of_output_stays_bounded_on_both_backends();
}

/// Part of the single test above: 100 MB written to stdout keep 16 MiB and a note of how much
/// was dropped, natively as in wasm.
fn a_flood_of_output_stays_bounded_on_both_backends() {
    for lib in both("hostile/flood") {
        let mut flood = lib.function("flood").unwrap();
        flood.set_restype(CType::Void).unwrap();
        let _ = lib.take_output();
        flood.call(&[]).unwrap();
        let out = lib.take_output().stdout;
        assert!(
            out.len() <= (16 << 20) + 100,
            "{}: kept {} bytes",
            lib.backend(),
            out.len()
        );
        let tail = String::from_utf8_lossy(&out[out.len() - 80..]).into_owned();
        assert!(
            tail.contains("more bytes dropped"),
            "{}: {tail}",
            lib.backend()
        );
    }
}

/// Part of the single test above: the scalar fast path and the typed call capture too.
fn typed_and_fast_path_calls_are_captured_and_survive_reset() {
    for lib in both("testlib") {
        let kind = lib.backend();
        let mut shout = lib.function("shout").unwrap();
        shout.set_argtypes(&[CType::Int]).unwrap();
        // The first dynamic call prepares; the second takes the fast path; then the typed one.
        for _ in 0..2 {
            assert_eq!(shout.call(&[Value::Int(7)]).unwrap(), Value::Int(14));
            assert_eq!(lib.take_output().stdout, b"7\n", "{kind}");
        }
        let typed = shout.typed::<(i32,), i32>().unwrap();
        assert_eq!(typed.call((8,)).unwrap(), 16);
        assert_eq!(lib.take_output().stdout, b"8\n", "{kind}");
        if kind == BackendKind::Wasm {
            lib.reset().unwrap();
            assert_eq!(typed.call((9,)).unwrap(), 18);
            assert_eq!(shout.call(&[Value::Int(10)]).unwrap(), Value::Int(20));
            assert_eq!(lib.take_output().stdout, b"9\n10\n");
        }
    }
}
