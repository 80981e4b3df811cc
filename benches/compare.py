#!/usr/bin/env python3
"""Per-call cost of CPython's ctypes next to wasmctypes' two backends and their floors.

Run from the repository root:  python3 benches/compare.py
It runs `cargo bench --bench calls` (criterion), then times CPython's ctypes on the same .so
for the same calls (argtypes and restype set, timeit-style: best-of-repeats median), in the
same run on the same machine, and prints one table with ratios. The calls' ratios to their
floors come from `cargo bench --bench ratios`, which times them interleaved, so that a burst
of load on a shared machine does not land on a call and miss its floor.
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


SCALAR = ("add", "void", "mix")


def target(name, floor):
    """The target for a row's ratio to a floor, if it has one."""
    group, call = name.split("/")
    if group not in SCALAR or "+" in call or "floor" in call:
        return None
    if floor.endswith("/wasm_floor_typedfunc"):
        return 1.3
    if floor.endswith("/native_floor_libffi"):
        return 1.0
    return None


def main():
    build()
    crit = criterion()
    ratios = interleaved()
    py = ctypes_times()
    rows = [("scalar", "void_f_void"), ("scalar", "add_int_int"), ("scalar", "mixed_six"),
            ("data", "strlen_100_bytes"), ("data", "upper_4KiB_round_trip"), ("data", "sum_1M_ints")]
    fmt = "{:<22} {:>9} {:>8} {:>9} {:>8} {:>10} {:>10} {:>9} {:>8} {:>8} {:>10} {:>11}"
    print(fmt.format("call (median ns)", "ctypes", "native", "nat typed", "wasm", "wasm typed", "wasm floor",
                     "sbx floor", "libffi", "direct", "ctypes/nat", "ctypes/wasm"))
    for group, name in rows:
        get = lambda suffix: crit.get(f"{group}/{name}/{suffix}")
        nat, wasm = get("native"), get("wasm")
        c = py.get(name)
        cell = lambda v: "-" if v is None else (f"{v:.1f}" if v < 1e5 else f"{v/1e6:.2f}ms")
        ratio = lambda a, b: "-" if a is None or b is None else f"{a / b:.1f}x"
        print(fmt.format(name, cell(c), cell(nat), cell(get("native_typed")), cell(wasm), cell(get("wasm_typed")),
                         cell(get("wasm_floor_typedfunc")), cell(get("wasm_floor_sandbox")),
                         cell(get("native_floor_libffi")), cell(get("native_floor_direct")),
                         ratio(c, nat), ratio(c, wasm)))
    print()
    print("wasm floor: raw TypedFunc, default engine; sbx floor: the same on the sandbox's configuration")
    for group, name in rows[:3]:
        c = py.get(name)
        for suffix in ("native", "wasm"):
            v = crit.get(f"{group}/{name}/{suffix}")
            if c and v:
                print(f"{name}: ctypes / {suffix} = {c / v:.1f}x  (target 10x)")
    u = crit.get("scalar/add_int_int/wasm_func_call")
    if u:
        print(f"add_int_int: untyped Func::call = {u:.1f} ns")
    s_w, s_n = crit.get("data/sum_1M_ints/wasm"), crit.get("data/sum_1M_ints/native")
    if s_w and s_n:
        print(f"sum_1M_ints: wasm / native = {s_w / s_n:.2f}x  (target at most 1.5x)")
    for k in ("cold_compile", "cached_load_deserialize", "open_from_cache_plus_instantiate"):
        v = crit.get(f"loading/{k}")
        if v:
            print(f"loading {k}: {v / 1e6:.3f} ms")
    if ratios:
        print()
        print("interleaved (cargo bench --bench ratios): median per-round ratio, ratio of minimums")
    for row in ratios:
        parts = []
        for r in row["ratios"]:
            t = target(row["name"], r["floor"])
            mark = "" if t is None else f" [target {t}x: {'met' if r['ratio'] <= t else 'MISSED'}]"
            parts.append(f"{r['ratio']:.2f}x {r['floor']} (min {r['ratio_of_minimums']:.2f}x){mark}")
        print(f"{row['name']:<28} {row['ns_per_call_median']:9.1f} ns  " + "  ".join(parts))


if __name__ == "__main__":
    main()
