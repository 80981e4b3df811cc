"""Hostile uses of the Python surface, run by test_hostile.py in a child process per
namespace (CPython's ctypes, wasmctypes.wasm, wasmctypes.native):

    python hostile_cases.py NAMESPACE TESTLIB THREADS [CASE...]

Each case prints one line, `name<TAB>outcome`, where the outcome is the repr of its result or
`raises ErrorName`; the line of a case is printed (and flushed) before the next one starts, so
a crash or a hang names its case. test_hostile.py compares the outcomes with CPython's ctypes
and with what the sandbox must answer where ctypes crashes."""

import gc
import importlib
import sys
import threading

CASES = {}


def case(f):
    CASES[f.__name__] = f
    return f


# ------------------------------------------------------------------ addresses and sizes
@case
def string_at_of_bytearray_text(ns, t, th):
    return ns.string_at(bytearray(b"4096"), 4)


@case
def string_at_of_float(ns, t, th):
    return ns.string_at(1.5, 3)


@case
def string_at_size_of_text(ns, t, th):
    return ns.string_at(b"abc", "3")


@case
def string_at_huge_size_masks_as_c_int(ns, t, th):
    # ctypes' string_at takes its size as c_int: 2**40 is 0.
    return ns.string_at(ns.create_string_buffer(b"ab"), 2**40)


@case
def string_at_negative_size(ns, t, th):
    return ns.string_at(ns.create_string_buffer(b"ab"), -1)


@case
def string_at_wild_address(ns, t, th):
    return ns.string_at(0x7FFF0000, 16)


@case
def string_at_huge_in_a_callback(ns, t, th):
    CB = ns.CFUNCTYPE(ns.c_int, ns.c_int)
    buf = ns.create_string_buffer(b"xy")
    out = []

    def cb(i):
        try:
            out.append(len(ns.string_at(buf, 2**31 - 1)))
        except Exception as e:
            out.append(type(e).__name__)
        return 0

    th.sum_of.argtypes = [CB, ns.c_int]
    th.sum_of(CB(cb), 1)
    return out


@case
def memmove_from_bytearray_text(ns, t, th):
    return ns.memmove(bytearray(10), b"abc", 3)


@case
def memmove_count_of_float(ns, t, th):
    return ns.memmove(ns.create_string_buffer(4), b"ab", 2.0)


@case
def memset_value_of_text(ns, t, th):
    return ns.memset(ns.create_string_buffer(4), "A", 1)


@case
def memset_past_the_memory(ns, t, th):
    return ns.memset(ns.create_string_buffer(4), 0, 2**31)


@case
def memmove_negative_count(ns, t, th):
    return ns.memmove(ns.create_string_buffer(4), b"abcd", -1)


@case
def cast_of_bytearray(ns, t, th):
    return ns.cast(bytearray(b"12"), ns.c_void_p)


@case
def cast_to_a_non_pointer(ns, t, th):
    return ns.cast(5, ns.c_int)


@case
def from_address_of_text(ns, t, th):
    return ns.c_int.from_address("4096")


@case
def from_address_wild(ns, t, th):
    return ns.c_int.from_address(2**40).value


@case
def from_address_past_64_bits(ns, t, th):
    return ns.c_int.from_address(2**64)


@case
def byref_offset_past_32_bits(ns, t, th):
    return type(ns.byref(ns.c_int(7), 2**32)).__name__


@case
def byref_offset_past_ssize_t(ns, t, th):
    return type(ns.byref(ns.c_int(7), 2**63)).__name__


@case
def byref_offset_of_float(ns, t, th):
    return ns.byref(ns.c_int(7), 1.5)


@case
def array_of_negative_length(ns, t, th):
    return ns.c_int * -1


@case
def array_too_large_for_the_address_space(ns, t, th):
    return ns.c_int * (2**62)


@case
def string_buffer_of_negative_size(ns, t, th):
    return ns.create_string_buffer(-1)


@case
def string_buffer_larger_than_memory(ns, t, th):
    try:
        ns.create_string_buffer(2**40)
    except (MemoryError, OverflowError, ValueError) as e:
        return "refused"
    return "made"


@case
def resize_below_the_type(ns, t, th):
    return ns.resize(ns.create_string_buffer(8), -1)


@case
def from_buffer_too_small(ns, t, th):
    return (ns.c_int * 10).from_buffer(bytearray(4))


@case
def from_buffer_negative_offset(ns, t, th):
    return ns.c_int.from_buffer(bytearray(8), -1)


@case
def from_buffer_of_bytes(ns, t, th):
    return ns.c_int.from_buffer(b"abcd")


@case
def from_buffer_then_resize_the_host_object(ns, t, th):
    b = bytearray(8)
    x = ns.c_int.from_buffer(b)
    b.extend(b"more")
    return x


@case
def from_buffer_copy_negative_offset(ns, t, th):
    return ns.c_int.from_buffer_copy(b"abcdefgh", -4)


@case
def c_int_of_a_huge_int(ns, t, th):
    return ns.c_int(2**100).value


@case
def c_char_p_of_int_text(ns, t, th):
    return ns.c_char_p(1234).value is None


# ------------------------------------------------------------------ lying Python objects
@case
def a_lying_buffer_layout(ns, t, th):
    class L(ns.Structure):
        _fields_ = [("x", ns.c_int)]

        def _b_buffer_(self):
            raise AssertionError("never asked")

    return memoryview(L(1)).tobytes()


@case
def an_index_that_lies(ns, t, th):
    class I:
        def __index__(self):
            return 2**70

    return ns.c_int(I()).value


@case
def an_as_parameter_that_raises(ns, t, th):
    class A:
        @property
        def _as_parameter_(self):
            raise KeyError("no")

    return t.add(A(), 1)


@case
def an_as_parameter_of_the_wrong_type(ns, t, th):
    class A:
        _as_parameter_ = object()

    return t.add(A(), 1)


@case
def a_from_param_that_returns_junk(ns, t, th):
    class J(ns.c_int):
        @classmethod
        def from_param(cls, obj):
            return "junk"

    t.add.argtypes = [J, ns.c_int]
    try:
        return t.add(1, 2)
    finally:
        t.add.argtypes = None


@case
def a_bytes_subclass_as_c_char_p(ns, t, th):
    class B(bytes):
        pass

    t.str_len.argtypes = [ns.c_char_p]
    return t.str_len(B(b"four"))


@case
def an_int_subclass_with_a_lying_index(ns, t, th):
    class N(int):
        def __index__(self):
            return 99

    return t.add(N(1), 2)


@case
def argtypes_that_are_not_types(ns, t, th):
    t.add.argtypes = [42, None]
    return t.add(1, 2)


@case
def restype_that_is_not_a_type(ns, t, th):
    f = t.add
    f.restype = "int"
    return f(1, 2)


@case
def a_structure_with_a_lying_fields_list(ns, t, th):
    class S(ns.Structure):
        _fields_ = [("x", ns.c_int), ("y", 42)]

    return S


# ------------------------------------------------------------------ callbacks
@case
def a_callback_that_raises(ns, t, th):
    CB = ns.CFUNCTYPE(ns.c_int, ns.c_int)

    def cb(i):
        raise RuntimeError("from a callback")

    th.sum_of.argtypes = [CB, ns.c_int]
    th.sum_of(CB(cb), 3)
    return th.add(2, 3)  # the library stays usable


@case
def a_callback_that_returns_the_wrong_type(ns, t, th):
    CB = ns.CFUNCTYPE(ns.c_int, ns.c_int)
    th.sum_of.argtypes = [CB, ns.c_int]
    th.sum_of(CB(lambda i: "text"), 2)
    return th.add(2, 3)


def re_enter(ns, th, levels):
    CB = ns.CFUNCTYPE(ns.c_int, ns.c_int)
    th.sum_of.argtypes = [CB, ns.c_int]
    depth, errors = [0], []

    def cb(i):
        depth[0] += 1
        if depth[0] >= levels:
            return 1
        try:
            return th.sum_of(f, 1)
        except Exception as e:
            errors.append(type(e).__name__)
            raise

    f = CB(cb)
    return th.sum_of(f, 1), errors[:1], th.add(2, 3)


@case
def a_callback_that_re_enters_twenty_deep(ns, t, th):
    return re_enter(ns, th, 20)


@case
def a_callback_that_re_enters_without_end(ns, t, th):
    return re_enter(ns, th, 10**6)


@case
def a_callback_on_eight_threads(ns, t, th):
    CB = ns.CFUNCTYPE(ns.c_int, ns.c_int)
    th.sum_of.argtypes = [CB, ns.c_int]
    results = [None] * 8

    def work(k):
        f = CB(lambda i: th.add(i, k))
        total = 0
        for _ in range(50):
            v = ns.c_int(k)
            total += th.sum_of(f, 4) + v.value
        results[k] = total

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for x in threads:
        x.start()
    for x in threads:
        x.join()
    return results


# ------------------------------------------------------------------ the guest misbehaves
@case
def integer_division_by_zero(ns, t, th):
    return t.divide(1, 0)


@case
def a_trap_then_the_library_is_usable(ns, t, th):
    try:
        t.crash_unreachable()
    except OSError:
        pass
    return t.add(20, 22)


@case
def c_writes_through_a_wild_pointer(ns, t, th):
    t.set_int.argtypes = [ns.c_void_p, ns.c_int]
    return t.set_int(0x7FFF0000, 1)


@case
def a_null_function_pointer_called(ns, t, th):
    F = ns.CFUNCTYPE(ns.c_int)
    return F(0)()


@case
def a_freed_callback_called_by_c(ns, t, th):
    CB = ns.CFUNCTYPE(ns.c_int, ns.c_int, ns.c_int)
    f = CB(lambda a, b: a + b)
    address = ns.cast(f, ns.c_void_p).value
    del f
    gc.collect()
    th.apply.argtypes = [ns.c_void_p, ns.c_int, ns.c_int]
    return th.apply(address, 1, 2)


@case
def c_calls_data_as_a_function(ns, t, th):
    th.apply.argtypes = [ns.c_void_p, ns.c_int, ns.c_int]
    return th.apply(ns.addressof(ns.c_int(5)), 1, 2)


# ------------------------------------------------------------------ guest bombs (sandbox only)
def hostile(ns, name, **limits):
    import os

    from wasmctypes import _core

    here = os.path.dirname(os.path.abspath(__file__))
    path = _core.build(os.path.join(here, "..", "..", "guest-c", "hostile", name + ".c"))[0]
    return ns.CDLL(path, sandbox=ns.Sandbox(**limits))


def outcome(f):
    try:
        return repr(f())
    except Exception as e:
        return "raises " + type(e).__name__


@case
def a_guest_that_never_returns(ns, t, th):
    lib = hostile(ns, "loop", timeout=0.2)
    return outcome(lib.spin), lib.ok()


@case
def a_guest_that_eats_memory(ns, t, th):
    lib = hostile(ns, "membomb", max_memory="8MiB")
    return outcome(lib.bomb), lib.ok()


@case
def a_guest_that_recurses_without_end(ns, t, th):
    lib = hostile(ns, "recursion")
    return outcome(lambda: lib.recurse(0)), lib.ok()


@case
def a_guest_that_burns_its_fuel(ns, t, th):
    lib = hostile(ns, "loop", fuel=100_000, timeout=None)
    return outcome(lambda: lib.burn(10**9)), lib.burn(10)


def run(which, testlib, threadslib, names):
    ns = importlib.import_module(which)
    t = ns.CDLL(testlib)
    th = ns.CDLL(threadslib)
    for k in ("add", "divide"):
        getattr(t, k)  # looked up before any case changes anything
    for name in names:
        sys.stdout.write(name + "\t")
        sys.stdout.flush()
        try:
            out = repr(CASES[name](ns, t, th))
        except BaseException as e:  # noqa: B036 - every outcome is reported
            out = "raises " + type(e).__name__
        # Fresh function objects for the next case (argtypes and restype are per object).
        t = ns.CDLL(testlib)
        th = ns.CDLL(threadslib)
        sys.stdout.write(out + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    which, testlib, threadslib = sys.argv[1:4]
    run(which, testlib, threadslib, sys.argv[4:] or list(CASES))
