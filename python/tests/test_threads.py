"""Threads, the GIL and callbacks, as real programs use them: on CPython's ctypes and on both
backends. ctypes releases the GIL around every call of a CDLL (not of a PyDLL); a callback
takes it back, may run on a C thread of its own, and may call its own library again."""

import ctypes as real
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT


def build(name):
    from wasmctypes import _core

    return _core.build(os.path.join(ROOT, "guest-c", name + ".c"))


@pytest.fixture(scope="module")
def threads_lib():
    return build("threads")


@pytest.fixture(params=["ctypes", "wasm", "native"])
def ns_lib(request, threads_lib):
    """(namespace, CDLL of guest-c/threads.c) under CPython's ctypes and each backend."""
    import importlib

    if request.param == "ctypes":
        ns = real
    else:
        ns = importlib.import_module("wasmctypes." + request.param)
    lib = ns.CDLL(threads_lib[0] if request.param == "wasm" else threads_lib[1])
    lib.spin.argtypes = [ns.c_uint64]
    lib.spin.restype = ns.c_uint64
    return request.param, ns, lib


def rounds_for(lib, seconds):
    """How many rounds of `spin` take about `seconds` here."""
    n = 1 << 16
    while True:
        t = time.perf_counter()
        lib.spin(n)
        took = time.perf_counter() - t
        if took > 0.05:
            return int(n * seconds / took)
        n *= 4


def ticks_during(call):
    """How often this thread ran while another thread ran `call()` (well inside it)."""
    done = {}

    def run():
        done["started"] = time.perf_counter()
        call()
        done["ended"] = time.perf_counter()

    t = threading.Thread(target=run)
    ticks = []
    t.start()
    while t.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    t.join()
    return len([x for x in ticks if done["started"] + 0.05 < x < done["ended"] - 0.05])


def test_the_gil_is_released_while_c_computes(ns_lib):
    which, ns, lib = ns_lib
    n = rounds_for(lib, 0.6)
    # This thread ran while C computed, well before the call returned.
    assert ticks_during(lambda: lib.spin(n)) > 20, which


def test_a_pydll_keeps_the_gil(threads_lib):
    """PyDLL's functions keep the GIL (ctypes' FUNCFLAG_PYTHONAPI): no other thread runs."""
    import wasmctypes.native
    import wasmctypes.wasm

    for which, ns, path in (
        ("ctypes", real, threads_lib[1]),
        ("wasm", wasmctypes.wasm, threads_lib[0]),
        ("native", wasmctypes.native, threads_lib[1]),
    ):
        lib = ns.PyDLL(path)
        lib.spin.argtypes = [ns.c_uint64]
        lib.spin.restype = ns.c_uint64
        n = rounds_for(lib, 0.4)
        assert ticks_during(lambda: lib.spin(n)) == 0, which


def test_a_callback_may_run_on_a_c_thread(ns_lib):
    which, ns, lib = ns_lib
    CB = ns.CFUNCTYPE(ns.c_int, ns.c_int)
    seen = []

    def cb(x):
        seen.append(threading.get_ident())
        return x * 3

    f = CB(cb)
    lib.call_in_thread.argtypes = [CB, ns.c_int]
    assert lib.call_in_thread(f, 7) == 21
    # Natively C made a thread of its own (a wasm sandbox has one thread: there, this one).
    if which == "wasm":
        assert seen == [threading.get_ident()]
    else:
        assert seen and seen[0] != threading.get_ident()


def test_a_callback_calls_its_own_library(ns_lib):
    which, ns, lib = ns_lib
    CB = ns.CFUNCTYPE(ns.c_int, ns.c_int)
    lib.sum_of.argtypes = [CB, ns.c_int]
    fresh = ns.CDLL(lib._name)

    def cb(i):
        # A call into the same library, a first lookup of one of its functions, an object
        # made and read, all while the library is in its call.
        v = ns.c_int(i * 10)
        return lib.add(v.value, 1) + fresh.add(0, 0)

    assert lib.sum_of(CB(cb), 4) == 1 + 11 + 21 + 31


def test_callbacks_that_re_enter_without_end_stop_with_an_error(ns_lib):
    which, ns, lib = ns_lib
    if which == "ctypes":
        pytest.skip("CPython's ctypes recurses until the interpreter's recursion limit")
    CB = ns.CFUNCTYPE(ns.c_int, ns.c_int)
    lib.sum_of.argtypes = [CB, ns.c_int]
    errors = []

    def again(i):
        try:
            return lib.sum_of(me, 1)
        except Exception as e:
            errors.append(e)
            raise

    me = CB(again)
    assert lib.sum_of(me, 1) == 0
    # The innermost call failed with a typed error, which each level's callback reported.
    assert errors and isinstance(errors[0], (RecursionError, ns.SandboxError)), errors[0]
    assert lib.add(2, 3) == 5


def test_other_threads_work_while_one_is_in_a_callback(ns_lib):
    which, ns, lib = ns_lib
    CB = ns.CFUNCTYPE(ns.c_int, ns.c_int)
    lib.sum_of.argtypes = [CB, ns.c_int]
    inside = threading.Event()
    out = {}

    def slow(i):
        inside.set()
        time.sleep(0.3)
        return i

    def caller():
        out["sum"] = lib.sum_of(CB(slow), 2)
        out["caller done"] = time.perf_counter()

    t = threading.Thread(target=caller)
    t.start()
    assert inside.wait(5)
    # Calls, objects and a first lookup from another thread while the callback runs.
    other = ns.CDLL(lib._name)
    buf = ns.create_string_buffer(b"hello")
    results = (other.add(2, 3), lib.add(4, 5), ns.c_int(42).value, buf.value, ns.sizeof(buf))
    out["other done"] = time.perf_counter()
    t.join()
    assert out["sum"] == 1
    assert results == (5, 9, 42, b"hello", 6)


def test_eight_threads_at_once(ns_lib):
    which, ns, lib = ns_lib
    CB = ns.CFUNCTYPE(ns.c_int, ns.c_int)
    lib.sum_of.argtypes = [CB, ns.c_int]
    failures = []

    def work(k):
        try:
            for j in range(30):
                f = CB(lambda i: i + k)
                assert lib.sum_of(f, 5) == 10 + 5 * k
                a = (ns.c_int * 4)(k, j, 1, 2)
                assert list(a) == [k, j, 1, 2]
                assert lib.add(k, j) == k + j
                assert ns.string_at(ns.create_string_buffer(b"x%d" % k)) == b"x%d" % k
        except BaseException as e:
            failures.append((k, repr(e)))

    ts = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not any(t.is_alive() for t in ts)
    assert failures == []


CTRL_C = """
import sys, time
sys.path.insert(0, {root!r})
import {module} as ns
lib = ns.CDLL({path!r})
lib.spin.argtypes = [ns.c_uint64]
lib.spin.restype = ns.c_uint64
n = 1 << 16
while True:
    t = time.perf_counter(); lib.spin(n); took = time.perf_counter() - t
    if took > 0.05: break
    n *= 4
print("ready", flush=True)
try:
    lib.spin(int(n * 1.0 / took))
    print("returned", flush=True)
    time.sleep(5)
    print("not interrupted", flush=True)
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
"""


@pytest.mark.parametrize("module", ["ctypes", "wasmctypes.wasm", "wasmctypes.native"])
def test_ctrl_c_is_seen_when_the_call_returns(module, threads_lib):
    path = threads_lib[0] if module.endswith("wasm") else threads_lib[1]
    script = CTRL_C.format(root=os.path.join(ROOT, "python"), module=module, path=path)
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=30)
    # The call ran to its end, then the interrupt was raised.
    assert out.split() in (["returned", "KeyboardInterrupt"], ["KeyboardInterrupt"]), out
