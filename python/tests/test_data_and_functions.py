"""Structures by value, function pointers, paramflags, buffers and pickling: on both backends,
against what CPython's ctypes gives for the same code."""

import ctypes as real
import os
import pickle

import pytest

from conftest import ROOT


@pytest.fixture(scope="session")
def test_lib():
    """python/wasmctypes/ctypes_test.c as both backends load it: (module, shared object)."""
    from wasmctypes import _core

    return _core.build(os.path.join(ROOT, "python", "wasmctypes", "ctypes_test.c"))


def open_test_lib(ns, test_lib):
    return ns.CDLL(test_lib[0] if ns.__name__ == "wasmctypes.wasm" else test_lib[1])


def both(ct, test_lib, run):
    """`run(namespace, library)` under `ct` and under CPython's ctypes."""
    return run(ct, open_test_lib(ct, test_lib)), run(real, real.CDLL(test_lib[1]))


def test_structures_pass_and_return_by_value(ct, test_lib):
    def run(ns, dll):
        class POINT(ns.Structure):
            _fields_ = [("x", ns.c_int), ("y", ns.c_int)]

        class S8I(ns.Structure):
            _fields_ = [(n, ns.c_int) for n in "abcdefgh"]

        out = POINT()
        # Without argtypes the structure's own type is passed, as ctypes infers it.
        r1 = dll._testfunc_byval(POINT(1, 2), ns.byref(out))
        dll.ret_8i_func.restype = S8I
        dll.ret_8i_func.argtypes = [S8I]
        s = dll.ret_8i_func(S8I(9, 8, 7, 6, 5, 4, 3, 2))
        return r1, (out.x, out.y), [getattr(s, n) for n in "abcdefgh"]

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython == (3, (1, 2), [18, 24, 28, 30, 30, 28, 24, 18])


def test_a_function_pointer_is_called_through_c(ct, test_lib):
    def run(ns, dll):
        proto = ns.CFUNCTYPE(ns.c_int, ns.c_int, ns.c_int)
        cb = proto(lambda a, b: a * 10 + b)
        addr = ns.cast(cb, ns.c_void_p).value
        # The same function, from its address: the call goes into C and back to Python.
        again = proto(addr)
        assert again.restype is ns.c_int and again.argtypes == (ns.c_int, ns.c_int)
        with pytest.raises(ns.ArgumentError):
            again("x", 1)
        return again(4, 2), cb(3, 1), bool(proto()), ns.CFUNCTYPE(ns.c_int, ns.c_int, ns.c_int) is proto

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython == (42, 31, False, True)


def test_paramflags_make_output_parameters_results(ct, test_lib):
    def run(ns, dll):
        libc = ns.CDLL(None) if ns is not real else real.CDLL(None)
        proto = ns.CFUNCTYPE(ns.c_double, ns.c_double, ns.POINTER(ns.c_int))
        frexp = proto(("frexp", libc), ((1, "x"), (2, "exp")))
        return frexp(8.0), frexp(x=0.75)

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython == (4, 0)


def test_memoryview_shares_the_object_memory(ct):
    def run(ns):
        buf = ns.create_string_buffer(b"abc", 4)
        mv = memoryview(buf)
        mv.cast("B")[1] = ord("X")
        i = ns.c_int(0x01020304)
        return (buf.raw, mv.format, mv.shape, mv.readonly,
                memoryview(i).format, bytes(i), memoryview(ns.POINTER(ns.c_byte)()).format)

    assert run(ct) == run(real)
    assert run(ct)[0] == b"aXc\0"


def test_pickling_copies_bytes_and_refuses_pointers(ct):
    def run(ns):
        class P(ns.Structure):
            _fields_ = [("x", ns.c_int), ("y", ns.c_double)]

        P.__qualname__ = "P"  # pickle finds classes by name
        globals()["P"] = P
        p = P(3, 2.5)
        p.note = "kept"
        q = pickle.loads(pickle.dumps(p))
        c = pickle.loads(pickle.dumps(ns.c_int(42)))
        with pytest.raises(ValueError):
            pickle.dumps(ns.c_char_p(b"x"))
        return (q.x, q.y, q.note, bytes(q) == bytes(p), c.value, type(c) is ns.c_int)

    assert run(ct) == run(real) == (3, 2.5, "kept", True, 42, True)


def test_from_buffer_shares_a_host_buffer(ct):
    """from_buffer of a bytearray: natively its own memory, in the sandbox a mirror kept
    coherent with it; either way each side sees what the other wrote, as with ctypes."""

    def run(ns):
        data = bytearray(b"\x01\x00\x00\x00\x02\x00\x00\x00")
        copied = list((ns.c_int * 2).from_buffer_copy(data))
        arr = (ns.c_int * 2).from_buffer(data)
        arr[1] = 7
        seen = [data[4], list(arr)]
        data[0] = 9
        seen.append(arr[0])
        libc = ns.CDLL(None)
        libc.memset.argtypes = [ns.c_void_p, ns.c_int, ns.c_size_t]
        libc.memset(arr, 0x11, 2)
        seen.append(bytes(data))
        try:
            data.append(0)
        except BufferError:
            seen.append("BufferError")
        for ro in (b"read-only", memoryview(b"read-only")):
            try:
                ns.c_int.from_buffer(ro)
            except TypeError as e:
                seen.append(str(e))
        return copied, seen

    assert run(ct) == run(real) == (
        [1, 2],
        [7, [1, 7], 9, b"\x11\x11\x00\x00\x07\x00\x00\x00", "BufferError",
         "underlying buffer is not writable", "underlying buffer is not writable"],
    )


def test_long_double_crosses_calls_callbacks_and_memory(ct, test_lib):
    """c_longdouble: x87's 80-bit format natively, IEEE quad in wasm32, a Python float either
    way, in arguments, results, callbacks, structures and arrays, as ctypes gives it."""

    def run(ns, dll):
        out = []
        f = dll._testfunc_D_bhilfD
        f.argtypes = [ns.c_byte, ns.c_short, ns.c_int, ns.c_long, ns.c_float, ns.c_longdouble]
        f.restype = ns.c_longdouble
        out.append((f(1, 2, 3, 4, 5.0, 6.0), f(-1, -2, -3, -4, -5.0, -6.5)))
        g = dll.tf_bD
        g.argtypes = [ns.c_byte, ns.c_longdouble]
        g.restype = ns.c_longdouble
        out.append((g(0, 42.0), g(0, 1e300), g(0, 2.0**-1070)))
        proto = ns.CFUNCTYPE(ns.c_longdouble, ns.c_byte, ns.c_longdouble, ns.c_int)
        cb = proto(lambda b, x, i: x * 2 + b + i)
        out.append(cb(1, 0.1, 2))

        class S(ns.Structure):
            _fields_ = [("c", ns.c_char), ("x", ns.c_longdouble)]

        s = S(b"a", 1.0 / 3)
        arr = (ns.c_longdouble * 2)(0.5, -2.25)
        out.append((ns.sizeof(S), S.x.offset, s.x, list(arr), ns.c_longdouble(2.5).value))
        with pytest.raises(ns.ArgumentError):
            g(0, "x")
        return out

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython
    assert mine[0] == (21.0, -21.5)


def test_the_process_is_not_reset_under_an_open_memoryview(ct):
    buf = ct.create_string_buffer(b"kept", 8)
    view = memoryview(buf)
    with pytest.raises(BufferError):
        ct._process.reset()
    assert bytes(view[:4]) == b"kept"
    view.release()


def test_a_changed_restype_applies_to_calls_inferred_before(ct, test_lib):
    def run(ns, dll):
        class POINT(ns.Structure):
            _fields_ = [("x", ns.c_int), ("y", ns.c_int)]

        f = dll._testfunc_byval
        before = f(POINT(1, 2), None)
        f.restype = ns.c_short
        return before, f(POINT(70000, 3), None)

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython == (3, 70003 - 65536)


def test_items_of_arrays_and_pointers_as_ctypes_gives_them(ct, test_lib):
    """Items of numbers are read and written in Rust; every other case, and every error,
    is the one ctypes gives."""

    def run(ns, dll):
        out = []

        def setitem(o, i, v):
            o[i] = v

        def delitem(o, i):
            del o[i]

        def attempt(f):
            try:
                out.append(f())
            except Exception as e:
                out.append((type(e).__name__, str(e)))

        arr = (ns.c_int * 4)(1, 2, 3, 4)
        p = ns.cast(arr, ns.POINTER(ns.c_int))
        arr[-1] = 2**32 + 7  # masked to the width, as ctypes masks it
        p[1] = -5
        d = (ns.c_double * 2)()
        d[0] = 3  # an int into a double item
        d[1] = 2.5
        attempt(lambda: (arr[0], arr[-1], p[1], p[3], arr[1:3], p[0:2], d[0], d[1]))
        attempt(lambda: arr[4])
        attempt(lambda: arr[-5])
        attempt(lambda: setitem(arr, 4, 1))
        attempt(lambda: setitem(arr, 0, "x"))
        attempt(lambda: setitem(arr, 0, 1.5))
        attempt(lambda: ns.POINTER(ns.c_int)()[0])
        attempt(lambda: delitem(arr, 0))
        attempt(lambda: delitem(p, 0))
        attempt(lambda: ns.c_int(1)[0])
        attempt(lambda: setitem(ns.c_int(1), 0, 1))
        attempt(lambda: delitem(ns.c_int(1), 0))
        attempt(lambda: arr["a"])
        # A callback's pointer argument reads and writes through the pointer.
        seen = []
        proto = ns.CFUNCTYPE(None, ns.POINTER(ns.c_int))

        def double(q):
            seen.append(q[0])
            q[0] = q[0] * 2

        cb = proto(double)
        cb(p)
        attempt(lambda: (seen, list(arr)))
        return out

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython
    assert mine[0] == (1, 7, -5, 7, [-5, 3], [1, -5], 3.0, 2.5)


def test_objects_keeps_what_ctypes_keeps_under_ctypes_keys(ct, test_lib):
    """`_objects`, CPython's record of what an object's memory keeps alive, on both backends
    as CPython's ctypes gives it (the keys are paths of field and item indexes)."""

    def run(ns, dll):
        class X(ns.Structure):
            _fields_ = [("a", ns.c_char_p), ("b", ns.c_char_p)]

        class Y(ns.Structure):
            _fields_ = [("x", X), ("y", X), ("arr", ns.c_char_p * 3)]

        out = []
        s = b"spam"
        out.append(ns.c_char_p(s)._objects is s)
        x = X()
        out.append(x._objects)
        x.a, x.b = s, b"eggs"
        y = Y()
        y.x = x
        y.arr[2] = b"ham"
        out.append(dict(y._objects))
        y.y = (b"1", b"2")
        out.append(sorted(y._objects))
        i = ns.c_int(42)
        out.append(ns.pointer(i)._objects == {"1": i})
        array = (ns.c_char_p * 2)()
        array[0] = b"foo"
        p = ns.cast(array, ns.POINTER(ns.c_char_p))
        out.append((p._objects is array._objects, array._objects == {"0": b"foo", id(array): array}))
        # What the memory keeps is alive as long as the object: the string is still there.
        del s, x
        out.append((y.x.a, y.x.b, y.arr[2], y.y.b))
        return out

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython
    assert mine[2] == {"0": {"0": b"spam", "1": b"eggs"}, "2:2": b"ham"}


def test_use_errno_is_the_librarys_and_the_prototypes(ct, test_lib):
    """errno is swapped with the private copy only around calls of functions whose library
    (`CDLL(..., use_errno=True)`) or prototype asks for it, as in ctypes."""

    def run(ns, dll):
        out = []
        for lib in (ns.CDLL(None), ns.CDLL(None, use_errno=True)):
            f = lib.strtol
            f.argtypes = [ns.c_char_p, ns.c_void_p, ns.c_int]
            f.restype = ns.c_long
            for _ in range(2):  # the second call takes the prepared path
                ns.set_errno(5)
                f(b"99999999999999999999999", None, 10)
                out.append(ns.get_errno() == 5)
        return out

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython == [True, True, False, False]


def test_an_item_address_that_wraps_is_a_valueerror_not_a_read(ct):
    """Where CPython's ctypes would read wherever `address + i * size` wrapped to (or crash),
    both backends raise ValueError and read nothing. (In the sandbox an address past its
    32-bit space is refused at once.)"""
    top = 2**32 if ct.__name__.endswith("wasm") else 2**64
    if top == 2**32:
        with pytest.raises(ValueError, match="outside the sandbox's 32-bit memory"):
            (ct.c_int * 4).from_address(2**64 - 4)
    a = (ct.c_int * 4).from_address(top - 4)
    p = ct.cast(16, ct.POINTER(ct.c_int))
    for f in (lambda: a[3], lambda: a[-1], lambda: p[-5], lambda: p.__setitem__(-5, 1)):
        with pytest.raises(ValueError, match="outside (the address space|guest memory)"):
            f()
    with pytest.raises(ValueError, match="NULL pointer access"):
        p[-4]  # address 0


def test_a_callback_of_one_backend_uses_the_other_backends_objects(test_lib):
    """Inside a callback the busy process's memory is the one the callback was given; the
    other namespace's objects are still its own (a native object read inside a wasm callback,
    a wasm object made and read inside a native callback)."""
    import wasmctypes.native as native
    import wasmctypes.wasm as wasm

    seen = []
    for outer, other in ((wasm, native), (native, wasm)):
        theirs = (other.c_int * 3)(7, 8, 9)
        libc = outer.CDLL(None)
        arr = (outer.c_int * 3)(3, 1, 2)
        CMP = outer.CFUNCTYPE(outer.c_int, outer.POINTER(outer.c_int), outer.POINTER(outer.c_int))

        def cmp(a, b):
            made = (other.c_int * 2)(theirs[2], 5)  # allocated, read and freed in the other
            seen.append((theirs[0], made[0], made[1]))
            return a[0] - b[0]

        libc.qsort.restype = None
        libc.qsort(arr, 3, outer.sizeof(outer.c_int), CMP(cmp))
        assert list(arr) == [1, 2, 3]
    assert seen and all(s == (7, 9, 5) for s in seen)


def test_objects_made_on_one_thread_work_on_others(ct, test_lib):
    import threading

    def run(ns, dll):
        libc = ns.CDLL(None)
        libc.abs.argtypes = [ns.c_int]
        values = (ns.c_int * 4)(4, 1, 3, 2)
        p = ns.cast((ns.c_int * 2)(7, 9), ns.POINTER(ns.c_int))
        cmp = ns.CFUNCTYPE(ns.c_int, ns.POINTER(ns.c_int), ns.POINTER(ns.c_int))(lambda a, b: a[0] - b[0])
        out = {}

        def work(k):
            try:
                buf = ns.create_string_buffer(b"thread")
                total = sum(libc.abs(-i) for i in range(200))
                if k == 0:
                    libc.qsort(values, 4, ns.sizeof(ns.c_int), cmp)
                out[k] = (total, buf.value, p[1], ns.sizeof(buf))
            except BaseException as e:  # a panic of the binding is a BaseException
                out[k] = repr(e)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return [out[k] for k in range(4)], list(values)

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython
    assert mine[1] == [1, 2, 3, 4]


def test_each_thread_has_its_own_private_errno(ct, test_lib):
    import threading

    def run(ns, dll):
        seen = []
        old = ns.set_errno(32)

        def work():
            seen.append(ns.get_errno())
            seen.append(ns.set_errno(5))
            seen.append(ns.get_errno())

        t = threading.Thread(target=work)
        t.start()
        t.join()
        seen.append(ns.set_errno(old))
        return seen

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython == [0, 0, 5, 32]


def test_fields_and_values_read_and_write_as_ctypes_does(ct, test_lib):
    def run(ns, dll):
        class S(ns.Structure):
            _fields_ = [("i", ns.c_int), ("d", ns.c_double), ("b", ns.c_bool), ("u", ns.c_ubyte), ("f", ns.c_int, 3)]

        class BE(ns.BigEndianStructure):
            _fields_ = [("i", ns.c_int)]

        class MyInt(ns.c_int):
            pass

        s = S()
        out = []
        s.i = 2**32 + 5  # masked
        s.d = 3  # an int into a double
        s.b = 5  # truthiness
        s.u = -1
        s.f = 7
        out += [s.i, s.d, s.b, s.u, s.f]
        for field, bad in (("i", 1.5), ("d", "x"), ("i", None)):
            try:
                setattr(s, field, bad)
            except TypeError as e:
                out.append(str(e))
        try:
            del s.i
        except TypeError as e:
            out.append(str(e))
        be = BE()
        be.i = 0x01020304
        out.append(bytes(be))
        v = ns.c_int.__ctype_be__(0x01020304)
        out += [bytes(v), v.value]
        m = MyInt(-3)
        m.value = 2**31
        out += [m.value, ns.c_double(2).value, ns.c_float(1.5).value, ns.c_bool(2).value]
        out += [S.i.offset, S.d.offset, S.i.size, type(S.i).__name__ in ("CField", "_Field")]
        try:
            ns.c_int().value = "1"
        except TypeError as e:
            out.append(str(e))
        return out

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython
    assert mine[:5] == [5, 3.0, True, 255, -1]


def test_simple_instances_are_made_as_ctypes_makes_them(ct, test_lib):
    def run(ns, dll):
        out = []
        for args, kwargs in (((), {}), ((5,), {}), ((), {"value": 5}), ((1, 2), {}), ((None,), {})):
            try:
                out.append(ns.c_int(*args, **kwargs).value)
            except TypeError as e:
                out.append(str(e))
        out += [ns.c_char_p(None).value, ns.c_void_p(None).value, ns.c_double(1).value]

        class Sub(ns.c_int):
            def __init__(self, v):
                ns.c_int.__init__(self, v * 2)

        out.append(Sub(4).value)
        return out

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython
    assert mine[:4] == [0, 5, 0, "__init__ expected at most 1 argument, got 2"]


def test_slices_of_number_arrays_as_ctypes_gives_them(ct, test_lib):
    def run(ns, dll):
        a = (ns.c_int * 10)(*range(-5, 5))
        d = (ns.c_double * 4)(1.5, 2.5, 3.5, 4.5)
        u = (ns.c_ubyte * 3)(255, 1, 128)
        b = (ns.c_bool * 3)(True, False, True)
        slices = [slice(None), slice(2, 7), slice(None, None, 3), slice(None, None, -2),
                  slice(7, 2, -2), slice(5, 5), slice(-3, None), slice(100, None), slice(-100, 2)]
        return [a[s] for s in slices] + [d[1:3], u[:], b[:], b[::-1]]

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython
    assert mine[0] == list(range(-5, 5))


def test_a_callbacks_pointer_arguments_are_new_objects_to_every_call(ct, test_lib):
    """The pointer objects a callback gets may be used again by a later call only when no one
    can tell: one that was kept, given an attribute or a weak reference is never used again,
    and a type with __del__ sees each of its objects finalized, as in ctypes."""
    import gc
    import weakref

    def run(ns, dll):
        values = (ns.c_int * 6)(10, 20, 30, 40, 50, 60)
        P = ns.POINTER(ns.c_int)
        log, kept, refs = [], [], []

        def look(a, b):
            n = len(log)
            log.append((a[0], b[0], hasattr(a, "tag"), hasattr(b, "tag"), type(a) is P))
            if n == 1:
                a.tag = n
            if n == 2:
                kept.append(b)
            if n == 3:
                refs.append(weakref.ref(a))
            return a[0] - b[0]

        cb = ns.CFUNCTYPE(ns.c_int, P, P)(look)
        at = lambda i: ns.cast(ns.byref(values, i * ns.sizeof(ns.c_int)), P)
        diffs = [cb(at(i), at(5 - i)) for i in range(6)]
        values[3] = 99  # what the kept pointer points at
        gc.collect()

        finalized = [0]

        class Q(ns._Pointer):
            _type_ = ns.c_int

            def __del__(self):
                finalized[0] += 1

        q = Q(ns.c_int(7))
        cbq = ns.CFUNCTYPE(ns.c_int, Q)(lambda p: p[0])
        got = [cbq(q) for _ in range(5)]
        gc.collect()
        return diffs, log, [k[0] for k in kept], [r() is None for r in refs], got, finalized[0]

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython
    assert mine[0] == [-50, -30, -10, 10, 30, 50] and mine[2] == [99] and mine[5] == 5


def test_any_int_is_masked_to_the_width_as_ctypes_masks_it(ct, test_lib):
    def run(ns, dll):
        class S(ns.Structure):
            _fields_ = [("x", ns.c_int), ("y", ns.c_ulonglong)]

        s, a = S(), (ns.c_int * 2)()
        out = [ns.c_int(2**200 + 5).value, ns.c_uint(-1).value, ns.c_longlong(2**64 + 3).value,
               ns.c_ulonglong(-(2**100)).value]
        a[0] = 2**200 + 7
        s.x, s.y = 2**130 + 9, -(2**140) - 1
        out += [a[0], s.x, s.y]
        try:
            ns.c_double(2**1100)
        except OverflowError as e:
            out.append(str(e))
        return out

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython
    assert mine[:3] == [5, 2**32 - 1, 3]


def test_string_at_sizes_as_ctypes_takes_them(ct, test_lib):
    def run(ns, dll):
        b, w = ns.create_string_buffer(b"abc"), ns.create_unicode_buffer("ab")
        out = []
        for n in (-5, -1, 0, 2):
            for f in (lambda: ns.string_at(b, n), lambda: ns.wstring_at(w, n)):
                try:
                    out.append(f())
                except SystemError as e:
                    out.append(str(e))
        return out

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython
    assert mine[2:4] == [b"abc", "ab"]


def test_from_buffer_copy_makes_an_instance_as_ctypes_does(ct, test_lib):
    def run(ns, dll):
        out = []

        class S(ns.Structure):
            pass

        buf = ns.create_string_buffer(16)
        for make in (lambda S: S.from_buffer_copy(b""), lambda S: S.from_address(ns.addressof(buf)),
                     lambda S: S.from_buffer(buf)):

            class S(ns.Structure):
                pass

            make(S)
            try:
                S._fields_ = [("x", ns.c_int)]
                out.append("not final")
            except AttributeError as e:
                out.append(str(e))
        try:
            ns.Structure.from_buffer_copy(b"1234")
        except TypeError as e:
            out.append(str(e))
        out.append(ns.c_int.from_buffer_copy(b"\x05\0\0\0").value)
        return out

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython == ["_fields_ is final"] * 3 + ["abstract class", 5]


def test_from_param_refuses_as_ctypes_refuses(ct, test_lib):
    """A simple type's from_param says "wrong type" whatever its setter said, and the call
    reports that as the argument's error; a cparam's type is CArgObject."""

    def run(ns, dll):
        out = []
        for t, v in ((ns.c_int, "x"), (ns.c_double, "x"), (ns.c_float, None), (ns.c_char, "ab"),
                     (ns.c_ubyte, 1.5), (ns.c_double, 2**2000), (ns.c_wchar, 5), (ns.c_char_p, 5.5)):
            try:
                out.append(type(t.from_param(v)).__name__)
            except TypeError as e:
                out.append(str(e))
        out.append(type(ns.c_int.from_param(2**200)).__name__)
        f = dll._testfunc_i_bhilfd
        f.argtypes = [ns.c_byte, ns.c_short, ns.c_int, ns.c_long, ns.c_float, ns.c_double]
        try:
            f(1, 2, 3, 4, "x", 6.0)
        except ns.ArgumentError as e:
            out.append(str(e))
        return out

    mine, cpython = both(ct, test_lib, run)
    assert mine == cpython
    assert mine[0] == "wrong type" and mine[-2:] == ["CArgObject", "argument 5: TypeError: wrong type"]
