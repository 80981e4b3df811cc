"""What one callback costs, CPython's ctypes against wasmctypes.native and wasmctypes.wasm.

    VIRTUAL_ENV=$PWD/target/venv target/venv/bin/maturin develop --release
    target/venv/bin/python benches/python_callbacks.py

A C loop (`each_ptr` in guest-c/callbacks.c) calls a Python callback 1,000 times: with a
`c_void_p` argument (an int), with a `POINTER(c_int)` argument (a pointer object made per
call), and with that pointer read (`q[0]`). Fifteen rounds, the three namespaces interleaved in
each; the figure is the fastest round, in nanoseconds per callback, with the ratio to CPython's
ctypes in the same run. It takes apart the per-comparison cost of python_compare.py's qsort row.
"""

import ctypes as cpython_ctypes
import os
import sys
import timeit

from python_compare import OUT, ROOT

import subprocess


def build():
    exe = os.path.join(ROOT, "target", "debug", "wasmctypes")
    if not os.path.exists(exe):
        subprocess.run(["cargo", "build", "--quiet", "--bin", "wasmctypes"], cwd=ROOT, check=True)
    src = os.path.join(ROOT, "guest-c", "callbacks.c")
    subprocess.run([exe, "build", "--out", OUT, src], check=True, stdout=subprocess.DEVNULL)


def calls(ct):
    wasm = ct.__name__ == "wasmctypes.wasm"
    lib = ct.CDLL(os.path.join(OUT, "callbacks.wasm" if wasm else "libcallbacks.so"))
    P = ct.CFUNCTYPE(None, ct.POINTER(ct.c_int))
    V = ct.CFUNCTYPE(None, ct.c_void_p)
    values = (ct.c_int * 1000)(*range(1000))
    callbacks = [V(lambda q: None), P(lambda q: None), P(lambda q: q[0])]
    return [lambda f=f: lib.each_ptr(values, 1000, f) for f in callbacks], (callbacks, values)


def main():
    build()
    import wasmctypes.native
    import wasmctypes.wasm

    spaces = {"CPython": cpython_ctypes, "native": wasmctypes.native, "wasm": wasmctypes.wasm}
    made = {name: calls(ct) for name, ct in spaces.items()}
    times = {name: [[], [], []] for name in spaces}
    for _ in range(15):
        for name in spaces:
            for j, fn in enumerate(made[name][0]):
                times[name][j].append(timeit.timeit(fn, number=5) / 5 / 1000 * 1e9)
    print("%-8s %18s %18s %18s" % ("ns", "c_void_p arg", "POINTER arg", "+ q[0]"))
    for name in spaces:
        best = [min(t) for t in times[name]]
        base = [min(t) for t in times["CPython"]]
        print("%-8s %s" % (name, " ".join("%9.0f (%5.2fx)" % (b, b / c) for b, c in zip(best, base))))


if __name__ == "__main__":
    sys.exit(main())
