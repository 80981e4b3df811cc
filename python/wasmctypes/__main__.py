"""`python -m wasmctypes run|diff script.py | -m MODULE`.

- `run [--backend wasm|native] [--lib-dir DIR] [--map HOST=WASM] [--strict] [--prototypes]
  [sandbox options] (script.py | -m MODULE) [args...]` runs an unmodified ctypes script, or a module as
  `python -m MODULE` does (`-m unittest discover`, `-m pytest`), with `ctypes`, `ctypes.util`
  and `_ctypes` resolved to wasmctypes' namespace of that backend. `--lib-dir` directories are
  searched first for libraries by name (`find_library`, `cdll.LoadLibrary('libfoo.so')`), as
  `$WASMCTYPES_PATH`; `--map` gives the wasm build of a host library the script opens by
  path. The sandbox options (`--timeout`, `--fuel`, `--max-memory`, `--dir`, `--env`,
  `--seed`, `--real-clock`, `--real-random`) are the default sandbox's limits and grants, as
  `wasmctypes.wasm.Sandbox(...)` takes them. `--strict` makes a binding that disagrees with
  the library's C prototypes (read from its debug information) an error instead of a
  `wasmctypes.PrototypeWarning`; `--prototypes` declares the functions the script does not
  declare from those prototypes.
- `build_ext [--setup setup.py] [options]` builds the libraries of a setuptools project for
  the sandbox and writes them beside the native ones, `X.so` -> `X.wasm` (see `_build_ext`).
- `cc ARGS...` and `ar ARGS...` are the sandbox's C compiler and archiver, as build systems
  call them (`wasmctypes cc`, `wasmctypes ar`).
- `diff [--lib-dir DIR] [--strict] [--prototypes] (script.py | -m MODULE) [args...]` runs it under CPython's real
  ctypes and under `wasmctypes.wasm`, and compares stdout, stderr, the exit status and the
  uncaught exception's type (the time a test runner prints, `Ran N tests in 0.123s`, is
  not compared). Exit 0 when they agree, 1 when they differ, 2 when it could not be run at
  all.
"""

import argparse
import json
import os
import re
import runpy
import subprocess
import sys

from ._redirect import redirect


def sandbox_options(ns):
    """The default sandbox's options from `run`'s flags, as `wasmctypes.wasm.Sandbox` takes
    them."""
    options = {}
    if ns.timeout is not None:
        options["timeout"] = None if ns.timeout in ("none", "0") else ns.timeout
    if ns.fuel is not None:
        options["fuel"] = ns.fuel
    if ns.max_memory is not None:
        options["max_memory"] = ns.max_memory
    if ns.dir:
        options["dirs"] = ns.dir
    if ns.env:
        options["env"] = ns.env
    if ns.seed is not None:
        options["seed"] = ns.seed
    if ns.real_clock:
        options["real_clock"] = True
    if ns.real_random:
        options["real_random"] = True
    return options


def search_environment(lib_dirs, mapping):
    """`--lib-dir` and `--map` as the environment the namespaces read (inherited by child
    processes the script starts): `$WASMCTYPES_PATH` and `$WASMCTYPES_LIBMAP`."""
    if lib_dirs:
        dirs = [os.path.abspath(d) for d in lib_dirs]
        before = os.environ.get("WASMCTYPES_PATH")
        os.environ["WASMCTYPES_PATH"] = os.pathsep.join(dirs + ([before] if before else []))
    if mapping:
        pairs = []
        for item in mapping:
            host, sep, wasm = item.rpartition("=")
            if not sep or not host or not wasm:
                raise SystemExit("error: ValueError: --map takes HOST=WASM, not %r" % item)
            pairs.append([os.path.abspath(host), os.path.abspath(wasm)])
        os.environ["WASMCTYPES_LIBMAP"] = json.dumps(pairs)


def prototype_options(strict, prototypes):
    """`--strict` (a binding that disagrees with the C is an error, not a PrototypeWarning) and
    `--prototypes` (functions the script does not declare are declared from the C), as the
    environment the namespaces read (inherited by child processes the script starts)."""
    if strict:
        os.environ["WASMCTYPES_STRICT"] = "1"
    if prototypes:
        os.environ["WASMCTYPES_PROTOTYPES"] = "1"


def run(script, backend, args, options=None, module=None):
    os.environ["WASMCTYPES_BACKEND"] = backend
    if options:
        if backend != "wasm":
            raise SystemExit("error: TypeError: the sandbox options are for --backend wasm")
        os.environ["WASMCTYPES_SANDBOX"] = json.dumps(options)
    redirect(backend)
    if module is not None:
        # As `python -m MODULE`: the current directory first on the path.
        sys.argv = [module] + list(args)
        sys.path.insert(0, os.getcwd())
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return
    sys.argv = [script] + list(args)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")


def exception_type(stderr):
    """The type of the uncaught exception a traceback ends with, or None."""
    lines = stderr.decode(errors="replace").rstrip().splitlines()
    if not any(l.startswith("Traceback (most recent call last)") for l in lines):
        return None
    last = lines[-1] if lines else ""
    name = last.split(":", 1)[0].strip()
    return name.rsplit(".", 1)[-1] or None


# What a test runner prints that changes from run to run: the time it took.
_TIMINGS = re.compile(rb"(Ran \d+ tests? in )\d+(\.\d+)?s|( in )\d+(\.\d+)?s( =+)")


# A PrototypeWarning as `warnings` prints it: `/file:line: PrototypeWarning: message`, then the
# source line; a test runner's output may stand before it on the same line (`test_x ... `).
_PROTOTYPE_WARNING = re.compile(rb"/[^\n]*?:\d+: PrototypeWarning: [^\n]*\n(?:  [^\n]*\n)?")


def _without_prototype_warnings(stderr):
    """`stderr` without the PrototypeWarnings (CPython's ctypes has none to give), and them."""
    found = [m.group(0).splitlines()[0] for m in _PROTOTYPE_WARNING.finditer(stderr)]
    return _PROTOTYPE_WARNING.sub(b"", stderr), found


def _untimed(stderr):
    return _TIMINGS.sub(lambda m: (m.group(1) or m.group(3)) + b"Ts" + (m.group(5) or b""), stderr)


def diff(script, args, module=None, flags=()):
    if module is not None:
        cwd = os.getcwd()
        target = ["-m", module]
    else:
        cwd = os.path.dirname(os.path.abspath(script)) or "."
        target = [os.path.abspath(script)]
    runs = {}
    for label, cmd in (
        ("ctypes", [sys.executable] + target + list(args)),
        ("wasm", [sys.executable, "-m", "wasmctypes", "run", "--backend", "wasm"] + list(flags)
         + target + list(args)),
    ):
        try:
            p = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            print("error: cannot run the script (%s): %s" % (label, e), file=sys.stderr)
            return 2
        p.stderr = _untimed(p.stderr)
        p.stdout = _untimed(p.stdout)
        runs[label] = p
    a, b = runs["ctypes"], runs["wasm"]
    b.stderr, warned = _without_prototype_warnings(b.stderr)
    rows = [
        ("stdout", a.stdout, b.stdout),
        ("stderr", a.stderr if exception_type(a.stderr) is None else b"", b.stderr if exception_type(b.stderr) is None else b""),
        ("exit", a.returncode, b.returncode),
        ("exception", exception_type(a.stderr), exception_type(b.stderr)),
    ]
    same = all(x == y for _, x, y in rows)
    print("%-10s %-34s %-34s" % ("", "CPython ctypes", "wasmctypes.wasm"))
    for name, x, y in rows:
        mark = "" if x == y else "   <- differs"
        print("%-10s %-34s %-34s%s" % (name, _short(x), _short(y), mark))
    print("verdict: %s" % ("same" if same else "the backends differ"))
    if warned:
        # What the library's C prototypes say of the script's bindings (not compared).
        print("prototype warnings (%d):" % len(warned))
        for line in dict.fromkeys(warned):
            print("  " + line.decode(errors="replace"))
    return 0 if same else 1


def _short(v):
    text = repr(v)
    return text if len(text) <= 34 else text[:31] + "..."


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    # The build tools take their arguments as a compiler does, untouched.
    if argv[:1] in (["cc"], ["ar"]):
        from . import _core

        tool = _core.cc if argv[0] == "cc" else _core.ar
        try:
            return tool(argv[1:])
        except (OSError, ValueError, RuntimeError) as e:
            print("error: %s: %s" % (type(e).__name__, e), file=sys.stderr)
            return 2
    if argv[:1] == ["build_ext"]:
        from ._build_ext import main as build_ext

        return build_ext(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m wasmctypes")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a ctypes script on wasmctypes")
    r.add_argument("--backend", choices=("wasm", "native"), default=os.environ.get("WASMCTYPES_BACKEND", "wasm"))
    r.add_argument("--timeout", help="the default sandbox's deadline per call (1s, 500ms, none)")
    r.add_argument("--fuel", type=int, help="a fuel budget per call")
    r.add_argument("--max-memory", help="the most linear memory (64MiB)")
    r.add_argument("--dir", action="append", default=[], help="grant HOST[::GUEST][:ro]")
    r.add_argument("--env", action="append", default=[], help="K=V for the guest")
    r.add_argument("--seed", type=int, help="the guest's random seed")
    r.add_argument("--real-clock", action="store_true", help="the host's clocks")
    r.add_argument("--real-random", action="store_true", help="the host's randomness")
    d = sub.add_parser("diff", help="compare a script under CPython's ctypes and wasmctypes.wasm")
    for p in (r, d):
        p.add_argument("--lib-dir", action="append", default=[],
                       help="a directory searched first for libraries by name")
        p.add_argument("--map", action="append", default=[],
                       help="HOST=WASM: the wasm build of the host library HOST")
        p.add_argument("--strict", action="store_true",
                       help="a binding that disagrees with the library's C prototypes is an "
                       "error (a PrototypeWarning otherwise)")
        p.add_argument("--prototypes", action="store_true",
                       help="declare the functions a script does not declare from the "
                       "library's C prototypes")
        p.add_argument("-m", dest="module", help="run a module as python -m does")
        p.add_argument("script", nargs="?")
        p.add_argument("args", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    args = list(ns.args)
    if ns.module is not None:
        if ns.script is not None:
            args.insert(0, ns.script)
    elif ns.script is None:
        parser.error("a script or -m MODULE is required")
    elif not os.path.isfile(ns.script):
        print("error: OSError: %s: No such file or directory" % ns.script, file=sys.stderr)
        return 2
    search_environment(ns.lib_dir, ns.map)
    if ns.command == "run":
        prototype_options(ns.strict, ns.prototypes)
        run(ns.script, ns.backend, args, sandbox_options(ns), ns.module)
        return 0
    flags = ["--strict"] * ns.strict + ["--prototypes"] * ns.prototypes
    return diff(ns.script, args, ns.module, flags)


if __name__ == "__main__":
    sys.exit(main())
