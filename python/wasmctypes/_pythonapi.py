"""`pythonapi`, and `_ctypes`' interpreter helpers (`PyObj_FromPtr`, `Py_INCREF`, `Py_DECREF`).

Natively, as ctypes: `pythonapi` is `PyDLL(None)`, the interpreter's own symbols (its calls keep
the GIL, and an exception the function set is raised), `py_object` values are real
`PyObject *`s.

In the sandbox the interpreter is not in the guest's address space, so `pythonapi` offers what
bindings use it for most: the buffer protocol (`PyObject_GetBuffer`, `PyBuffer_Release`,
`PyObject_CheckBuffer`) and the memory of `bytes` and `bytearray` objects (`PyBytes_AsString`,
`PyByteArray_AsString`, their sizes, and objects made from the sandbox's memory), over the
host buffers' mirrors in the sandbox, kept coherent with the objects (`_core.Mirror`). A
`py_object` is a handle C can keep and pass back. Any other function is an `AttributeError`
that says why.
"""

import struct as _struct

# PEP 3118 request flags.
PyBUF_WRITABLE = 0x0001
PyBUF_FORMAT = 0x0004
PyBUF_ND = 0x0008
PyBUF_STRIDES = 0x0010 | PyBUF_ND
PyBUF_READ = 0x100


def install(ns, backend):
    """Puts `pythonapi`, `PyObj_FromPtr`, `Py_INCREF` and `Py_DECREF` in the namespace `ns`."""
    from . import _core

    if backend == "native":
        ns.pythonapi = ns.PyDLL(None)
        ns.PyObj_FromPtr = _core.object_at

        def Py_INCREF(obj):
            _core.incref(obj)
            return obj

        def Py_DECREF(obj):
            _core.decref(obj)
            return obj

    else:
        ns.pythonapi = _SandboxAPI(ns)

        def PyObj_FromPtr(address):
            """The object of a `py_object` handle (in the sandbox, a handle is no address)."""
            return ns._lookup(address)

        def Py_INCREF(obj):
            return obj

        def Py_DECREF(obj):
            return obj

        ns.PyObj_FromPtr = PyObj_FromPtr
    ns.Py_INCREF = Py_INCREF
    ns.Py_DECREF = Py_DECREF


class _NoData:
    """`pythonapi`'s symbol table in the sandbox: no data symbol of the interpreter is there
    (`c_int.in_dll(pythonapi, name)` is ctypes' `ValueError`)."""

    def data_address(self, name):
        raise AttributeError(name)

    def has(self, name):
        return False


class _SandboxAPI:
    """`pythonapi` in the sandbox (see the module docs)."""

    def __init__(self, ns):
        self._ns = ns
        self._name = "pythonapi"
        self._lib = _NoData()
        # The views `PyObject_GetBuffer` filled and not yet released: view address ->
        # (the mirror's holder, the object's handle, blocks made for format and shape).
        self._views = {}
        # Objects whose reference count C raised (`Py_IncRef`), kept alive: id -> [obj, n].
        self._c_refs = {}

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        impl = getattr(type(self), "_api_" + name, None)
        if impl is None:
            raise AttributeError(
                "pythonapi.%s: the Python interpreter is not in the sandbox's address space; "
                "in the sandbox pythonapi has the buffer protocol and the memory of bytes and "
                "bytearray objects only (%s)" % (name, ", ".join(_NAMES))
            )
        f = _APIFunction(self._ns, name, impl.__get__(self))
        setattr(self, name, f)
        return f

    def __getitem__(self, name):
        return getattr(self, name)

    def __repr__(self):
        return "<PyDLL 'pythonapi' (the sandbox's buffer protocol)>"

    # ------------------------------------------------------------ the buffer protocol
    def _api_PyObject_GetBuffer(self, obj, view, flags):
        ns = self._ns
        obj = _object(ns, obj)
        addr = _address(ns, view)
        if not addr:
            raise ValueError("PyObject_GetBuffer: view is NULL")
        flags = _int(ns, flags)
        mv = memoryview(obj)
        if flags & PyBUF_WRITABLE and mv.readonly:
            raise BufferError("Object is not writable.")
        hold = ns._process.mirror(obj, False)
        handle = ns._Handle(obj)
        blocks = []
        fmt = 0
        if flags & PyBUF_FORMAT:
            fb = ns.create_string_buffer(mv.format.encode("ascii"))
            blocks.append(fb)
            fmt = fb._b_addr
        shape = strides = 0
        ssize = ns.c_ssize_t
        if flags & PyBUF_ND and mv.ndim:
            sb = (ssize * mv.ndim)(*mv.shape)
            blocks.append(sb)
            shape = sb._b_addr
        if flags & PyBUF_STRIDES == PyBUF_STRIDES and mv.ndim:
            tb = (ssize * mv.ndim)(*mv.strides)
            blocks.append(tb)
            strides = tb._b_addr
        # The view as the sandbox's C lays Py_buffer out (every member 4 bytes in wasm32).
        fields = (hold.address, handle.h, hold.length, mv.itemsize, int(mv.readonly),
                  mv.ndim if flags & PyBUF_ND else 0, fmt, shape, strides, 0, addr)
        ns._process.write(addr, _struct.pack("<11I", *[x & 0xFFFFFFFF for x in fields]))
        old = self._views.pop(addr, None)
        self._views[addr] = (hold, handle, blocks)
        del old
        return 0

    def _api_PyBuffer_Release(self, view):
        ns = self._ns
        addr = _address(ns, view)
        if self._views.pop(addr, None) is not None:
            # As CPython: the view's obj becomes NULL.
            ns._process.write(addr + 4, b"\0\0\0\0")
        return None

    def _api_PyObject_CheckBuffer(self, obj):
        try:
            memoryview(_object(self._ns, obj))
        except TypeError:
            return 0
        return 1

    # ------------------------------------------------------------ bytes and bytearray
    def _mirrored(self, obj, kind):
        if not isinstance(obj, kind):
            raise TypeError("expected %s, %s found" % (kind.__name__, type(obj).__name__))
        # The mirror stays while the object lives: the pointer C gets stays valid (and
        # coherent with the object) as long as the object's own would.
        return self._ns._process.mirror(obj, False).address

    def _api_PyBytes_AsString(self, obj):
        return self._mirrored(_object(self._ns, obj), bytes)

    def _api_PyByteArray_AsString(self, obj):
        return self._mirrored(_object(self._ns, obj), bytearray)

    def _api_PyBytes_AsStringAndSize(self, obj, out, size):
        ns = self._ns
        obj = _object(ns, obj)
        at = self._mirrored(obj, bytes)
        p = _address(ns, out)
        if p:
            ns._process.write(p, _struct.pack("<I", at))
        n = _address(ns, size)
        if n:
            ns._process.write(n, _struct.pack("<i", len(obj)))
        return 0

    def _api_PyBytes_Size(self, obj):
        obj = _object(self._ns, obj)
        if not isinstance(obj, bytes):
            raise TypeError("expected bytes, %s found" % type(obj).__name__)
        return len(obj)

    def _api_PyByteArray_Size(self, obj):
        obj = _object(self._ns, obj)
        if not isinstance(obj, bytearray):
            raise TypeError("expected bytearray, %s found" % type(obj).__name__)
        return len(obj)

    def _read(self, at, size):
        size = _int(self._ns, size)
        if size < 0:
            raise SystemError("Negative size passed to PyBytes_FromStringAndSize")
        host = _host_bytes(self._ns, at)
        if host is not None:
            # A bytes argument: its bytes (and zeros past its end).
            return bytes(memoryview(host[:size] + bytes(max(0, size - len(host)))))
        at = _address(self._ns, at)
        if not at:
            return bytes(size)
        return self._ns._process.read(at, size)

    def _api_PyBytes_FromStringAndSize(self, at, size):
        return self._read(at, size)

    def _api_PyByteArray_FromStringAndSize(self, at, size):
        return bytearray(self._read(at, size))

    def _api_PyBytes_FromString(self, at):
        host = _host_bytes(self._ns, at)
        if host is not None:
            # A new object, as C makes one.
            return bytes(memoryview(host.split(b"\0", 1)[0]))
        return self._ns._process.string_at(_address(self._ns, at))

    def _api_PyMemoryView_FromMemory(self, at, size, flags):
        """A memoryview of the sandbox's memory (`PyBUF_READ`: read-only)."""
        ns = self._ns
        at, size = _address(ns, at), _int(ns, size)
        view = memoryview((ns.c_ubyte * size).from_address(at)).cast("B")
        return view.toreadonly() if _int(ns, flags) & PyBUF_READ else view

    # ------------------------------------------------------------ references
    def _api_Py_IncRef(self, obj):
        obj = _object(self._ns, obj)
        entry = self._c_refs.setdefault(id(obj), [obj, 0])
        entry[1] += 1

    def _api_Py_DecRef(self, obj):
        obj = _object(self._ns, obj)
        entry = self._c_refs.get(id(obj))
        if entry is not None:
            entry[1] -= 1
            if entry[1] <= 0:
                del self._c_refs[id(obj)]


_NAMES = sorted(n[len("_api_"):] for n in vars(_SandboxAPI) if n.startswith("_api_"))


def _object(ns, a):
    """The Python object an argument stands for: a `py_object`'s value, a handle's object,
    the object itself."""
    if isinstance(a, ns.py_object):
        return a.value
    if isinstance(a, ns._CArg) and isinstance(a._obj, ns._Handle):
        return ns._lookup(a._value)
    if type(a) is int:
        return ns._lookup(a)
    return a


def _int(ns, a):
    """The integer an argument stands for: an int, a `c_int(5)`, `c_int.from_param(5)`."""
    if isinstance(a, ns._CArg):
        a = a._value
    elif isinstance(a, ns._SimpleCData):
        a = a.value
    if not isinstance(a, int):
        raise TypeError("an integer is required, not %s" % type(a).__name__)
    return a


def _host_bytes(ns, a):
    """The bytes of a `bytes` argument (as it is, or as `c_char_p.from_param` made it), if
    it is one: its memory is the host's, read as it is."""
    if isinstance(a, bytes):
        return a
    if isinstance(a, ns._CArg) and isinstance(a._value, bytes):
        return a._value
    return None


def _address(ns, a):
    """The address of the sandbox's memory an argument stands for."""
    if a is None:
        return 0
    if type(a) is int:
        return a
    if isinstance(a, ns._CArg):
        return a._addr
    if isinstance(type(a), ns._CDataMeta):
        return ns._address(a)
    if hasattr(a, "_as_parameter_"):
        return _address(ns, a._as_parameter_)
    raise TypeError("an address of the sandbox's memory is needed, not %s" % type(a).__name__)


class _APIFunction:
    """A function of `pythonapi` in the sandbox, with ctypes' `argtypes`, `restype` and
    `errcheck`; the GIL is kept, as for any `PyDLL` function."""

    def __init__(self, ns, name, impl):
        self._ns = ns
        self.__name__ = name
        self._impl = impl
        self.argtypes = None
        self.restype = ns.c_int
        self.errcheck = None

    def __call__(self, *args):
        ns = self._ns
        argtypes = self.argtypes
        conv = []
        for i, a in enumerate(args):
            t = argtypes[i] if argtypes is not None and i < len(argtypes) else None
            if t is not None and t is not ns.py_object and hasattr(t, "from_param"):
                try:
                    a = t.from_param(a)
                except (TypeError, ValueError) as e:
                    raise ns.ArgumentError("argument %d: %s: %s" % (i + 1, type(e).__name__, e)) from None
            conv.append(a)
        try:
            raw = self._impl(*conv)
        except TypeError as e:
            if "positional argument" in str(e):
                raise TypeError("%s: %s" % (self.__name__, e)) from None
            raise
        result = _result(ns, self.restype, raw)
        if self.errcheck is not None:
            return self.errcheck(result, self, args)
        return result

    def __repr__(self):
        return "<pythonapi.%s (the sandbox's)>" % self.__name__


def _result(ns, rt, raw):
    """The result `raw` (an address or number, or a Python object) as restype `rt` gives it."""
    if rt is None:
        return None
    is_object = not isinstance(raw, int) or isinstance(raw, bool)
    if rt is ns.py_object:
        return raw
    if is_object:
        # A function that makes an object, declared with another restype: the object's
        # handle, as C would get it.
        raw = ns._Handle(raw).h
    if isinstance(rt, type) and issubclass(rt, ns._SimpleCData):
        code = rt._type_
        if code == "z":
            return ns._process.string_at(raw) if raw else None
        if code == "P":
            return raw or None
        if rt.__dict__.get("_fundamental"):
            return ns._convert(code, raw)
        obj = rt()
        obj.value = raw
        return obj
    if isinstance(rt, type) and issubclass(rt, ns._Pointer):
        return ns.cast(raw, rt)
    if callable(rt):
        return rt(raw)
    return raw
