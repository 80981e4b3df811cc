"""Calls the core learns to take in Rust after a first one in Python (arrays and numbers
without argtypes, byref() arguments): every later call answers as CPython's ctypes answers it,
and what ctypes refuses is refused at every call, however many calls came before."""

import ctypes as real

import pytest


def test_calls_without_argtypes_read_every_argument_at_every_call(ct, built):
    """Real bindings rarely declare argtypes: numbers passed as c_int(…) or c_double(…) and
    arrays pass by what they hold at each call, however many calls came before."""

    def run(ns, lib):
        out = []
        a, b = ns.c_int(1), ns.c_int(2)
        for i in range(4):
            a.value = i * 10
            out.append(lib.add(a, b))
        arr = (ns.c_int * 1)(5)
        for i in range(3):
            arr[0] = i - 1
            out.append(lib.deref(arr))
        lib.scale.restype = ns.c_double
        d = ns.c_double(1.5)
        for i in range(3):
            d.value = i + 0.25
            out.append(lib.scale(d, 2))
        lib.size_id.restype = ns.c_size_t
        s = ns.c_size_t(7)
        out.append(lib.size_id(s))
        s.value = 9
        out.append(lib.size_id(s))
        # A subclass's own value property does not change what passes: the memory does.
        class Shown(ns.c_int):
            value = property(lambda self: 99, lambda self, v: ns.c_int.value.__set__(self, v))

        out.append(lib.add(Shown(4), 1))
        out.append(lib.add(Shown(5), 1))
        # Then plain values and None again, and a wrong one is still an ArgumentError.
        out.append(lib.add(3, 4))
        with pytest.raises(real.ArgumentError if ns is real else ns.ArgumentError):
            lib.add(object(), 1)
        out.append(lib.add(a, 1))
        return out

    native = real.CDLL(str(built / "libtestlib.so"))
    lib = ct.CDLL(str(built / ("testlib.wasm" if ct.__name__.endswith("wasm") else "libtestlib.so")))
    assert run(ct, lib) == run(real, native)


def test_byref_arguments_pass_as_ctypes_passes_them_at_every_call(ct, built):
    """byref() arguments as bindings pass them, declared POINTER(T) or c_void_p or not
    declared: each call writes where that call's byref points; a byref of another type is
    still refused where ctypes refuses it, and an offset is honoured."""

    def run(ns, lib):
        out = []
        set_int = lib.set_int
        set_int.argtypes = [ns.POINTER(ns.c_int), ns.c_int]
        cells = [ns.c_int(0) for _ in range(3)]
        for k in range(6):
            set_int(ns.byref(cells[k % 3]), k)
        out.append([c.value for c in cells])
        with pytest.raises(real.ArgumentError if ns is real else ns.ArgumentError):
            set_int(ns.byref(ns.c_double(1.0)), 1)
        with pytest.raises(real.ArgumentError if ns is real else ns.ArgumentError):
            set_int(ns.byref(ns.c_short(1)), 1)
        # A subclass of the target type passes as the type does.
        class Mine(ns.c_int):
            pass

        m = Mine(0)
        set_int(ns.byref(m), 41)
        out.append(m.value)
        arr = (ns.c_int * 4)()
        with pytest.raises(real.ArgumentError if ns is real else ns.ArgumentError):
            set_int(ns.byref(arr), 1)  # an array of c_int is not a c_int
        set_void = ns.CDLL(lib._name).set_int
        set_void.argtypes = [ns.c_void_p, ns.c_int]
        for k in range(4):
            set_void(ns.byref(arr, k * ns.sizeof(ns.c_int)), 10 + k)
        out.append(list(arr))
        # c_void_p takes any byref; no argtypes passes it as a pointer.
        deref = lib.deref
        deref.argtypes = [ns.c_void_p]
        out.append([deref(ns.byref(c)) for c in cells])
        out.append(deref(ns.byref(arr, 2 * ns.sizeof(ns.c_int))))
        plain = ns.CDLL(lib._name).fill
        for k in range(3):
            plain(ns.byref(arr), 2, k)
            out.append(list(arr))
        d = ns.c_double(0.0)
        plain(ns.byref(d), 1, 7)  # C writes an int into the double's first bytes
        out.append(ns.cast(ns.byref(d), ns.POINTER(ns.c_int))[0])
        return out

    native = real.CDLL(str(built / "libtestlib.so"))
    lib = ct.CDLL(str(built / ("testlib.wasm" if ct.__name__.endswith("wasm") else "libtestlib.so")))
    assert run(ct, lib) == run(real, native)


def test_structures_and_function_pointers_pass_as_ctypes_passes_them_at_every_call(ct):
    """Structures by value and function pointers, as bindings pass them, call after call: each
    call passes that call's values and that call's function; another structure type, or None
    where a structure is declared, is refused at every call as ctypes refuses it."""
    import os

    from wasmctypes import _core

    from conftest import ROOT

    wasm, native = _core.build(os.path.join(ROOT, "python", "wasmctypes", "ctypes_test.c"))

    def run(ns, lib):
        class POINT(ns.Structure):
            _fields_ = [("x", ns.c_int), ("y", ns.c_int)]

        class OTHER(ns.Structure):
            _fields_ = [("x", ns.c_int), ("y", ns.c_int)]

        class SUB(POINT):
            pass

        byval = lib._testfunc_byval
        byval.argtypes = [POINT, ns.POINTER(POINT)]
        byval.restype = ns.c_int
        out, res = [], POINT()
        for k in range(4):
            out.append((byval(POINT(k, 10 * k), ns.byref(res)), res.x, res.y))
        out.append(byval(SUB(5, 6), ns.byref(res)))
        for bad in (OTHER(1, 2), None, 3):
            with pytest.raises(real.ArgumentError if ns is real else ns.ArgumentError):
                byval(bad, ns.byref(res))
        F = ns.CFUNCTYPE(ns.c_int, ns.c_int)
        call = lib._testfunc_callback_i_if
        call.argtypes = [ns.c_int, F]
        call.restype = ns.c_int
        fs = [F(lambda v, k=k: v * k) for k in range(1, 4)]
        for k in range(6):
            out.append(call(8, fs[k % 3]))
        with pytest.raises(real.ArgumentError if ns is real else ns.ArgumentError):
            call(0, None)
        with pytest.raises(real.ArgumentError if ns is real else ns.ArgumentError):
            call(8, ns.CFUNCTYPE(ns.c_int, ns.c_double)(lambda v: 0))
        return out

    lib = ct.CDLL(wasm if ct.__name__.endswith("wasm") else native)
    import _ctypes_test

    assert run(ct, lib) == run(real, real.CDLL(_ctypes_test.__file__))
