//! The differential runner over guest-c/divergence/corpus.c: native crashes are outcomes, and
//! every difference gets the class its evidence shows.

use std::process::Command;

use crate::common::built;
use wasmctypes::tools::differential::{run_all, Outcome};
use wasmctypes::TrapKind;

#[test]
fn every_test_gets_its_verdict_and_native_crashes_do_not_stop_the_runner() {
    let b = built("divergence/corpus");
    // SAFETY: the corpus is this project's own C.
    let report = unsafe { run_all(&b.wasm, &b.native, true) }.unwrap();
    let verdict = |name: &str| {
        report
            .tests
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name} was not run"))
    };
    let expected = [
        ("test_add", "same"),
        ("test_printf", "same"),
        ("test_qsort", "same"),
        ("test_float_math", "same"),
        ("test_long_overflow", "data-model"),
        ("test_sizeof_long", "data-model"),
        ("test_size_t_wrap", "data-model"),
        ("test_pointer_to_int", "data-model"),
        ("test_buffer_overflow", "sandbox-caught"),
        ("test_stack_overflow_silent", "sandbox-caught"),
        ("test_abort", "sandbox-caught"),
        ("test_null_function", "sandbox-caught"),
        ("test_null_read", "native-caught"),
        ("test_null_write", "native-caught"),
        ("test_nan_sign", "float"),
        ("test_clock", "environment"),
        ("test_random", "environment"),
        ("test_uninitialised_read", "unexplained"),
    ];
    for (name, v) in expected {
        let t = verdict(name);
        assert_eq!(
            t.verdict(),
            v,
            "{name}: wasm {:?} native {:?}",
            t.wasm.outcome,
            t.native.outcome
        );
        assert!(!t.mismatched(), "{name} declared {:?}", t.expected);
    }
    // The NULL read: the sandbox did not catch it (address 0 is ordinary memory in wasm).
    assert!(matches!(
        verdict("test_null_read").wasm.outcome,
        Outcome::Returned(_)
    ));
    assert!(
        matches!(verdict("test_null_read").native.outcome, Outcome::Signal(s) if s == libc::SIGSEGV)
    );
    // The overflow that corrupts native memory silently: native returns, wasm traps.
    let silent = verdict("test_stack_overflow_silent");
    assert!(matches!(silent.native.outcome, Outcome::Returned(_)));
    assert!(
        matches!(
            silent.wasm.outcome,
            Outcome::Trapped(TrapKind::MemoryOutOfBounds, _)
        ),
        "{:?}",
        silent.wasm.outcome
    );
    assert!(report.tests.len() >= 22);
    assert_eq!(report.unexplained(), 0);
}

#[test]
fn the_cli_prints_the_table_and_exits_by_the_unexplained_count() {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/guest-c/divergence/corpus.c");
    let o = Command::new(env!("CARGO_BIN_EXE_wasmctypes"))
        .args(["diff", corpus])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("signal SIGSEGV"), "{text}");
    assert!(text.contains("0 unexplained"), "{text}");
    let o = Command::new(env!("CARGO_BIN_EXE_wasmctypes"))
        .args(["diff", corpus, "--json"])
        .output()
        .unwrap();
    let last: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["summary"]["unexplained"], 0);
    assert_eq!(
        last["summary"]["same"].as_u64().unwrap() + last["summary"]["differ"].as_u64().unwrap(),
        22
    );
    // A library with an undeclared difference fails.
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let src = dir.join("undeclared.c");
    std::fs::write(&src, "long long test_ptr(void) { return (long long)sizeof(char *) * 3 + 1; }\nint test_weird(void) { static int n; return n++ ? 0 : 7 + (int)sizeof(void *); }\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_wasmctypes"))
        .args(["diff"])
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn a_single_symbol_diff_reports_a_native_crash_instead_of_dying() {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/guest-c/divergence/corpus.c");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wasmctypes"))
            .arg("diff")
            .arg(corpus)
            .args(args)
            .output()
            .unwrap()
    };
    for flags in [&[][..], &["--isolate"][..]] {
        let o = run(&[&["test_null_read"][..], flags].concat());
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(text.contains("signal SIGSEGV"), "{text}");
    }
    // A call that returns is made in-process for the report, with or without isolation.
    for flags in [&[][..], &["--no-isolate"][..]] {
        let o = run(&[&["test_add"][..], flags].concat());
        assert_eq!(o.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&o.stdout).contains("same on both backends"));
    }
    // Without isolation the crash takes the process down, as in ctypes.
    let o = run(&["test_null_read", "--no-isolate"]);
    assert_eq!(o.status.code(), None, "killed by a signal");
}
