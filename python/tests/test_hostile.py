"""The hostile set of the Python surface (hostile_cases.py), each namespace in a child
process: no case crashes the interpreter or hangs, and every outcome is CPython's ctypes'
where ctypes has one. Where ctypes crashes (a wild address, a trap in C), the native backend
does what ctypes does and is not run; the sandbox answers with the error listed here."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT

HERE = os.path.dirname(os.path.abspath(__file__))

# Cases that crash CPython's ctypes (and so the native backend, which does what it does), or
# whose C behaviour is undefined there, with the sandbox's answer.
SANDBOX_ONLY = {
    "string_at_wild_address": "raises ValueError",
    "string_at_huge_in_a_callback": "['ValueError']",
    "memset_past_the_memory": "raises SandboxError",
    "memmove_negative_count": "raises SandboxError",
    "from_address_wild": "raises ValueError",
    # Reads address 1234 of the sandbox's memory, as C would.
    "c_char_p_of_int_text": "False",
    "integer_division_by_zero": "raises SandboxError",
    "a_trap_then_the_library_is_usable": "42",
    "c_writes_through_a_wild_pointer": "raises SandboxError",
    "a_null_function_pointer_called": "raises ValueError",
    "a_freed_callback_called_by_c": "raises SandboxError",
    "c_calls_data_as_a_function": "raises SandboxError",
    # A sandbox's limits (ctypes has none: these hang or exhaust the host).
    "a_guest_that_never_returns": "('raises SandboxError', 1)",
    "a_guest_that_eats_memory": "('raises SandboxError', 1)",
    "a_guest_that_recurses_without_end": "('raises SandboxError', 1)",
    "a_guest_that_burns_its_fuel": "('raises SandboxError', 10)",
}

# Where both backends answer other than ctypes, on purpose: (native, wasm).
DIFFERENT = {
    # ctypes passes the str as a wchar_t * where the C takes an int, and returns garbage.
    "a_from_param_that_returns_junk": ("raises ArgumentError", "raises ArgumentError"),
    # ctypes recurses until Python's recursion limit; here the depth is bounded.
    "a_callback_that_re_enters_without_end": (
        "(0, ['RecursionError'], 5)",
        "(0, ['RecursionError'], 5)",
    ),
}

# Where the sandbox's 32-bit address space answers other than ctypes' 64-bit one.
WASM32 = {
    "byref_offset_past_32_bits": "raises ValueError",
    "byref_offset_past_ssize_t": "raises ValueError",
}


def outcomes(which, libs, names):
    p = subprocess.run(
        [sys.executable, os.path.join(HERE, "hostile_cases.py"), which, *libs, *names],
        capture_output=True,
        timeout=600,
        cwd=HERE,
    )
    lines = p.stdout.decode(errors="replace").splitlines()
    got = dict(line.split("\t", 1) for line in lines if "\t" in line)
    # A crash or a hang names the case it was in: its line has no outcome.
    assert p.returncode == 0, "%s crashed (%d) in %s\n%s" % (
        which, p.returncode, lines[-1] if lines else "?", p.stderr.decode()[-2000:])
    assert list(got) == list(names), (which, lines)
    return got


@pytest.fixture(scope="module")
def libs():
    from wasmctypes import _core

    t = _core.build(os.path.join(ROOT, "guest-c", "testlib.c"))
    th = _core.build(os.path.join(ROOT, "guest-c", "threads.c"))
    return {"wasm": (t[0], th[0]), "native": (t[1], th[1])}


@pytest.fixture(scope="module")
def cases():
    sys.path.insert(0, HERE)
    import hostile_cases

    return list(hostile_cases.CASES)


@pytest.fixture(scope="module")
def reference(libs, cases):
    """CPython's ctypes' outcomes, for the cases where it has one."""
    return outcomes("ctypes", libs["native"], [c for c in cases if c not in SANDBOX_ONLY])


@pytest.mark.parametrize("backend", ["native", "wasm"])
def test_hostile_uses_never_crash_and_answer_as_ctypes(backend, libs, cases, reference):
    names = [c for c in cases if backend == "wasm" or c not in SANDBOX_ONLY]
    got = outcomes("wasmctypes." + backend, libs[backend], names)
    wrong = {}
    for name in names:
        if name in SANDBOX_ONLY:
            want = SANDBOX_ONLY[name]
        elif name in DIFFERENT:
            want = DIFFERENT[name][backend == "wasm"]
        elif backend == "wasm" and name in WASM32:
            want = WASM32[name]
        else:
            want = reference[name]
        if got[name] != want:
            wrong[name] = (got[name], want)
    assert not wrong, "\n".join("%s: got %s, want %s" % (k, *v) for k, v in wrong.items())


def test_the_set_covers_every_surface(cases):
    """The set keeps its breadth: each kind of hostile input has cases."""
    for part in ("string_at", "memmove", "memset", "cast", "from_address", "byref",
                 "from_buffer", "lying", "as_parameter", "callback", "eight_threads", "guest"):
        assert any(part in c for c in cases), part
