#!/usr/bin/env python3
"""Per-call cost of CPython's ctypes next to wasmctypes' two backends and their floors.

Run from the repository root:  python3 benches/compare.py
It runs `cargo bench --bench calls` (criterion), then times CPython's ctypes on the same .so
for the same calls (argtypes and restype set, timeit-style: best-of-repeats median), in the
same run on the same machine, and prints one table with ratios. The scalar calls' ratios to
their floors come from `cargo bench --bench ratios`, which times them interleaved, so that a
burst of load on a shared machine does not land on a call and miss its floor.
"""
import ctypes
import glob
import json
import os
import statistics
import subprocess
import sys
import timeit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "target", "bench-guest")


def build():
    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "wasmctypes"], cwd=ROOT, check=True)
    exe = os.path.join(ROOT, "target", "release", "wasmctypes")
    srcs = [os.path.join(ROOT, "guest-c", f + ".c") for f in ("testlib", "upper")]
    subprocess.run([exe, "build", "--out", OUT, *srcs], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def criterion():
    if "--no-cargo-bench" not in sys.argv:
        subprocess.run(["cargo", "bench", "--bench", "calls", "--", "--noplot"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    results = {}
    for bench in glob.glob(os.path.join(ROOT, "target", "criterion", "**", "new", "benchmark.json"), recursive=True):
        with open(bench) as f:
            full_id = json.load(f)["full_id"]
        with open(os.path.join(os.path.dirname(bench), "estimates.json")) as f:
            results[full_id] = json.load(f)["median"]["point_estimate"]
    return results


def interleaved():
    if "--no-cargo-bench" in sys.argv:
        return []
    out = subprocess.run(["cargo", "bench", "--bench", "ratios", "--", "--json"], cwd=ROOT, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def time_ns(stmt, setup_globals, number=200_000, repeat=7):
    times = timeit.repeat(stmt, globals=setup_globals, number=number, repeat=repeat)
    return statistics.median(times) / number * 1e9


def ctypes_times():
    lib = ctypes.CDLL(os.path.join(OUT, "libtestlib.so"))
    up = ctypes.CDLL(os.path.join(OUT, "libupper.so"))
    lib.noop.argtypes, lib.noop.restype = [], None
    lib.add.argtypes, lib.add.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    lib.mix.argtypes = [ctypes.c_int, ctypes.c_double, ctypes.c_float, ctypes.c_longlong, ctypes.c_char, ctypes.c_double]
    lib.mix.restype = ctypes.c_double
    lib.str_len.argtypes, lib.str_len.restype = [ctypes.c_char_p], ctypes.c_int
    up.upper.argtypes, up.upper.restype = [ctypes.c_char_p, ctypes.c_int], None
    buf = ctypes.create_string_buffer(4096)
    g = {"lib": lib, "up": up, "buf": buf, "s": b"a" * 100, "page": b"q" * 4095}
    return {
        "void_f_void": time_ns("lib.noop()", g),
        "add_int_int": time_ns("lib.add(2, 3)", g),
        "mixed_six": time_ns("lib.mix(1, 2.5, 0.5, 10, b'\\x02', 0.25)", g),
        "strlen_100_bytes": time_ns("lib.str_len(s)", g),
        "upper_4KiB_round_trip": time_ns("buf.raw = page; up.upper(buf, 4095); buf.raw", g, number=50_000),
    }


def main():
    build()
    crit = criterion()
    ratios = interleaved()
    py = ctypes_times()
    rows = [("scalar", "void_f_void"), ("scalar", "add_int_int"), ("scalar", "mixed_six"),
            ("data", "strlen_100_bytes"), ("data", "upper_4KiB_round_trip"), ("data", "sum_1M_ints")]
    fmt = "{:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11}"
    print(fmt.format("call (median ns)", "ctypes", "native", "nat typed", "wasm", "wasm typed", "wasm floor",
                     "libffi", "direct", "ctypes/nat", "ctypes/wasm"))
    for group, name in rows:
        get = lambda suffix: crit.get(f"{group}/{name}/{suffix}")
        nat, wasm = get("native"), get("wasm")
        c = py.get(name)
        cell = lambda v: "-" if v is None else (f"{v:.1f}" if v < 1e5 else f"{v/1e6:.2f}ms")
        ratio = lambda a, b: "-" if a is None or b is None else f"{a / b:.1f}x"
        print(fmt.format(name, cell(c), cell(nat), cell(get("native_typed")), cell(wasm), cell(get("wasm_typed")),
                         cell(get("wasm_floor_typedfunc")), cell(get("native_floor_libffi")),
                         cell(get("native_floor_direct")), ratio(c, nat), ratio(c, wasm)))
    print()
    e = crit.get("scalar/add_int_int/wasm_floor_typedfunc_epoch")
    if e:
        print(f"add_int_int: raw TypedFunc on an epoch-interruption engine, deadline armed per call = {e:.1f} ns")
    for row in ratios:
        if row["ratio_to_floor"] is not None:
            # The targets of issue 7: wasm at most 1.3x TypedFunc, native at most a libffi call.
            target = None if "+" in row["name"] else 1.3 if "/wasm" in row["name"] else 1.0
            note = f"  (target {target}x)" if target else ""
            print(f"interleaved {row['name']} / {row['floor']} = {row['ratio_to_floor']:.2f}x"
                  f", minimums {row['ratio_of_minimums']:.2f}x  ({row['ns_per_call_median']:.1f} ns){note}")
    d = next((r for r in ratios if r["name"] == "add/native_floor_direct"), None)
    for row in ratios:
        if d and row["name"] in ("add/native", "add/native_typed"):
            print(f"interleaved {row['name']} / add/native_floor_direct = "
                  f"{row['ns_per_call_median'] / d['ns_per_call_median']:.1f}x")
    c = py.get("add_int_int")
    for suffix in ("native", "wasm"):
        v = crit.get(f"scalar/add_int_int/{suffix}")
        if c and v:
            print(f"add_int_int: ctypes / {suffix} = {c / v:.1f}x  (target 10x)")
    u = crit.get("scalar/add_int_int/wasm_func_call")
    if u:
        print(f"add_int_int: untyped Func::call = {u:.1f} ns")
    s_w, s_n = crit.get("data/sum_1M_ints/wasm"), crit.get("data/sum_1M_ints/native")
    if s_w and s_n:
        print(f"sum_1M_ints: wasm / native = {s_w / s_n:.2f}x")
    for k in ("cold_compile", "cached_load_deserialize", "open_from_cache_plus_instantiate"):
        v = crit.get(f"loading/{k}")
        if v:
            print(f"loading {k}: {v / 1e6:.3f} ms")


if __name__ == "__main__":
    main()
