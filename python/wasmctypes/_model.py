"""ctypes' object model over one wasmctypes process.

`namespace(backend)` builds a complete ctypes-like namespace (`c_int`, `CDLL`, `byref`,
`Structure`, ...) whose every object lives in the memory of one process of `backend`: the
default sandbox in `wasm`, this process in `native`. Instances own a block of that memory;
reading `.value` or a field reads it, through the Rust core, bounds-checked in wasm. Calls
(argument conversion, the call, the result) run in the core.

The model is made in parts, one concept per module, each over the ones before it: the base of
all data (`_cdata`), simple types (`_simple`), arrays, pointers, structures, argument
conversion, function pointers, libraries and the functions over memory (`_memory`). Each
part's `define(m)` reads what it uses from `m`, the namespace being made, and adds what it
defines; a part reaches a later one only at run time, through `m`.
"""

import atexit
import sys

from . import _arguments, _array, _cdata, _core, _function, _library, _memory, _pointer
from . import _prototype, _pythonapi, _simple, _structure
from ._cdata import _SIGNED, _UNSIGNED

_PARTS = (
    _cdata, _simple, _array, _pointer, _structure, _arguments, _function, _prototype, _library,
    _memory,
)


class _Model:
    """What the parts of one namespace share while they are defined (see the module's doc)."""

    def __init__(self, **names):
        self.__dict__.update(names)

    def add(self, names):
        """Adds a part's definitions (its `define`'s locals)."""
        for k, v in names.items():
            if k != "m":
                setattr(self, k, v)


def _finish_at_exit(process):
    """Ends a sandbox that still lives as a C process ends (see `namespace`): its `atexit`
    handlers and its libraries' destructors run, and its stdio is flushed."""
    p = process()
    if p is not None:
        try:
            p.finish()
        except Exception:
            pass


def namespace(backend, options=None, into=None):
    """A module (`into`, or a new one) with ctypes' public names over a new process of
    `backend`; a wasm sandbox's limits and grants are `options` (see `wasm.Sandbox`)."""
    ns = into if into is not None else type(sys)("wasmctypes." + backend)
    proc = _core.Process(backend, options or None)
    if backend == "wasm":
        # When the interpreter exits the sandbox ends as a C process does: atexit handlers
        # and destructors run, and what its C library keeps in its stdio buffers goes out.
        import weakref

        atexit.register(_finish_at_exit, weakref.ref(proc))
    ns._process = proc
    ns.ArgumentError = _core.ArgumentError
    ns.SandboxError = _core.SandboxError

    formats = {}

    def fmt(code):
        """The `struct` format of a type code in this process's data model (cached)."""
        f = formats.get(code)
        if f is None:
            size = proc.sizeof(code)
            if code in "fdg":
                f = "<" + ("f" if size == 4 else "d")
            elif code in "?BHILQcnPzZuO":
                f = "<" + _UNSIGNED[size]
            else:
                f = "<" + _SIGNED[size]
            formats[code] = f
        return f

    m = _Model(ns=ns, proc=proc, backend=backend, fmt=fmt)
    for part in _PARTS:
        part.define(m)
    # ctypes' own types are found, by pickle among others, in the namespace's module.
    for t in (m.c_bool, m.c_char, m.c_wchar, m.c_byte, m.c_ubyte, m.c_short, m.c_ushort, m.c_int,
              m.c_uint, m.c_long, m.c_ulong, m.c_longlong, m.c_ulonglong, m.c_float, m.c_double,
              m.c_longdouble, m.c_char_p, m.c_wchar_p, m.c_void_p, m.c_size_t, m.c_ssize_t,
              m.Structure, m.Union, m.BigEndianStructure, m.BigEndianUnion, m.Array, m._Pointer,
              m._SimpleCData, m._CFuncPtr):
        t.__module__ = ns.__name__
    for k, v in vars(m).items():
        if k not in ("ns", "proc", "t", "fmt", "simple", "by_size", "ubysize", "backend"):
            setattr(ns, k, v)
    ns.CFuncPtr = m._CFuncPtr
    ns._pointer_type_cache = m._pointers
    ns.CTYPES_MAX_ARGCOUNT = _core.MAX_ARGS  # this core's limit (CPython's is 1024)
    ns.RTLD_LOCAL = 0
    ns.RTLD_GLOBAL = 256
    ns.DEFAULT_MODE = 0
    _pythonapi.install(ns, backend)
    ns.__all__ = [n for n in dir(ns) if not n.startswith("_")]
    return ns
