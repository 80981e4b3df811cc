//! Per-call cost of both backends next to their floors: a raw wasmtime `TypedFunc` call of the
//! same export (wasm), a raw libffi `Cif` call and a direct call through a function pointer
//! (native). Plus a string argument, a 4 KiB buffer round trip, compute-bound work and loading.
//!
//! `cargo bench --bench calls`; `python3 benches/compare.py` adds CPython's ctypes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use libffi::middle::arg;

/// The integration tests' helpers, for the same prototypes and arguments.
#[path = "../tests/it/common.rs"]
mod common;
mod support;
use support::raw_instance;
use wasmctypes::bench_support::sandbox_config;
use wasmctypes::{
    create_string_buffer, Array, BackendKind, Built, CType, LoadOptions, Sandbox, SandboxConfig,
    Value, CDLL,
};

fn open(b: &Built, kind: BackendKind) -> CDLL {
    let path = if kind == BackendKind::Wasm {
        &b.wasm
    } else {
        &b.native
    };
    crate::common::load(path, kind).unwrap()
}

/// The engines of the wasm floors: a default one, and one with the sandbox's configuration.
fn floor_engines() -> [(&'static str, wasmtime::Engine); 2] {
    let sandboxed = sandbox_config(&SandboxConfig::default());
    [
        ("wasm_floor_typedfunc", wasmtime::Engine::default()),
        (
            "wasm_floor_sandbox",
            wasmtime::Engine::new(&sandboxed).unwrap(),
        ),
    ]
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
    // The wasm floors: a raw TypedFunc call of the same export, on a plain wasmtime engine (the
    // floor the targets are set against), and on an engine with the sandbox's configuration
    // (epoch interruption, NaN canonicalisation): the part of the gap that is what the
    // sandbox's guarantees cost the guest code, not wasmctypes.
    for (name, engine) in &floor_engines() {
        let (mut store, inst) = raw_instance(engine, &common::reactor("testlib"));
        let add = inst
            .get_typed_func::<(i32, i32), i32>(&mut store, "add")
            .unwrap();
        g.bench_function(format!("add_int_int/{name}"), |bn| {
            bn.iter(|| add.call(&mut store, black_box((2, 3))).unwrap())
        });
        let noop = inst.get_typed_func::<(), ()>(&mut store, "noop").unwrap();
        g.bench_function(format!("void_f_void/{name}"), |bn| {
            bn.iter(|| noop.call(&mut store, ()).unwrap())
        });
        let mix = inst
            .get_typed_func::<support::WasmMix, f64>(&mut store, "mix")
            .unwrap();
        g.bench_function(format!("mixed_six/{name}"), |bn| {
            bn.iter(|| {
                mix.call(&mut store, black_box((1, 2.5, 0.5, 10, 2, 0.25)))
                    .unwrap()
            })
        });
    }
    {
        let engine = wasmtime::Engine::default();
        let (mut store, inst) = raw_instance(&engine, &common::reactor("testlib"));
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
        let so = support::open_so(&b.native);
        let noop: unsafe extern "C" fn() = support::native_fn(&so, "noop");
        g.bench_function("void_f_void/native_floor_direct", |bn| {
            bn.iter(|| unsafe { black_box(noop)() })
        });
        let cif = support::noop_cif();
        let code = support::code(noop);
        g.bench_function("void_f_void/native_floor_libffi", |bn| {
            bn.iter(|| unsafe { cif.call::<()>(code, &[]) })
        });
        let add: unsafe extern "C" fn(i32, i32) -> i32 = support::native_fn(&so, "add");
        g.bench_function("add_int_int/native_floor_direct", |bn| {
            bn.iter(|| unsafe { add(black_box(2), black_box(3)) })
        });
        let cif = support::add_cif();
        let code = support::code(add);
        g.bench_function("add_int_int/native_floor_libffi", |bn| {
            bn.iter(|| {
                let (x, y) = (black_box(2i32), black_box(3i32));
                unsafe { cif.call::<i32>(code, &[arg(&x), arg(&y)]) }
            })
        });
        let mix: support::MixFn = support::native_fn(&so, "mix");
        g.bench_function("mixed_six/native_floor_direct", |bn| {
            bn.iter(|| {
                let (a, b, c, d, e, f) = black_box((1, 2.5, 0.5, 10, 2, 0.25));
                unsafe { mix(a, b, c, d, e, f) }
            })
        });
        let cif = support::mix_cif();
        let code = support::code(mix);
        g.bench_function("mixed_six/native_floor_libffi", |bn| {
            bn.iter(|| {
                let (a, b, c, d, e, f) = black_box((1i32, 2.5f64, 0.5f32, 10i64, 2i8, 0.25f64));
                let args = [arg(&a), arg(&b), arg(&c), arg(&d), arg(&e), arg(&f)];
                unsafe { cif.call::<f64>(code, &args) }
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
    data_floors(&mut g, &testlib, &upper);
    g.finish();
}

/// The string and buffer rows' floors, each with the same copies as the call it stands under:
/// the 100 bytes and a NUL copied in before `str_len`; the 4,095 bytes copied in before
/// `upper` and the 4,096-byte buffer copied out after it. In wasm they go to and from a block
/// of the raw instance's memory, natively to and from a host buffer.
fn data_floors(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    testlib: &Built,
    upper: &Built,
) {
    let mut text = [b'a'; 101];
    text[100] = 0;
    let page = [b'q'; 4095];
    let mut back = vec![0u8; 4096];
    let testlib_reactor = common::reactor("testlib");
    let upper_reactor = common::reactor("upper");
    for (name, engine) in &floor_engines() {
        let (mut store, strlen, memory, addr) =
            support::raw_func_with_block::<i32, i32>(engine, &testlib_reactor, "str_len", 101);
        g.bench_function(format!("strlen_100_bytes/{name}"), |bn| {
            bn.iter(|| {
                memory
                    .write(&mut store, addr as usize, black_box(&text))
                    .unwrap();
                strlen.call(&mut store, addr).unwrap()
            })
        });
        let (mut store, up, memory, addr) =
            support::raw_func_with_block::<(i32, i32), ()>(engine, &upper_reactor, "upper", 4096);
        g.bench_function(format!("upper_4KiB_round_trip/{name}"), |bn| {
            bn.iter(|| {
                memory
                    .write(&mut store, addr as usize, black_box(&page))
                    .unwrap();
                up.call(&mut store, (addr, 4095)).unwrap();
                memory.read(&store, addr as usize, &mut back).unwrap();
                black_box(&back);
            })
        });
    }
    let so = support::open_so(&testlib.native);
    let strlen: unsafe extern "C" fn(*const u8) -> i32 = support::native_fn(&so, "str_len");
    let cif = libffi::middle::Cif::new(
        [libffi::middle::Type::pointer()],
        libffi::middle::Type::i32(),
    );
    let code = support::code(strlen);
    let mut s = [0u8; 101];
    g.bench_function("strlen_100_bytes/native_floor_direct", |bn| {
        bn.iter(|| {
            s.copy_from_slice(black_box(&text));
            unsafe { strlen(black_box(s.as_ptr())) }
        })
    });
    g.bench_function("strlen_100_bytes/native_floor_libffi", |bn| {
        bn.iter(|| {
            s.copy_from_slice(black_box(&text));
            let p = black_box(s.as_ptr());
            unsafe { cif.call::<i32>(code, &[arg(&p)]) }
        })
    });
    let so = support::open_so(&upper.native);
    let up: unsafe extern "C" fn(*mut u8, i32) = support::native_fn(&so, "upper");
    let cif = libffi::middle::Cif::new(
        [libffi::middle::Type::pointer(), libffi::middle::Type::i32()],
        libffi::middle::Type::void(),
    );
    let code = support::code(up);
    let mut buf = vec![0u8; 4096];
    g.bench_function("upper_4KiB_round_trip/native_floor_direct", |bn| {
        bn.iter(|| {
            buf[..4095].copy_from_slice(black_box(&page));
            unsafe { up(black_box(buf.as_mut_ptr()), 4095) };
            back.copy_from_slice(&buf);
            black_box(&back);
        })
    });
    g.bench_function("upper_4KiB_round_trip/native_floor_libffi", |bn| {
        bn.iter(|| {
            buf[..4095].copy_from_slice(black_box(&page));
            let (p, n) = (black_box(buf.as_mut_ptr()), 4095i32);
            unsafe { cif.call::<()>(code, &[arg(&p), arg(&n)]) };
            back.copy_from_slice(&buf);
            black_box(&back);
        })
    });
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
    let _ = CDLL::open_wasm(&b.wasm).unwrap();
    let serialized = wasmtime::Module::from_binary(&engine, &bytes)
        .unwrap()
        .serialize()
        .unwrap();
    g.bench_function("cached_load_deserialize", |bn| {
        bn.iter(|| {
            unsafe { wasmtime::Module::deserialize(&engine, black_box(&serialized)) }.unwrap()
        })
    });
    // A side module: a new sandbox (the libc module from the cache, instantiated) plus the
    // library linked into it.
    g.bench_function("open_from_cache_plus_instantiate", |bn| {
        bn.iter(|| CDLL::open_wasm(&b.wasm).unwrap())
    });
    let reactor = common::reactor("greeting");
    let _ = CDLL::open_wasm(&reactor).unwrap();
    g.bench_function("standalone_open_from_cache_plus_instantiate", |bn| {
        bn.iter(|| CDLL::open_wasm(&reactor).unwrap())
    });
    let (a, second) = (
        common::built("linking/liba").wasm,
        common::built("linking/libb").wasm,
    );
    g.bench_function("sandbox_new_plus_load", |bn| {
        bn.iter(|| {
            let sb = Sandbox::new(&LoadOptions::default()).unwrap();
            sb.load(&a).unwrap()
        })
    });
    g.bench_function("load_second_library_into_warm_sandbox", |bn| {
        bn.iter_batched(
            || {
                let sb = Sandbox::new(&LoadOptions::default()).unwrap();
                let first = sb.load(&a).unwrap();
                (sb, first)
            },
            |(sb, first)| (sb.load(&second).unwrap(), first, sb),
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(30);
    targets = scalar, data, loading
}
criterion_main!(benches);
