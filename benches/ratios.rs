//! Every call's ratios to its floors, measured interleaved.
//!
//! Each round times a short block of every call in turn, and a call's ratio is taken within
//! each round, then the median over the rounds is reported. On a noisy machine a burst of
//! load then slows a call and its floor alike. A criterion group runs each benchmark for
//! seconds in turn, so a burst lands on one of them only, and its medians moved by up to 2×
//! between runs on the machines we measured on.
//!
//! Interleaving does not help when the whole machine slows for a while (a busy neighbour on a
//! shared host): calls that touch more memory then slow more than their floor. The fastest
//! block of each call is the least disturbed figure, so the ratio of the two minimums is
//! printed as well.
//!
//! The floors:
//! - wasm: a raw `TypedFunc` call of the same export on a default wasmtime engine (the floor
//!   the targets are set against), and the same call on an engine with the sandbox's own
//!   configuration ([`sandbox_config`]: epoch interruption, NaN canonicalisation). The second
//!   splits a call's cost into what the sandbox's guarantees cost the guest code and what
//!   wasmctypes adds. The scalar rows also have wasmtime's untyped call of the same export,
//!   `Func::call_unchecked` with raw slots (compared to the `TypedFunc` floor): the call the
//!   dynamic path makes, so that its cost is not mistaken for wasmctypes'.
//! - native: a raw libffi `Cif` call (the target) and a direct call through a function pointer.
//!
//! The string and buffer floors make the same copies as the call: the 100 bytes and a NUL in
//! before `str_len`; 4,095 bytes in before `upper` and the 4,096-byte buffer out after it (to
//! and from a block of the instance's memory in wasm, a host buffer natively).
//!
//! `cargo bench --bench ratios` prints one row per call: the median and minimum ns/call over
//! the rounds, and for each floor the median per-round ratio and the ratio of the minimums.
//! `-- --json` prints one JSON object per row instead.

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use libffi::middle::{arg, Cif, Type};
use wasmctypes::bench_support::sandbox_config;
use wasmctypes::{
    create_string_buffer, BackendKind, CType, Function, LoadOptions, SandboxConfig, StringBuffer,
    TypedFunction, Value,
};
use wasmtime::ValRaw;

#[path = "../tests/it/common.rs"]
mod common;
mod support;

/// Calls per block of a scalar row: long enough to dwarf reading the clock, short enough
/// (~0.1 ms) that a burst of load covers a whole round.
const SCALAR: u32 = 4_000;
/// Calls per block of the string row, for about the same time.
const STRING: u32 = 1_000;
/// Calls per block of the 4 KiB buffer row.
const BUFFER: u32 = 8;
/// Rounds of every call.
const ROUNDS: usize = 500;

/// One row: its name, the rows it is compared to, and a timed block of its call.
struct Row<'a> {
    name: &'static str,
    floors: &'static [&'static str],
    block: Box<dyn FnMut() -> f64 + 'a>,
}

/// A row whose block makes `calls` calls of `call` directly (inlined), so that no per-call
/// indirection is added to what is measured.
fn row<'a>(
    name: &'static str,
    floors: &'static [&'static str],
    calls: u32,
    mut call: impl FnMut() + 'a,
) -> Row<'a> {
    Row {
        name,
        floors,
        block: Box::new(move || {
            let start = Instant::now();
            for _ in 0..calls {
                call();
            }
            start.elapsed().as_nanos() as f64 / f64::from(calls)
        }),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

type RawStore = wasmtime::Store<wasmtime_wasi::p1::WasiP1Ctx>;

/// A typed function of a raw instance of `wasm` on `engine`, with its store and instance.
fn raw_func<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    engine: &wasmtime::Engine,
    wasm: &Path,
    name: &str,
) -> (RawStore, wasmtime::Instance, wasmtime::TypedFunc<P, R>) {
    let (mut store, inst) = support::raw_instance(engine, wasm);
    let f = inst.get_typed_func::<P, R>(&mut store, name).unwrap();
    (store, inst, f)
}

/// The floor row of a scalar call of one wasm export on one engine.
fn wasm_floor<'a, P, R>(
    name: &'static str,
    floors: &'static [&'static str],
    engine: &wasmtime::Engine,
    wasm: &Path,
    export: &str,
    params: P,
) -> Row<'a>
where
    P: wasmtime::WasmParams + Copy + 'a,
    R: wasmtime::WasmResults + 'a,
{
    let (mut store, _, f) = raw_func::<P, R>(engine, wasm, export);
    row(name, floors, SCALAR, move || {
        black_box(f.call(&mut store, black_box(params)).unwrap());
    })
}

/// The floor row of a scalar call of one wasm export through `Func::call_unchecked` with its
/// parameters in raw slots, as the dynamic call makes it (an equivalent of a
/// `TypedFunc` call): what the dynamic call costs beyond wasmtime's own untyped call.
fn wasm_unchecked_floor<'a, const N: usize>(
    name: &'static str,
    floors: &'static [&'static str],
    engine: &wasmtime::Engine,
    wasm: &Path,
    export: &str,
    params: [ValRaw; N],
) -> Row<'a> {
    let (mut store, inst) = support::raw_instance(engine, wasm);
    let f = inst.get_func(&mut store, export).unwrap();
    row(name, floors, SCALAR, move || {
        let mut slots = black_box(params);
        // SAFETY: `slots` holds one value of each parameter's type and has room for the one
        // result, and `f` belongs to `store`.
        unsafe { f.call_unchecked(&mut store, &mut slots as *mut [ValRaw]) }.unwrap();
        black_box(&slots);
    })
}

/// The floor row of `str_len` on one engine: the string copied in, then the call.
fn strlen_floor<'a>(
    name: &'static str,
    floors: &'static [&'static str],
    engine: &wasmtime::Engine,
    wasm: &Path,
) -> Row<'a> {
    let (mut store, f, memory, addr) =
        support::raw_func_with_block::<i32, i32>(engine, wasm, "str_len", 101);
    row(name, floors, STRING, move || {
        memory
            .write(&mut store, addr as usize, black_box(&TEXT))
            .unwrap();
        black_box(f.call(&mut store, addr).unwrap());
    })
}

/// The floor row of `upper` on one engine: the page copied in, the call, the buffer out.
fn upper_floor<'a>(
    name: &'static str,
    floors: &'static [&'static str],
    engine: &wasmtime::Engine,
    wasm: &Path,
) -> Row<'a> {
    let (mut store, f, memory, addr) =
        support::raw_func_with_block::<(i32, i32), ()>(engine, wasm, "upper", 4096);
    let mut back = vec![0u8; 4096];
    row(name, floors, BUFFER, move || {
        memory
            .write(&mut store, addr as usize, black_box(&PAGE))
            .unwrap();
        f.call(&mut store, (addr, 4095)).unwrap();
        memory.read(&store, addr as usize, &mut back).unwrap();
        black_box(&back);
    })
}

/// The string argument: 100 bytes and the NUL.
const TEXT: [u8; 101] = {
    let mut t = [b'a'; 101];
    t[100] = 0;
    t
};
/// What the buffer round trip writes into the 4 KiB buffer.
const PAGE: [u8; 4095] = [b'q'; 4095];

/// What one backend's rows call.
struct Lib {
    add: Function,
    add_typed: TypedFunction<(i32, i32), i32>,
    noop: Function,
    noop_typed: TypedFunction<(), ()>,
    mix: Function,
    mix_typed: TypedFunction<(i32, f64, f32, i64, i8, f64), f64>,
    strlen: Function,
    upper: Function,
    buf: StringBuffer,
}

impl Lib {
    fn open(kind: BackendKind) -> Lib {
        let lib = common::open("testlib", kind);
        let ulib = common::open("upper", kind);
        let mut add = lib.function("add").unwrap();
        add.set_argtypes(&[CType::Int, CType::Int]).unwrap();
        let mut noop = lib.function("noop").unwrap();
        noop.set_argtypes::<CType>(&[]).unwrap();
        noop.set_restype(CType::Void).unwrap();
        let mix = common::mix(&lib);
        let mut strlen = lib.function("str_len").unwrap();
        strlen.set_argtypes(&[CType::CharP]).unwrap();
        let mut upper = ulib.function("upper").unwrap();
        upper.set_argtypes(&[CType::CharP, CType::Int]).unwrap();
        upper.set_restype(CType::Void).unwrap();
        Lib {
            add_typed: add.typed().unwrap(),
            noop_typed: noop.typed().unwrap(),
            mix_typed: mix.typed().unwrap(),
            buf: create_string_buffer(&ulib, 4096).unwrap(),
            add,
            noop,
            mix,
            strlen,
            upper,
        }
    }
}

/// The floors of each wasm row: the default engine's, then the sandbox's configuration.
macro_rules! wasm_floors {
    ($f:literal) => {
        &[
            concat!($f, "/wasm_floor_typedfunc"),
            concat!($f, "/wasm_floor_sandbox"),
        ]
    };
}
/// The floors of a side module's row: the wasm floors, and the same call into the same code
/// built as a standalone module (`ROW_standalone`).
macro_rules! side_floors {
    ($f:literal, $row:literal) => {
        &[
            concat!($f, "/wasm_floor_typedfunc"),
            concat!($f, "/wasm_floor_sandbox"),
            concat!($f, "/", $row, "_standalone"),
        ]
    };
}
/// The floors of each native row: libffi, then a direct call.
macro_rules! native_floors {
    ($f:literal) => {
        &[
            concat!($f, "/native_floor_libffi"),
            concat!($f, "/native_floor_direct"),
        ]
    };
}

fn main() {
    let b = common::built("testlib");
    let ub = common::built("upper");
    // The raw floors instantiate standalone reactors: wasmtime alone has no dynamic linker.
    let (rb, rub) = (common::reactor("testlib"), common::reactor("upper"));
    let plain = wasmtime::Engine::default();
    let sandboxed = wasmtime::Engine::new(&sandbox_config(&SandboxConfig::default())).unwrap();

    let so = support::open_so(&b.native);
    let add_fn: unsafe extern "C" fn(i32, i32) -> i32 = support::native_fn(&so, "add");
    let noop_fn: unsafe extern "C" fn() = support::native_fn(&so, "noop");
    let mix_fn: support::MixFn = support::native_fn(&so, "mix");
    let strlen_fn: unsafe extern "C" fn(*const u8) -> i32 = support::native_fn(&so, "str_len");
    let uso = support::open_so(&ub.native);
    let upper_fn: unsafe extern "C" fn(*mut u8, i32) = support::native_fn(&uso, "upper");
    let (add_cif, noop_cif, mix_cif) =
        (support::add_cif(), support::noop_cif(), support::mix_cif());
    let strlen_cif = Cif::new([Type::pointer()], Type::i32());
    let upper_cif = Cif::new([Type::pointer(), Type::i32()], Type::void());
    let (mut cstr, mut cstr2) = ([0u8; 101], [0u8; 101]);
    let (mut host, mut host2) = (vec![0u8; 4096], vec![0u8; 4096]);
    let (mut back, mut back2) = (vec![0u8; 4096], vec![0u8; 4096]);

    let (w, n) = (Lib::open(BackendKind::Wasm), Lib::open(BackendKind::Native));
    // The same library in a sandbox without NaN canonicalisation: the cost of that guarantee.
    let raw_nans = {
        let mut options = LoadOptions::default();
        options.sandbox.canonical_nans = false;
        common::mix(&common::open_with("testlib", BackendKind::Wasm, options))
    };
    let raw_nans_typed = raw_nans
        .typed::<(i32, f64, f32, i64, i8, f64), f64>()
        .unwrap();
    // The same library built as a standalone module, in a sandbox of its own.
    let standalone = wasmctypes::CDLL::open_wasm(&rb).unwrap();
    let mut s_add = standalone.function("add").unwrap();
    s_add
        .set_argtypes(&[CType::Int, CType::Int])
        .unwrap()
        .set_restype(CType::Int)
        .unwrap();
    let s_add_typed = s_add.typed::<(i32, i32), i32>().unwrap();
    let s_mix = common::mix(&standalone);
    let s_mix_typed = s_mix.typed::<(i32, f64, f32, i64, i8, f64), f64>().unwrap();
    let args = [Value::Int(2), Value::Int(3)];
    let mix_args = common::mix_args();
    let mix_tuple = (1, 2.5, 0.5, 10, 2, 0.25);
    let text = [Value::Bytes(TEXT[..100].to_vec())];
    let (w_up, n_up) = (
        [Value::from(&w.buf), Value::Int(4095)],
        [Value::from(&n.buf), Value::Int(4095)],
    );
    let wasm_mix = (1, 2.5, 0.5, 10, 2, 0.25);

    let mut rows = vec![
        wasm_floor::<_, i32>("add/wasm_floor_typedfunc", &[], &plain, &rb, "add", (2, 3)),
        wasm_floor::<_, i32>(
            "add/wasm_floor_sandbox",
            &["add/wasm_floor_typedfunc"],
            &sandboxed,
            &rb,
            "add",
            (2, 3),
        ),
        wasm_unchecked_floor(
            "add/wasm_floor_unchecked",
            &["add/wasm_floor_typedfunc"],
            &plain,
            &rb,
            "add",
            [ValRaw::i32(2), ValRaw::i32(3)],
        ),
        row("add/wasm_standalone", wasm_floors!("add"), SCALAR, || {
            black_box(s_add.call(black_box(&args)).unwrap());
        }),
        row(
            "add/wasm_typed_standalone",
            wasm_floors!("add"),
            SCALAR,
            || {
                black_box(s_add_typed.call(black_box((2, 3))).unwrap());
            },
        ),
        row("add/wasm", side_floors!("add", "wasm"), SCALAR, || {
            black_box(w.add.call(black_box(&args)).unwrap());
        }),
        row(
            "add/wasm_typed",
            side_floors!("add", "wasm_typed"),
            SCALAR,
            || {
                black_box(w.add_typed.call(black_box((2, 3))).unwrap());
            },
        ),
        // The typed call plus making and dropping the `Value` the dynamic call returns: the
        // part of the dynamic call's extra cost that is the result's type, not the call.
        row("add/wasm_typed+Value", wasm_floors!("add"), SCALAR, || {
            black_box(Value::Int(
                w.add_typed.call(black_box((2, 3))).unwrap() as i128
            ));
        }),
        wasm_floor::<_, ()>("void/wasm_floor_typedfunc", &[], &plain, &rb, "noop", ()),
        wasm_floor::<_, ()>(
            "void/wasm_floor_sandbox",
            &["void/wasm_floor_typedfunc"],
            &sandboxed,
            &rb,
            "noop",
            (),
        ),
        wasm_unchecked_floor(
            "void/wasm_floor_unchecked",
            &["void/wasm_floor_typedfunc"],
            &plain,
            &rb,
            "noop",
            [ValRaw::i64(0)],
        ),
        row("void/wasm", wasm_floors!("void"), SCALAR, || {
            black_box(w.noop.call(black_box(&[])).unwrap());
        }),
        row("void/wasm_typed", wasm_floors!("void"), SCALAR, || {
            w.noop_typed.call(()).unwrap();
        }),
        wasm_floor::<support::WasmMix, f64>(
            "mix/wasm_floor_typedfunc",
            &[],
            &plain,
            &rb,
            "mix",
            wasm_mix,
        ),
        wasm_floor::<support::WasmMix, f64>(
            "mix/wasm_floor_sandbox",
            &["mix/wasm_floor_typedfunc"],
            &sandboxed,
            &rb,
            "mix",
            wasm_mix,
        ),
        wasm_unchecked_floor(
            "mix/wasm_floor_unchecked",
            &["mix/wasm_floor_typedfunc"],
            &plain,
            &rb,
            "mix",
            [
                ValRaw::i32(1),
                ValRaw::f64(2.5f64.to_bits()),
                ValRaw::f32(0.5f32.to_bits()),
                ValRaw::i64(10),
                ValRaw::i32(2),
                ValRaw::f64(0.25f64.to_bits()),
            ],
        ),
        row("mix/wasm_standalone", wasm_floors!("mix"), SCALAR, || {
            black_box(s_mix.call(black_box(&mix_args)).unwrap());
        }),
        row(
            "mix/wasm_typed_standalone",
            wasm_floors!("mix"),
            SCALAR,
            || {
                black_box(s_mix_typed.call(black_box(mix_tuple)).unwrap());
            },
        ),
        row("mix/wasm", side_floors!("mix", "wasm"), SCALAR, || {
            black_box(w.mix.call(black_box(&mix_args)).unwrap());
        }),
        row(
            "mix/wasm_typed",
            side_floors!("mix", "wasm_typed"),
            SCALAR,
            || {
                black_box(w.mix_typed.call(black_box(mix_tuple)).unwrap());
            },
        ),
        row("mix/wasm_nans_off", wasm_floors!("mix"), SCALAR, || {
            black_box(raw_nans.call(black_box(&mix_args)).unwrap());
        }),
        row(
            "mix/wasm_typed_nans_off",
            wasm_floors!("mix"),
            SCALAR,
            || {
                black_box(raw_nans_typed.call(black_box(mix_tuple)).unwrap());
            },
        ),
        strlen_floor("strlen/wasm_floor_typedfunc", &[], &plain, &rb),
        strlen_floor(
            "strlen/wasm_floor_sandbox",
            &["strlen/wasm_floor_typedfunc"],
            &sandboxed,
            &rb,
        ),
        row("strlen/wasm", wasm_floors!("strlen"), STRING, || {
            black_box(w.strlen.call(black_box(&text)).unwrap());
        }),
        upper_floor("upper/wasm_floor_typedfunc", &[], &plain, &rub),
        upper_floor(
            "upper/wasm_floor_sandbox",
            &["upper/wasm_floor_typedfunc"],
            &sandboxed,
            &rub,
        ),
        row("upper/wasm", wasm_floors!("upper"), BUFFER, || {
            w.buf.set_raw(black_box(&PAGE)).unwrap();
            w.upper.call(&w_up).unwrap();
            black_box(w.buf.raw().unwrap());
        }),
        row("add/native_floor_libffi", &[], SCALAR, || {
            let (x, y) = (black_box(2i32), black_box(3i32));
            let code = support::code(add_fn);
            black_box(unsafe { add_cif.call::<i32>(code, &[arg(&x), arg(&y)]) });
        }),
        row("add/native_floor_direct", &[], SCALAR, || {
            black_box(unsafe { add_fn(black_box(2), black_box(3)) });
        }),
        row("add/native", native_floors!("add"), SCALAR, || {
            black_box(n.add.call(black_box(&args)).unwrap());
        }),
        row("add/native_typed", native_floors!("add"), SCALAR, || {
            black_box(n.add_typed.call(black_box((2, 3))).unwrap());
        }),
        row("void/native_floor_libffi", &[], SCALAR, || unsafe {
            noop_cif.call::<()>(support::code(black_box(noop_fn)), &[]);
        }),
        row("void/native_floor_direct", &[], SCALAR, || unsafe {
            black_box(noop_fn)();
        }),
        row("void/native", native_floors!("void"), SCALAR, || {
            black_box(n.noop.call(black_box(&[])).unwrap());
        }),
        row("void/native_typed", native_floors!("void"), SCALAR, || {
            n.noop_typed.call(()).unwrap();
        }),
        row("mix/native_floor_libffi", &[], SCALAR, || {
            let (a, b, c, d, e, f) = black_box((1i32, 2.5f64, 0.5f32, 10i64, 2i8, 0.25f64));
            let args = [arg(&a), arg(&b), arg(&c), arg(&d), arg(&e), arg(&f)];
            black_box(unsafe { mix_cif.call::<f64>(support::code(mix_fn), &args) });
        }),
        row("mix/native_floor_direct", &[], SCALAR, || {
            let (a, b, c, d, e, f) = black_box((1, 2.5, 0.5, 10, 2, 0.25));
            black_box(unsafe { mix_fn(a, b, c, d, e, f) });
        }),
        row("mix/native", native_floors!("mix"), SCALAR, || {
            black_box(n.mix.call(black_box(&mix_args)).unwrap());
        }),
        row("mix/native_typed", native_floors!("mix"), SCALAR, || {
            black_box(n.mix_typed.call(black_box(mix_tuple)).unwrap());
        }),
        row("strlen/native_floor_libffi", &[], STRING, || {
            cstr.copy_from_slice(black_box(&TEXT));
            let p = black_box(cstr.as_ptr());
            let code = support::code(strlen_fn);
            black_box(unsafe { strlen_cif.call::<i32>(code, &[arg(&p)]) });
        }),
        row("strlen/native_floor_direct", &[], STRING, || {
            cstr2.copy_from_slice(black_box(&TEXT));
            black_box(unsafe { strlen_fn(black_box(cstr2.as_ptr())) });
        }),
        row("strlen/native", native_floors!("strlen"), STRING, || {
            black_box(n.strlen.call(black_box(&text)).unwrap());
        }),
        row("upper/native_floor_libffi", &[], BUFFER, || {
            host[..4095].copy_from_slice(black_box(&PAGE));
            let (p, len) = (black_box(host.as_mut_ptr()), 4095i32);
            let code = support::code(upper_fn);
            unsafe { upper_cif.call::<()>(code, &[arg(&p), arg(&len)]) };
            back.copy_from_slice(&host);
            black_box(&back);
        }),
        row("upper/native_floor_direct", &[], BUFFER, || {
            host2[..4095].copy_from_slice(black_box(&PAGE));
            unsafe { upper_fn(black_box(host2.as_mut_ptr()), 4095) };
            back2.copy_from_slice(&host2);
            black_box(&back2);
        }),
        row("upper/native", native_floors!("upper"), BUFFER, || {
            n.buf.set_raw(black_box(&PAGE)).unwrap();
            n.upper.call(&n_up).unwrap();
            black_box(n.buf.raw().unwrap());
        }),
    ];
    let mut times = vec![Vec::with_capacity(ROUNDS); rows.len()];
    for r in rows.iter_mut() {
        (r.block)();
    }
    for _ in 0..ROUNDS {
        for (r, t) in rows.iter_mut().zip(times.iter_mut()) {
            t.push((r.block)());
        }
    }
    report(&rows, &times, std::env::args().any(|a| a == "--json"));
}

/// One line per row: its times, and its ratios to each of its floors.
fn report(rows: &[Row], times: &[Vec<f64>], json: bool) {
    let index = |name: &str| {
        rows.iter()
            .position(|r| r.name == name)
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    let min_of = |t: &[f64]| t.iter().copied().fold(f64::INFINITY, f64::min);
    let mut out = std::io::stdout().lock();
    for (r, t) in rows.iter().zip(times) {
        let med = median(&mut t.clone());
        let min = min_of(t);
        let ratios: Vec<(&str, f64, f64)> = r
            .floors
            .iter()
            .map(|&f| {
                let ft = &times[index(f)];
                let mut per_round: Vec<f64> = t.iter().zip(ft).map(|(a, b)| a / b).collect();
                (f, median(&mut per_round), min / min_of(ft))
            })
            .collect();
        let line = if json {
            serde_json::json!({
                "name": r.name,
                "ns_per_call_median": med,
                "ns_per_call_min": min,
                "ratios": ratios.iter().map(|(f, x, m)| serde_json::json!({
                    "floor": f, "ratio": x, "ratio_of_minimums": m,
                })).collect::<Vec<_>>(),
            })
            .to_string()
        } else {
            let vs: Vec<String> = ratios
                .iter()
                .map(|(f, x, m)| format!("{x:5.2}x {f} (min {m:.2}x)"))
                .collect();
            format!(
                "{:28} median {med:8.1} ns  min {min:8.1} ns  {}",
                r.name,
                vs.join("  ")
            )
        };
        // A closed pipe (`| head`) ends the output, not the process with a panic.
        if writeln!(out, "{line}").is_err() {
            return;
        }
    }
}
