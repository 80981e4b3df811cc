//! `wasmctypes build`, `cc`, `ar`, `configure`, `make` and `cmake`, driven as a user drives
//! them: a library from several sources with -I/-D/-U, a configure script and its Makefile,
//! a CMake project; what they build loads in the sandbox (and natively, from the same
//! sources), with the same answers. What the sandbox lacks is an error that names it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wasmctypes::{BackendKind, CType, LoadOptions, Sandbox, Value};

fn wasmctypes(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasmctypes"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run wasmctypes")
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh copy of `guest-c/real` in a directory of this test run.
fn sources(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("build-systems-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let real = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guest-c/real");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(&real)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(copied.success());
    dir
}

/// `combo(x)` of the library at `path`, loaded on `kind`.
fn combo(path: &Path, kind: BackendKind, x: i32) -> i128 {
    let sb = Sandbox::open(kind, &LoadOptions::default()).unwrap();
    // SAFETY: the project's own test library, called as its header declares.
    let lib = unsafe { sb.load_unchecked(path) }.unwrap();
    let mut f = lib.function("combo").unwrap();
    f.set_argtypes(&[CType::Int])
        .unwrap()
        .set_restype(CType::Int)
        .unwrap();
    f.call(&[Value::Int(x.into())]).unwrap().as_int().unwrap()
}

#[test]
fn build_makes_one_library_of_several_sources_with_includes_and_defines() {
    let dir = sources("build");
    ok(
        wasmctypes(
            &[
                "build",
                "--name",
                "combo",
                "-I",
                "include",
                "-DSCALE=3",
                "-DUNWANTED",
                "-UUNWANTED",
                "--out",
                "out",
                "combo_a.c",
                "combo_b.c",
            ],
            &dir,
        ),
        "build --name",
    );
    for kind in BackendKind::ALL {
        let file = dir.join("out").join(kind.file_name("combo"));
        assert_eq!(combo(&file, kind, 10), 37, "{kind}");
    }
    // Without -D the header's #error stops the build, and says why.
    let out = wasmctypes(
        &[
            "build",
            "--name",
            "c2",
            "-I",
            "include",
            "--out",
            "out",
            "combo_a.c",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SCALE must be defined"));
}

#[test]
fn configure_and_make_build_a_side_module_from_an_archive() {
    let dir = sources("configure").join("autotools");
    let prefix = dir.join("installed");
    let prefix_arg = format!("--prefix={}", prefix.display());
    let out = ok(
        wasmctypes(&["configure", "./configure", &prefix_arg], &dir),
        "configure",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("wasm32-unknown-wasi (host: wasm32-unknown-wasi)"),
        "{text}"
    );
    ok(wasmctypes(&["make"], &dir), "make");
    ok(wasmctypes(&["make", "install"], &dir), "make install");
    let lib = prefix.join("lib/libcombo.so");
    assert_eq!(&std::fs::read(&lib).unwrap()[..4], b"\0asm");
    // The dependency files of -MD were written.
    assert!(dir.join("combo_a.o.d").is_file());
    assert_eq!(combo(&lib, BackendKind::Wasm, 10), 47);
}

#[test]
fn cmake_builds_a_shared_library_for_the_sandbox() {
    if Command::new("cmake").arg("--version").output().is_err() {
        panic!("cmake is not installed: ./run installs it");
    }
    let dir = sources("cmake").join("cmake");
    ok(
        wasmctypes(
            &[
                "cmake",
                "-S",
                ".",
                "-B",
                "build",
                "-DCMAKE_BUILD_TYPE=Release",
            ],
            &dir,
        ),
        "cmake configure",
    );
    ok(
        wasmctypes(&["cmake", "--build", "build"], &dir),
        "cmake --build",
    );
    let lib = dir.join("build/libcombo.so");
    assert_eq!(&std::fs::read(&lib).unwrap()[..4], b"\0asm");
    assert_eq!(combo(&lib, BackendKind::Wasm, 10), 57);
}

#[test]
fn cc_answers_the_queries_configure_scripts_make() {
    let dir = sources("queries");
    let out = ok(wasmctypes(&["cc", "-dumpmachine"], &dir), "-dumpmachine");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "wasm32-unknown-wasi"
    );
    let out = ok(wasmctypes(&["cc", "--version"], &dir), "--version");
    assert!(String::from_utf8_lossy(&out.stdout).contains("clang version 19"));
    // A response file, as libtool writes them for long command lines.
    std::fs::write(
        dir.join("args.rsp"),
        "-c -I include '-DSCALE=2'\ncombo_a.c -o a.o\n",
    )
    .unwrap();
    ok(wasmctypes(&["cc", "@args.rsp"], &dir), "@args.rsp");
    assert_eq!(&std::fs::read(dir.join("a.o")).unwrap()[..4], b"\0asm");
    // -E preprocesses with wasi-libc's headers, none of the host's.
    let out = ok(
        wasmctypes(&["cc", "-E", "-dM", "-x", "c", "/dev/null"], &dir),
        "-E -dM",
    );
    let macros = String::from_utf8_lossy(&out.stdout);
    assert!(macros.contains("#define __wasi__ 1") && macros.contains("__wasm32__"));
}

#[test]
fn what_the_sandbox_lacks_is_an_error_that_names_it() {
    let dir = sources("lacks");
    std::fs::write(
        dir.join("jmp.c"),
        "#include <setjmp.h>\nint f(void) { return 0; }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("thr.c"),
        "#include <pthread.h>\nint f(void) { return 0; }\n",
    )
    .unwrap();
    for (args, named) in [
        (vec!["cc", "-pthread", "-c", "combo_a.c"], "-pthread"),
        (vec!["cc", "-fopenmp", "-c", "combo_a.c"], "-fopenmp"),
        (vec!["cc", "-c", "jmp.c"], "setjmp/longjmp"),
        (vec!["cc", "-c", "thr.c"], "threads"),
        (
            vec![
                "cc",
                "-shared",
                "-DSCALE=1",
                "-Iinclude",
                "combo_a.c",
                "-Wl,--wrap=f",
                "-o",
                "x.so",
            ],
            "--wrap=f",
        ),
        (vec!["configure"], "a command is required"),
    ] {
        let out = wasmctypes(&args, &dir);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named), "{args:?}: {err}");
    }
}

#[test]
fn hostile_command_lines_get_errors_not_crashes() {
    let dir = sources("hostile");
    std::fs::write(dir.join("loop.rsp"), "-c @loop.rsp").unwrap();
    let huge = "-DX ".repeat(100_000);
    std::fs::write(
        dir.join("huge.rsp"),
        format!("{huge} -c -I include -DSCALE=1 combo_a.c"),
    )
    .unwrap();
    for (args, code, named) in [
        (vec!["cc", "@loop.rsp"], Some(2), "nested too deeply"),
        (vec!["cc", "@missing.rsp"], Some(2), "missing.rsp"),
        (
            vec!["cc", "-shared", "-o"],
            Some(1),
            "argument to '-o' is missing",
        ),
        (
            vec!["cc", "-shared", "x.o", "-o"],
            Some(2),
            "-o needs a value",
        ),
        (vec!["cc"], Some(1), "no input files"),
        (
            vec!["make", "-f", "no-such-makefile"],
            Some(2),
            "no-such-makefile",
        ),
    ] {
        let out = wasmctypes(&args, &dir);
        assert_eq!(out.status.code(), code, "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // A response file of 100,000 arguments is read and used.
    ok(
        wasmctypes(&["cc", "@huge.rsp", "-o", "h.o"], &dir),
        "@huge.rsp",
    );
}
