"""Bytes into and out of memory (`.raw`, `.value`, `string_at`, `from_buffer_copy`,
`memmove`, `create_string_buffer`, `bytes` arguments) at every size, from every kind of
buffer: each answer is CPython's ctypes' answer for the same code, on both backends."""

import array
import ctypes as real

import pytest


def outcome(f):
    try:
        return f()
    except Exception as e:
        return type(e).__name__


def run(ns, n):
    out = []
    buf = ns.create_string_buffer(n)
    out.append((len(buf.raw), buf.value))
    data = bytes(range(1, 256)) * (n // 255 + 1)
    data = data[:n]
    buf.raw = data
    out.append((buf.raw == data, len(buf.value)))
    buf.value = b"ab"
    out.append((buf.raw[:4], buf.value))
    # .raw from any buffer: bytearray, memoryview with an offset, array.array, non-contiguous.
    buf.raw = bytearray(b"xyz")
    out.append(buf.raw[:4])
    buf.raw = memoryview(b"--hello")[2:]
    out.append(buf.raw[:6])
    buf.raw = array.array("b", [65, 66])
    out.append(buf.raw[:3])
    out.append(outcome(lambda: setattr(buf, "raw", memoryview(b"a-b-c-")[::2])))
    out.append(outcome(lambda: setattr(buf, "raw", "text")))
    out.append(outcome(lambda: setattr(buf, "raw", b"x" * (n + 2))))
    # .value stops at the first NUL, or at the end of the array.
    full = ns.create_string_buffer(b"q" * 8, 8)
    out.append(full.value)
    # from_buffer_copy: from bytes, a bytearray at an offset, a memoryview of the array itself.
    T = ns.c_char * 4
    out.append(T.from_buffer_copy(b"abcdef").raw)
    out.append(T.from_buffer_copy(bytearray(b"abcdef"), 2).raw)
    own = ns.create_string_buffer(b"wxyz1234")
    out.append(T.from_buffer_copy(memoryview(own), 4).raw)
    out.append(T.from_buffer_copy(own, 1).raw)
    for args in ((memoryview(b"a.b.c.d.")[::2],), ("text",), (b"abc",), (b"abcdef", 3), (b"abcdef", -1)):
        out.append(outcome(lambda: T.from_buffer_copy(*args)))
    big = (ns.c_char * n).from_buffer_copy(data)
    out.append(big.raw == data)
    # string_at, memmove and a bytes argument of the same size.
    out.append(ns.string_at(big, n) == data)
    dst = ns.create_string_buffer(n)
    ns.memmove(dst, data, n)
    out.append(dst.raw == data)
    memchr = ns.CDLL(None).memchr
    memchr.restype = ns.c_void_p
    memchr.argtypes = [ns.c_char_p, ns.c_int, ns.c_size_t]
    out.append(memchr(b"x" * n + b"!", ord("!"), n + 1) is not None)
    return out


@pytest.mark.parametrize("n", [8, 4096, 1 << 20])
def test_bytes_in_and_out_as_ctypes_gives_them(ct, n):
    assert run(ct, n) == run(real, n)
