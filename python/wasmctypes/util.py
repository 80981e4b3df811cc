"""`ctypes.util`: CPython's own module (its Linux search through ldconfig, gcc, ld and
LD_LIBRARY_PATH), run in this module's namespace so that its helpers can be patched here as
in `ctypes.util`. `find_library` finds a script's own libraries beside it and the backend's
libraries in the directories of `$WASMCTYPES_PATH` first, and `c` is the C library (the
sandbox's libc in wasm)."""

import os as _os

from . import _core as _wasmctypes_core

_SOURCE = _os.path.join(_os.path.dirname(_os.__file__), "ctypes", "util.py")
if _os.path.isfile(_SOURCE):
    with open(_SOURCE, encoding="utf-8") as _f:
        exec(compile(_f.read(), _SOURCE, "exec"), globals())
    _system_find_library = find_library  # noqa: F821 (defined by CPython's source)
else:  # an interpreter without the standard library's sources: only the local search

    def _system_find_library(name):
        return None


def find_library(name):
    """The name to load library `name` by: `libc.so.6` for `c` (and `m`, part of the C
    library in the sandbox); a library of the current directory (`libNAME.so`, `NAME.wasm`,
    or its C source) if there is one; else the backend's build in a directory of
    `$WASMCTYPES_PATH` (for the sandbox a wasm module, whatever its name); else what
    CPython's search finds (in the sandbox a host library's name, which loads only if a wasm
    build of that name is in `$WASMCTYPES_PATH`)."""
    backend = _backend or _os.environ.get("WASMCTYPES_BACKEND", "wasm")
    if name in ("c", "libc"):
        return "libc.so.6"
    if backend == "wasm" and name in ("m", "libm"):
        return "libm.so.6"
    here = _os.getcwd()
    for cand in ("lib%s.so" % name, "%s.wasm" % name, "lib%s.c" % name, "%s.c" % name):
        if _os.path.isfile(_os.path.join(here, cand)):
            return _os.path.join(here, cand)
    if isinstance(name, str):
        found = _wasmctypes_core.find_library(name, backend, [])
        if found is not None:
            return found
    return _system_find_library(name)


# The backend whose libraries `find_library` looks for: set when `ctypes.util` is made this
# module for a backend (`python -m wasmctypes run`, the selftest), else $WASMCTYPES_BACKEND.
_backend = None
