//! The differential runner over guest-c/divergence/corpus.c: native crashes are outcomes, and
//! every difference gets the class its evidence shows.

use std::process::Command;

use crate::common::built;
use wasmctypes::tools::differential::{run_all, DiffOptions, Isolation, Outcome};
use wasmctypes::TrapKind;

#[test]
fn every_test_gets_its_verdict_and_native_crashes_do_not_stop_the_runner() {
    let b = built("divergence/corpus");
    let options = DiffOptions {
        isolation: Isolation::Workers(env!("CARGO_BIN_EXE_wasmctypes").into()),
        jobs: 2,
        ..DiffOptions::default()
    };
    // SAFETY: the corpus is this project's own C.
    let report = unsafe { run_all(&b.wasm, &b.native, &options) }.unwrap();
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

fn diff(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wasmctypes"))
        .arg("diff")
        .args(args)
        .output()
        .unwrap()
}

fn verdicts(o: &std::process::Output) -> Vec<(String, String, String)> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("test").is_some())
        .map(|v| {
            (
                v["test"].as_str().unwrap().to_string(),
                v["native"]["outcome"].as_str().unwrap().to_string(),
                v["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A native test that never returns is a `timeout` after `--timeout`, one that crashes is its
/// signal, and the tests after both still run (their worker is replaced).
#[test]
fn a_native_hang_is_a_timeout_and_a_crash_a_signal_and_the_run_goes_on() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/guest-c/divergence/hangs.c");
    let o = diff(&[src, "--json", "--timeout", "1s", "-j", "1"]);
    let v = verdicts(&o);
    let outcome = |name: &str| v.iter().find(|t| t.0 == name).map(|t| t.1.clone());
    for (name, want) in [
        ("test_before", "returned 1"),
        ("test_loops_natively", "timeout"),
        ("test_crashes_natively", "signal SIGSEGV"),
        ("test_after", "returned 3"),
    ] {
        assert_eq!(outcome(name).as_deref(), Some(want), "{name}: {v:?}");
    }
}

/// `--shard 1/2` and `--shard 2/2` split the corpus without overlap, and `-j 2` gives the same
/// verdicts as `-j 1`.
#[test]
fn shards_split_a_corpus_and_jobs_do_not_change_verdicts() {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/guest-c/divergence/corpus.c");
    let all = verdicts(&diff(&[corpus, "--json", "-j", "1"]));
    let parallel = verdicts(&diff(&[corpus, "--json", "-j", "2"]));
    let names = |v: &[(String, String, String)]| v.iter().map(|t| t.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&all), names(&parallel));
    let verdict_of = |v: &[(String, String, String)]| {
        v.iter()
            .map(|t| (t.0.clone(), t.2.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(verdict_of(&all), verdict_of(&parallel));
    let one = verdicts(&diff(&[corpus, "--json", "--shard", "1/2"]));
    let two = verdicts(&diff(&[corpus, "--json", "--shard", "2/2"]));
    let mut joined = names(&one);
    joined.extend(names(&two));
    joined.sort();
    let mut every = names(&all);
    every.sort();
    assert_eq!(joined, every);
    assert!(!one.is_empty() && !two.is_empty());
    assert_eq!(diff(&[corpus, "--shard", "3/2"]).status.code(), Some(2));
}

/// Killing the runner kills its workers: no native code is left spinning.
#[test]
fn workers_die_with_the_runner() {
    // A copy under a name of its own, so that no other test's workers are counted.
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("orphans");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("orphaned_hangs.c");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/guest-c/divergence/hangs.c"),
        &src,
    )
    .unwrap();
    let mut runner = Command::new(env!("CARGO_BIN_EXE_wasmctypes"))
        .args(["diff", src.to_str().unwrap(), "--timeout", "60s", "-j", "1"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let workers = || -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| {
                        let c = String::from_utf8_lossy(&c).into_owned();
                        c.contains("__worker") && c.contains("liborphaned_hangs.so")
                    })
                    .unwrap_or(false)
            })
            .filter(|pid| {
                // A zombie is already dead.
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|s| !s.contains(") Z "))
                    .unwrap_or(false)
            })
            .collect()
    };
    let start = std::time::Instant::now();
    while workers().is_empty() && start.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let spinning = workers();
    assert!(!spinning.is_empty(), "no worker started");
    runner.kill().unwrap();
    runner.wait().unwrap();
    let start = std::time::Instant::now();
    while !workers().is_empty() && start.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(workers().is_empty(), "workers left behind: {:?}", workers());
}
