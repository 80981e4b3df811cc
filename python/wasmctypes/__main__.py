"""`python -m wasmctypes run|diff script.py`.

- `run script.py [--backend wasm|native] [sandbox options] [args...]` runs an unmodified
  ctypes script with `ctypes`, `ctypes.util` and `_ctypes` resolved to wasmctypes' namespace
  of that backend. The sandbox options (`--timeout`, `--fuel`, `--max-memory`, `--dir`,
  `--env`, `--seed`, `--real-clock`, `--real-random`) are the default sandbox's limits and
  grants, as `wasmctypes.wasm.Sandbox(...)` takes them.
- `diff script.py [args...]` runs it under CPython's real ctypes and under `wasmctypes.wasm`,
  and compares stdout, stderr, the exit status and the uncaught exception's type. Exit 0 when
  they agree, 1 when they differ, 2 when the script could not be run at all.
"""

import argparse
import json
import os
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


def run(script, backend, args, options=None):
    os.environ["WASMCTYPES_BACKEND"] = backend
    if options:
        if backend != "wasm":
            raise SystemExit("error: TypeError: the sandbox options are for --backend wasm")
        os.environ["WASMCTYPES_SANDBOX"] = json.dumps(options)
    redirect(backend)
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


def diff(script, args):
    cwd = os.path.dirname(os.path.abspath(script)) or "."
    script = os.path.abspath(script)
    runs = {}
    for label, cmd in (
        ("ctypes", [sys.executable, script] + list(args)),
        ("wasm", [sys.executable, "-m", "wasmctypes", "run", "--backend", "wasm", script] + list(args)),
    ):
        try:
            p = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            print("error: cannot run the script (%s): %s" % (label, e), file=sys.stderr)
            return 2
        runs[label] = p
    a, b = runs["ctypes"], runs["wasm"]
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
    return 0 if same else 1


def _short(v):
    text = repr(v)
    return text if len(text) <= 34 else text[:31] + "..."


def main(argv=None):
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
    r.add_argument("script")
    r.add_argument("args", nargs=argparse.REMAINDER)
    d = sub.add_parser("diff", help="compare a script under CPython's ctypes and wasmctypes.wasm")
    d.add_argument("script")
    d.add_argument("args", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    if not os.path.isfile(ns.script):
        print("error: OSError: %s: No such file or directory" % ns.script, file=sys.stderr)
        return 2
    if ns.command == "run":
        run(ns.script, ns.backend, ns.args, sandbox_options(ns))
        return 0
    return diff(ns.script, ns.args)


if __name__ == "__main__":
    sys.exit(main())
