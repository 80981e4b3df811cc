"""Start-up: `import` plus the first `CDLL` of a library, CPython's ctypes against
wasmctypes.native and wasmctypes.wasm.

    VIRTUAL_ENV=$PWD/target/venv target/venv/bin/maturin develop --release
    target/venv/bin/python benches/python_compare.py   # builds target/python-bench
    target/venv/bin/python benches/python_import.py

Each figure is the median of 15 interpreter starts (`python -c ...`, with byte code written
and read as an installed package has it), less the median of `python -c pass` measured in
the same run, in milliseconds. The library is already in the build cache (a second run of a
script), as it is for a user after the first.
"""

import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "target", "python-bench")


def start(code):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - t


def main():
    lib = os.path.join(OUT, "libtestlib.so")
    wasm = os.path.join(OUT, "testlib.wasm")
    rows = {
        "python -c pass": "pass",
        "import ctypes; CDLL": "import ctypes; ctypes.CDLL(%r)" % lib,
        "import wasmctypes.native; CDLL": "import wasmctypes.native as c; c.CDLL(%r)" % lib,
        "import wasmctypes.wasm; CDLL": "import wasmctypes.wasm as c; c.CDLL(%r)" % wasm,
    }
    for code in rows.values():
        start(code)  # byte code written, caches warm
    times = {name: [] for name in rows}
    for _ in range(15):
        for name, code in rows.items():
            times[name].append(start(code))
    base = statistics.median(times["python -c pass"])
    print("%-34s %8s" % ("start-up (ms over python -c pass)", "median"))
    for name in list(rows)[1:]:
        print("%-34s %8.1f" % (name, (statistics.median(times[name]) - base) * 1e3))


if __name__ == "__main__":
    main()
