//! The caches' trust model: what is found on disk runs only if this user's private directory
//! holds it and its seal says it is what was built, whatever the umask.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `wasmctypes ARGS` with the cache in `cache`, under `umask 000` so that nothing private is
/// private by accident.
fn run(cache: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_wasmctypes"))
        .args(args)
        .env("WASMCTYPES_CACHE_DIR", cache)
        .env_remove("WASMCTYPES_BACKEND");
    cmd.output().expect("run wasmctypes")
}

/// Where `inspect` says the module came from: `compiled` or `disk cache`.
fn load_source(cache: &Path, wasm: &Path) -> String {
    let o = run(cache, &["inspect", "--json", wasm.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    v["load"]["source"].as_str().unwrap_or_default().to_string()
}

fn artifacts(cache: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cache.join("modules"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o777
}

#[test]
fn a_tampered_truncated_or_swapped_artifact_is_recompiled_never_run() {
    let cache = tmp("tamper");
    let greeting = crate::common::built("greeting").wasm;
    let sum = crate::common::built("sum").wasm;
    // The sandbox's libc module is compiled first, into the same cache.
    let o = run(&cache, &["call", "c", "strlen", "x"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let libc = artifacts(&cache);
    assert_eq!(libc.len(), 1);
    assert_eq!(load_source(&cache, &greeting), "compiled");
    let [mine] = artifacts(&cache)
        .into_iter()
        .filter(|f| !libc.contains(f))
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    assert_eq!(load_source(&cache, &sum), "compiled");
    let other = artifacts(&cache)
        .into_iter()
        .find(|f| *f != mine && !libc.contains(f))
        .unwrap();
    assert_eq!(load_source(&cache, &greeting), "disk cache");
    let original = std::fs::read(&mine).unwrap();
    // A flipped byte in the machine code: recompiled, and the call still right.
    let mut flipped = original.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    std::fs::write(&mine, &flipped).unwrap();
    assert_eq!(load_source(&cache, &greeting), "compiled");
    let o = run(
        &cache,
        &[
            "call",
            greeting.to_str().unwrap(),
            "greet",
            "World",
            "--restype",
            "void",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "Hello, World!\n-> None\n"
    );
    // Truncated.
    std::fs::write(&mine, &original[..original.len() / 3]).unwrap();
    assert_eq!(load_source(&cache, &greeting), "compiled");
    // Another module's artifact in its place: recompiled, and it is greeting's own code.
    std::fs::copy(&other, &mine).unwrap();
    assert_eq!(load_source(&cache, &greeting), "compiled");
    let o = run(&cache, &["inspect", greeting.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("greet (i32) -> ()"));
    // A raw wasmtime artifact with no seal is not trusted either.
    std::fs::write(&mine, &original[72..]).unwrap();
    assert_eq!(load_source(&cache, &greeting), "compiled");
    assert_eq!(load_source(&cache, &greeting), "disk cache");
}

#[test]
fn the_caches_are_private_whatever_the_umask() {
    let cache = tmp("umask");
    let greeting = crate::common::built("greeting").wasm;
    assert_eq!(load_source(&cache, &greeting), "compiled");
    assert_eq!(mode(&cache), 0o700);
    assert_eq!(mode(&cache.join("modules")), 0o700);
    for f in artifacts(&cache) {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    let source = crate::common::source("sum");
    let o = run(
        &cache,
        &[
            "call",
            source.to_str().unwrap(),
            "add",
            "2",
            "3",
            "--backend",
            "native",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(mode(&cache.join("c")), 0o700);
    let entry = std::fs::read_dir(cache.join("c"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(mode(&entry), 0o700);
    assert_eq!(mode(&entry.join("sum.wasm")), 0o600);
    assert_eq!(mode(&entry.join("libsum.so")), 0o700);
}

#[test]
fn a_cache_that_others_can_write_or_own_is_not_used() {
    let greeting = crate::common::built("greeting").wasm;
    let open = tmp("open");
    std::fs::create_dir_all(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = run(&open, &["inspect", greeting.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("warning: not using the cache"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(load_source(&open, &greeting), "compiled");
    assert_eq!(load_source(&open, &greeting), "compiled");
    assert!(artifacts(&open).is_empty());
    // Owned by another user (only root can arrange that here).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let foreign = tmp("foreign");
        std::fs::create_dir_all(&foreign).unwrap();
        std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
        let o = run(&foreign, &["inspect", greeting.to_str().unwrap()]);
        assert!(String::from_utf8_lossy(&o.stderr).contains("owned by user 65534"));
        assert_eq!(load_source(&foreign, &greeting), "compiled");
        assert!(std::fs::read_dir(&foreign).unwrap().next().is_none());
    }
}

#[test]
fn a_planted_shared_object_in_the_build_cache_is_rebuilt_not_loaded() {
    let cache = tmp("planted");
    let dir = tmp("planted-src");
    std::fs::create_dir_all(&dir).unwrap();
    let real = dir.join("adder.c");
    std::fs::write(&real, "int add(int a, int b) { return a + b; }\n").unwrap();
    let evil = dir.join("evil").join("adder.c");
    std::fs::create_dir_all(evil.parent().unwrap()).unwrap();
    std::fs::write(&evil, "int add(int a, int b) { return 999; }\n").unwrap();
    let call = |src: &Path, backend: &str| {
        let o = run(
            &cache,
            &[
                "call",
                src.to_str().unwrap(),
                "add",
                "2",
                "3",
                "--backend",
                backend,
            ],
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(call(&real, "native"), "-> 5\n");
    let entry = std::fs::read_dir(cache.join("c"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let out = tmp("planted-out");
    let built = Command::new(env!("CARGO_BIN_EXE_wasmctypes"))
        .args([
            "build",
            "--out",
            out.to_str().unwrap(),
            evil.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(built.status.success());
    std::fs::copy(out.join("libadder.so"), entry.join("libadder.so")).unwrap();
    std::fs::copy(out.join("adder.wasm"), entry.join("adder.wasm")).unwrap();
    assert_eq!(call(&real, "native"), "-> 5\n", "the planted .so ran");
    assert_eq!(call(&real, "wasm"), "-> 5\n", "the planted .wasm ran");
}

#[test]
fn an_empty_cache_variable_never_caches_in_the_current_directory() {
    let home = tmp("home");
    let cwd = tmp("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let greeting = crate::common::built("greeting").wasm;
    let o = Command::new(env!("CARGO_BIN_EXE_wasmctypes"))
        .args(["inspect", greeting.to_str().unwrap()])
        .current_dir(&cwd)
        .env("WASMCTYPES_CACHE_DIR", "")
        .env("XDG_CACHE_HOME", "")
        .env("HOME", &home)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        std::fs::read_dir(&cwd).unwrap().next().is_none(),
        "files in the current directory"
    );
    assert!(home.join(".cache/wasmctypes/modules").is_dir());
}
