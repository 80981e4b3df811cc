"""CPython's ctypes against wasmctypes.native and wasmctypes.wasm, in one run.

    VIRTUAL_ENV=$PWD/target/venv target/venv/bin/maturin develop --release
    target/venv/bin/python benches/python_compare.py

Rows: `lib.add(1, 2)` with argtypes, a `c_char_p` call (`str_len` of 100 bytes), libc's
`memcpy` declared and called as bindings do (`c_void_p`, `c_char_p`, `c_size_t`, a `byref()`
output), a structure by value with a `byref()` output and a call that calls back once into
Python (both from CPython's `_ctypes_test`), libc's `qsort` of 1,000 ints with a Python
comparison callback, and `create_string_buffer(4096)` plus a call (`upper`). Each row is timed with `timeit`, 7 repeats with the three namespaces
interleaved per repeat; the figure is the median repeat, and the ratio is to CPython's ctypes
in the same run. Each libc's qsort makes its own number of comparisons (glibc's merge sort
fewer than wasi-libc's smoothsort), so the qsort row is also shown per comparison.
"""

import ctypes as cpython_ctypes
import os
import random
import statistics
import subprocess
import sys
import timeit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "target", "python-bench")


# CPython's own test library (`_ctypes_test`), and the package's copy of its source built for
# both backends, by namespace name.
TESTLIB = {}


def build():
    import _ctypes_test

    from wasmctypes import _core

    wasm, native = _core.build(os.path.join(ROOT, "python", "wasmctypes", "ctypes_test.c"))
    TESTLIB.update({"ctypes": _ctypes_test.__file__, "wasmctypes.native": native, "wasmctypes.wasm": wasm})
    exe = os.path.join(ROOT, "target", "debug", "wasmctypes")
    if not os.path.exists(exe):
        subprocess.run(["cargo", "build", "--quiet", "--bin", "wasmctypes"], cwd=ROOT, check=True)
    srcs = [os.path.join(ROOT, "guest-c", n + ".c") for n in ("testlib", "upper")]
    subprocess.run([exe, "build", "--out", OUT] + srcs, check=True, stdout=subprocess.DEVNULL)


def rows(ct):
    """The rows for namespace `ct`: name -> (function, calls per timing)."""
    lib = ct.CDLL(os.path.join(OUT, "libtestlib.so"))
    up = ct.CDLL(os.path.join(OUT, "libupper.so"))
    libc = ct.CDLL(None)
    add = lib.add
    add.argtypes = [ct.c_int, ct.c_int]
    add.restype = ct.c_int
    str_len = lib.str_len
    str_len.argtypes = [ct.c_char_p]
    str_len.restype = ct.c_int
    upper = up.upper
    upper.argtypes = [ct.c_char_p, ct.c_int]
    upper.restype = None
    text = b"x" * 100
    numbers = list(range(1000))
    random.Random(0).shuffle(numbers)
    arr_t = ct.c_int * 1000
    CMP = ct.CFUNCTYPE(ct.c_int, ct.POINTER(ct.c_int), ct.POINTER(ct.c_int))
    cmp = CMP(lambda a, b: a[0] - b[0])
    libc.qsort.restype = None
    size = ct.sizeof(ct.c_int)

    def qsort():
        arr = arr_t(*numbers)
        libc.qsort(arr, 1000, size, cmp)

    # How many comparisons this libc's qsort makes for these numbers: glibc's merge sort makes
    # fewer than wasi-libc's (musl's) smoothsort, so the row's time per comparison is shown too.
    counted = [0]

    def count(a, b):
        counted[0] += 1
        return a[0] - b[0]

    counter = CMP(count)
    libc.qsort(arr_t(*numbers), 1000, size, counter)
    rows.comparisons[ct.__name__] = counted[0]

    def buffer():
        buf = ct.create_string_buffer(4096)
        upper(buf, 4095)

    # As a binding makes its calls: argtypes of c_void_p, c_char_p and c_size_t, a byref()
    # output, bytes input.
    memcpy = libc.memcpy
    memcpy.argtypes = [ct.c_void_p, ct.c_char_p, ct.c_size_t]
    memcpy.restype = ct.c_void_p
    out = ct.c_int()

    # CPython's own test library: a structure by value, a callback called once from C.
    test = ct.CDLL(TESTLIB[ct.__name__])

    class POINT(ct.Structure):
        _fields_ = [("x", ct.c_int), ("y", ct.c_int)]

    byval = test._testfunc_byval
    byval.argtypes = [POINT, ct.POINTER(POINT)]
    byval.restype = ct.c_int
    pt, pt_out = POINT(1, 2), POINT()
    call_back = test._testfunc_callback_i_if
    INT_FN = ct.CFUNCTYPE(ct.c_int, ct.c_int)
    call_back.argtypes = [ct.c_int, INT_FN]
    call_back.restype = ct.c_int
    twice = INT_FN(lambda v: 2 * v)

    return {
        "add(1, 2)": (lambda: add(1, 2), 20000),
        "c_char_p str_len(100 bytes)": (lambda: str_len(text), 20000),
        "memcpy(byref(i), b'abcd', 4)": (lambda: memcpy(ct.byref(out), b"abcd", 4), 20000),
        "a structure by value (+ byref)": (lambda: byval(pt, ct.byref(pt_out)), 20000),
        "a C call that calls back once": (lambda: call_back(1, twice), 20000),
        "qsort of 1,000 ints, Python callback": (qsort, 3),
        "create_string_buffer(4096) + upper": (buffer, 300),
    }


def main():
    build()
    import wasmctypes.native
    import wasmctypes.wasm

    spaces = {"CPython ctypes": cpython_ctypes, "native": wasmctypes.native, "wasm": wasmctypes.wasm}
    tables = {name: rows(ct) for name, ct in spaces.items()}
    print("%-40s %14s %14s %8s %14s %8s" % ("row (us per call)", "CPython", "native", "ratio", "wasm", "ratio"))
    for row in tables["CPython ctypes"]:
        times = {name: [] for name in spaces}
        for _ in range(7):
            for name in spaces:
                fn, n = tables[name][row]
                times[name].append(timeit.timeit(fn, number=n) / n * 1e6)
        best = {name: statistics.median(ts) for name, ts in times.items()}
        c = best["CPython ctypes"]
        print("%-40s %14.2f %14.2f %7.2fx %14.2f %7.2fx" % (
            row, c, best["native"], best["native"] / c, best["wasm"], best["wasm"] / c))
        if row.startswith("qsort"):
            n = {name: rows.comparisons[ct.__name__] for name, ct in spaces.items()}
            per = {name: best[name] / n[name] for name in spaces}
            c = per["CPython ctypes"]
            print("%-40s %14.3f %14.3f %7.2fx %14.3f %7.2fx" % (
                "  per comparison (%d, %d, %d made)" % (n["CPython ctypes"], n["native"], n["wasm"]),
                c, per["native"], per["native"] / c, per["wasm"], per["wasm"] / c))


rows.comparisons = {}

if __name__ == "__main__":
    sys.exit(main())
