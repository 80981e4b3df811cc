"""What the C prototypes cost: reading a library's DWARF (the first time in a process, then
from the per-process memo), and the first call of a declared function (prepared and checked
against the C) against the calls after it, whose path has no check.

    target/venv/bin/python benches/python_prototypes.py [LIB.wasm|libLIB.so ...]

Without arguments it builds guest-c/prototypes.c. Medians of 15 runs, each read in a fresh
library object; the memo is cleared between the "uncached" runs by giving the file a new
identity (a copy).
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_ms(samples):
    return statistics.median(samples) * 1000.0


def main(paths):
    tmp = tempfile.mkdtemp()
    if not paths:
        exe = os.path.join(ROOT, "target", "debug", "wasmctypes")
        subprocess.run([exe, "build", "--out", tmp, os.path.join(ROOT, "guest-c", "prototypes.c")],
                       check=True, capture_output=True)
        paths = [os.path.join(tmp, "prototypes.wasm"), os.path.join(tmp, "libprototypes.so")]
    print("%-28s %10s %12s %10s %12s %12s" % ("library", "size", "read (ms)", "memo (ms)",
                                               "1st call us", "next call us"))
    for path in paths:
        import wasmctypes.native
        import wasmctypes.wasm

        ct = wasmctypes.wasm if path.endswith(".wasm") else wasmctypes.native
        uncached, cached = [], []
        for i in range(15):
            copy = os.path.join(tmp, "copy%d-%s" % (i, os.path.basename(path)))
            shutil.copy(path, copy)
            lib = ct.CDLL(copy)
            t0 = time.perf_counter()
            lib._lib.prototype("ps_uint")
            t1 = time.perf_counter()
            lib._lib.prototype("ps_uint")
            t2 = time.perf_counter()
            uncached.append(t1 - t0)
            cached.append(t2 - t1)
        first, later = [float("nan")], [float("nan")]
        for i in range(15 if ct.CDLL(path)._lib.has("ps_uint") else 0):
            if not i:
                first, later = [], []
            lib = ct.CDLL(path)
            f = lib.ps_uint
            f.argtypes = [ct.c_int, ct.c_uint, ct.c_uint]
            f.restype = ct.c_uint
            t0 = time.perf_counter()
            f(1, 2, 3)
            t1 = time.perf_counter()
            for _ in range(1000):
                f(1, 2, 3)
            t2 = time.perf_counter()
            first.append(t1 - t0)
            later.append((t2 - t1) / 1000)
        print("%-28s %10d %12.3f %10.4f %12.1f %12.3f" % (
            os.path.basename(path), os.path.getsize(path), median_ms(uncached),
            median_ms(cached), median_ms(first) * 1000, median_ms(later) * 1000))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
