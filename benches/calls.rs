//! Per-call cost of both backends next to their floors: a raw wasmtime `TypedFunc` call of the
//! same export (wasm), a raw libffi `Cif` call and a direct call through a function pointer
//! (native). Plus a string argument, a 4 KiB buffer round trip, compute-bound work and loading.
//!
//! `cargo bench --bench calls`; `python3 benches/compare.py` adds CPython's ctypes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

/// The integration tests' helpers, for the same prototypes and arguments.
#[path = "../tests/common/mod.rs"]
mod common;
mod support;
use support::raw_instance;
use wasmctypes::{create_string_buffer, Array, BackendKind, Built, CType, Value, CDLL};

fn open(b: &Built, kind: BackendKind) -> CDLL {
    let path = if kind == BackendKind::Wasm {
        &b.wasm
    } else {
        &b.native
    };
    CDLL::open(path, kind).unwrap()
}

fn scalar(c: &mut Criterion) {
    let b = common::built("testlib");
    let mut g = c.benchmark_group("scalar");
    for kind in BackendKind::ALL {
        let lib = open(&b, kind);
        let mut noop = lib.function("noop").unwrap();
        noop.set_argtypes::<CType>(&[])
            .unwrap()
            .set_restype(CType::Void)
            .unwrap();
        g.bench_function(format!("void_f_void/{kind}"), |bn| {
            bn.iter(|| noop.call(black_box(&[])).unwrap())
        });
        let typed = noop.typed::<(), ()>().unwrap();
        g.bench_function(format!("void_f_void/{kind}_typed"), |bn| {
            bn.iter(|| typed.call(()).unwrap())
        });
        let mut add = lib.function("add").unwrap();
        add.set_argtypes(&[CType::Int, CType::Int]).unwrap();
        let args = [Value::Int(2), Value::Int(3)];
        g.bench_function(format!("add_int_int/{kind}"), |bn| {
            bn.iter(|| add.call(black_box(&args)).unwrap())
        });
        let typed = add.typed::<(i32, i32), i32>().unwrap();
        g.bench_function(format!("add_int_int/{kind}_typed"), |bn| {
            bn.iter(|| typed.call(black_box((2, 3))).unwrap())
        });
        let mix = common::mix(&lib);
        let margs = common::mix_args();
        g.bench_function(format!("mixed_six/{kind}"), |bn| {
            bn.iter(|| mix.call(black_box(&margs)).unwrap())
        });
        let typed = mix.typed::<(i32, f64, f32, i64, i8, f64), f64>().unwrap();
        g.bench_function(format!("mixed_six/{kind}_typed"), |bn| {
            bn.iter(|| typed.call(black_box((1, 2.5, 0.5, 10, 2, 0.25))).unwrap())
        });
    }
    // The wasm floor: a raw TypedFunc call of the same export, on a plain wasmtime engine.
    {
        let engine = wasmtime::Engine::default();
        let (mut store, inst) = raw_instance(&engine, &b.wasm);
        let add = inst
            .get_typed_func::<(i32, i32), i32>(&mut store, "add")
            .unwrap();
        g.bench_function("add_int_int/wasm_floor_typedfunc", |bn| {
            bn.iter(|| add.call(&mut store, black_box((2, 3))).unwrap())
        });
        let noop = inst.get_typed_func::<(), ()>(&mut store, "noop").unwrap();
        g.bench_function("void_f_void/wasm_floor_typedfunc", |bn| {
            bn.iter(|| noop.call(&mut store, ()).unwrap())
        });
        // The same floor on an engine configured as the sandbox's (epoch interruption on, for
        // the per-call timeout), with the deadline armed before each call as the sandbox does:
        // the part of the gap that is the timeout machinery, not wasmctypes.
        {
            let mut config = wasmtime::Config::new();
            config.epoch_interruption(true);
            let engine = wasmtime::Engine::new(&config).unwrap();
            let (mut store, inst) = raw_instance(&engine, &b.wasm);
            let add = inst
                .get_typed_func::<(i32, i32), i32>(&mut store, "add")
                .unwrap();
            g.bench_function("add_int_int/wasm_floor_typedfunc_epoch", |bn| {
                bn.iter(|| {
                    store.set_epoch_deadline(3000);
                    add.call(&mut store, black_box((2, 3))).unwrap()
                })
            });
        }
        let untyped = inst.get_func(&mut store, "add").unwrap();
        let mut out = [wasmtime::Val::I32(0)];
        g.bench_function("add_int_int/wasm_func_call", |bn| {
            bn.iter(|| {
                untyped
                    .call(
                        &mut store,
                        black_box(&[wasmtime::Val::I32(2), wasmtime::Val::I32(3)]),
                        &mut out,
                    )
                    .unwrap()
            })
        });
    }
    // The native floors: a raw libffi Cif call, and a direct call through a function pointer.
    {
        let (_lib, add_fn) = support::native_add(&b.native);
        g.bench_function("add_int_int/native_floor_direct", |bn| {
            bn.iter(|| unsafe { add_fn(black_box(2), black_box(3)) })
        });
        let cif = support::add_cif();
        let code = libffi::middle::CodePtr(add_fn as *mut _);
        g.bench_function("add_int_int/native_floor_libffi", |bn| {
            bn.iter(|| {
                let (x, y) = (black_box(2i32), black_box(3i32));
                unsafe {
                    cif.call::<i32>(code, &[libffi::middle::arg(&x), libffi::middle::arg(&y)])
                }
            })
        });
    }
    g.finish();
}

fn data(c: &mut Criterion) {
    let testlib = common::built("testlib");
    let upper = common::built("upper");
    let sum = common::built("sum");
    let mut g = c.benchmark_group("data");
    for kind in BackendKind::ALL {
        let lib = open(&testlib, kind);
        let mut strlen = lib.function("str_len").unwrap();
        strlen.set_argtypes(&[CType::CharP]).unwrap();
        let text = [Value::Bytes(vec![b'a'; 100])];
        g.bench_function(format!("strlen_100_bytes/{kind}"), |bn| {
            bn.iter(|| strlen.call(black_box(&text)).unwrap())
        });
        let ulib = open(&upper, kind);
        let mut up = ulib.function("upper").unwrap();
        up.set_argtypes(&[CType::CharP, CType::Int])
            .unwrap()
            .set_restype(CType::Void)
            .unwrap();
        let buf = create_string_buffer(&ulib, 4096).unwrap();
        let page = vec![b'q'; 4095];
        g.bench_function(format!("upper_4KiB_round_trip/{kind}"), |bn| {
            bn.iter(|| {
                buf.set_raw(&page).unwrap();
                up.call(&[(&buf).into(), Value::Int(4095)]).unwrap();
                black_box(buf.raw().unwrap())
            })
        });
        // The round trip's two copies on their own.
        g.bench_function(format!("buffer_write_4KiB/{kind}"), |bn| {
            bn.iter(|| buf.set_raw(black_box(&page)).unwrap())
        });
        g.bench_function(format!("buffer_read_4KiB/{kind}"), |bn| {
            bn.iter(|| black_box(buf.raw().unwrap()))
        });
        let slib = open(&sum, kind);
        let items: Vec<Value> = (0..1_000_000).map(|i| Value::Int(i % 7)).collect();
        let arr = Array::from_values(&slib, CType::Int, &items).unwrap();
        let f = slib.function("our_function").unwrap();
        let args = [Value::Int(1_000_000), (&arr).into()];
        g.bench_function(format!("sum_1M_ints/{kind}"), |bn| {
            bn.iter(|| f.call(black_box(&args)).unwrap())
        });
    }
    g.finish();
}

fn loading(c: &mut Criterion) {
    let b = common::built("greeting");
    let bytes = std::fs::read(&b.wasm).unwrap();
    let mut g = c.benchmark_group("loading");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    let engine = wasmtime::Engine::default();
    g.bench_function("cold_compile", |bn| {
        bn.iter(|| wasmtime::Module::from_binary(&engine, black_box(&bytes)).unwrap())
    });
    let cache = std::env::temp_dir().join("wasmctypes-bench-cache");
    std::env::set_var("WASMCTYPES_CACHE_DIR", &cache);
    let _ = CDLL::open(&b.wasm, BackendKind::Wasm).unwrap();
    let serialized = wasmtime::Module::from_binary(&engine, &bytes)
        .unwrap()
        .serialize()
        .unwrap();
    g.bench_function("cached_load_deserialize", |bn| {
        bn.iter(|| {
            unsafe { wasmtime::Module::deserialize(&engine, black_box(&serialized)) }.unwrap()
        })
    });
    g.bench_function("open_from_cache_plus_instantiate", |bn| {
        bn.iter(|| CDLL::open(&b.wasm, BackendKind::Wasm).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(30);
    targets = scalar, data, loading
}
criterion_main!(benches);
