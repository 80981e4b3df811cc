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


def test_string_at_cast_and_buffers_take_what_ctypes_takes(ct):
    """The arguments bindings pass (ints, arrays, byref(), pointers, c_char_p, bytes) and the
    ones ctypes refuses, for string_at, cast and create_string_buffer, with what the results
    keep alive."""

    def run(ns):
        out = []
        buf = ns.create_string_buffer(b"hello\0world")
        addr = ns.addressof(buf)
        p = ns.cast(buf, ns.POINTER(ns.c_char))
        for ptr in (buf, addr, ns.byref(buf), ns.byref(buf, 6), p, ns.cast(buf, ns.c_void_p),
                    ns.cast(buf, ns.c_char_p), b"bytes\0x"):
            out.append((ns.string_at(ptr), ns.string_at(ptr, 3), ns.string_at(ptr, 0)))
        # (string_at(None, n) is n bytes of uninitialised memory in CPython's ctypes, a
        # ValueError here: not compared.)
        for bad in (1.5, "text", object()):
            out.append(outcome(lambda: ns.string_at(bad, 2)))
        out.append(outcome(lambda: ns.string_at(buf, 2.0)))
        out.append(outcome(lambda: ns.string_at(buf, -2)))
        out.append(ns.string_at(buf, 2**32 + 2))  # the size is a C int
        # cast: the target types, what the result keeps, what is refused.
        c = ns.cast(buf, ns.c_void_p)
        out.append((c.value == addr, sorted(type(v).__name__ for v in c._objects.values())))
        out.append(ns.cast(addr, ns.POINTER(ns.c_char))[0])
        out.append(ns.cast(ns.byref(buf, 1), ns.c_char_p).value)
        out.append(ns.cast(p, ns.POINTER(ns.c_ubyte))[4])
        out.append(ns.cast(b"raw", ns.c_char_p).value)
        out.append(buf._objects is None or type(buf._objects).__name__)
        for typ in (ns.c_int, int, ns.c_char * 2, None):
            out.append(outcome(lambda: ns.cast(buf, typ)))
        out.append(outcome(lambda: ns.cast(1.5, ns.c_void_p)))
        # create_string_buffer: sizes, ints, and what is not bytes.
        for args in ((b"ab",), (b"ab", 5), (b"abc", 3), (4,), (True,), (0,), (b"",)):
            b = ns.create_string_buffer(*args)
            out.append((type(b).__name__, len(b), b.raw))
        for args in ((b"abcd", 2), ("text",), (bytearray(b"ab"),), (-1,), (b"ab", 2.0), (2.5,)):
            out.append(outcome(lambda: ns.create_string_buffer(*args)))
        return out

    assert run(ct) == run(real)
