"""What real ctypes bindings do, on CPython's ctypes and on both backends, with the same
answers: the interpreter's buffer protocol through `pythonapi`, outputs made with
`from_buffer`, C writing into a `bytes` argument, a library's functions as pointers,
callbacks that call their library again, `py_object`, errno, variadic C functions, and C's
output through a pipe. The C is guest-c/binding.c."""

import array
import errno
import os
import struct
import subprocess
import sys

import ctypes as real
import pytest

from conftest import ROOT


def fnv(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


@pytest.fixture(scope="module")
def binding_lib():
    from wasmctypes import _core

    return _core.build(os.path.join(ROOT, "guest-c", "binding.c"))


@pytest.fixture(params=["ctypes", "wasm", "native"])
def ns_lib(request, binding_lib):
    """(name, namespace, CDLL of guest-c/binding.c) under CPython's ctypes and each backend."""
    import importlib

    ns = real if request.param == "ctypes" else importlib.import_module("wasmctypes." + request.param)
    lib = ns.CDLL(binding_lib[0] if request.param == "wasm" else binding_lib[1])
    return request.param, ns, lib


def py_buffer(ns):
    """CPython's `Py_buffer`, as bindings declare it."""

    class Py_buffer(ns.Structure):
        _fields_ = [
            ("buf", ns.c_void_p),
            ("obj", ns.py_object),
            ("len", ns.c_ssize_t),
            ("itemsize", ns.c_ssize_t),
            ("readonly", ns.c_int),
            ("ndim", ns.c_int),
            ("format", ns.c_char_p),
            ("shape", ns.POINTER(ns.c_ssize_t)),
            ("strides", ns.POINTER(ns.c_ssize_t)),
            ("suboffsets", ns.POINTER(ns.c_ssize_t)),
            ("internal", ns.c_void_p),
        ]

    return Py_buffer


PyBUF_SIMPLE, PyBUF_WRITABLE, PyBUF_FORMAT, PyBUF_ND = 0, 1, 4, 8


def test_a_binding_over_the_buffer_protocol(ns_lib):
    """The pattern of bindings that hand any bytes-like object to C: PyObject_GetBuffer, the
    view's `buf` and `len` passed to C, PyBuffer_Release; C's writes land in the object."""
    which, ns, lib = ns_lib
    Py_buffer = py_buffer(ns)
    api = ns.pythonapi
    api.PyObject_GetBuffer.argtypes = [ns.py_object, ns.POINTER(Py_buffer), ns.c_int]
    api.PyObject_GetBuffer.restype = ns.c_int
    api.PyBuffer_Release.argtypes = [ns.POINTER(Py_buffer)]
    api.PyBuffer_Release.restype = None
    lib.xor_into.argtypes = [ns.c_void_p, ns.c_void_p, ns.c_size_t, ns.c_ubyte]
    lib.xor_into.restype = ns.c_int

    def xor(data, key, out=None):
        out = bytearray(memoryview(data).nbytes) if out is None else out
        src, dst = Py_buffer(), Py_buffer()
        assert api.PyObject_GetBuffer(data, ns.byref(src), PyBUF_SIMPLE) == 0
        try:
            assert api.PyObject_GetBuffer(out, ns.byref(dst), PyBUF_WRITABLE) == 0
            try:
                assert (src.readonly, dst.readonly) == (int(isinstance(data, bytes)), 0)
                assert lib.xor_into(dst.buf, src.buf, src.len, key) == 0
            finally:
                api.PyBuffer_Release(ns.byref(dst))
        finally:
            api.PyBuffer_Release(ns.byref(src))
        return out

    text = b"The quick brown fox"
    want = bytes(c ^ 0x20 for c in text)
    assert xor(text, 0x20) == want, which
    assert xor(memoryview(bytearray(text)), 0x20) == want, which
    assert bytes(xor(array.array("B", text), 0x20)) == want, which
    # In place: the object is both input and output.
    buf = bytearray(text)
    xor(buf, 0x20, out=buf)
    assert buf == want, which
    # A slice of a larger buffer is written where it lies.
    big = bytearray(b"....abcd....")
    xor(memoryview(big)[4:8], 0x20, out=memoryview(big)[4:8])
    assert big == b"....ABCD....", which
    # A read-only object cannot be asked for writably: BufferError, as CPython raises it.
    view = Py_buffer()
    with pytest.raises(BufferError):
        api.PyObject_GetBuffer(b"ro", ns.byref(view), PyBUF_WRITABLE)
    # The format and shape, when asked for.
    a = array.array("i", [1, 2, 3])
    api.PyObject_GetBuffer(a, ns.byref(view), PyBUF_FORMAT | PyBUF_ND)
    try:
        assert (view.format, view.ndim, view.shape[0], view.itemsize) == (b"i", 1, 3, 4), which
    finally:
        api.PyBuffer_Release(ns.byref(view))


def test_bytes_objects_through_pythonapi(ns_lib):
    which, ns, lib = ns_lib
    api = ns.pythonapi
    api.PyBytes_AsString.argtypes = [ns.py_object]
    api.PyBytes_AsString.restype = ns.c_void_p
    api.PyBytes_FromStringAndSize.argtypes = [ns.c_void_p, ns.c_ssize_t]
    api.PyBytes_FromStringAndSize.restype = ns.py_object
    lib.digest.argtypes = [ns.c_void_p, ns.c_size_t]
    lib.digest.restype = ns.c_uint32
    data = bytes(bytearray(b"hash me"))
    assert lib.digest(api.PyBytes_AsString(data), len(data)) == fnv(data), which
    buf = ns.create_string_buffer(b"made in C", 16)
    assert api.PyBytes_FromStringAndSize(buf, 4) == b"made", which


def test_from_buffer_outputs_see_what_c_wrote(ns_lib):
    which, ns, lib = ns_lib
    lib.digest_into.argtypes = [ns.POINTER(ns.c_ubyte), ns.c_char_p, ns.c_size_t]
    lib.digest.argtypes = [ns.c_void_p, ns.c_size_t]
    lib.digest.restype = ns.c_uint32
    data = b"some input"
    want = struct.pack("<I", fnv(data))
    for out, view in (
        (bytearray(4), lambda o: o),
        (bytearray(8), lambda o: o[2:6]),
        (array.array("B", bytes(4)), lambda o: bytes(o)),
    ):
        target = memoryview(out)[2:6] if len(out) == 8 else out
        c_out = (ns.c_ubyte * 4).from_buffer(target)
        assert lib.digest_into(c_out, data, len(data)) == 0
        assert bytes(view(out)) == want, (which, out)
        # The ctypes object and the host object are one memory, both ways.
        assert bytes(c_out) == want, which
    # Python writes to the host object between calls: C sees them.
    buf = bytearray(b"abc")
    shared = (ns.c_char * 3).from_buffer(buf)
    buf[0] = ord("x")
    assert lib.digest(shared, 3) == fnv(b"xbc"), which
    shared[1] = b"y"
    assert buf == b"xyc", which


def test_c_writes_into_a_bytes_argument(ns_lib):
    """CPython's ctypes passes a pointer into a bytes object: C that writes there changes it
    (a binding's bug, or its trick); every backend shows the same result."""
    which, ns, lib = ns_lib
    s = bytes(bytearray(b"hello"))
    lib.upcase(s)
    assert s == b"HELLO", which
    lib.upcase.argtypes = [ns.c_char_p]
    t = bytes(bytearray(b"world"))
    lib.upcase(t)
    assert t == b"WORLD", which


def test_a_librarys_functions_as_pointers(ns_lib):
    which, ns, lib = ns_lib
    DIGEST = ns.CFUNCTYPE(ns.c_uint32, ns.c_char_p, ns.c_size_t)
    address = ns.cast(lib.digest, ns.c_void_p).value
    assert isinstance(address, int) and address, which
    lib.digest_with.argtypes = [ns.c_void_p, ns.c_char_p, ns.c_size_t]
    lib.digest_with.restype = ns.c_uint32
    assert lib.digest_with(address, b"abc", 3) == fnv(b"abc"), which
    # A prototype made from a name and library, and from the address.
    assert DIGEST(("digest", lib))(b"abcd", 4) == fnv(b"abcd"), which
    assert DIGEST(address)(b"ab", 2) == fnv(b"ab"), which
    # A function pointer C hands out, called from Python and given back to C.
    lib.digest_named.argtypes = [ns.c_char_p]
    lib.digest_named.restype = DIGEST
    f = lib.digest_named(b"fnv1a")
    assert f(b"xyz", 3) == fnv(b"xyz"), which
    assert ns.cast(f, ns.c_void_p).value == address, which
    lib.digest_with.argtypes = [DIGEST, ns.c_char_p, ns.c_size_t]
    assert lib.digest_with(f, b"q", 1) == fnv(b"q"), which
    # A NULL function pointer is false. Calling it crashes CPython's ctypes (and so the
    # native backend); in the sandbox it is an error.
    null = lib.digest_named(b"none")
    assert not null, which
    if which == "wasm":
        with pytest.raises(ValueError, match="NULL"):
            null(b"", 0)


def test_callbacks_that_call_their_own_library(ns_lib):
    which, ns, lib = ns_lib
    SINK = ns.CFUNCTYPE(ns.c_int, ns.POINTER(ns.c_ubyte), ns.c_size_t, ns.c_void_p)
    lib.each_chunk.argtypes = [ns.c_char_p, ns.c_size_t, ns.c_size_t, SINK, ns.c_void_p]
    lib.digest.argtypes = [ns.c_void_p, ns.c_size_t]
    lib.digest.restype = ns.c_uint32
    seen = []

    def sink(chunk, n, ctx):
        # Back into the library, with C's own pointer, while the library is in its call.
        seen.append((lib.digest(chunk, n), ns.string_at(chunk, n), ctx))
        return 7 if len(seen) == 3 else 0

    data = b"0123456789abcdef"
    assert lib.each_chunk(data, len(data), 4, SINK(sink), 99) == 7, which
    assert seen == [(fnv(data[i:i + 4]), data[i:i + 4], 99) for i in (0, 4, 8)], which


def test_py_object_through_c_keeps_reference_counts(ns_lib):
    """A py_object argument is lent to C for the call; the pointer C gives back, cast to
    py_object, is the object."""
    which, ns, lib = ns_lib
    lib.same.argtypes = [ns.py_object]
    lib.same.restype = ns.c_void_p

    class Obj:
        pass

    obj = Obj()
    before = sys.getrefcount(obj)
    for _ in range(100):
        assert ns.cast(lib.same(obj), ns.py_object).value is obj, which
    assert sys.getrefcount(obj) == before, which
    # A py_object made on C's pointer holds no reference (its value takes one when read).
    held = [ns.cast(lib.same(obj), ns.py_object) for _ in range(3)]
    assert sys.getrefcount(obj) == before, which
    assert all(h.value is obj for h in held), which
    # A handle C kept of an object with no weak references (in the sandbox: one of the most
    # recent) is still its object.
    plain = [1, 2]
    kept = lib.same(plain)
    assert ns.cast(kept, ns.py_object).value is plain, which


def test_errno_is_the_hosts_numbering(ns_lib):
    which, ns, _ = ns_lib
    libc = ns.CDLL(None, use_errno=True)
    libc.strtol.argtypes = [ns.c_char_p, ns.c_void_p, ns.c_int]
    libc.strtol.restype = ns.c_long
    ns.set_errno(0)
    libc.strtol(b"9" * 40, None, 10)
    assert ns.get_errno() == errno.ERANGE, which
    assert ns.set_errno(errno.EINTR) == errno.ERANGE, which
    assert ns.get_errno() == errno.EINTR, which
    # A file that is not there (in the sandbox: under no granted directory) is ENOENT.
    libc.open.argtypes = [ns.c_char_p, ns.c_int]
    assert libc.open(b"/nonexistent-wasmctypes/x", 0) == -1, which
    assert ns.get_errno() == errno.ENOENT, which


def test_variadic_c_functions(ns_lib):
    which, ns, _ = ns_lib
    libc = ns.CDLL(None)
    buf = ns.create_string_buffer(32)
    # No argtypes: each argument as C's default promotions make it.
    assert libc.snprintf(buf, 32, b"%d-%s-%d", 42, b"x", 7) == 6, which
    assert buf.value == b"42-x-7", which
    # The fixed part declared, the rest variadic.
    libc.snprintf.argtypes = [ns.c_char_p, ns.c_size_t, ns.c_char_p]
    assert libc.snprintf(buf, 32, b"%s|%d", b"ab", -3) == 5, which
    assert buf.value == b"ab|-3", which
    # A variadic function called with none of its variadic arguments.
    assert libc.snprintf(buf, 32, b"plain") == 5 and buf.value == b"plain", which


@pytest.mark.parametrize("which", ["ctypes", "wasm", "native"])
def test_cs_output_through_a_pipe_arrives_in_full(which, tmp_path):
    """C's printf output is buffered when stdout is a pipe; it all arrives, in order."""
    from wasmctypes import _core

    paths = _core.build(os.path.join(ROOT, "guest-c", "testlib.c"))
    mod = "ctypes" if which == "ctypes" else "wasmctypes." + which
    script = tmp_path / "say.py"
    script.write_text(
        "import sys, importlib\n"
        "ns = importlib.import_module(%r)\n"
        "lib = ns.CDLL(sys.argv[1])\n"
        "for i in range(3):\n"
        "    lib.shout(i)\n" % mod
    )
    p = subprocess.run(
        [sys.executable, str(script), paths[0] if which == "wasm" else paths[1]],
        capture_output=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"0\n1\n2\n", which


def test_the_rest_of_pythonapi_says_why_it_is_not_in_the_sandbox(ns_lib):
    which, ns, _ = ns_lib
    if which != "wasm":
        # The interpreter's own symbols, as ctypes has them.
        ns.pythonapi.Py_GetVersion.restype = ns.c_char_p
        assert ns.pythonapi.Py_GetVersion().startswith(sys.version.split()[0].encode()), which
        return
    with pytest.raises(AttributeError, match="not in the sandbox's address space"):
        ns.pythonapi.Py_GetVersion
    with pytest.raises(ValueError):
        ns.c_int.in_dll(ns.pythonapi, "Py_OptimizeFlag")


def test_a_librarys_constructor_runs_at_load_and_its_exit_handlers_at_exit(tmp_path):
    """As a process ends natively, so does a sandbox at the interpreter's exit: what the
    library registered with atexit and its destructor run, and their output is flushed
    (stdout a pipe: C's buffer holds it until then). The order of the two is the C library's
    (glibc runs atexit handlers before destructors, wasi-libc one list in reverse)."""
    import subprocess
    import sys

    from wasmctypes import _core

    wasm, native = _core.build(os.path.join(ROOT, "guest-c", "real", "lifecycle.c"))
    script = tmp_path / "life.py"
    script.write_text(
        "import ctypes, sys\n"
        "lib = ctypes.CDLL(sys.argv[1])\n"
        "print('alive', lib.lifecycle_alive(), flush=True)\n"
    )

    def run(*args):
        p = subprocess.run([sys.executable] + list(args), capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        lines = p.stdout.splitlines()
        return lines[:2], sorted(lines[2:])

    want = run(str(script), native)
    assert want == (["constructor ran", "alive 1"], ["atexit handler ran", "destructor ran"])
    assert run("-m", "wasmctypes", "run", "--backend", "native", str(script), native) == want
    assert run("-m", "wasmctypes", "run", str(script), wasm) == want
