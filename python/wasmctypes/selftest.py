"""CPython's own ctypes test suite, run in place against a wasmctypes namespace.

    python -m wasmctypes.selftest --backend wasm|native|cpython [--update]

The interpreter's installed tests (`ctypes.test` in Python 3.11, `test.test_ctypes` from 3.12)
are imported from where they are, never copied, with `ctypes`, `_ctypes` and `ctypes.util`
resolved to the chosen namespace (`cpython`: the real ctypes, the baseline). Each test module
runs in a child process, so that a crash is that module's outcome, not the runner's end. The
runner prints ran / passed / failed / errors / skipped, and compares every test that did not
pass with `selftest-expectations.txt` beside this module, installed with the package
(`BACKEND TEST REASON` per line): it fails on a test that fails but is not listed, and on a
listed test that passes. `--update` rewrites the
backend's lines from this run, classifying each by its test id (see `REASONS`).
"""

import argparse
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import types
import unittest

EXPECTATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "selftest-expectations.txt")

# Reason classes for --update, by test id prefix (module, class or test), per backend ("*": both);
# the longest matching prefix wins, and everything else is "bug" (a bug to fix, or a feature
# not built yet).
INTERPRETER = "interpreter-api"
INTERNALS = "internals (what CPython's ctypes keeps in _objects, an implementation detail)"
SANDBOX_MEMORY = "data-model (the sandbox has its own address space: a host address is not in it; from_address of one is an error)"
LONGDOUBLE = "not built (c_longdouble calls: the core has no 80-bit or 128-bit float; a clear TypeError)"
WASM32 = "data-model (wasm32: sizes, alignments and the C ABI of the target, not of the host)"
REASONS = {
    "*": {
        "test_python_api": INTERPRETER,
        "test_refcounts": INTERPRETER,
        "test_internals": INTERNALS,
        "test_keeprefs": INTERNALS,
        "test_objects": INTERNALS,
        "test_cast.Test.test_p2a_objects": INTERNALS,
        "test_values.PythonValuesTestCase": INTERPRETER + " (pythonapi: the interpreter's own symbols)",
        "test_parameters.SimpleTypesTestCase.test_from_param_result_refcount": INTERPRETER,
        "test_cfuncs.CFunctions.test_longdouble": LONGDOUBLE,
        "test_callbacks.Callbacks.test_longdouble": LONGDOUBLE,
        "test_cfuncs.CFunctions.test_longdouble_plus": LONGDOUBLE,
        "test_functions.FunctionTestCase.test_longdoubleresult": LONGDOUBLE,
        "test_win32.WindowsTestCase": "platform-only",
        "test_win32.FunctionCallTestCase": "platform-only",
        "test_win32.ReturnStructSizesTestCase": "platform-only",
        "test_win32.TestWintypes": "platform-only",
        "test_win32.TestWinError": "platform-only",
        "test_wintypes": "platform-only",
        "test_macholib": "platform-only",
    },
    "wasm": {
        "test_sizes": WASM32,
        "test_numbers.NumberTestCase.test_sizes": WASM32,
        "test_numbers.NumberTestCase.test_alignments": WASM32,
        "test_numbers.NumberTestCase.test_unsigned_values": WASM32,
        "test_structures.StructureTestCase.test_simple_structs": WASM32,
        "test_structures.StructureTestCase.test_unions": WASM32,
        "test_numbers.NumberTestCase.test_char_from_address": SANDBOX_MEMORY,
        "test_numbers.NumberTestCase.test_int_from_address": SANDBOX_MEMORY,
        "test_numbers.NumberTestCase.test_float_from_address": SANDBOX_MEMORY,
    },
}


def reason(backend, test):
    """The reason class of a test that does not pass on `backend` (see `REASONS`)."""
    short = test.split(".", 2)[2] if test.startswith("ctypes.test.") else test
    short = short.split(" ")[0]
    best, found = -1, "bug"
    for table in (REASONS["*"], REASONS.get(backend, {})):
        for prefix, why in table.items():
            if (short == prefix or short.startswith(prefix + ".") or short.startswith(prefix + "_(")) and len(prefix) > best:
                best, found = len(prefix), why
    return found


_SUITE = None


def suite_dir():
    """The installed suite's directory (found from the real ctypes, before any redirection)."""
    global _SUITE
    if _SUITE is None:
        _SUITE = _find_suite()
    return _SUITE


def _find_suite():
    spec = importlib.util.find_spec("ctypes")
    base = os.path.dirname(spec.origin)
    for d in (os.path.join(base, "test"), os.path.join(os.path.dirname(base), "test", "test_ctypes")):
        if os.path.isfile(os.path.join(d, "__init__.py")):
            return d
    raise SystemExit("error: this interpreter has no ctypes test suite installed")


def install(backend):
    """Makes `ctypes` and friends resolve to the namespace of `backend`."""
    if backend == "cpython":
        return
    from ._redirect import redirect

    redirect(backend)
    # `_ctypes_test`, CPython's C test library, is ours: ctypes_test.c beside this module
    # (installed with the package), which the namespace builds for its backend when a test
    # loads `CDLL(_ctypes_test.__file__)`.
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ctypes_test.c")
    if os.path.isfile(source):
        stub = types.ModuleType("_ctypes_test")
        stub.__file__ = source
        sys.modules["_ctypes_test"] = stub


def load_module(directory, name):
    """The test module `name` of the installed suite, imported from its own file."""
    pkg = "ctypes.test"
    if pkg not in sys.modules:
        init = importlib.util.spec_from_file_location(pkg, os.path.join(directory, "__init__.py"), submodule_search_locations=[directory])
        mod = importlib.util.module_from_spec(init)
        sys.modules[pkg] = mod
        init.loader.exec_module(mod)
        # Bound to its parent as the import system binds a submodule, so that
        # `ctypes.test.test_objects` (which a doctest imports) is found by attribute.
        setattr(sys.modules["ctypes"], "test", mod)
    spec = importlib.util.spec_from_file_location(pkg + "." + name, os.path.join(directory, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    setattr(sys.modules[pkg], name, mod)
    return mod


class _Result(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.outcomes = {}

    def addSuccess(self, test):
        self.outcomes[test.id()] = "passed"

    def addFailure(self, test, err):
        self.outcomes[test.id()] = "failed"

    def addError(self, test, err):
        self.outcomes[getattr(test, "id", lambda: str(test))()] = "error"

    def addSkip(self, test, reason):
        self.outcomes[test.id()] = "skipped"

    def addExpectedFailure(self, test, err):
        self.outcomes[test.id()] = "passed"

    def addUnexpectedSuccess(self, test):
        self.outcomes[test.id()] = "failed"


def run_module(backend, name):
    """Runs one module in this process; prints its outcomes as JSON."""
    import io
    import contextlib

    directory = suite_dir()
    install(backend)
    out = {}
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            mod = load_module(directory, name)
            suite = unittest.TestLoader().loadTestsFromModule(mod)
            result = _Result()
            suite.run(result)
            out = result.outcomes
        except BaseException as e:  # an import error is the module's one outcome
            out = {"ctypes.test.%s (import: %s)" % (name, type(e).__name__): "error"}
    print(json.dumps(out))


def modules():
    return sorted(f[:-3] for f in os.listdir(suite_dir()) if f.startswith("test_") and f.endswith(".py"))


def run_all(backend):
    outcomes = {}
    for name in modules():
        p = subprocess.run(
            [sys.executable, "-m", "wasmctypes.selftest", "--backend", backend, "--module", name],
            capture_output=True,
            timeout=600,
        )
        try:
            outcomes.update(json.loads(p.stdout.decode().strip().splitlines()[-1]))
        except (ValueError, IndexError):
            outcomes["ctypes.test.%s (crashed: status %d)" % (name, p.returncode)] = "error"
    return outcomes


def read_expectations(backend):
    listed = {}
    if os.path.isfile(EXPECTATIONS):
        for line in open(EXPECTATIONS, encoding="utf-8"):
            parts = line.split(None, 2)
            if len(parts) == 3 and parts[0] == backend and not line.startswith("#"):
                listed[parts[1]] = parts[2].strip()
    return listed


def write_expectations(backend, outcomes):
    keep = []
    if os.path.isfile(EXPECTATIONS):
        keep = [l for l in open(EXPECTATIONS, encoding="utf-8") if not l.startswith(backend + " ")]
    for test, outcome in sorted(outcomes.items()):
        if outcome in ("failed", "error"):
            keep.append("%s %s %s\n" % (backend, test.replace(" ", "_"), reason(backend, test.replace(" ", "_"))))
    with open(EXPECTATIONS, "w", encoding="utf-8") as f:
        if not keep or not keep[0].startswith("#"):
            f.write("# BACKEND TEST REASON: tests of CPython's ctypes suite that do not pass (python -m wasmctypes.selftest)\n")
        f.writelines(keep)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m wasmctypes.selftest")
    parser.add_argument("--backend", choices=("wasm", "native", "cpython"), default="wasm")
    parser.add_argument("--module", help=argparse.SUPPRESS)
    parser.add_argument("--update", action="store_true", help="rewrite this backend's expectations")
    ns = parser.parse_args(argv)
    if ns.module:
        run_module(ns.backend, ns.module)
        return 0
    outcomes = run_all(ns.backend)
    counts = {k: sum(1 for v in outcomes.values() if v == k) for k in ("passed", "failed", "error", "skipped")}
    print(
        "%s: ran %d, passed %d, failed %d, errors %d, skipped %d"
        % (ns.backend, len(outcomes), counts["passed"], counts["failed"], counts["error"], counts["skipped"])
    )
    if ns.update:
        write_expectations(ns.backend, outcomes)
        return 0
    listed = read_expectations(ns.backend)
    bad = 0
    for test, outcome in sorted(outcomes.items()):
        key = test.replace(" ", "_")
        if outcome in ("failed", "error") and key not in listed:
            print("not listed, and %s: %s" % (outcome, test))
            bad += 1
        if outcome == "passed" and key in listed:
            print("listed (%s), but passed: %s" % (listed[key], test))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
