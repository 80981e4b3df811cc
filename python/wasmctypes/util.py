"""`ctypes.util`: CPython's own module (its Linux search through ldconfig, gcc, ld and
LD_LIBRARY_PATH), run in this module's namespace so that its helpers can be patched here as
in `ctypes.util`; `find_library` also finds a script's own libraries beside it, and `c` is
the C library (the sandbox's libc in wasm)."""

import os as _os

_SOURCE = _os.path.join(_os.path.dirname(_os.__file__), "ctypes", "util.py")
if _os.path.isfile(_SOURCE):
    with open(_SOURCE, encoding="utf-8") as _f:
        exec(compile(_f.read(), _SOURCE, "exec"), globals())
    _system_find_library = find_library  # noqa: F821 (defined by CPython's source)
else:  # an interpreter without the standard library's sources: only the local search

    def _system_find_library(name):
        return None


def find_library(name):
    """The name to load library `name` by: `libc.so.6` for `c`, a library of the current
    directory (`libNAME.so`, `NAME.wasm`, or its C source) if there is one, else what
    CPython's search finds."""
    if name in ("c", "libc"):
        return "libc.so.6"
    here = _os.getcwd()
    for cand in ("lib%s.so" % name, "%s.wasm" % name, "lib%s.c" % name, "%s.c" % name):
        if _os.path.isfile(_os.path.join(here, cand)):
            return _os.path.join(here, cand)
    return _system_find_library(name)
