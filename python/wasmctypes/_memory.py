"""ctypes' functions over memory: `sizeof` (beyond its Rust part), `alignment`, `string_at`, `cast`,
`create_string_buffer`, `resize`, errno, `memmove` and `memset`."""

import os
import struct as _struct

from . import _core
from ._cdata import _POINTERLIKE


def define(m):
    """Defines the functions over memory (`sizeof`, `string_at`, `cast`, `memmove`, ...) in `m`,
    the namespace being made (see `_model`)."""
    sizeof, _Value = m.sizeof, m._Value
    ARRAY, Array, _CData, _arrays = m.ARRAY, m.Array, m._CData, m._arrays
    c_char_p, c_wchar_p = m.c_char_p, m.c_wchar_p
    CDLL, _ABSTRACT, _ABSTRACT_STRUCTS = m.CDLL, m._ABSTRACT, m._ABSTRACT_STRUCTS
    _ArrayMeta, _CArg, _CDataMeta, _CFuncPtr = m._ArrayMeta, m._CArg, m._CDataMeta, m._CFuncPtr
    _Pointer, _SimpleCData, _StructMeta = m._Pointer, m._SimpleCData, m._StructMeta
    _convert, _pointers = m._convert, m._pointers
    _set_items, c_char, c_int, c_size_t = m._set_items, m.c_char, m.c_int, m.c_size_t
    c_void_p, c_wchar, fmt, proc = m.c_void_p, m.c_wchar, m.fmt, m.proc

    def _final_alloc(t, size):
        """Gives a final type its `_b_alloc_`, with which `sizeof` and `T()` are answered
        in Rust from now on: its size is known and will not change (an abstract type, a
        structure before it is final, and a function pointer type, whose `_attach` does
        more, have none)."""
        if "_b_alloc_" in t.__dict__ or _is_abstract(t) or issubclass(t, _CFuncPtr):
            return
        if isinstance(t, _StructMeta) and not t.__dict__.get("_final_"):
            return
        type.__setattr__(t, "_b_alloc_", proc.alloc(size, t, _init_spec(t)))

    def _init_spec(t):
        """How `t(...)` initialises an instance, in Rust (`_core.CDataInit`): a simple type's
        value through its `value` descriptor when that is the package's (`_Value`), an array's
        items, a structure's fields; None for the Python layer's `_b_init_`."""
        if issubclass(t, _SimpleCData):
            field = next((k.__dict__["value"] for k in t.__mro__ if "value" in k.__dict__), None)
            return ("value", field if type(field) is _Value else None, t._type_ in "zZP")
        if isinstance(t, _ArrayMeta):
            return ("items", t._length_)
        if isinstance(t, _StructMeta):
            return ("fields", list(t._all_fields_))
        return None

    def _is_abstract(t):
        """Whether `t` can have no instances: a base such as `Array`, or an abstract
        structure type."""
        return t in _ABSTRACT or (
            isinstance(t, _StructMeta) and (t in _ABSTRACT_STRUCTS or "_abstract_" in t.__dict__)
        )

    def _sizeof(obj):
        """`sizeof(obj)` when `_core.Functions.sizeof` cannot answer alone."""
        if isinstance(type(obj), _CDataMeta) and obj._b_size is not None:
            return obj._b_size
        t = obj if isinstance(obj, type) else type(obj)
        size = _type_size(t)
        if isinstance(t, _CDataMeta):
            _final_alloc(t, size)
        return size

    def _type_size(t):
        if issubclass(t, _SimpleCData):
            return proc.sizeof(t._type_)
        if isinstance(t, _ArrayMeta):
            return _type_size(t._type_) * t._length_
        if issubclass(t, (_Pointer, _CFuncPtr)):
            return proc.sizeof("P")
        if isinstance(t, _StructMeta):
            if t in _ABSTRACT_STRUCTS:
                raise TypeError("this type has no size")
            return t._size_
        raise TypeError("this type has no size")

    def alignment(obj):
        t = obj if isinstance(obj, type) else type(obj)
        if issubclass(t, _SimpleCData):
            return proc.alignment(t._type_)
        if isinstance(t, _ArrayMeta):
            return alignment(t._type_)
        if issubclass(t, (_Pointer, _CFuncPtr)):
            return proc.alignment("P")
        if isinstance(t, _StructMeta):
            return t._align_
        raise TypeError("no alignment info")

    def _address(x):
        """The address an object stands for: a cparam's, a pointer's value, a C object's own
        memory; None is NULL. Anything else is a TypeError (never the `int()` of it)."""
        if isinstance(x, _CArg):
            return x._addr
        if isinstance(x, (_Pointer, _CFuncPtr)) or (isinstance(x, _SimpleCData) and x._type_ in _POINTERLIKE):
            return x._as_arg()[1]
        if isinstance(type(x), _CDataMeta):
            return x._b_addr
        if x is None:
            return 0
        if isinstance(x, int):
            return x
        raise TypeError("an address or a ctypes object is needed, not %s" % type(x).__name__)

    def _void_p_arg(x, position, keep):
        """Argument `position` of string_at, wstring_at or cast as ctypes converts it, by
        c_void_p's from_param: its address, or ctypes' ArgumentError ('wrong type'). A bytes
        or str argument is copied into the process's memory (ctypes points into the object):
        the copy goes to `keep`, which the caller holds while it uses the address."""
        try:
            p = c_void_p.from_param(x)
        except TypeError:
            raise _core.ArgumentError("argument %d: TypeError: wrong type" % position) from None
        if p is None:
            return 0
        if isinstance(p, _CArg) and p._tag in "zZ":
            copy = (create_string_buffer if p._tag == "z" else create_unicode_buffer)(p._value)
            keep.append(copy)
            return copy._b_addr
        return _address(p)

    def _int_arg(x, position, code):
        """Argument `position` as ctypes converts an int of type `code` (masked to its width):
        an int (or a bool), else ArgumentError ('wrong type')."""
        if not isinstance(x, int):
            raise _core.ArgumentError("argument %d: TypeError: wrong type" % position)
        return _convert(code, x)

    def _string_at(ptr, size=-1):
        """ctypes' string_at(ptr, size): `size` bytes at `ptr` (up to its NUL for -1). The
        arguments convert as c_void_p and c_int (ArgumentError otherwise)."""
        keep = []
        addr = _void_p_arg(ptr, 1, keep)
        size = _int_arg(size, 2, "i")
        if size == -1:
            return proc.string_at(addr)
        if size < 0:
            raise SystemError("Negative size passed to PyBytes_FromStringAndSize")  # as ctypes
        return proc.read(addr, size)

    def wstring_at(ptr, size=-1):
        """ctypes' wstring_at(ptr, size): `size` wide characters at `ptr` (up to a NUL for -1)."""
        keep = []
        addr = _void_p_arg(ptr, 1, keep)
        size = _int_arg(size, 2, "i")
        if size < -1:
            raise SystemError("Negative size passed to PyUnicode_New")  # as ctypes
        w = proc.sizeof("u")
        if size >= 0:
            raw = proc.read(addr, size * w)
            return "".join(chr(int.from_bytes(raw[i:i + w], "little")) for i in range(0, len(raw), w))
        out = []
        i = 0
        while True:
            unit = proc.read(addr + i * w, w)
            c = int.from_bytes(unit, "little")
            if c == 0:
                break
            out.append(chr(c))
            i += 1
        return "".join(out)

    def _cast(obj, typ):
        """`obj` (an object, an address, bytes) as an instance of the pointer type `typ`; obj
        converts as c_void_p (ArgumentError otherwise), as in ctypes. As ctypes: the result
        shares the `_objects` of `obj` (made a dict), which keeps `obj` under its id."""
        keep = []
        addr = _void_p_arg(obj, 1, keep)
        if not isinstance(typ, type) or not (
            issubclass(typ, (_Pointer, _CFuncPtr))
            or (issubclass(typ, _SimpleCData) and (typ._type_ in _POINTERLIKE or typ._type_ == "O"))
        ):
            raise TypeError("cast() argument 2 must be a pointer type, not %s" % getattr(typ, "__name__", typ))
        result = typ()
        proc.write(result._b_addr, _struct.pack(fmt("P"), addr))
        src = obj
        if isinstance(type(src), _CDataMeta):
            src._b_container()
            if src._b_base_ is None and src._objects is None:
                src._objects = {}
            result._objects = src._objects
            if type(result._objects) is dict:
                result._objects[id(src)] = src
        # Whatever ctypes keeps, the result keeps what it points into (a copy of bytes).
        result._b_keep(-1, None, keep[0] if keep else obj)
        return result

    def _buffer(elem, text, init, size):
        if isinstance(init, text):
            buf = (elem * (len(init) + 1 if size is None else size))()
            buf.value = init
            return buf
        if isinstance(init, int):
            return (elem * init)()
        raise TypeError(init)

    def _create_string_buffer(init, size=None):
        return _buffer(c_char, bytes, init, size)

    # string_at, cast and create_string_buffer are in Rust (`_core.MemoryFunctions`) for the
    # arguments bindings pass most (an int, an array, byref(), bytes); the functions above are
    # theirs for anything else.
    _memory_functions = _core.MemoryFunctions(
        proc, _CData, Array, _Pointer, c_char, _Pointer.__init__, (c_void_p, c_char_p, c_wchar_p),
        _arrays, ARRAY, (_string_at, _cast, _create_string_buffer),
    )
    string_at = _memory_functions.string_at
    cast = _memory_functions.cast
    create_string_buffer = _memory_functions.create_string_buffer

    def create_unicode_buffer(init, size=None):
        return _buffer(c_wchar, str, init, size)

    def c_buffer(init, size=None):
        """The deprecated alias of create_string_buffer."""
        return create_string_buffer(init, size)

    def resize(obj, size):
        """Gives an object that owns its memory `size` bytes (at least its type's size),
        keeping its contents, as ctypes does; its address changes."""
        if not isinstance(type(obj), _CDataMeta):
            raise TypeError("expected ctypes instance")
        minimum = sizeof(type(obj))
        if size < minimum:
            raise ValueError("minimum size is %d" % minimum)
        if obj._b_block is None:
            raise ValueError("Memory cannot be resized because this object doesn't own it")
        old = proc.read(obj._b_addr, min(sizeof(obj), size))
        block = proc.block(max(size, 1))
        proc.write(block.address, old)
        obj._b_block, obj._b_addr, obj._b_size = block, block.address, size

    # errno as Python sees it is the host's numbering (`get_errno() == errno.ENOENT`,
    # `os.strerror(get_errno())`), as with ctypes; the sandbox's libc numbers its errors its
    # own way (wasi-libc's ENOENT is 44), which C in the sandbox keeps seeing.
    _errno_to_host, _errno_to_guest = {}, {}
    import errno as _host_errno

    for _name, _value in proc.errno_names() or ():
        # WASI's ENOTCAPABLE has no host name. Only the C library sets it (wasmtime never
        # does): for a path under no granted directory, which wasi-libc itself now reports
        # as ENOENT, "not present in the sandbox", and so does Python here.
        _host = getattr(_host_errno, "ENOENT" if _name == "ENOTCAPABLE" else _name, None)
        if isinstance(_host, int):
            _errno_to_host.setdefault(_value, _host)
            if _name != "ENOTCAPABLE":
                _errno_to_guest.setdefault(_host, _value)

    def get_errno():
        v = proc.get_errno()
        return _errno_to_host.get(v, v)

    def set_errno(value):
        old = proc.set_errno(_errno_to_guest.get(value, value))
        return _errno_to_host.get(old, old)

    def SetPointerType(pointer, cls):
        """Completes a pointer type made from a name: `POINTER("cell")`."""
        if pointer in _ABSTRACT:
            raise TypeError("abstract class")
        if not isinstance(cls, _CDataMeta):
            raise TypeError("_type_ must have storage info")
        type.__setattr__(pointer, "_type_", cls)
        _set_items(pointer)
        _pointers.pop(id(pointer), None)
        _pointers[cls] = pointer

    m.add(locals())

    # ctypes' memmove and memset are the C library's own, called as foreign functions: their
    # arguments convert as c_void_p and c_size_t (ArgumentError otherwise, a count masked to
    # the width), and in the sandbox a copy outside its memory is a trap, never a host copy.
    # (Made once `sizeof` and the rest are in `m`: a function pointer needs them.)
    m._c_library = CDLL(None)
    m.memmove = m._c_library.memmove
    m.memmove.argtypes = (c_void_p, c_void_p, c_size_t)
    m.memmove.restype = c_void_p
    m.memset = m._c_library.memset
    m.memset.argtypes = (c_void_p, c_int, c_size_t)
    m.memset.restype = c_void_p
