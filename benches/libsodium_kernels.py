"""libsodium's kernels with no Python around them: the same C, natively and in the sandbox,
timed in one process, alternately.

    python benches/libsodium_kernels.py NAME=n:PATH NAME=w:PATH ... [ROUNDS=15] [OPS=a,b]

Each NAME=KIND:PATH is a libsodium build, `n` loaded with wasmctypes.native, `w` with
wasmctypes.wasm; ratios are to the first. Every operation works on buffers already in the
library's memory (no argument crosses the boundary): 16 MiB for the hashes, stream ciphers
and poly1305, 50 calls for sign and scalarmult. Each cell is the fastest of ROUNDS runs (the
machines are noisy; the fastest is the kernel's own speed). For example, after
`REALWORLD_PORTABLE=1 ./run realworld`:

    python benches/libsodium_kernels.py portable=n:target/realworld/native-portable/lib/libsodium.so \\
        wasm=w:target/realworld/wasm/lib/libsodium.so
"""

import os
import sys
import time

import wasmctypes.native as N
import wasmctypes.wasm as W

SIZE = 16 * 1024 * 1024


def operations(ns, path):
    lib = ns.CDLL(path)
    lib.sodium_init()
    buf = ns.create_string_buffer(SIZE)
    out = ns.create_string_buffer(64)
    key = ns.create_string_buffer(b"k" * 32)
    nonce = ns.create_string_buffer(b"n" * 24)
    n = ns.c_ulonglong(SIZE)
    sk, pk = ns.create_string_buffer(64), ns.create_string_buffer(32)
    lib.crypto_sign_keypair(pk, sk)
    sig, siglen, msg = ns.create_string_buffer(128), ns.c_ulonglong(), ns.create_string_buffer(64)
    return {
        "sha256": lambda: lib.crypto_hash_sha256(out, buf, n),
        "sha512": lambda: lib.crypto_hash_sha512(out, buf, n),
        "blake2b": lambda: lib.crypto_generichash(out, ns.c_size_t(32), buf, n, None, ns.c_size_t(0)),
        "chacha20": lambda: lib.crypto_stream_chacha20_xor(buf, buf, n, nonce, key),
        "xsalsa20": lambda: lib.crypto_stream_xsalsa20_xor(buf, buf, n, nonce, key),
        "poly1305": lambda: lib.crypto_onetimeauth(out, buf, n, key),
        "sign x50": lambda: [lib.crypto_sign(sig, ns.byref(siglen), msg, ns.c_ulonglong(64), sk)
                             for _ in range(50)],
        "scalarmult x50": lambda: [lib.crypto_scalarmult_base(pk, key) for _ in range(50)],
    }


def main(argv):
    rounds = int(os.environ.get("ROUNDS", "15"))
    only = [o for o in os.environ.get("OPS", "").split(",") if o]
    builds = []
    for a in argv:
        name, _, rest = a.partition("=")
        kind, _, path = rest.partition(":")
        if kind not in ("n", "w") or not path:
            sys.exit("usage: NAME=n:PATH or NAME=w:PATH")
        builds.append((name, operations(N if kind == "n" else W, path)))
    names = [op for op in builds[0][1] if not only or op in only]
    best = {}
    for _ in range(rounds):
        for build, ops in builds:
            for op in names:
                start = time.perf_counter()
                ops[op]()
                took = time.perf_counter() - start
                best[build, op] = min(best.get((build, op), took), took)
    head = ["operation"] + ["%s (ms)" % b for b, _ in builds] + ["%s / %s" % (b, builds[0][0]) for b, _ in builds[1:]]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for op in names:
        base = best[builds[0][0], op]
        cells = ["%.1f" % (best[b, op] * 1e3) for b, _ in builds]
        cells += ["%.2fx" % (best[b, op] / base) for b, _ in builds[1:]]
        print("| " + " | ".join([op] + cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
