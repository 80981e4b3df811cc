"""wasmctypes: Python's ctypes with the C library sandboxed in WebAssembly.

`import wasmctypes as ctypes` gives the namespace named by `WASMCTYPES_BACKEND`: `wasm` (the
default: every object lives in the process's default sandbox) or `native` (this process, as
ctypes). `wasmctypes.wasm` and `wasmctypes.native` are both importable in one process.

The namespace is made on first use of one of its names, not at import: `python -m wasmctypes
run --timeout 1s` gives the default sandbox its limits before it is made.
"""

import os as _os
import sys as _sys

from ._prototype import PrototypeWarning


def _namespace():
    """The namespace of `WASMCTYPES_BACKEND`, as it is at first use."""
    backend = _os.environ.get("WASMCTYPES_BACKEND", "wasm")
    if backend not in ("wasm", "native"):
        raise ImportError("WASMCTYPES_BACKEND must be wasm or native, not %r" % backend)
    globals()["backend"] = backend
    __import__("wasmctypes." + backend)
    return _sys.modules["wasmctypes." + backend]


def _modules():
    """The package's own modules (`_core`, `_model`, `wasm`, ...)."""
    here = _os.path.dirname(__file__)
    return {
        f.split(".")[0]
        for f in _os.listdir(here)
        if f.endswith(".py") or (f.startswith("_core") and f.endswith(".so"))
    }


def __getattr__(name):
    if name in _modules() or (name.startswith("__") and name != "__all__"):
        # A module of the package (`from . import _core` looks here before it imports it),
        # not a name of the namespace.
        raise AttributeError("module 'wasmctypes' has no attribute %r" % name)
    ns = _namespace()
    if name == "backend":
        return globals()["backend"]
    if name == "__all__":
        return list(ns.__all__)
    try:
        value = getattr(ns, name)
    except AttributeError:
        raise AttributeError("module 'wasmctypes' has no attribute %r" % name) from None
    if not name.startswith("__"):
        globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_namespace().__all__))
