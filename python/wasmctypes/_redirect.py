"""Making `import ctypes` resolve to a wasmctypes namespace, for unmodified scripts
(`python -m wasmctypes run`) and CPython's own tests (`python -m wasmctypes.selftest`)."""

import importlib
import importlib.util
import os
import sys
import types


def redirect(backend):
    """`ctypes`, `_ctypes` and `ctypes.util` become the namespace of `backend`."""
    ns = importlib.import_module("wasmctypes." + backend)
    util = importlib.import_module("wasmctypes.util")
    util._backend = backend
    ns.util = util
    sys.modules["ctypes"] = ns
    sys.modules["_ctypes"] = ns
    sys.modules["ctypes.util"] = util
    ns.wintypes = sys.modules["ctypes.wintypes"] = _wintypes(ns)
    macholib = _macholib()
    if macholib is not None:
        ns.macholib = sys.modules["ctypes.macholib"] = macholib
    return ns


def _macholib():
    """`ctypes.macholib`: CPython's own pure-Python package (macOS library names, used by
    `ctypes.util` there), importable with its submodules under the redirected `ctypes`."""
    directory = os.path.join(os.path.dirname(os.__file__), "ctypes", "macholib")
    init = os.path.join(directory, "__init__.py")
    if not os.path.isfile(init):
        return None
    spec = importlib.util.spec_from_file_location(
        "ctypes.macholib", init, submodule_search_locations=[directory]
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _wintypes(ns):
    """`ctypes.wintypes`: CPython's own module (Windows' type names over ctypes' types,
    importable everywhere), run over the namespace."""
    mod = types.ModuleType("ctypes.wintypes")
    source = os.path.join(os.path.dirname(os.__file__), "ctypes", "wintypes.py")
    if os.path.isfile(source):
        with open(source, encoding="utf-8") as f:
            code = compile(f.read(), source, "exec")
        before = sys.modules.get("ctypes")
        sys.modules["ctypes"] = ns
        try:
            exec(code, mod.__dict__)
        finally:
            if before is not None:
                sys.modules["ctypes"] = before
    return mod
