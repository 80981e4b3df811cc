"""The library's own C prototypes from Python: `f.prototype`, functions declared from the C
(`CDLL(..., prototypes=True)`), and bindings that disagree with the C reported as a
`wasmctypes.PrototypeWarning` (an error under `run --strict`). Every rule runs on both
backends; answers are compared with CPython's ctypes calling the same C with the binding a
careful author writes."""

import ctypes as real
import os
import subprocess
import sys
import warnings

import pytest

from wasmctypes import PrototypeWarning

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _path(ct, built, name="prototypes"):
    wasm = ct.__name__.endswith("wasm")
    return str(built / ("%s.wasm" % name if wasm else "lib%s.so" % name))


def _warnings_of(call):
    """The PrototypeWarnings `call()` gives (whatever else it does: a wrong binding may also
    make the call fail)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            call()
        except Exception:
            pass
    return [str(w.message) for w in seen if issubclass(w.category, PrototypeWarning)]


def test_a_function_knows_its_c_declaration(ct, built, tmp_path):
    lib = ct.CDLL(_path(ct, built))
    assert lib.ps_size.prototype == "size_t ps_size(size_t n, ptrdiff_t d, ssize_t s)"
    assert lib.ps_apply.prototype == "int ps_apply(binop f, int a, int b)"
    assert lib.ps_sum_ints.prototype == "int ps_sum_ints(int n, ...)"
    # A library built without debug information, libc, and a function pointer have none.
    exe = os.path.join(ROOT, "target", "debug", "wasmctypes")
    subprocess.run([exe, "build", "--strip", "--out", str(tmp_path),
                    os.path.join(ROOT, "guest-c", "sum.c")], check=True, capture_output=True)
    assert ct.CDLL(_path(ct, tmp_path, "sum")).our_function.prototype is None
    assert ct.CDLL(None).strlen.prototype is None
    assert ct.CFUNCTYPE(ct.c_int)(lib.ps_nothing).prototype is None


def test_functions_declared_from_the_c_answer_as_careful_bindings_do(ct, built):
    native = real.CDLL(str(built / "libprototypes.so"))
    for name, argtypes, restype in [
        ("ps_greeting", [], real.c_char_p),
        ("ps_size", [real.c_size_t, real.c_ssize_t, real.c_ssize_t], real.c_size_t),
        ("ps_float", [real.c_float, real.c_double], real.c_float),
        ("ps_llong", [real.c_longlong, real.c_ulonglong], real.c_longlong),
        ("ps_uint", [real.c_int, real.c_uint, real.c_uint], real.c_uint),
        ("ps_strlen", [real.c_char_p], real.c_size_t),
        ("ps_sum_ints", [real.c_int], real.c_int),
    ]:
        getattr(native, name).argtypes, getattr(native, name).restype = argtypes, restype
    lib = ct.CDLL(_path(ct, built), prototypes=True)
    for name, args in [
        ("ps_greeting", ()),
        ("ps_size", (1, 2, 3)),
        ("ps_float", (1.5, 2.0)),
        ("ps_llong", (1 << 40, 1)),
        ("ps_uint", (-1, 0, 0)),
        ("ps_strlen", (b"hello",)),
        ("ps_sum_ints", (3, 10, 20, 12)),
    ]:
        assert getattr(lib, name)(*args) == getattr(native, name)(*args), name
    assert lib.ps_nothing() is None
    # size_t and ssize_t by name; ptrdiff_t is a `long` on both targets.
    assert lib.ps_size.argtypes == (ct.c_size_t, ct.c_long, ct.c_ssize_t)
    # What the script declares wins.
    lib.ps_size.restype = ct.c_ubyte
    assert lib.ps_size(255, 1, 0) == 0
    # A structure by value has no ctypes declaration to take: left as ctypes leaves it.
    assert lib.ps_point_make.restype is ct.c_int


def test_correct_bindings_give_no_warning(ct, built):
    lib = ct.CDLL(_path(ct, built))

    class Point(ct.Structure):
        _fields_ = [("x", ct.c_int), ("y", ct.c_int)]

    binop = ct.CFUNCTYPE(ct.c_int, ct.c_int, ct.c_int)
    calls = []

    def declare(name, argtypes, restype, *args):
        f = getattr(lib, name)
        f.argtypes = argtypes
        if restype is not ...:
            f.restype = restype
        calls.append((f, args))

    declare("ps_strlen", [ct.c_char_p], ct.c_size_t, b"abc")
    declare("ps_strlen", [ct.c_void_p], ..., b"abc")  # size_t read as c_int: fine below 2**31
    declare("ps_size", [ct.c_size_t, ct.c_ssize_t, ct.c_long], ct.c_ulong, 1, 2, 3)
    declare("ps_bytes", [], ct.c_char_p)
    declare("ps_identity", [ct.c_void_p], ct.c_void_p, None)
    declare("ps_point_sum", [ct.POINTER(Point)], ct.c_int, ct.byref(Point(1, 2)))
    declare("ps_point_by_value", [Point], None, Point(2, 3))
    declare("ps_enum", [ct.c_int], ct.c_int, 5)
    declare("ps_apply", [binop, ct.c_int, ct.c_int], ct.c_int, binop(lambda a, b: a - b), 5, 3)
    declare("ps_fixed", [ct.c_int8, ct.c_uint16, ct.c_int32, ct.c_uint64, ct.c_int64], ct.c_int64,
            1, 2, 3, 4, 5)
    declare("ps_store_size", [ct.POINTER(ct.c_size_t)], None, ct.byref(ct.c_size_t()))
    declare("ps_sum_ints", [ct.c_int], ct.c_int, 2, 3, 4)
    declare("ps_double", [ct.c_double, ct.c_longdouble], None, 1.0, 2.0)
    for f, args in calls:
        assert _warnings_of(lambda: f(*args)) == [], f.__name__


@pytest.mark.parametrize(
    "name, argtypes, restype, args, kind",
    [
        ("ps_size", "c_uint c_ssize_t c_ssize_t", "c_size_t", (1, 2, 3), "width"),
        ("ps_uint", "c_int c_int c_uint", "c_uint", (1, 2, 3), "signedness"),
        ("ps_identity", "c_int", "c_void_p", (5,), "pointer_vs_integer"),
        ("ps_float", "c_float c_int", "c_float", (1.0, 2), "float_vs_integer"),
        ("ps_greeting", "", ..., (), "missing_restype"),
        ("ps_llong", "c_longlong c_ulonglong", ..., (1, 2), "missing_restype"),
        ("ps_tail", "tail_packed", "c_double", None, "struct_size"),
        ("ps_gap", "gap_packed", "c_int", None, "member_offset"),
        ("ps_point_sum", "point_short", "c_int", None, "member"),
        ("ps_point_by_value", "c_int", None, (5,), "struct_vs_scalar"),
        ("ps_short", "c_short c_ushort c_int", "c_short", (1, 2, 3), "arity"),
        ("ps_sum_ints", None, "c_int", (2, 3, 4), "variadic_without_argtypes"),
        ("ps_store_size", "uint_pointer", None, None, "width"),
    ],
)
def test_each_wrong_binding_gives_one_warning_that_names_it(ct, built, name, argtypes, restype, args, kind):
    lib = ct.CDLL(_path(ct, built))

    class Tail(ct.Structure):
        _pack_ = 1
        _fields_ = [("d", ct.c_double), ("c", ct.c_char)]

    class Gap(ct.Structure):
        _pack_ = 1
        _fields_ = [("c", ct.c_char), ("i", ct.c_int)]

    class Short(ct.Structure):
        _fields_ = [("x", ct.c_int)]

    special = {
        "tail_packed": (ct.POINTER(Tail), ct.byref(Tail(1.0, b"a"))),
        "gap_packed": (ct.POINTER(Gap), ct.byref(Gap(b"a", 1))),
        "point_short": (ct.POINTER(Short), ct.byref(Short(1))),
        "uint_pointer": (ct.POINTER(ct.c_uint), ct.byref((ct.c_uint * 4)())),
    }
    f = getattr(lib, name)
    if argtypes in special:
        t, arg = special[argtypes]
        f.argtypes, args = [t], (arg,)
    elif argtypes is not None:
        f.argtypes = [getattr(ct, n) for n in argtypes.split()]
    if restype is not ...:
        f.restype = None if restype is None else getattr(ct, restype)
    found = _warnings_of(lambda: f(*args))
    assert len(found) == 1, found
    assert found[0].startswith(name + ": ") and found[0].endswith("(%s)" % kind), found[0]
    # Each once: the next call with the same binding says nothing again.
    assert _warnings_of(lambda: f(*args)) == []


def _run(args, script):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    return subprocess.run([sys.executable, "-m", "wasmctypes", "run"] + args + [script],
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("backend", ["wasm", "native"])
def test_run_strict_makes_a_wrong_binding_an_error(built, tmp_path, backend):
    script = tmp_path / "binding.py"
    lib = built / ("prototypes.wasm" if backend == "wasm" else "libprototypes.so")
    script.write_text(
        "import ctypes\n"
        "lib = ctypes.CDLL(%r)\n"
        "print(lib.ps_greeting() != 0)\n" % str(lib)
    )
    loose = _run(["--backend", backend], str(script))
    assert loose.returncode == 0 and loose.stdout == "True\n", loose.stderr
    assert "PrototypeWarning: ps_greeting: no restype" in loose.stderr
    strict = _run(["--backend", backend, "--strict"], str(script))
    assert strict.returncode != 0 and strict.stdout == ""
    assert strict.stderr.rstrip().splitlines()[-1].startswith(
        "wasmctypes._prototype.PrototypeWarning: ps_greeting: no restype"), strict.stderr
    declared = _run(["--backend", backend, "--prototypes"], str(script))
    assert declared.returncode == 0 and declared.stdout == "True\n" and declared.stderr == ""


def _debug_info_range(data):
    """Where `.debug_info`'s content lies in a wasm module or a 64-bit little-endian ELF."""
    import struct

    if data[:4] == b"\0asm":
        at = data.index(b".debug_info") + len(b".debug_info")
        return at, len(data)
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = headers[shstrndx][4]
    for name, _type, _flags, _addr, offset, size in headers:
        if data[names + name:data.index(b"\0", names + name)] == b".debug_info":
            return offset, offset + size
    raise AssertionError("no .debug_info")


def test_unreadable_debug_information_never_breaks_the_library(ct, built, tmp_path):
    source = built / os.path.basename(_path(ct, built))
    data = bytearray(source.read_bytes())
    start, end = _debug_info_range(data)
    for i in range(start + 4, min(start + 64, end)):
        data[i] ^= 0x5A
    bad = tmp_path / source.name
    bad.write_bytes(bytes(data))
    lib = ct.CDLL(str(bad))
    lib.ps_strlen.argtypes = [ct.c_char_p]
    lib.ps_strlen.restype = ct.c_size_t
    # The calls work; the check says once that it could not be made.
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert lib.ps_strlen(b"four") == 4
        assert lib.ps_strlen(b"three") == 5
    assert [str(w.message) for w in seen] == [
        "ps_strlen: the library's prototypes cannot be read: %s: debug information: malformed "
        "DWARF: %s" % (bad, str(seen[0].message).rsplit("malformed DWARF: ", 1)[-1])
    ]
    # Asked for, the prototype is a clear error.
    with pytest.raises(ValueError, match="debug information: malformed DWARF"):
        lib.ps_strlen.prototype
