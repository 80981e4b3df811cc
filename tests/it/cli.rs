//! The `wasmctypes` command, driven from the outside as a user would, on both backends.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The seed examples built once into a directory of this test run.
fn guest_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-guests");
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmctypes"));
        cmd.arg("build").arg("--out").arg(&dir);
        for seed in ["greeting", "sum", "upper", "dupstr", "testlib"] {
            cmd.arg(root.join("guest-c").join(format!("{seed}.c")));
        }
        let out = cmd.output().expect("run wasmctypes build");
        assert!(
            out.status.success(),
            "build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasmctypes"))
        .args(args)
        .arg("--lib-dir")
        .arg(guest_dir())
        .env_remove("WASMCTYPES_BACKEND")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run wasmctypes")
}

/// `wasmctypes build --out OUT SOURCE`, to be given more arguments or an environment.
fn build(out: &std::path::Path, source: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmctypes"));
    cmd.args(["build", "--out"]).arg(out).arg(source);
    cmd
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn on_both(args: &[&str]) -> Vec<Output> {
    ["wasm", "native"]
        .iter()
        .map(|b| {
            let mut a = args.to_vec();
            a.extend(["--backend", b]);
            run(&a)
        })
        .collect()
}

#[test]
fn greet_prints_hello_then_none_on_both_backends() {
    for o in on_both(&["call", "greeting", "greet", "World", "--restype", "void"]) {
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), "Hello, World!\n-> None\n");
    }
}

#[test]
fn sum_of_an_array_is_six_on_both_backends() {
    for o in on_both(&["call", "sum", "our_function", "3", "c_int[]:1,2,3"]) {
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(text.starts_with("-> 6\n"), "{text}");
        assert!(text.contains("c_int[]: [1, 2, 3]"), "{text}");
    }
}

#[test]
fn upper_shows_the_buffer_raw_and_value() {
    for o in on_both(&[
        "call",
        "upper",
        "upper",
        "buf:abc123",
        "6",
        "--restype",
        "void",
    ]) {
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(
            text.contains(r"raw=b'ABC123\x00' value=b'ABC123'"),
            "{text}"
        );
    }
    for o in on_both(&[
        "call",
        "upper",
        "upper",
        "buf:abc123",
        "6",
        "--restype",
        "void",
        "--json",
    ]) {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["args"][0]["raw"], r"b'ABC123\x00'");
        assert_eq!(v["args"][0]["value"], "b'ABC123'");
        assert_eq!(v["args"][0]["type"], "buf");
        assert_eq!(v["return"], serde_json::Value::Null);
        assert_eq!(v["symbol"], "upper");
    }
}

#[test]
fn json_reports_return_stdout_and_char_p_as_python_bytes() {
    for (o, backend) in on_both(&[
        "call",
        "testlib",
        "hello",
        "--restype",
        "c_char_p",
        "--json",
    ])
    .iter()
    .zip(["wasm", "native"])
    {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["return"], "b'hello from C'");
        assert_eq!(v["backend"], backend);
    }
    for o in on_both(&[
        "call",
        "greeting",
        "greet",
        r"a\x41b",
        "--restype",
        "void",
        "--json",
    ]) {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["stdout"], "Hello, aAb!\n");
    }
}

#[test]
fn diff_agrees_on_greet_and_shows_the_data_model() {
    let o = run(&["diff", "greeting", "greet", "World", "--restype", "void"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("c_long and pointers are 4 bytes sandboxed"),
        "{text}"
    );
    assert!(text.contains("and 8 bytes native"), "{text}");
}

#[test]
fn diff_exits_one_when_the_backends_differ() {
    let o = run(&[
        "diff",
        "testlib",
        "sizeof_long",
        "--restype",
        "c_size_t",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["wasm"]["return"], 4);
    assert_eq!(v["native"]["return"], 8);
    assert_eq!(v["same"], false);
    let o = run(&["diff", "nonexistent", "f"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn inspect_lists_signatures_data_memory_table_and_data_model() {
    let o = run(&["inspect", "testlib"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("add (i32, i32) -> i32"), "{text}");
    assert!(text.contains("sizeof(c_long)=4"), "{text}");
    assert!(text.contains("memory: "), "{text}");
    assert!(text.contains("table: __indirect_function_table"), "{text}");
    let o = run(&["inspect", "testlib", "--backend", "native"]);
    assert!(stdout(&o).contains("sizeof(c_long)=8"), "{}", stdout(&o));
}

/// Every error class: one clear line, its JSON kind, exit 2, no panic, no backtrace.
#[test]
fn each_error_class_is_one_clear_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["call", "no_such_lib", "f"], "OSError"),
        (&["call", "/tmp/does/not/exist.wasm", "f"], "OSError"),
        (&["call", "sum", "no_such_symbol"], "AttributeError"),
        (&["call", "sum", "add", "1", "2.5"], "ArgumentError"),
        (
            &["call", "sum", "add", "c_int:1", "c_int:x"],
            "ArgumentError",
        ),
    ];
    for (args, kind) in cases {
        for backend in ["wasm", "native"] {
            let mut a = args.to_vec();
            a.extend(["--backend", backend]);
            let o = run(&a);
            assert_eq!(o.status.code(), Some(2), "{a:?}");
            let err = stderr(&o);
            assert_eq!(err.lines().count(), 1, "{a:?}: {err}");
            assert!(err.starts_with(&format!("error: {kind}: ")), "{a:?}: {err}");
            assert!(
                !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
                "{err}"
            );
            a.push("--json");
            let o = run(&a);
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(v["error"]["kind"], *kind, "{a:?}");
            assert_eq!(o.status.code(), Some(2));
        }
    }
    // A guest trap, sandboxed: its kind and message.
    let o = run(&["call", "testlib", "divide", "1", "0", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "IntegerDivisionByZero");
    let o = run(&["call", "testlib", "divide", "1", "0"]);
    assert!(
        stderr(&o).starts_with("error: Trap: IntegerDivisionByZero:"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn build_reports_compiler_errors_with_the_compilers_message() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad-c");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("broken.c");
    std::fs::write(&src, "int f(void) { return undefined_name; }\n").unwrap();
    let o = build(&dir, &src).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("CompileError") && err.contains("undefined_name"),
        "{err}"
    );
}

#[test]
fn a_c_file_is_built_on_demand() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guest-c/sum.c");
    for o in on_both(&["call", src.to_str().unwrap(), "add", "20", "22"]) {
        assert_eq!(stdout(&o), "-> 42\n", "{}", stderr(&o));
    }
}

/// `-O` reaches both compilers (the outputs of `-O0` and `-O2` differ on both sides), a C
/// file built on demand at another level is another cache entry with the same results, and a
/// level the compilers do not have is a usage error.
#[test]
fn the_optimisation_level_reaches_both_compilers() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guest-c/sum.c");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("opt-levels");
    let mut built = Vec::new();
    for level in ["0", "2"] {
        let dir = out.join(level);
        let o = build(&dir, &src).args(["-O", level]).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
        built.push((read("sum.wasm"), read("libsum.so")));
    }
    assert_ne!(
        built[0].0, built[1].0,
        "the wasm builds of -O0 and -O2 are the same"
    );
    assert_ne!(
        built[0].1, built[1].1,
        "the native builds of -O0 and -O2 are the same"
    );
    for level in ["0", "s"] {
        for o in on_both(&[
            "call",
            src.to_str().unwrap(),
            "add",
            "20",
            "22",
            "-O",
            level,
        ]) {
            assert_eq!(stdout(&o), "-> 42\n", "{}", stderr(&o));
        }
    }
    let o = run(&["call", src.to_str().unwrap(), "add", "1", "2", "-O", "9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("expected 0, 1, 2, 3, s or z"),
        "{}",
        stderr(&o)
    );
}

/// Without `$CC` the host side is built by the clang that builds the modules, so that both
/// sides come from one compiler; `$CC` picks another. The shared object's `.comment` section
/// names the compiler that made it.
#[test]
fn both_sides_are_built_by_one_clang_unless_cc_says_otherwise() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guest-c/sum.c");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("host-compiler");
    let built_by = |cc: Option<&str>| {
        let dir = out.join(cc.unwrap_or("default"));
        let mut cmd = build(&dir, &src);
        cmd.env_remove("WASI_SDK_PATH").env_remove("CC_WASM");
        match cc {
            Some(cc) => cmd.env("CC", cc),
            None => cmd.env_remove("CC"),
        };
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let so = std::fs::read(dir.join("libsum.so")).unwrap();
        let text = String::from_utf8_lossy(&so).into_owned();
        text.contains("clang version 19")
    };
    assert!(built_by(None), "the default host build is not clang 19's");
    assert!(!built_by(Some("gcc")), "CC=gcc did not pick gcc");
}

#[test]
fn bench_reports_median_and_min_per_call_as_json_on_both_backends() {
    for (o, backend) in on_both(&[
        "bench",
        "sum",
        "our_function",
        "3",
        "c_int[]:1,2,3",
        "--json",
        "--iterations",
        "200",
    ])
    .iter()
    .zip(["wasm", "native"])
    {
        assert!(o.status.success(), "{}", stderr(o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["backend"], backend);
        assert_eq!(v["symbol"], "our_function");
        assert_eq!(v["iterations"], 200);
        let (median, min) = (
            v["ns_per_call_median"].as_f64().unwrap(),
            v["ns_per_call_min"].as_f64().unwrap(),
        );
        assert!(min > 0.0 && min <= median, "{v}");
    }
}

/// Every hostile guest ends in its own JSON `error.kind`, exit status 2, and the host lives.
#[test]
fn hostile_guests_end_in_their_typed_errors() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guest-c/hostile");
    let h = |f: &str| root.join(f).display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                h("loop.c"),
                "spin".into(),
                "--restype".into(),
                "void".into(),
                "--timeout".into(),
                "1s".into(),
            ],
            "Timeout",
        ),
        (
            vec![
                h("loop.c"),
                "spin".into(),
                "--restype".into(),
                "void".into(),
                "--fuel".into(),
                "1000000".into(),
            ],
            "OutOfFuel",
        ),
        (
            vec![
                h("membomb.c"),
                "bomb".into(),
                "--max-memory".into(),
                "16MiB".into(),
            ],
            "MemoryLimit",
        ),
        (
            vec![h("recursion.c"), "recurse".into(), "0".into()],
            "StackOverflow",
        ),
        (
            vec![
                h("oob.c"),
                "oob_store".into(),
                "--restype".into(),
                "void".into(),
            ],
            "MemoryOutOfBounds",
        ),
        (
            vec![h("divzero.c"), "divide".into(), "1".into(), "0".into()],
            "IntegerDivisionByZero",
        ),
        (
            vec![
                h("abort.c"),
                "do_abort".into(),
                "--restype".into(),
                "void".into(),
            ],
            "Unreachable",
        ),
        (
            vec![
                h("abort.c"),
                "do_exit".into(),
                "--restype".into(),
                "void".into(),
            ],
            "GuestExit",
        ),
        (
            vec![h("nullfn.c"), "call_null".into()],
            "IndirectCallToNull",
        ),
    ];
    for (args, kind) in cases {
        let mut a: Vec<&str> = vec!["call"];
        a.extend(args.iter().map(String::as_str));
        a.push("--json");
        let o = run(&a);
        assert_eq!(o.status.code(), Some(2), "{a:?}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["error"]["kind"], kind, "{a:?}");
    }
    let o = run(&["call", &h("abort.c"), "do_exit", "--restype", "void"]);
    assert_eq!(
        stderr(&o).lines().next(),
        Some("error: Trap: GuestExit: guest called exit(3)")
    );
    let o = run(&["call", &h("flood.c"), "flood", "--restype", "void"]);
    assert!(o.status.success());
    assert!(o.stdout.len() < (17 << 20), "{} bytes", o.stdout.len());
}

#[test]
fn a_second_load_comes_from_the_module_cache() {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("module-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let wasm = guest_dir().join("greeting.wasm");
    let load = || {
        let o = Command::new(env!("CARGO_BIN_EXE_wasmctypes"))
            .args(["inspect", "--json"])
            .arg(&wasm)
            .env("WASMCTYPES_CACHE_DIR", &cache)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["load"]["source"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(load(), "compiled");
    assert_eq!(load(), "disk cache");
}

#[test]
fn sandbox_flags_grant_env_and_directories() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guest-c/sandbox.c");
    let src = src.to_str().unwrap();
    let o = run(&[
        "call",
        src,
        "get_env",
        "c_char_p:GREETING",
        "--restype",
        "c_char_p",
        "--env",
        "GREETING=hi",
    ]);
    assert_eq!(stdout(&o), "-> b'hi'\n", "{}", stderr(&o));
    let o = run(&["call", src, "first_byte", "c_char_p:/etc/passwd"]);
    assert!(stdout(&o).starts_with("-> -"), "denied: {}", stdout(&o));
    let o = run(&[
        "call",
        src,
        "first_byte",
        "c_char_p:/etc/passwd",
        "--dir",
        "/etc::/etc:ro",
    ]);
    assert!(!stdout(&o).starts_with("-> -"), "granted: {}", stdout(&o));
    let a = run(&["call", src, "seconds_now", "--restype", "c_longlong"]);
    assert_eq!(stdout(&a), "-> 946684800\n");
    let b = run(&[
        "call",
        src,
        "seconds_now",
        "--restype",
        "c_longlong",
        "--real-clock",
    ]);
    assert_ne!(stdout(&b), stdout(&a));
    // 0.0 / 0.0 has the canonical NaN's bits, unless the flag gives the host CPU's.
    let nan = |extra: &[&str]| {
        let mut args = vec!["call", src, "nan_bits", "--restype", "c_ulonglong"];
        args.extend_from_slice(extra);
        stdout(&run(&args))
    };
    assert_eq!(nan(&[]), format!("-> {}\n", 0x7ff8_0000_0000_0000u64));
    if cfg!(target_arch = "x86_64") {
        assert_eq!(
            nan(&["--no-canonical-nans"]),
            format!("-> {}\n", 0xfff8_0000_0000_0000u64)
        );
    }
}

/// `--json` holds for every error, usage errors included; sizes and numbers never wrap.
#[test]
fn every_error_follows_json_and_numbers_never_wrap() {
    let json = |o: &Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {} / {}", stdout(o), stderr(o)))
    };
    for (args, kind) in [
        (&["diff", "/nonexistent.so", "--json"][..], "OSError"),
        (&["call", "sum", "--json"][..], "TypeError"),
        (&["call", "--json"][..], "UsageError"),
        // The library's output goes in the object: --inherit-stdio would put it beside.
        (
            &[
                "call",
                "greeting",
                "greet",
                "W",
                "--json",
                "--inherit-stdio",
            ][..],
            "UsageError",
        ),
        (
            &["bench", "sum", "add", "--repeats", "0", "--json"][..],
            "UsageError",
        ),
        (
            &[
                "call",
                "sum",
                "add",
                "buf:18446744073709551632",
                "1",
                "--json",
            ][..],
            "ArgumentError",
        ),
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(json(&o)["error"]["kind"], kind, "{args:?}");
    }
    let o = run(&[
        "call",
        "sum",
        "add",
        "buf:18446744073709551632",
        "1",
        "--json",
    ]);
    assert!(json(&o)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("OverflowError"));
    // ctypes: c_bool(2).value is True, c_int(2**32).value is 0.
    for o in on_both(&[
        "call",
        "testlib",
        "add",
        "c_bool:2",
        "c_int:4294967296",
        "--json",
    ]) {
        let v = json(&o);
        assert_eq!(v["args"][0]["value"], true);
        assert_eq!(v["args"][1]["value"], 0);
        assert_eq!(v["return"], 1);
    }
}

/// A host allocation that fails is a MemoryError and exit 2, never an abort with a Rust
/// backtrace: natively a 2.5 GB buffer fits the C heap, but not its host copy, under a 4 GB
/// address-space limit.
#[test]
fn a_failed_host_allocation_is_a_memory_error_not_an_abort() {
    let lib = guest_dir().join("libsum.so");
    let o = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4000000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_wasmctypes"))
        .args(["call", lib.to_str().unwrap(), "add", "buf:2500000000", "1"])
        .args(["--backend", "native"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("error: MemoryError:"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked") && !stderr(&o).contains("memory allocation of"));
}

/// What a library's initialiser prints is reported with the first call, on both backends: in
/// wasm it was dropped, natively it landed in front of the JSON document.
#[test]
fn an_initialisers_output_is_reported_not_lost_or_in_front_of_json() {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guest-c/initialiser.c");
    for o in on_both(&["call", source.to_str().unwrap(), "seven", "--json"]) {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: the whole stdout is not one JSON document: {}",
                stdout(&o)
            )
        });
        assert_eq!(v["stdout"], "loaded\ncalled\n", "{}", v["backend"]);
        assert_eq!(v["return"], 7);
    }
}

/// An N-byte buffer costs about 2×N of host memory on either backend (the buffer and one copy
/// read back), and is reported by its length and a prefix unless `--full` asks for all of it.
#[test]
fn a_large_buffer_is_bounded_in_memory_and_shortened_in_reports() {
    let n: u64 = 100_000_000;
    for backend in ["wasm", "native"] {
        // Reaped below by wait4, which also gives this child's own peak memory.
        #[allow(clippy::zombie_processes)]
        let mut child = Command::new(env!("CARGO_BIN_EXE_wasmctypes"))
            .args(["call", "sum", "add", &format!("buf:{n}"), "1", "--json"])
            .args(["--backend", backend, "--lib-dir"])
            .arg(guest_dir())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = String::new();
        use std::io::Read;
        let pid = child.id() as i32;
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let mut status = 0;
        // SAFETY: an all-zero rusage is valid; wait4 fills it for this child only.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waiting for our own child, whose pid std gave us.
        unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        let peak = usage.ru_maxrss as u64 * 1024;
        assert!(
            peak < 5 * n / 2 + (150 << 20),
            "{backend}: {} MB of host memory for a {} MB buffer",
            peak >> 20,
            n >> 20
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["args"][0]["length"], n, "{backend}");
        assert!(out.len() < 5000, "{backend}: {} bytes of JSON", out.len());
        assert!(v["args"][0]["raw"]
            .as_str()
            .unwrap()
            .ends_with(&format!("... ({n} bytes)")));
    }
    let full = run(&["call", "sum", "add", "buf:5000", "1", "--json", "--full"]);
    let v: serde_json::Value = serde_json::from_slice(&full.stdout).unwrap();
    assert_eq!(v["args"][0]["raw"].as_str().unwrap().len(), 3 + 4 * 5000);
}

#[test]
fn libc_by_name_strlen_and_variadic_printf_with_fixed() {
    for o in on_both(&["call", "c", "strlen", "hello", "--restype", "c_size_t"]) {
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), "-> 5\n");
    }
    let printf = [
        "c",
        "printf",
        "c_char_p:%d %.2f %s\n",
        "c_int:5",
        "c_double:2.5",
        "c_char_p:x",
    ];
    for o in on_both(&[&["call"][..], &printf, &["--fixed", "1"]].concat()) {
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), "5 2.50 x\n-> 9\n");
    }
    let o = run(&[&["diff"][..], &printf, &["--fixed", "1"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // Without --fixed: libc's module says printf has one fixed parameter.
    for o in on_both(&[&["call"][..], &printf].concat()) {
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), "5 2.50 x\n-> 9\n");
    }
    // A --fixed past the arguments is a usage error, not a call.
    let o = run(&["call", "c", "strlen", "x", "--fixed", "2", "--json"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn preload_links_a_library_that_needs_another() {
    let a = crate::common::source("linking/liba");
    let b = crate::common::source("linking/libb");
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    for o in on_both(&["call", b, "b_reads_a_counter", "--preload", a]) {
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), "-> 7\n");
    }
    let o = run(&["diff", b, "b_reads_a_counter", "--preload", a]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // Without liba, libb's a_counter is undefined: dlopen's OSError, naming the symbol.
    let o = run(&["call", b, "b_reads_a_counter", "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "OSError", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a_counter"),
        "{v}"
    );
}

#[test]
fn calls_without_types_take_them_from_the_c_prototype() {
    // Each seed example's call written with its types, then without: the same output.
    for (typed, untyped) in [
        (
            &["call", "greeting", "greet", "World", "--restype", "void"][..],
            &["call", "greeting", "greet", "World"][..],
        ),
        (
            &[
                "call",
                "upper",
                "upper",
                "buf:abc123",
                "6",
                "--restype",
                "void",
            ][..],
            &["call", "upper", "upper", "buf:abc123", "6"][..],
        ),
        (
            &["call", "sum", "our_function", "3", "c_int[]:1,2,3"][..],
            &["call", "sum", "our_function", "3", "c_int[]:1,2,3"][..],
        ),
        (
            &[
                "call",
                "testlib",
                "scale",
                "c_double:1.5",
                "3",
                "--restype",
                "c_double",
            ][..],
            &["call", "testlib", "scale", "1.5", "3"][..],
        ),
    ] {
        let (a, b) = (on_both(typed), on_both(untyped));
        for (x, y) in a.iter().zip(&b) {
            assert!(
                x.status.success() && y.status.success(),
                "{}{}",
                stderr(x),
                stderr(y)
            );
            assert_eq!(stdout(x), stdout(y), "{untyped:?}");
        }
    }
    let o = run(&["call", "greeting", "greet", "World"]);
    assert_eq!(stdout(&o), "Hello, World!\n-> None\n");
}
