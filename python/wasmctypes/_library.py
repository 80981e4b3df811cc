"""Libraries: `CDLL`, `PyDLL`, `LibraryLoader`, and how a name finds its file."""

import os

from . import _core


def define(m):
    """Defines libraries (`CDLL`, `PyDLL`, `cdll`, `pydll`) in `m`, the namespace being made (see
    `_model`)."""
    FUNCFLAG_CDECL, FUNCFLAG_PYTHONAPI = m.FUNCFLAG_CDECL, m.FUNCFLAG_PYTHONAPI
    _CFuncPtr, _flags, backend, c_int, ns = m._CFuncPtr, m._flags, m.backend, m.c_int, m.ns
    proc = m.proc

    class CDLL:
        """A library loaded into this namespace's process. With `sandbox=`, a
        `wasmctypes.wasm.Sandbox`: loaded into that sandbox instead (its objects are made with
        that sandbox's types: `sandbox.c_int(5)`; an object of another sandbox is an
        ArgumentError)."""

        _func_flags_ = FUNCFLAG_CDECL
        _func_restype_ = c_int

        def __new__(cls, name=None, mode=0, handle=None, use_errno=False, use_last_error=False,
                    winmode=None, sandbox=None, prototypes=None):
            if sandbox is not None and sandbox is not ns:
                other = getattr(sandbox, "_process", None)
                if not isinstance(other, _core.Process) or other.backend != "wasm":
                    raise TypeError("sandbox= must be a wasmctypes.wasm.Sandbox, not %s"
                                    % type(sandbox).__name__)
                if backend != "wasm":
                    raise TypeError("a native library runs in this process, not in a sandbox")
                return sandbox.CDLL(name, mode, handle, use_errno, use_last_error, winmode,
                                    prototypes=prototypes)
            return super().__new__(cls)

        def __init__(self, name, mode=0, handle=None, use_errno=False, use_last_error=False,
                     winmode=None, sandbox=None, prototypes=None):
            self._name = name
            # Functions the script does not declare get argtypes and restype from the C
            # (`prototypes=True`, or `$WASMCTYPES_PROTOTYPES=1`, which `run --prototypes` sets).
            if prototypes is None:
                prototypes = os.environ.get("WASMCTYPES_PROTOTYPES") == "1"
            self._use_prototypes = bool(prototypes)
            if isinstance(name, (bytes, os.PathLike)):
                name = os.fsdecode(name)
            if name is not None and not isinstance(name, str):
                raise TypeError("expected str, bytes or os.PathLike object, not %s"
                                % type(name).__name__)
            if name is not None and "\0" in name:
                raise ValueError("embedded null byte")
            if name is None or name == "":
                # dlopen(NULL), and dlopen("") which glibc reads as NULL: every symbol of
                # the process (natively the interpreter's own too); in the sandbox its whole
                # scope.
                self._lib = proc.this()
            elif name == "c" or (isinstance(name, str) and _is_libc(name)):
                self._lib = proc.libc()
            else:
                self._lib = proc.load(_resolve(name))
                # A library loaded from a file: its bindings are checked against its C.
                self._checked = True
            restype = self._func_restype_
            flags = _flags(use_errno, use_last_error) | self._func_flags_

            class _FuncPtr(_CFuncPtr):
                _restype_ = restype
                _flags_ = flags

            self._FuncPtr = _FuncPtr

        def __getattr__(self, name):
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name)
            f = self[name]
            setattr(self, name, f)
            return f

        def __getitem__(self, name):
            f = self._FuncPtr((name, self))
            if self._use_prototypes and self._checked:
                m._declare_from_prototype(f)
            return f

        _checked = False

        def __repr__(self):
            return "<CDLL '%s', handle %x at %#x>" % (self._name, id(self._lib), id(self))

    class PyDLL(CDLL):
        """A library whose functions are the interpreter's API: the GIL is kept during their
        calls, as ctypes keeps it (`FUNCFLAG_PYTHONAPI`)."""

        _func_flags_ = FUNCFLAG_CDECL | FUNCFLAG_PYTHONAPI

    class LibraryLoader:
        def __init__(self, dlltype):
            self._dlltype = dlltype

        def __getattr__(self, name):
            if name[0] == "_":
                raise AttributeError(name)
            dll = self._dlltype(name)
            setattr(self, name, dll)
            return dll

        def __getitem__(self, name):
            return getattr(self, name)

        def LoadLibrary(self, name):
            return self._dlltype(name)

    cdll = LibraryLoader(CDLL)
    pydll = LibraryLoader(PyDLL)

    def _is_libc(name):
        """libc, by the names it has. In the sandbox libm is libc too: wasi-libc contains
        the math library."""
        base = os.path.basename(name)
        if backend == "wasm" and base in ("m", "libm.so.6", "libm.so"):
            return True
        return base in ("libc.so.6", "libc.so", "libc.wasm")

    def _resolve(path):
        """A library named like a host one, as this backend loads it (see
        `wasmctypes::locate`: a file is known by its magic bytes; a host library's wasm build
        is beside it or given by `python -m wasmctypes run --map`; bare names are looked for
        in `$WASMCTYPES_PATH`)."""
        if backend == "native":
            if path.endswith(".c"):
                return _core.build(path)[1]
            if "/" in path or os.path.exists(path):
                return path
            try:
                return _core.locate(path, "native", [], [])
            except OSError:
                return path  # dlopen's own search, as ctypes
        try:
            return _core.locate(path, "wasm", [], _library_map())
        except OSError:
            # A C source beside the host library's name is built for the sandbox.
            d, base = os.path.split(path)
            stem = base.split(".so")[0]
            stem = stem[3:] if stem.startswith("lib") else stem
            for cand in (os.path.join(d, stem + ".c"), os.path.join(d, "lib" + stem + ".c")):
                if os.path.isfile(cand):
                    return _core.build(cand)[0]
            raise

    def _library_map():
        """The wasm builds of host libraries given to `python -m wasmctypes run --map`."""
        text = os.environ.get("WASMCTYPES_LIBMAP")
        if not text:
            return []
        import json  # only when a map is given: json costs an import of `re`

        try:
            pairs = json.loads(text)
            return [(str(h), str(w)) for h, w in pairs]
        except (ValueError, TypeError):
            raise OSError("WASMCTYPES_LIBMAP is not a JSON list of [host, wasm] pairs") from None

    m.add(locals())
