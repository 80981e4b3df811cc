"""wasmctypes: Python's ctypes with the C library sandboxed in WebAssembly.

`import wasmctypes as ctypes` gives the namespace named by `WASMCTYPES_BACKEND`: `wasm` (the
default: every object lives in the process's default sandbox) or `native` (this process, as
ctypes). `wasmctypes.wasm` and `wasmctypes.native` are both importable in one process.
"""

import importlib as _importlib
import os as _os

backend = _os.environ.get("WASMCTYPES_BACKEND", "wasm")
if backend not in ("wasm", "native"):
    raise ImportError("WASMCTYPES_BACKEND must be wasm or native, not %r" % backend)

_ns = _importlib.import_module("wasmctypes." + backend)
globals().update({k: v for k, v in vars(_ns).items() if not k.startswith("__")})
__all__ = list(_ns.__all__)
