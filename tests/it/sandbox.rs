//! The sandbox's promises, under hostile guests: limits, traps as typed errors with a location,
//! no ambient authority, determinism, fast reloading. These are promises of the wasm backend.

use std::time::{Duration, Instant};

use crate::common::{built, open_with, source};
use wasmctypes::sandbox::DirGrant;
use wasmctypes::{
    BackendKind, CType, CValue, Error, LoadOptions, SandboxConfig, TrapKind, Value, CDLL,
};

fn hostile(name: &str, sandbox: SandboxConfig) -> CDLL {
    let b = wasmctypes::Toolchain::find()
        .and_then(|t| t.build_cached(&source(&format!("hostile/{name}"))))
        .unwrap_or_else(|e| panic!("building {name}: {e}"));
    CDLL::open_wasm_with(
        &b.wasm,
        &LoadOptions {
            sandbox,
            ..LoadOptions::default()
        },
    )
    .unwrap()
}

fn trap(lib: &CDLL, symbol: &str, args: &[Value], restype: CType) -> (TrapKind, String) {
    let mut f = lib.function(symbol).unwrap();
    f.set_restype(restype).unwrap();
    match f.call(args) {
        Err(Error::Trap {
            kind,
            message,
            backtrace,
            ..
        }) => {
            assert!(
                backtrace.contains(symbol),
                "the backtrace names {symbol}: {backtrace}"
            );
            (kind, message)
        }
        other => panic!("{symbol}: expected a trap, got {other:?}"),
    }
}

/// The looping guest in a sandbox with 1,000,000 fuel and no timeout.
fn metered_loop() -> CDLL {
    hostile(
        "loop",
        SandboxConfig {
            fuel: Some(1_000_000),
            timeout: None,
            ..SandboxConfig::default()
        },
    )
}

fn still_ok(lib: &CDLL) {
    assert_eq!(
        lib.function("ok").unwrap().call(&[]).unwrap(),
        Value::Int(1)
    );
}

#[test]
fn an_infinite_loop_is_stopped_by_a_timeout_and_by_fuel() {
    let lib = hostile(
        "loop",
        SandboxConfig {
            timeout: Some(Duration::from_secs(1)),
            ..SandboxConfig::default()
        },
    );
    // Each call gets the whole budget again: the second call is not cut short by the
    // deadline the first one ran into.
    for _ in 0..2 {
        let start = Instant::now();
        assert_eq!(trap(&lib, "spin", &[], CType::Void).0, TrapKind::Timeout);
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(2),
            "stopped after {took:?}"
        );
        still_ok(&lib);
    }
    // Fuel: deterministic, and each call gets the whole budget again.
    let metered = metered_loop();
    assert_eq!(
        trap(&metered, "spin", &[], CType::Void).0,
        TrapKind::OutOfFuel
    );
    assert_eq!(
        trap(&metered, "spin", &[], CType::Void).0,
        TrapKind::OutOfFuel
    );
    still_ok(&metered);
}

/// A call's deadline counts the guest's time, not the host's: callbacks that sleep longer
/// than the timeout do not stop the call, and guest code run from a callback (a nested call)
/// is still stopped, by what is left of the call's time.
#[test]
fn time_in_callbacks_is_not_guest_time() {
    let sb = wasmctypes::Sandbox::new(&LoadOptions {
        sandbox: SandboxConfig {
            timeout: Some(Duration::from_millis(300)),
            ..SandboxConfig::default()
        },
        ..LoadOptions::default()
    })
    .unwrap();
    let cbs = sb.load(built("callbacks").wasm).unwrap();
    let looping = sb
        .load(
            wasmctypes::Toolchain::find()
                .and_then(|t| t.build_cached(&source("hostile/loop")))
                .unwrap()
                .wasm,
        )
        .unwrap();
    let mut sum = cbs.function("sum_with").unwrap();
    sum.set_argtypes(&[CType::VoidP, CType::Int]).unwrap();
    let proto = wasmctypes::CFUNCTYPE(CType::Int, &[CType::Int]);
    let sleeper = wasmctypes::Callback::new(&sb, &proto, |_, a| {
        std::thread::sleep(Duration::from_millis(60));
        Ok(a[0].clone())
    })
    .unwrap();
    let start = Instant::now();
    assert_eq!(
        sum.call(&[(&sleeper).into(), 12.into()]).unwrap(),
        Value::Int(66)
    );
    assert!(start.elapsed() >= Duration::from_millis(720));
    let mut spin = looping.function("spin").unwrap();
    spin.set_restype(CType::Void).unwrap();
    let sleep_then_spin = wasmctypes::Callback::new(&sb, &proto, move |_, _| {
        std::thread::sleep(Duration::from_millis(200));
        spin.call(&[]).map(|_| Value::Int(0))
    })
    .unwrap();
    let start = Instant::now();
    let e = sum
        .call(&[(&sleep_then_spin).into(), 1.into()])
        .unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(
            e,
            Error::Trap {
                kind: TrapKind::Timeout,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        took >= Duration::from_millis(200 + 250) && took < Duration::from_millis(200 + 900),
        "the nested spin stopped after {took:?}"
    );
    still_ok(&looping);
}

#[test]
fn fuel_is_refilled_before_every_call_on_every_path() {
    let metered = metered_loop();
    let mut burn = metered.function("burn").unwrap();
    burn.set_argtypes(&[CType::UInt])
        .unwrap()
        .set_restype(CType::UInt)
        .unwrap();
    let call = |n: u32| burn.call(&[Value::Int(n.into())]);
    // The first count that runs out of fuel: half of it takes more than half the budget.
    let mut n = 1u32;
    while call(n).is_ok() {
        n = n.checked_mul(2).expect("1,000,000 fuel runs out");
    }
    assert!(
        matches!(
            call(n),
            Err(Error::Trap {
                kind: TrapKind::OutOfFuel,
                ..
            })
        ),
        "burn({n})"
    );
    let half = n / 2;
    // Without a refill, the second of these calls would run out.
    for _ in 0..3 {
        assert_eq!(call(half).unwrap(), Value::Int(half.into()));
    }
    let typed = burn.typed::<(u32,), u32>().unwrap();
    for _ in 0..3 {
        assert_eq!(typed.call((half,)).unwrap(), half);
    }
    assert!(matches!(
        typed.call((n,)),
        Err(Error::Trap {
            kind: TrapKind::OutOfFuel,
            ..
        })
    ));
    assert_eq!(typed.call((half,)).unwrap(), half);
}

#[test]
fn a_memory_bomb_is_stopped_by_the_memory_limit() {
    let lib = hostile(
        "membomb",
        SandboxConfig {
            max_memory: 16 << 20,
            ..SandboxConfig::default()
        },
    );
    let (kind, message) = trap(&lib, "bomb", &[], CType::Int);
    assert_eq!(kind, TrapKind::MemoryLimit);
    assert!(message.contains("16777216"), "{message}");
    // The allocator may be mid-update: reset() gives a clean instance.
    lib.reset().unwrap();
    still_ok(&lib);
}

#[test]
fn faults_are_typed_traps_and_the_library_stays_usable() {
    let cases: &[(&str, &str, &[Value], CType, TrapKind)] = &[
        (
            "recursion",
            "recurse",
            &[Value::Int(0)],
            CType::Int,
            TrapKind::StackOverflow,
        ),
        (
            "oob",
            "oob_store",
            &[],
            CType::Void,
            TrapKind::MemoryOutOfBounds,
        ),
        (
            "divzero",
            "divide",
            &[Value::Int(1), Value::Int(0)],
            CType::Int,
            TrapKind::IntegerDivisionByZero,
        ),
        (
            "divzero",
            "divide",
            &[Value::Int(i32::MIN as i128), Value::Int(-1)],
            CType::Int,
            TrapKind::IntegerOverflow,
        ),
        ("abort", "do_abort", &[], CType::Void, TrapKind::Unreachable),
        (
            "nullfn",
            "call_null",
            &[],
            CType::Int,
            TrapKind::IndirectCallToNull,
        ),
    ];
    for (file, symbol, args, restype, expected) in cases {
        let lib = hostile(file, SandboxConfig::default());
        assert_eq!(
            trap(&lib, symbol, args, *restype).0,
            *expected,
            "{file}:{symbol}"
        );
        still_ok(&lib);
    }
}

#[test]
fn exit_in_library_code_is_an_error_not_the_end_of_the_host() {
    let lib = hostile("abort", SandboxConfig::default());
    let (kind, message) = trap(&lib, "do_exit", &[], CType::Void);
    assert_eq!(kind, TrapKind::GuestExit);
    assert_eq!(message, "guest called exit(3)");
    lib.reset().unwrap();
    still_ok(&lib);
    // Statuses WASI refuses are exits too, with the status natively seen (its low byte).
    for (symbol, status) in [
        ("exit_minus_one", 255),
        ("quick_exit_255", 255),
        ("raw_exit_200", 200),
    ] {
        let mut f = lib.function(symbol).unwrap();
        f.set_restype(CType::Void).unwrap();
        assert!(
            matches!(f.call(&[]), Err(Error::Trap { kind: TrapKind::GuestExit, status: Some(s), .. }) if i32::from(s) == status),
            "{symbol}"
        );
        lib.reset().unwrap();
        let (kind, message) = trap(&lib, symbol, &[], CType::Void);
        assert_eq!(kind, TrapKind::GuestExit, "{symbol}");
        assert_eq!(message, format!("guest called exit({status})"), "{symbol}");
        lib.reset().unwrap();
    }
}

#[test]
fn a_stdout_flood_stays_bounded() {
    let lib = hostile("flood", SandboxConfig::default());
    let mut flood = lib.function("flood").unwrap();
    flood.set_restype(CType::Void).unwrap();
    flood.call(&[]).unwrap();
    let out = lib.take_output();
    assert!(
        out.stdout.len() <= (16 << 20) + 100,
        "kept {} bytes",
        out.stdout.len()
    );
    assert!(
        String::from_utf8_lossy(&out.stdout[out.stdout.len() - 80..])
            .contains("more bytes dropped")
    );
    still_ok(&lib);
}

fn report(lib: &CDLL) -> Vec<u8> {
    let mut f = lib.function("report").unwrap();
    f.set_restype(CType::Void).unwrap();
    let _ = lib.take_output();
    f.call(&[]).unwrap();
    lib.take_output().stdout
}

#[test]
fn the_same_calls_give_byte_identical_output_run_after_run() {
    let first = report(&crate::common::open("sandbox", BackendKind::Wasm));
    let text = String::from_utf8_lossy(&first).into_owned();
    assert!(
        text.starts_with("wall 946684800.000000000 mono 0.000000000"),
        "{text}"
    );
    assert!(
        text.contains("nan bits 7ff8000000000000"),
        "NaN is canonical: {text}"
    );
    for _ in 0..49 {
        assert_eq!(
            report(&crate::common::open("sandbox", BackendKind::Wasm)),
            first
        );
    }
    // Another seed, another stream; the clock moves only when told to.
    let seeded = open_with(
        "sandbox",
        BackendKind::Wasm,
        LoadOptions {
            sandbox: SandboxConfig {
                seed: 7,
                ..SandboxConfig::default()
            },
            ..LoadOptions::default()
        },
    );
    assert_ne!(report(&seeded), first);
    let lib = crate::common::open("sandbox", BackendKind::Wasm);
    let now = lib.function("seconds_now").unwrap();
    let mut now = now;
    now.set_restype(CType::LongLong).unwrap();
    assert_eq!(now.call(&[]).unwrap(), Value::Int(946_684_800));
    lib.advance_clock(Duration::from_secs(60)).unwrap();
    assert_eq!(now.call(&[]).unwrap(), Value::Int(946_684_860));
    // With the real clock the output changes.
    let real = || {
        open_with(
            "sandbox",
            BackendKind::Wasm,
            LoadOptions {
                sandbox: SandboxConfig {
                    real_clock: true,
                    ..SandboxConfig::default()
                },
                ..LoadOptions::default()
            },
        )
    };
    let a = report(&real());
    std::thread::sleep(Duration::from_millis(2));
    assert_ne!(a, report(&real()));
}

fn first_byte(lib: &CDLL, path: &str) -> i128 {
    let mut f = lib.function("first_byte").unwrap();
    f.set_argtypes(&[CType::CharP]).unwrap();
    f.call(&[Value::Bytes(path.as_bytes().to_vec())])
        .unwrap()
        .as_int()
        .unwrap()
}

#[test]
fn no_ambient_authority_until_granted() {
    let lib = crate::common::open("sandbox", BackendKind::Wasm);
    assert!(
        first_byte(&lib, "/etc/passwd") < 0,
        "no filesystem by default"
    );
    let mut env = lib.function("get_env").unwrap();
    env.set_argtypes(&[CType::CharP])
        .unwrap()
        .set_restype(CType::CharP)
        .unwrap();
    assert_eq!(
        env.call(&[b"HOME".into()]).unwrap(),
        Value::None,
        "no environment by default"
    );

    let dir = std::env::temp_dir().join(format!("wasmctypes-grant-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), b"Hi there").unwrap();
    let grant = |read_only| LoadOptions {
        sandbox: SandboxConfig {
            dirs: vec![DirGrant {
                host: dir.clone(),
                guest: "/data".into(),
                read_only,
            }],
            env: vec![("GREETING".into(), "hello".into())],
            ..SandboxConfig::default()
        },
        ..LoadOptions::default()
    };
    let ro = open_with("sandbox", BackendKind::Wasm, grant(true));
    assert_eq!(first_byte(&ro, "/data/hello.txt"), b'H' as i128);
    assert!(
        first_byte(&ro, "/etc/passwd") < 0,
        "only the granted directory"
    );
    let mut env = ro.function("get_env").unwrap();
    env.set_argtypes(&[CType::CharP])
        .unwrap()
        .set_restype(CType::CharP)
        .unwrap();
    assert_eq!(
        env.call(&[b"GREETING".into()]).unwrap(),
        Value::Bytes(b"hello".to_vec())
    );
    let mut write = ro.function("write_file").unwrap();
    write.set_argtypes(&[CType::CharP, CType::CharP]).unwrap();
    assert!(
        write
            .call(&[b"/data/out.txt".into(), b"x".into()])
            .unwrap()
            .as_int()
            .unwrap()
            < 0,
        "read-only"
    );
    let rw = open_with("sandbox", BackendKind::Wasm, grant(false));
    let mut write = rw.function("write_file").unwrap();
    write.set_argtypes(&[CType::CharP, CType::CharP]).unwrap();
    assert_eq!(
        write
            .call(&[b"/data/out.txt".into(), b"written".into()])
            .unwrap(),
        Value::Int(0)
    );
    assert_eq!(std::fs::read(dir.join("out.txt")).unwrap(), b"written");
}

#[test]
fn many_libraries_are_isolated_and_reset_restores_the_initial_state() {
    let b = built("testlib");
    let libs: Vec<CDLL> = (0..20).map(|_| CDLL::open_wasm(&b.wasm).unwrap()).collect();
    for (i, lib) in libs.iter().enumerate() {
        CValue::in_dll(lib, CType::Int, "an_integer")
            .unwrap()
            .set_value(i as i32)
            .unwrap();
    }
    for (i, lib) in libs.iter().enumerate() {
        assert_eq!(
            lib.function("get_an_integer").unwrap().call(&[]).unwrap(),
            Value::Int(i as i128)
        );
    }
    let add = libs[3].function("add").unwrap();
    libs[3].reset().unwrap();
    assert_eq!(
        libs[3]
            .function("get_an_integer")
            .unwrap()
            .call(&[])
            .unwrap(),
        Value::Int(42)
    );
    assert_eq!(
        add.call(&[1.into(), 2.into()]).unwrap(),
        Value::Int(3),
        "prepared functions survive reset"
    );
    assert_eq!(
        libs[4]
            .function("get_an_integer")
            .unwrap()
            .call(&[])
            .unwrap(),
        Value::Int(4)
    );
    // A second load of the same module comes from a cache, not from Cranelift.
    let (source, _) = libs[1].load_stats().unwrap();
    assert_ne!(source.name(), "compiled");
    assert!(crate::common::load(&b.native, BackendKind::Native)
        .unwrap()
        .reset()
        .is_err());
}

fn nan_bits(lib: &CDLL) -> Value {
    let mut f = lib.function("nan_bits").unwrap();
    f.set_argtypes::<CType>(&[]).unwrap();
    f.set_restype(CType::ULongLong).unwrap();
    f.call(&[]).unwrap()
}

#[test]
fn nans_are_canonical_unless_the_sandbox_turns_it_off() {
    // By default every machine gives the guest's 0.0 / 0.0 the same bits.
    let canonical = nan_bits(&crate::common::open("sandbox", BackendKind::Wasm));
    assert_eq!(canonical, Value::Int(0x7ff8_0000_0000_0000));
    // Turned off, the guest's NaN is the host CPU's, as the native build computes it
    // (0xfff8000000000000 on x86-64).
    let mut options = LoadOptions::default();
    options.sandbox.canonical_nans = false;
    let host = nan_bits(&crate::common::open("sandbox", BackendKind::Native));
    let raw = nan_bits(&open_with("sandbox", BackendKind::Wasm, options));
    assert_eq!(raw, host);
    if cfg!(target_arch = "x86_64") {
        assert_eq!(raw, Value::Int(0xfff8_0000_0000_0000));
    }
}
