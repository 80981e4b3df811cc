"""libsodium through libnacl, on CPython's ctypes, wasmctypes.native and wasmctypes.wasm in
one run: the time of one operation (median of repeats) and the ratio wasm / native.

    REALWORLD_PORTABLE=1 ./run realworld   # the builds, once
    python benches/libsodium.py [WORK_DIR] [--rounds N]

WORK_DIR is where `realworld/run` built libsodium (default target/realworld): `native/lib`,
`native-portable/lib` (libsodium natively without its assembly and its x86 SIMD variants,
when built) and `wasm/lib`, and libnacl's source in `src/`. Each column runs in its own
process; the columns alternate, N rounds (3 unless given), and each cell is the median of the
rounds' medians with their range; a ratio is taken per round, between the columns of that
round. Rows: crypto_stream_chacha20_xor, crypto_secretbox, crypto_generichash (BLAKE2b)
and crypto_hash_sha256 over 16 MiB; crypto_sign + crypto_sign_open and crypto_box per
operation. "host" is the wasm column's time for the same arguments given to a function that
does no work (sodium_memcmp over 0 bytes): for the 16 MiB rows the cost of carrying the 16 MiB
argument across the boundary, paid once per call; for the per-operation rows the cost of one
such call with small arguments (libnacl makes two to four per operation).
"""

import json
import os
import statistics
import subprocess
import sys
import time

MIB16 = 16 * 1024 * 1024

CHILD = r"""
import json, os, statistics, sys, time
import ctypes
import libnacl
nacl = libnacl.nacl

def median_time(fn, number, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t) / number)
    return statistics.median(times)

big = os.urandom(%(size)d)
key32 = b"k" * 32
nonce8 = b"n" * 8
nonce24 = b"n" * 24
out = ctypes.create_string_buffer(len(big))
nacl.crypto_stream_chacha20_xor.argtypes = None
pk, sk = libnacl.crypto_sign_keypair()
bpk, bsk = libnacl.crypto_box_keypair()
small = b"m" * 64
signed = libnacl.crypto_sign(small, sk)
noop_out = ctypes.create_string_buffer(len(big))
small_out = ctypes.create_string_buffer(64)
zero = ctypes.c_size_t(0)
# A call as libnacl makes one, of a function that does no work: the host's part of one call.
noop_call = lambda: nacl.sodium_memcmp(small_out, small, zero)

rows = {
    "crypto_stream_chacha20_xor 16 MiB": (lambda: nacl.crypto_stream_chacha20_xor(
        out, big, ctypes.c_ulonglong(len(big)), nonce8, key32), 1, 5,
        lambda: nacl.sodium_memcmp(out, big, ctypes.c_size_t(0))),
    "crypto_secretbox 16 MiB": (lambda: libnacl.crypto_secretbox(big, nonce24, key32), 1, 5,
        lambda: nacl.sodium_memcmp(noop_out, big, ctypes.c_size_t(0))),
    "crypto_generichash 16 MiB": (lambda: libnacl.crypto_generichash(big), 1, 5,
        lambda: nacl.sodium_memcmp(small_out, big, ctypes.c_size_t(0))),
    "crypto_hash_sha256 16 MiB": (lambda: libnacl.crypto_hash_sha256(big), 1, 5,
        lambda: nacl.sodium_memcmp(small_out, big, ctypes.c_size_t(0))),
    "crypto_sign + crypto_sign_open": (lambda: libnacl.crypto_sign_open(
        libnacl.crypto_sign(small, sk), pk), 50, 7, noop_call),
    "crypto_box": (lambda: libnacl.crypto_box(small, nonce24, bpk, bsk), 50, 7, noop_call),
}
result = {}
for name, (fn, number, repeat, host) in rows.items():
    fn()
    result[name] = [median_time(fn, number, repeat),
                    median_time(host, number, repeat) if host else None]
print(json.dumps(result))
"""


def column_command(name, work, python, child):
    if name == "ctypes":
        # As realworld/run: the name CPython's find_library answers resolves to this build.
        path = os.path.join(work, "ctypes-lib") + ":" + os.path.join(work, "native", "lib")
        return [python, child], {"LD_LIBRARY_PATH": path}
    lib = os.path.join(work, name, "lib")
    backend = "wasm" if name == "wasm" else "native"
    return [python, "-m", "wasmctypes", "run", "--backend", backend, "--lib-dir", lib, child], {}


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    rounds = 3
    if "--rounds" in argv:
        rounds = int(argv[argv.index("--rounds") + 1])
        args = [a for a in args if a != str(rounds)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    work = os.path.abspath(args[0] if args else os.path.join(root, "target", "realworld"))
    libnacl_src = os.path.join(work, "src", "libnacl-2.1.0")
    if not os.path.isdir(libnacl_src):
        sys.exit("no build in %s: run ./run realworld first" % work)
    child = os.path.join(work, "bench_libsodium_child.py")
    with open(child, "w", encoding="utf-8") as f:
        f.write(CHILD % {"size": MIB16})
    columns = ("ctypes", "native", "wasm")
    if os.path.isdir(os.path.join(work, "native-portable", "lib")):
        columns += ("native-portable",)
    seen = {c: [] for c in columns}
    for _ in range(rounds):
        for c in columns:
            cmd, extra = column_command(c, work, sys.executable, child)
            env = dict(os.environ, PYTHONPATH=libnacl_src, **extra)
            env.pop("WASMCTYPES_PATH", None)
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=work)
            if p.returncode != 0:
                sys.exit("%s column failed:\n%s" % (c, p.stderr))
            seen[c].append(json.loads(p.stdout.strip().splitlines()[-1]))
    names = list(seen["ctypes"][0])

    def rng(c, name, i=0, scale=1e3):
        """The median of the rounds' medians, and their range."""
        vals = sorted(r[name][i] * scale for r in seen[c] if r[name][i] is not None)
        if not vals:
            return "-"
        return "%.3g (%.3g-%.3g)" % (statistics.median(vals), vals[0], vals[-1])

    def ratio(n, base):
        """wasm / base, per round (the two measured in the same round): median and range."""
        rs = sorted(w[n][0] / c[n][0] for w, c in zip(seen["wasm"], seen[base]))
        return "%.2fx (%.2f-%.2f)" % (statistics.median(rs), rs[0], rs[-1])

    portable = "native-portable" in seen
    head = ["operation", "CPython ctypes (ms)", "wasmctypes.native (ms)", "wasmctypes.wasm (ms)",
            "wasm / native", "of which host (ms)"]
    if portable:
        head[4:4] = ["native, portable C (ms)"]
        head += ["wasm / portable"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for n in names:
        row = [n, rng("ctypes", n), rng("native", n), rng("wasm", n), ratio(n, "ctypes"),
               rng("wasm", n, 1)]
        if portable:
            row[4:4] = [rng("native-portable", n)]
            row += [ratio(n, "native-portable")]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
