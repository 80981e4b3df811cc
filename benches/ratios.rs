//! The scalar calls' ratios to their floors, measured interleaved.
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
//! `cargo bench --bench ratios` prints one row per call: the median and minimum ns/call over
//! the rounds, the median per-round ratio to the floor, and the ratio of the minimums.
//! `-- --json` prints one JSON object per row instead.

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use wasmctypes::{BackendKind, CType, Value};

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

/// Calls per block: long enough to dwarf reading the clock, short enough (~0.1 ms) that a
/// burst of load covers a whole round.
const BLOCK: u32 = 4_000;
/// Rounds of every call.
const ROUNDS: usize = 500;

/// One row: its name, the row it is compared to, and a timed block of its call.
struct Row<'a> {
    name: &'static str,
    floor: Option<usize>,
    block: Box<dyn FnMut() -> f64 + 'a>,
}

/// A row whose block calls `call` directly (inlined), so that no per-call indirection is
/// added to what is measured.
fn row<'a>(name: &'static str, floor: Option<usize>, mut call: impl FnMut() + 'a) -> Row<'a> {
    Row {
        name,
        floor,
        block: Box::new(move || {
            let start = Instant::now();
            for _ in 0..BLOCK {
                call();
            }
            start.elapsed().as_nanos() as f64 / f64::from(BLOCK)
        }),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let b = common::built("testlib");

    // Two plain instances, so that each floor owns its store as a user of wasmtime would.
    let engine = wasmtime::Engine::default();
    let (mut add_store, inst) = support::raw_instance(&engine, &b.wasm);
    let raw_add = inst
        .get_typed_func::<(i32, i32), i32>(&mut add_store, "add")
        .unwrap();
    let (mut noop_store, inst) = support::raw_instance(&engine, &b.wasm);
    let raw_noop = inst
        .get_typed_func::<(), ()>(&mut noop_store, "noop")
        .unwrap();
    let (_so, add_fn) = support::native_add(&b.native);
    let cif = support::add_cif();
    let code = libffi::middle::CodePtr(add_fn as *mut _);

    let wasm = common::open("testlib", BackendKind::Wasm);
    let native = common::open("testlib", BackendKind::Native);
    let mut wadd = wasm.function("add").unwrap();
    wadd.set_argtypes(&[CType::Int, CType::Int]).unwrap();
    let wadd_typed = wadd.typed::<(i32, i32), i32>().unwrap();
    let mut wnoop = wasm.function("noop").unwrap();
    wnoop.set_argtypes::<CType>(&[]).unwrap();
    wnoop.set_restype(CType::Void).unwrap();
    let wnoop_typed = wnoop.typed::<(), ()>().unwrap();
    let mut nadd = native.function("add").unwrap();
    nadd.set_argtypes(&[CType::Int, CType::Int]).unwrap();
    let nadd_typed = nadd.typed::<(i32, i32), i32>().unwrap();
    let args = [Value::Int(2), Value::Int(3)];

    let mut rows = vec![
        row("add/wasm_floor_typedfunc", None, move || {
            black_box(raw_add.call(&mut add_store, black_box((2, 3))).unwrap());
        }),
        row("add/wasm", Some(0), || {
            black_box(wadd.call(black_box(&args)).unwrap());
        }),
        row("add/wasm_typed", Some(0), || {
            black_box(wadd_typed.call(black_box((2, 3))).unwrap());
        }),
        // The typed call plus making and dropping the `Value` the dynamic call returns: the
        // part of the dynamic call's extra cost that is the result's type, not the call.
        row("add/wasm_typed+Value", Some(0), || {
            black_box(Value::Int(
                wadd_typed.call(black_box((2, 3))).unwrap() as i128
            ));
        }),
        row("void/wasm_floor_typedfunc", None, move || {
            raw_noop.call(&mut noop_store, ()).unwrap();
        }),
        row("void/wasm", Some(4), || {
            black_box(wnoop.call(black_box(&[])).unwrap());
        }),
        row("void/wasm_typed", Some(4), || {
            wnoop_typed.call(()).unwrap();
        }),
        row("add/native_floor_libffi", None, || {
            let (x, y) = (black_box(2i32), black_box(3i32));
            let args = [libffi::middle::arg(&x), libffi::middle::arg(&y)];
            black_box(unsafe { cif.call::<i32>(code, &args) });
        }),
        row("add/native", Some(7), || {
            black_box(nadd.call(black_box(&args)).unwrap());
        }),
        row("add/native_typed", Some(7), || {
            black_box(nadd_typed.call(black_box((2, 3))).unwrap());
        }),
        row("add/native_floor_direct", None, || {
            black_box(unsafe { add_fn(black_box(2), black_box(3)) });
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

    let json = std::env::args().any(|a| a == "--json");
    let mut out = std::io::stdout().lock();
    for (r, t) in rows.iter().zip(&times) {
        let ratio = r.floor.map(|f| {
            let mut per_round: Vec<f64> = t.iter().zip(&times[f]).map(|(a, b)| a / b).collect();
            median(&mut per_round)
        });
        let mut sorted = t.clone();
        let med = median(&mut sorted);
        let min = sorted[0];
        let floor_min = |f: usize| times[f].iter().copied().fold(f64::INFINITY, f64::min);
        let ratio_of_minimums = r.floor.map(|f| min / floor_min(f));
        let line = if json {
            serde_json::json!({
                "name": r.name,
                "ns_per_call_median": med,
                "ns_per_call_min": min,
                "ratio_to_floor": ratio,
                "ratio_of_minimums": ratio_of_minimums,
                "floor": r.floor.map(|f| rows[f].name),
            })
            .to_string()
        } else {
            let vs = r
                .floor
                .zip(ratio.zip(ratio_of_minimums))
                .map(|(f, (x, m))| format!("{x:5.2}x {} (minimums {m:.2}x)", rows[f].name))
                .unwrap_or_default();
            format!(
                "{:26} median {med:6.1} ns   min {min:6.1} ns   {vs}",
                r.name
            )
        };
        // A closed pipe (`| head`) ends the output, not the process with a panic.
        if writeln!(out, "{line}").is_err() {
            return;
        }
    }
}
