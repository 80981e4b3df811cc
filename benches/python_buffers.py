"""Big buffers: bytes into and out of memory at 4 KiB, 1 MiB and 16 MiB, CPython's ctypes
against wasmctypes.native and wasmctypes.wasm, in one run.

    VIRTUAL_ENV=$PWD/target/venv target/venv/bin/maturin develop --release
    target/venv/bin/python benches/python_buffers.py

Rows: `.raw` and `.value` of a `create_string_buffer(n)` (`.value` of a buffer full of
non-NUL bytes, so that it reads all of it), `string_at(buf, n)`, `memmove(buf, data, n)`,
`(c_char * n).from_buffer_copy(data)`, `create_string_buffer(data)`, and a `bytes` argument of
n bytes (`memchr(data, 0, 1)`, which reads one byte: the cost is passing it). Each row is timed
with `timeit`, 5 repeats with the three namespaces interleaved per repeat; the figure is the
fastest repeat, in microseconds per operation, and the ratio is to CPython's ctypes in the
same run.
"""

import ctypes as cpython_ctypes
import timeit

SIZES = {"4 KiB": 4 << 10, "1 MiB": 1 << 20, "16 MiB": 16 << 20}


def operations(ct, n):
    """name -> operation, for buffers of `n` bytes."""
    data = b"x" * n
    buf = ct.create_string_buffer(n)
    full = ct.create_string_buffer(data, n)
    memchr = ct.CDLL(None).memchr
    memchr.argtypes = [ct.c_char_p, ct.c_int, ct.c_size_t]
    memchr.restype = ct.c_void_p
    T = ct.c_char * n
    return {
        ".raw": lambda: buf.raw,
        ".value": lambda: full.value,
        "string_at(buf, n)": lambda: ct.string_at(buf, n),
        "memmove(buf, data, n)": lambda: ct.memmove(buf, data, n),
        "from_buffer_copy(data)": lambda: T.from_buffer_copy(data),
        "create_string_buffer(data)": lambda: ct.create_string_buffer(data),
        "bytes argument": lambda: memchr(data, 0, 1),
    }


def main():
    import wasmctypes.native
    import wasmctypes.wasm

    spaces = {"CPython": cpython_ctypes, "native": wasmctypes.native, "wasm": wasmctypes.wasm}
    print("%-36s %10s %10s %7s %10s %7s" % ("operation (us)", "CPython", "native", "ratio", "wasm", "ratio"))
    for label, n in SIZES.items():
        made = {name: operations(ct, n) for name, ct in spaces.items()}
        number = max(1, (1 << 24) // n // 4)
        best = {name: {} for name in spaces}
        for _ in range(5):
            for name in spaces:
                for op, fn in made[name].items():
                    t = timeit.timeit(fn, number=number) / number * 1e6
                    best[name][op] = min(t, best[name].get(op, t))
        for op in made["CPython"]:
            base = best["CPython"][op]
            nat, w = best["native"][op], best["wasm"][op]
            print("%-36s %10.1f %10.1f %6.2fx %10.1f %6.2fx" % (
                "%s, %s" % (op, label), base, nat, nat / base, w, w / base))


if __name__ == "__main__":
    main()
