"""Making `import ctypes` resolve to a wasmctypes namespace, for unmodified scripts
(`python -m wasmctypes run`) and CPython's own tests (`python -m wasmctypes.selftest`)."""

import importlib
import sys


def redirect(backend):
    """`ctypes`, `_ctypes` and `ctypes.util` become the namespace of `backend`."""
    ns = importlib.import_module("wasmctypes." + backend)
    util = importlib.import_module("wasmctypes.util")
    ns.util = util
    sys.modules["ctypes"] = ns
    sys.modules["_ctypes"] = ns
    sys.modules["ctypes.util"] = util
    return ns
