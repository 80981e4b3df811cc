"""Everyday ctypes operations besides calls, CPython's ctypes against wasmctypes.native and
wasmctypes.wasm, in one run.

    VIRTUAL_ENV=$PWD/target/venv target/venv/bin/maturin develop --release
    target/venv/bin/python benches/python_ops.py

Structure fields, simple values, array items and slices, making instances, `sizeof`, `byref`,
`pointer`, `cast`, `string_at`, `create_string_buffer`, `addressof`, a pointer's item and
contents, `from_buffer` and `from_buffer_copy`: what a script does between its calls.
Each row is timed with `timeit`, five repeats with the three namespaces interleaved in each;
the figure is the fastest repeat, in nanoseconds per operation, and the ratio is to CPython's
ctypes in the same run.
"""

import ctypes as cpython_ctypes
import timeit


def operations(ct):
    """name -> (operation, operations per timing)."""

    class P(ct.Structure):
        _fields_ = [("x", ct.c_int), ("y", ct.c_double)]

    a = (ct.c_int * 1000)(*range(1000))
    s = P(1, 2.0)
    i = ct.c_int(5)
    c_int, IntArray10 = ct.c_int, ct.c_int * 10
    sizeof, byref, pointer, cast, c_void_p = ct.sizeof, ct.byref, ct.pointer, ct.cast, ct.c_void_p
    string_at, create_string_buffer = ct.string_at, ct.create_string_buffer
    addressof, Chars16 = ct.addressof, ct.c_char * 16
    host, raw = bytearray(16), bytes(16)
    p = ct.pointer(i)
    many, one = 2000, 100000
    return {
        "s.x (c_int field)": (lambda: s.x, one),
        "s.y = 1.5 (c_double field)": (lambda: setattr(s, "y", 1.5), one),
        "i.value": (lambda: i.value, one),
        "i.value = 7": (lambda: setattr(i, "value", 7), one),
        "a[5]": (lambda: a[5], one),
        "a[5] = 7": (lambda: a.__setitem__(5, 7), one),
        "list(a), 1,000 items": (lambda: list(a), many),
        "a[:], 1,000 items": (lambda: a[:], many),
        "c_int(5)": (lambda: c_int(5), one),
        "P(1, 2.0) (a structure)": (lambda: P(1, 2.0), one),
        "(c_int * 10)()": (lambda: IntArray10(), one),
        "sizeof(P)": (lambda: sizeof(P), one),
        "byref(i)": (lambda: byref(i), one),
        "pointer(i)[0]": (lambda: pointer(i)[0], one),
        "cast(a, c_void_p)": (lambda: cast(a, c_void_p), one),
        "string_at(a, 100)": (lambda: string_at(a, 100), one),
        "create_string_buffer(b'hi')": (lambda: create_string_buffer(b"hi"), one),
        "addressof(i)": (lambda: addressof(i), one),
        "p[0] (POINTER(c_int))": (lambda: p[0], one),
        "p.contents (POINTER(c_int))": (lambda: p.contents, one),
        "(c_char * 16).from_buffer(bytearray)": (lambda: Chars16.from_buffer(host), one),
        "(c_char * 16).from_buffer_copy(bytes)": (lambda: Chars16.from_buffer_copy(raw), one),
    }


def main():
    import wasmctypes.native
    import wasmctypes.wasm

    spaces = {"CPython": cpython_ctypes, "native": wasmctypes.native, "wasm": wasmctypes.wasm}
    made = {name: operations(ct) for name, ct in spaces.items()}
    best = {name: {} for name in spaces}
    for _ in range(5):
        for name in spaces:
            for op, (fn, n) in made[name].items():
                t = timeit.timeit(fn, number=n) / n * 1e9
                best[name][op] = min(t, best[name].get(op, t))
    print("%-30s %9s %9s %7s %9s %7s" % ("operation (ns)", "CPython", "native", "ratio", "wasm", "ratio"))
    for op in made["CPython"]:
        base = best["CPython"][op]
        n, w = best["native"][op], best["wasm"][op]
        print("%-30s %9.0f %9.0f %6.1fx %9.0f %6.1fx" % (op, base, n, n / base, w, w / base))


if __name__ == "__main__":
    main()
