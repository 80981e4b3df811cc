"""`python -m wasmctypes build_ext [--setup setup.py] [build_ext options]`: the shared
libraries a setuptools project builds for `CDLL` (its `ext_modules`, as `build_ext` builds
them), built again for the sandbox and written beside the native ones, `X.so` -> `X.wasm`,
where the wasm backend looks first when the binding opens `X.so`.

It runs `setup.py build_ext` into a scratch directory with `CC` and `LDSHARED` the sandbox's
compiler (`python -m wasmctypes cc`, which makes a side module of `-shared`), then copies each
library it built, a wasm module, to the project's tree (where `build_ext --inplace` puts the
native one) with the suffix `.wasm` in place of `.so`. Extensions that include `Python.h`
are C extension modules for the interpreter, not libraries for ctypes: the sandbox cannot
run them, and their compile fails.
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile


def _wasm_name(path):
    base = path[: -len(".so")] if path.endswith(".so") else path
    return base + ".wasm"


def build_ext(setup="setup.py", options=()):
    """Builds the project of `setup` for the sandbox; the list of files written."""
    project = os.path.dirname(os.path.abspath(setup))
    if not os.path.isfile(setup):
        raise OSError("%s: No such file or directory" % setup)
    python = shlex.quote(sys.executable)
    env = dict(os.environ)
    env["CC"] = "%s -m wasmctypes cc" % python
    env["LDSHARED"] = "%s -m wasmctypes cc -shared" % python
    env["AR"] = "%s -m wasmctypes ar" % python
    # No host-only flags from the interpreter's own build.
    env["CFLAGS"] = env.get("WASMCTYPES_CFLAGS", "")
    env["LDFLAGS"] = ""
    env["CPPFLAGS"] = ""
    written = []
    with tempfile.TemporaryDirectory(prefix="wasmctypes-build-ext-") as scratch:
        lib = os.path.join(scratch, "lib")
        cmd = [sys.executable, os.path.abspath(setup), "build_ext", "--force",
               "--build-lib", lib, "--build-temp", os.path.join(scratch, "temp")] + list(options)
        done = subprocess.run(cmd, cwd=project, env=env)
        if done.returncode != 0:
            raise RuntimeError("setup.py build_ext for the sandbox failed (exit %d)" % done.returncode)
        for root, _, files in os.walk(lib):
            for name in files:
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    if f.read(4) != b"\0asm":
                        continue
                rel = os.path.relpath(path, lib)
                target = _wasm_name(os.path.join(project, rel))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(path, target)
                written.append(target)
    return written


def main(argv):
    setup = "setup.py"
    if argv[:1] == ["--setup"] and len(argv) >= 2:
        setup, argv = argv[1], argv[2:]
    elif argv and argv[0].startswith("--setup="):
        setup, argv = argv[0].split("=", 1)[1], argv[1:]
    try:
        written = build_ext(setup, argv)
    except (OSError, RuntimeError) as e:
        print("error: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 2
    for path in written:
        print(path)
    if not written:
        print("error: OSError: setup.py built no library", file=sys.stderr)
        return 2
    return 0
