"""The ctypes surface on both backends, against what CPython's ctypes gives."""

import ctypes as real
import os
import subprocess
import sys

import pytest

from conftest import ROOT


def lib(ct, built, name):
    return ct.CDLL(os.path.join(str(built), "lib%s.so" % name))


def test_sizes_follow_the_data_model(ct):
    assert ct.sizeof(ct.c_int) == 4
    assert ct.sizeof(ct.c_longlong) == 8
    long_size = 4 if ct._process.backend == "wasm" else real.sizeof(real.c_long)
    assert ct.sizeof(ct.c_long) == long_size
    assert ct.sizeof(ct.c_int * 5) == 20


def test_simple_values_are_kept_as_c_keeps_them(ct):
    i = ct.c_int(42)
    assert i.value == 42 and repr(i) == "c_int(42)"
    i.value = -99
    assert i.value == -99
    assert ct.c_int(2**32 + 5).value == real.c_int(2**32 + 5).value == 5
    assert ct.c_ubyte(-1).value == 255
    assert ct.c_bool(2).value is True
    assert ct.c_double(1.5).value == 1.5
    assert ct.c_char(b"x").value == b"x"
    assert ct.c_void_p().value is None
    s = ct.c_char_p(b"Hello, World")
    assert s.value == b"Hello, World"
    s.value = b"Hi, there"
    assert s.value == b"Hi, there"


def test_string_buffers_as_in_the_ctypes_tutorial(ct):
    for make in (ct.create_string_buffer, real.create_string_buffer):
        p = make(3)
        assert (ct.sizeof(p) if make is ct.create_string_buffer else real.sizeof(p)) == 3
        assert p.raw == b"\x00\x00\x00"
    p = ct.create_string_buffer(b"Hello", 10)
    assert p.raw == b"Hello\x00\x00\x00\x00\x00"
    p.value = b"Hi"
    assert p.raw == b"Hi\x00lo\x00\x00\x00\x00\x00"


def test_calls_with_argtypes_arrays_and_buffers(ct, built):
    s = lib(ct, built, "sum")
    s.our_function.argtypes = (ct.c_int, ct.POINTER(ct.c_int))
    arr = (ct.c_int * 3)(1, 2, 3)
    assert s.our_function(3, arr) == 6
    assert s.add(2, 3) == 5
    u = lib(ct, built, "upper")
    u.upper.argtypes = [ct.c_char_p, ct.c_int]
    u.upper.restype = None
    buf = ct.create_string_buffer(b"abc123")
    u.upper(buf, 6)
    assert buf.value == b"ABC123"


def test_malloc_in_c_free_in_c_and_libc(ct, built):
    d = lib(ct, built, "dupstr")
    d.dupstr.argtypes = [ct.c_char_p]
    d.dupstr.restype = ct.c_void_p
    p = d.dupstr(b"copied by C")
    assert ct.string_at(p) == b"copied by C"
    d.freeme.argtypes = [ct.c_void_p]
    d.freeme.restype = None
    d.freeme(p)
    libc = ct.CDLL(None)
    libc.strlen.argtypes = [ct.c_char_p]
    libc.strlen.restype = ct.c_size_t
    assert libc.strlen(b"hello") == 5


def test_qsort_with_a_python_callback(ct):
    libc = ct.CDLL("c")
    ia = (ct.c_int * 5)(5, 1, 7, 33, 99)
    CMP = ct.CFUNCTYPE(ct.c_int, ct.POINTER(ct.c_int), ct.POINTER(ct.c_int))
    libc.qsort(ia, len(ia), ct.sizeof(ct.c_int), CMP(lambda a, b: a[0] - b[0]))
    assert list(ia) == [1, 5, 7, 33, 99]


def test_byref_structures_and_pointers(ct):
    class POINT(ct.Structure):
        _fields_ = [("x", ct.c_int), ("y", ct.c_int)]

    p = POINT(1, 2)
    assert (p.x, p.y) == (1, 2)
    assert ct.sizeof(POINT) == 8
    p.y = 5
    q = ct.pointer(p)
    assert q.contents.y == 5
    n = ct.c_int(7)
    pi = ct.pointer(n)
    pi[0] = 9
    assert n.value == 9
    libc = ct.CDLL(None)
    libc.memset.restype = ct.c_void_p
    libc.memset(ct.byref(p), 0, ct.sizeof(p))
    assert (p.x, p.y) == (0, 0)


def test_wrong_arguments_raise_argumenterror(ct, built):
    s = lib(ct, built, "sum")
    s.add.argtypes = [ct.c_int, ct.c_int]
    with pytest.raises(ct.ArgumentError):
        s.add("two", 3)
    with pytest.raises(TypeError):
        s.add(1)


def test_the_sandbox_turns_a_wild_pointer_into_an_exception():
    import wasmctypes.wasm as w

    with pytest.raises(ValueError):
        w.string_at(0)
    with pytest.raises(ValueError):
        w.string_at(0xFFFFFFF0, 64)
    with pytest.raises(ValueError):
        w.c_int.from_address(0x7FFFFFF0).value


def test_a_trap_is_a_sandboxerror_that_is_an_oserror(built):
    import wasmctypes.wasm as w

    t = w.CDLL(os.path.join(str(built), "libtestlib.so"))
    with pytest.raises(OSError) as e:
        t.divide(1, 0)
    assert isinstance(e.value, w.SandboxError)
    assert e.value.kind == "IntegerDivisionByZero"
    assert t.divide(6, 3) == 2


@pytest.mark.parametrize("script", ["hello.py", "sum.py", "memory.py", "upper.py", "dupstr.py", "qsort.py"])
def test_seed_scripts_agree_with_cpython_ctypes(script, built):
    examples = os.path.join(ROOT, "examples")
    for f in os.listdir(str(built)):
        if f.endswith((".wasm", ".so")):
            dst = os.path.join(examples, f)
            with open(os.path.join(str(built), f), "rb") as src, open(dst, "wb") as out:
                out.write(src.read())
    p = subprocess.run(
        [sys.executable, "-m", "wasmctypes", "diff", os.path.join(examples, script)],
        capture_output=True,
    )
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()


def test_a_wild_pointer_crashes_cpython_but_is_an_exception_in_the_sandbox(tmp_path):
    script = tmp_path / "wild.py"
    script.write_text(
        "import ctypes\n"
        "ctypes.memset(0x40000000, 0x41, 64)\n"
        "print('survived')\n"
    )
    real_run = subprocess.run([sys.executable, str(script)], capture_output=True)
    assert real_run.returncode < 0, real_run  # killed by a signal (SIGSEGV)
    sandboxed = subprocess.run(
        [sys.executable, "-m", "wasmctypes", "run", "--backend", "wasm", str(script)],
        capture_output=True,
    )
    assert sandboxed.returncode == 1, sandboxed
    # memset is the sandbox's C library's: the write outside its memory is a trap.
    assert b"SandboxError: MemoryOutOfBounds" in sandboxed.stderr, sandboxed.stderr


def test_bitfields_and_big_endian_structures_are_laid_out_as_ctypes_lays_them(ct):
    def make(ns):
        class S(ns.Structure):
            _fields_ = [("a", ns.c_int, 3), ("b", ns.c_int, 4), ("c", ns.c_uint, 30), ("d", ns.c_short)]

        class B(ns.BigEndianStructure):
            _fields_ = [("x", ns.c_int), ("y", ns.c_short)]

        s, b = S(), B(0x01020304, 5)
        s.a, s.b, s.c, s.d = -1, 5, 12345, 7
        return (ns.sizeof(S), s.a, s.b, s.c, s.d, bytes(s), repr(S.b), ns.sizeof(B), bytes(b), b.x)

    assert make(ct) == make(real)


def test_instances_are_initialised_as_ctypes_initialises_them(ct):
    """T(...) for simple types, arrays and structures, a subclass's own __init__ calling its
X on an existing object, and the errors: each as
    CPython's ctypes answers."""

    def outcome(f):
        try:
            return f()
        except Exception as e:
            return type(e).__name__

    def run(ns):
        class P(ns.Structure):
            _fields_ = [("x", ns.c_int), ("y", ns.c_double), ("s", ns.c_char_p)]

        class Plus(ns.c_int):
            def __init__(self, v):
                ns.c_int.__init__(self, v + 1)

        class Twice(P):
            def __init__(self, *args, **kw):
                super().__init__(*args, **kw)
                self.x *= 2

        class Shown(ns.c_int):
            value = property(lambda self: 99, lambda self, v: ns.c_int.value.__set__(self, v))

        A = ns.c_int * 3
        out = [
            ns.c_int(5).value, ns.c_int().value, ns.c_double(2).value, ns.c_char_p(b"hi").value,
            ns.c_char_p(None).value, ns.c_void_p(None).value, ns.c_ubyte(300).value,
            ns.c_bool(7).value, ns.c_char(b"x").value, Plus(4).value, Shown(4).value,
            ns.c_int.value.__get__(Shown(4)),
            list(A(1, 2)), list(A()), (P(1, 2.0).x, P(1, 2.0).y), (P(y=3).x, P(y=3).y),
            P(1, s=b"z").s, Twice(3).x, Twice(x=4).x,
            outcome(lambda: ns.c_int(1, 2)), outcome(lambda: ns.c_int("a")),
            outcome(lambda: A(1, 2, 3, 4)), outcome(lambda: list(A(x=1))), outcome(lambda: A("a")),
            outcome(lambda: P(1, 2.0, b"s", 4)), outcome(lambda: P(1, x=2)),
            outcome(lambda: P(z=1).z), outcome(lambda: ns.c_double("a")),
        ]
        i = ns.c_int(1)
        i.__init__(7)
        arr = A(1, 2, 3)
        arr.__init__(9)
        p = P(1, 2.0)
        p.__init__(5)
        out += [i.value, list(arr), (p.x, p.y)]
        return out

    import ctypes as real

    assert run(ct) == run(real)
