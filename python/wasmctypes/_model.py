"""ctypes' object model over one wasmctypes process.

`namespace(backend)` builds a complete ctypes-like namespace (`c_int`, `CDLL`, `byref`,
`Structure`, ...) whose every object lives in the memory of one process of `backend`: the
default sandbox in `wasm`, this process in `native`. Instances own a block of that memory;
reading `.value` or a field reads it, through the Rust core, bounds-checked in wasm. Calls
(argument conversion, the call, the result) run in the core.
"""

import atexit
import json
import operator
import os
import struct as _struct
import sys
import types as _types
import weakref

from . import _core

_SIGNED = {1: "b", 2: "h", 4: "i", 8: "q"}
_UNSIGNED = {1: "B", 2: "H", 4: "I", 8: "Q"}
_POINTERLIKE = ("z", "Z", "P")
_NOTHING = object()  # "no argument", where None is a value


def _unpickle(cls, state):
    """Makes a pickled ctypes object again: its memory, then its bytes and __dict__ (never
    __init__), as CPython's `_ctypes._unpickle`."""
    obj = cls.__new__(cls)
    obj.__setstate__(*state)
    return obj


def _unraisable(exc, message, obj):
    """Reports `exc` as CPython reports an exception nothing can catch: through
    `sys.unraisablehook`, whose default prints `message: obj` and the traceback."""
    hook = sys.unraisablehook
    args = _types.SimpleNamespace(
        exc_type=type(exc), exc_value=exc, exc_traceback=exc.__traceback__, err_msg=message, object=obj
    )
    if hook is not sys.__unraisablehook__:
        hook(args)
        return
    import traceback

    sys.stderr.write("%s: %r\n" % (message, obj))
    sys.stderr.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


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
    ns = into if into is not None else _types.ModuleType("wasmctypes." + backend)
    proc = _core.Process(backend, options or None)
    if backend == "wasm":
        # When the interpreter exits the sandbox ends as a C process does: atexit handlers
        # and destructors run, and what its C library keeps in its stdio buffers goes out.
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

    # ---------------------------------------------------------------- the base of all data
    _SIMPLE_BASE = []  # _SimpleCData, once it exists
    _ITEMS_HOOK = []  # _set_items, once arrays and pointers exist

    _LAYOUT_ATTRS = frozenset(
        ("_length_", "_type_", "_size_", "_align_", "_b_alloc_", "_b_items_", "_b_length_",
         "_b_specs_", "_all_fields_", "_final_", "_ready_", "_fundamental", "_union", "_endian",
         "_b_format_")
    )

    class _CDataMeta(type):
        """The type of every ctypes type: `T * n`, and the ways to make an instance of `T`
        on memory that exists (`T.from_address`, ...), as CPython's metatypes have them."""

        def __init__(cls, name, bases, ns, **kw):
            super().__init__(name, bases, ns, **kw)
            if _ITEMS_HOOK:
                _ITEMS_HOOK[0](cls)
            simple = _SIMPLE_BASE[0] if _SIMPLE_BASE else None
            if simple is not None and simple in bases:
                # A direct subclass of _SimpleCData is a fundamental type, as c_int is.
                code = ns.get("_type_")
                if not isinstance(code, str) or len(code) != 1 or code not in _SIMPLE_CODES:
                    raise AttributeError(
                        "class must define a '_type_' attribute which must be\n"
                        "a single character string containing one of '%s'." % _SIMPLE_CODES
                    )
                type.__setattr__(cls, "_fundamental", True)
                if _is_number(cls) and "value" not in ns:
                    # Its value is read and written in Rust.
                    type.__setattr__(cls, "value", _Value(proc, code))

        # What a type's memory layout rests on is fixed when the type is made, as in CPython's
        # StgInfo: assigned later, it would make instances reach past their memory.
        def __setattr__(cls, name, value):
            if name in _LAYOUT_ATTRS:
                raise AttributeError("%s is final" % name)
            super().__setattr__(name, value)

        def __delattr__(cls, name):
            if name in _LAYOUT_ATTRS:
                raise AttributeError("%s is final" % name)
            super().__delattr__(name)

        def __mul__(cls, length):
            return ARRAY(cls, length)

        __rmul__ = __mul__

        def from_address(cls, address):
            if not isinstance(address, int):
                raise TypeError("integer expected")
            return _bare(cls)._attach(_checked_address(address))

        def from_buffer(cls, obj, offset=0):
            """An instance sharing the memory of a writable buffer. Natively the object's own
            memory; in the sandbox a mirror of it in the sandbox's memory, kept coherent with
            the object (see `_core.Mirror`): what C or Python writes on one side, the other
            reads."""
            if cls in _ABSTRACT:
                raise TypeError("abstract class")
            hold = None
            if isinstance(type(obj), _CDataMeta):
                addr, size, base = obj._b_addr, sizeof(obj), obj
            else:
                base = memoryview(obj)
                if backend == "wasm":
                    hold = proc.mirror(obj, True)
                    addr, size = hold.address, hold.length
                else:
                    addr, size, readonly, contiguous = _core.buffer_info(base)
                    if readonly:
                        raise TypeError("underlying buffer is not writable")
                    if not contiguous:
                        raise TypeError("underlying buffer is not C contiguous")
            offset = _index(offset)
            if offset < 0:
                raise ValueError("offset cannot be negative")
            if size < offset + sizeof(cls):
                raise ValueError(
                    "Buffer size too small (%d instead of at least %d bytes)"
                    % (size, offset + sizeof(cls))
                )
            obj_ = _bare(cls)._attach(addr + offset)
            # As ctypes: the object keeps what it shares (a ctypes object, or a memoryview
            # of a host buffer) under index -1; in the sandbox also the mirror's holder.
            _keep_ref(obj_, -1, base, hold)
            return obj_

        def from_buffer_copy(cls, data, offset=0):
            if cls in _ABSTRACT:
                raise TypeError("abstract class")
            data = data._raw() if isinstance(type(data), _CDataMeta) else bytes(memoryview(data))
            if offset < 0 or len(data) < offset + sizeof(cls):
                raise ValueError(
                    "Buffer size too small (%d instead of at least %d bytes)"
                    % (len(data), offset + sizeof(cls))
                )
            obj = cls.__new__(cls)  # memory of its own, no __init__ (a first instance, as ctypes')
            proc.write(obj._b_addr, data[offset : offset + sizeof(cls)])
            return obj

        def in_dll(cls, library, name):
            try:
                addr = library._lib.data_address(name)
            except AttributeError:
                raise ValueError("symbol '%s' not found" % name) from None
            return cls.from_address(addr)

    _ABSTRACT = set()  # the bases no instance can have: _SimpleCData, Array, Structure, ...

    def _bare(cls):
        """An instance of `cls` with no memory yet (`from_address` and kin attach it). As
        any instance does in ctypes, it makes a structure type final."""
        if cls in _ABSTRACT:
            raise TypeError("abstract class")
        if isinstance(cls, _StructMeta) and not cls.__dict__.get("_final_"):
            type.__setattr__(cls, "_final_", True)
        return _core.CData._bare(cls)

    def _has_pointers(t):
        if issubclass(t, _SimpleCData):
            return t._type_ in _POINTERLIKE
        if isinstance(t, _ArrayMeta):
            return _has_pointers(t._type_)
        if isinstance(t, _StructMeta):
            return any(
                _has_pointers(spec[1])
                for k in t.__mro__
                for spec in k.__dict__.get("_b_specs_", ())
            )
        return True

    def _buffer_format(t):
        """PEP 3118's description of `t`, as CPython's ctypes gives it to a memoryview:
        `(format, itemsize, shape)`."""
        if issubclass(t, _SimpleCData):
            code = t._type_
            size = proc.sizeof(code)
            if code in "lL" and size == 8:
                code = "q" if code == "l" else "Q"
            elif code == "?" and size != 1:
                code = _UNSIGNED[size]
            return t._endian + code, size, ()
        if isinstance(t, _ArrayMeta):
            f, itemsize, shape = _buffer_format(t._type_)
            if isinstance(t._type_, _StructMeta):
                shape = ()
            return f, itemsize, (t._length_,) + shape
        if issubclass(t, _Pointer):
            f = t.__dict__.get("_b_format_", "&B")
            return f, proc.sizeof("P"), ()
        if issubclass(t, _CFuncPtr):
            return "X{}", proc.sizeof("P"), ()
        if isinstance(t, _StructMeta):
            return _struct_format(t), sizeof(t), ()
        return "B", 1, ()

    def _struct_format(t):
        if t in _ABSTRACT_STRUCTS or "_b_specs_" not in t.__dict__:
            return "B"  # incomplete
        if getattr(t, "_union", False) or t.__dict__.get("_pack_") or any(len(f) == 3 for f in t._b_specs_):
            return "B"
        parts = []
        for name, typ in t._b_specs_:
            typ = _swapped_type(typ) if getattr(t, "_swapped", False) else typ
            f, _, shape = _buffer_format(typ)
            if isinstance(typ, _ArrayMeta):
                parts.append("(%s)%s:%s:" % (",".join(map(str, shape)), f, name))
            else:
                parts.append("%s:%s:" % (f, name))
        return "T{" + "".join(parts) + "}"

    # ---------------------------------------------------------------- what objects keep alive
    # ctypes' `_objects`, as CPython keeps it: what an object's memory needs alive (the bytes
    # a c_char_p points at, the structure a pointer points at) is kept by the object that
    # owns the memory (the root of the `_b_base_` chain), in a dict keyed by the path of
    # indexes from the root ("0", "0:2"), or, for an object of a simple type, as the one
    # object itself. What only this implementation needs alive (the copy of those bytes in
    # the process's memory, a py_object's handle) is kept beside it, in `_b_keep_`.

    def _length(t):
        """ctypes' b_length: whether (and how many) objects an instance of `t` keeps."""
        if isinstance(t, _ArrayMeta):
            return t._length_
        if isinstance(t, _StructMeta):
            return len(getattr(t, "_all_fields_", ()))
        return t._b_length_  # 1 for pointers and function pointers, 0 for simple types

    def _container(obj):
        """ctypes' PyCData_GetContainer: the object owning `obj`'s memory, with its
        `_objects` made a dict if it can keep several."""
        while obj._b_base_ is not None:
            obj = obj._b_base_
        if obj._objects is None and _length(type(obj)):
            obj._objects = {}
        return obj

    def _unique_key(target, index):
        """The key of what item or field `index` of `target` keeps: the indexes from the
        root, in hex, innermost first, as CPython writes them."""
        parts = ["%x" % (index & 0xFFFFFFFF)]
        while target._b_base_ is not None:
            parts.append("%x" % (target._b_index & 0xFFFFFFFF))
            target = target._b_base_
        return ":".join(parts)

    def _keep_ref(target, index, keep, extra=None):
        """ctypes' KeepRef: `target`'s memory keeps `keep` alive (and `extra`, see above)
        for its item or field `index`."""
        if keep is None and extra is None:
            return
        root = _container(target)
        key = _unique_key(target, index)
        if extra is not None:
            if root._b_keep_ is None:
                root._b_keep_ = {}
            root._b_keep_[key] = extra
        if keep is None:
            return
        if type(root._objects) is not dict:
            root._objects = keep
        else:
            root._objects[key] = keep

    def _kept(obj):
        """ctypes' GetKeepedObjects: what `obj`'s memory keeps alive; with what only this
        implementation keeps, as `(keep, extra)`."""
        root = _container(obj)
        return root._objects, root._b_keep_

    class _CData(_core.CData, metaclass=_CDataMeta):
        """Every instance owns a block of the process's memory (made here, before __init__,
        so that a subclass's __init__ need not call ours), or views memory it does not own."""

        # The abstract bases keep no __dict__, so that a structure with `__slots__ = ()` has
        # none either; the concrete types (`c_int`, `POINTER(T)`, `T * n`) have one.
        # What an instance has (`_b_addr`, `_b_base_`, `_b_index`, `_b_block`, `_objects`,
        # `_b_keep_`, `_b_size`, `_b_ptr_`) is kept by `_core.CData`, in Rust, with
        # `_attach`.
        __slots__ = ("__weakref__",)
        # An array or pointer type whose items are numbers says so here (`_set_items`), and
        # its items are read and written in Rust.
        _b_items_ = None

        # `T()` gets memory of its own in Rust (`_core.CData`'s constructor), of the size its
        # type's `_b_alloc_` says (see `_b_first_`).
        _b_alloc_ = None
        # How many objects an instance keeps, for the types that are neither arrays nor
        # structures (see `_length`).
        _b_length_ = 0

        def _b_buffer_(self):
            """Where a buffer (memoryview) over this object points, and what it holds."""
            f, itemsize, shape = _buffer_format(type(self))
            return (proc, self._b_addr, sizeof(type(self)), f, itemsize, shape)

        @classmethod
        def _b_first_(cls):
            """Before a type's first instance (`_core.CData`'s constructor): checks that it
            can have instances, makes a structure type final, and returns the type's own
            `_b_alloc_` (see `_final_alloc`)."""
            if _is_abstract(cls):
                raise TypeError("abstract class")
            if isinstance(cls, _StructMeta):
                # Its first instance makes a structure type final: its size is known now.
                type.__setattr__(cls, "_final_", True)
            _sizeof(cls)
            alloc = cls.__dict__.get("_b_alloc_")
            if alloc is None:
                raise TypeError("abstract class")
            return alloc

        def _new_block(self):
            """Memory for a function pointer (see `_CFuncPtr.__new__`)."""
            t = type(self)
            if t in _ABSTRACT:
                raise TypeError("abstract class")
            block = proc.block(sizeof(t) or 1)
            self._attach(block.address, None, block)

        def _raw(self):
            return proc.read(self._b_addr, sizeof(type(self)))

        def __bytes__(self):
            return self._raw()

        def __reduce__(self):
            """Pickles the object's bytes and __dict__, as ctypes does; an object that holds
            pointers cannot be pickled (they would mean nothing in another process)."""
            if _has_pointers(type(self)):
                raise ValueError("ctypes objects containing pointers cannot be pickled")
            return (_unpickle, (type(self), (self.__dict__, self._raw())))

        def __setstate__(self, d, data):
            own = self.__dict__
            if not isinstance(own, dict):
                raise TypeError("__dict__ must be a dictionary, not %s" % type(own).__name__)
            if not isinstance(data, bytes):
                raise TypeError("a bytes object is required, not %s" % type(data).__name__)
            own.update(d)
            proc.write(self._b_addr, data[: sizeof(type(self))])

        @classmethod
        def from_param(cls, obj):
            """An instance of this type, or byref() of one, passes as it is."""
            if cls in _ABSTRACT:
                raise TypeError("abstract class")
            if isinstance(obj, cls):
                return obj
            if isinstance(obj, _CArg) and isinstance(obj._obj, cls):
                return obj
            if hasattr(obj, "_as_parameter_") and not isinstance(type(obj), _CDataMeta):
                return cls.from_param(obj._as_parameter_)
            raise TypeError("expected %s instance instead of %s" % (cls.__name__, type(obj).__name__))

        # How a call passes this object: its address, unless a subclass says otherwise.
        def _as_arg(self):
            return ("P", self._b_addr)

    # ---------------------------------------------------------------- simple types
    class _SimpleCData(_CData):
        __slots__ = ()
        _type_ = "i"
        # Byte order in memory: "<" (this target's, little-endian), or ">" for the swapped
        # types of a BigEndianStructure's fields (`c_int.__ctype_be__`).
        _endian = "<"

        __init__ = _core.CData._init_value  # in Rust

        def _get(self):
            code = self._type_
            if code == "g":
                return proc.get(self._b_addr, "g")  # 16 bytes, read by the core
            raw = proc.read(self._b_addr, proc.sizeof(code))
            v = _struct.unpack(self._endian + fmt(code)[1:], raw)[0]
            if code == "?":
                return bool(v)
            if code == "c":
                return bytes([v])
            if code == "u":
                return chr(v)
            if code == "z":
                return proc.string_at(v) if v else None
            if code == "Z":
                return wstring_at(v) if v else None
            if code == "P":
                return v or None
            if code == "O":
                return _lookup(v)
            if code == "v":
                return v != 0
            return v

        def _set(self, value):
            """Stores `value`; returns what the memory must keep alive, as `(keep, extra)`
            (see `_keep_ref`)."""
            code = self._type_
            kept = (None, None)
            if code == "O":
                h = _Handle(value)
                proc.write(self._b_addr, _struct.pack(fmt("P"), h.h))
                return value, h
            if code in "zZ" and isinstance(value, (bytes, str)):
                text = bytes if code == "z" else str
                if not isinstance(value, text):
                    raise TypeError(
                        "%s or integer address expected instead of %s instance"
                        % ("bytes" if code == "z" else "unicode string", type(value).__name__)
                    )
                # ctypes keeps the string; the pointer points at a copy in the process's
                # memory, kept beside it.
                buf = (create_string_buffer if code == "z" else create_unicode_buffer)(value)
                kept = (value, buf)
                value = buf._b_addr
            v = _convert(code, value)
            if code == "g":
                proc.set(self._b_addr, "g", v)  # 16 bytes, written by the core
                return kept
            if code == "u":
                v = ord(v)
            elif code in _POINTERLIKE or code not in "fdg":
                v = int(v)
            proc.write(self._b_addr, _struct.pack(self._endian + fmt(code)[1:], v))
            return kept

        def _del(self):
            raise TypeError("can't delete attribute")

        def _set_value(self, v):
            keep, extra = self._set(v)
            _keep_ref(self, 0, keep, extra)

        value = property(lambda self: self._get(), _set_value, _del)

        def __repr__(self):
            if not type(self).__dict__.get("_fundamental"):
                return "<%s object at %#x>" % (type(self).__name__, id(self))
            if self._type_ == "O":
                try:
                    return "py_object(%r)" % (self.value,)
                except ValueError:
                    return "py_object(<NULL>)"
            if self._type_ in "zZ":
                return "%s(%d)" % (type(self).__name__, self._get_param())
            return "%s(%r)" % (type(self).__name__, self.value)

        def __bool__(self):
            return bool(self.value)

        def _as_arg(self):
            if self._type_ == "O":
                return ("P", self._get_param())
            return (self._type_, self._get_param())

        def _get_param(self):
            code = self._type_
            if code in _POINTERLIKE or code == "O":
                return _struct.unpack(fmt(code), proc.read(self._b_addr, proc.sizeof(code)))[0]
            # What the memory holds, as ctypes passes it: a subclass's `value` is not asked.
            return _SimpleCData._get(self)

        @classmethod
        def from_param(cls, obj):
            """ctypes' conversion of an argument declared as this type: an instance passes
            as it is; a plain Python value becomes a cparam (`_CArg`) that the core converts
            and masks, with no memory made for it."""
            if cls in _ABSTRACT:
                raise TypeError("abstract class")
            if isinstance(obj, cls):
                return obj
            code = cls._type_
            if code in _POINTERLIKE:
                if obj is None:
                    return None
                # Strings are copied in by the core for the duration of the call, as ctypes does.
                if isinstance(obj, bytes) and code != "Z":
                    return _CArg("z", obj, obj)
                if isinstance(obj, str) and code != "z":
                    return _CArg("Z", obj, obj)
                if code == "P":
                    # What c_void_p takes, as ctypes: an int (a bool too) masked to the
                    # pointer's width, arrays and pointers, byref(), a function pointer (its
                    # address), c_char_p, c_wchar_p and c_void_p objects (their value).
                    if isinstance(obj, int):
                        return _CArg("P", obj & ((1 << (8 * proc.sizeof("P"))) - 1), obj)
                    if isinstance(obj, (Array, _Pointer)):
                        return obj
                    if isinstance(obj, _CArg) and obj._tag == "P":
                        return obj
                    if isinstance(obj, _CFuncPtr):
                        return _CArg("P", obj._address(), obj)
                    if isinstance(obj, _SimpleCData) and obj._type_ in _POINTERLIKE:
                        return _CArg("P", obj._get_param(), obj)
                else:
                    # c_char_p takes what points to chars: byref(c_char), c_char arrays and
                    # pointers; c_wchar_p the same for c_wchar.
                    char = c_char if code == "z" else c_wchar
                    target = obj._obj if isinstance(obj, _CArg) else obj
                    if isinstance(target, char) or (
                        isinstance(target, (Array, _Pointer)) and target._type_ is char
                    ):
                        return obj
                    if isinstance(obj, _SimpleCData) and obj._type_ == code:
                        return obj
                if hasattr(obj, "_as_parameter_"):
                    return cls.from_param(obj._as_parameter_)
                raise TypeError("wrong type")
            if isinstance(obj, _SimpleCData) and obj._type_ == code:
                return obj
            if code == "O":
                h = _Handle(obj)
                return _CArg("P", h.h, h)
            if not isinstance(obj, (int, float, bytes, str)) and hasattr(obj, "_as_parameter_"):
                return cls.from_param(obj._as_parameter_)
            try:
                value = _convert(code, obj)
            except Exception:
                # As ctypes: whatever the setter said, from_param says this.
                raise TypeError("wrong type") from None
            return _CArg(code, value, obj)

    def _convert(code, value):
        """A Python value as a C value of type code `code` (ctypes' setfunc): masked to the
        type's width for integers, a float, one byte, one character, or an address."""
        size = proc.sizeof(code)
        if code in _POINTERLIKE:
            if value is None:
                return 0
            if not isinstance(value, int) or isinstance(value, bool) and code != "P":
                if code == "P":
                    raise TypeError("cannot be converted to pointer")
                raise TypeError(
                    "%s or integer address expected instead of %s instance"
                    % ("bytes" if code == "z" else "unicode string", type(value).__name__)
                )
            return value & ((1 << (8 * size)) - 1)
        if code == "c":
            if isinstance(value, bytes) and len(value) == 1:
                return value[0]
            if isinstance(value, int) and 0 <= value < 256:
                return value
            raise TypeError("one character bytes, bytearray or integer expected")
        if code == "u":
            if not isinstance(value, str) or len(value) != 1:
                raise TypeError("one character unicode string expected")
            return value
        if code in "fdg":
            if isinstance(value, float):
                return value
            try:
                return float(value.__float__() if hasattr(value, "__float__") else value.__index__())
            except AttributeError:
                raise TypeError("must be real number, not %s" % type(value).__name__) from None
        if code == "?":
            return bool(value)
        if code == "v":
            return -1 if value else 0  # VARIANT_TRUE, VARIANT_FALSE
        if not isinstance(value, int):
            if hasattr(value, "__index__"):
                value = value.__index__()
            else:
                raise TypeError("'%s' object cannot be interpreted as an integer" % type(value).__name__)
        bits = 8 * size
        value &= (1 << bits) - 1
        if code not in _UNSIGNED_CODES and value >= 1 << (bits - 1):
            value -= 1 << bits
        return value

    class _Value(_core.Field):
        """The `value` of a fundamental number type (`c_int(5).value`): read and written by
        `_core.Field`, in Rust, for plain numbers; ctypes' conversions (`_set_value`) for
        anything else."""

        __slots__ = ()

        def __init__(self, process, code):
            self._number(process, code, 0)

        def _get(self, obj):
            return obj._get()

        def _set(self, obj, v):
            obj._set_value(v)

    def _is_number(typ):
        """Whether `typ` is a fundamental number type of this target's byte order, which the
        core reads and writes in one step."""
        return (
            bool(typ.__dict__.get("_fundamental"))
            and typ.__dict__.get("_type_", typ._type_) in "bBhHiIlLqQnNfd?"
            and typ._endian == "<"
        )

    _UNSIGNED_CODES = "BHILQn?cu"
    _SIMPLE_CODES = "cbBhHiIlLdfuzZqQPXOv?gnN"
    _NUMBERS = "bBhHiIlLqQnNfdg"

    _SIMPLE_BASE.append(_SimpleCData)

    def simple(name, code):
        t = _CDataMeta(name, (_SimpleCData,), {"_type_": code, "_fundamental": True})
        t.__ctype_le__ = t
        if code in "bBc?":
            t.__ctype_be__ = t  # one byte has no byte order
        elif code not in _POINTERLIKE and code not in "ug":  # as CPython: no swapped wide char or long double
            # The swapped type reads its value in Python, not with its base's `_Value`.
            swapped = {"_endian": ">", "_fundamental": True, "value": _SimpleCData.__dict__["value"]}
            t.__ctype_be__ = _CDataMeta(name, (t,), swapped)
            t.__ctype_be__.__ctype_be__ = t.__ctype_be__
            t.__ctype_be__.__ctype_le__ = t
        return t

    c_bool = simple("c_bool", "?")
    c_char = simple("c_char", "c")
    c_wchar = simple("c_wchar", "u")
    c_byte = simple("c_byte", "b")
    c_ubyte = simple("c_ubyte", "B")
    c_short = simple("c_short", "h")
    c_ushort = simple("c_ushort", "H")
    c_int = simple("c_int", "i")
    c_uint = simple("c_uint", "I")
    c_long = simple("c_long", "l")
    c_ulong = simple("c_ulong", "L")
    c_longlong = simple("c_longlong", "q")
    c_ulonglong = simple("c_ulonglong", "Q")
    c_float = simple("c_float", "f")
    c_double = simple("c_double", "d")
    c_longdouble = simple("c_longdouble", "g")
    c_char_p = simple("c_char_p", "z")
    c_wchar_p = simple("c_wchar_p", "Z")
    c_void_p = simple("c_void_p", "P")
    c_voidp = c_void_p
    c_size_t = simple("c_size_t", "n")
    c_ssize_t = simple("c_ssize_t", "N")
    py_object = simple("py_object", "O")

    # py_object's handles: what C holds for a Python object. Natively the object's address
    # (a real PyObject *), in the sandbox a small number; either way the object is found
    # here, alive while a handle to it is held.
    #
    # In the sandbox C may keep a handle after the call that lent it (as C keeps a borrowed
    # PyObject *), so a handle nobody holds any more is not forgotten at once: it stays
    # valid while its object lives (a weak reference), or, for an object that has none
    # (an int, a list, `object()`), while it is among the most recently released
    # (`_RETIRED_MAX`, held strongly). Handle numbers are never reused: a forgotten one is
    # a ValueError, never another object.
    _handles = {}  # handle -> [object or _NOTHING, holders, weak reference or None]
    _handle_of = {}  # id(object) -> handle, in the sandbox
    _next_handle = [0x1000]
    _retired = {}  # handle -> None: released handles of objects with no weak reference
    _RETIRED_MAX = 1024
    _returned = []  # handles of callback results, held until the outermost call returns

    def _forget(h, key):
        if _handles.pop(h, None) is not None:
            _handle_of.pop(key, None)

    class _Handle:
        __slots__ = ("h",)

        def __init__(self, obj):
            if backend == "native":
                h = id(obj)
            else:
                h = _handle_of.get(id(obj))
                if h is None:
                    h = _next_handle[0]
                    if h >= 1 << _ADDRESS_BITS:
                        raise MemoryError("the sandbox's py_object handles are used up")
                    _next_handle[0] += 8
                    _handle_of[id(obj)] = h
            entry = _handles.get(h)
            if entry is None:
                _handles[h] = [obj, 1, None]
            else:
                entry[0], entry[1], entry[2] = obj, entry[1] + 1, None
                _retired.pop(h, None)
            self.h = h

        def __del__(self):
            h = self.h
            entry = _handles.get(h)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            obj = entry[0]
            if backend == "native":
                del _handles[h]
                return
            key = id(obj)
            try:
                entry[2] = weakref.ref(obj, lambda _, h=h, key=key: _forget(h, key))
            except TypeError:
                _retired[h] = None
                if len(_retired) > _RETIRED_MAX:
                    old = next(iter(_retired))
                    del _retired[old]
                    _forget(old, id(_handles[old][0]))
            else:
                entry[0] = _NOTHING

    def _lookup(h):
        """The object a `py_object` holds: natively the object at that address (as ctypes
        reads a `PyObject *`, a new reference); in the sandbox the object of a handle this
        namespace made."""
        if not h:
            raise ValueError("PyObject is NULL")
        entry = _handles.get(h)
        if entry is None:
            if backend == "native":
                return _core.object_at(h)
            raise ValueError(
                "no Python object at %#x: py_object handles are only those this namespace "
                "made, for objects still alive" % h
            )
        obj = entry[0]
        if obj is _NOTHING:
            obj = entry[2]()
            if obj is None:
                raise ValueError("no Python object at %#x: its object is gone" % h)
        return obj

    # The fundamental numbers, read and written by the core in one step (`proc.get`,
    # `proc.set`): type -> (code, size).
    _SCALAR = {
        t: (t._type_, proc.sizeof(t._type_))
        for t in (c_byte, c_ubyte, c_short, c_ushort, c_int, c_uint, c_long, c_ulong,
                  c_longlong, c_ulonglong, c_size_t, c_ssize_t, c_float, c_double)
    }
    by_size = {}
    for t in (c_byte, c_short, c_int, c_long, c_longlong):
        by_size.setdefault(proc.sizeof(t._type_), t)
    ubysize = {}
    for t in (c_ubyte, c_ushort, c_uint, c_ulong, c_ulonglong):
        ubysize.setdefault(proc.sizeof(t._type_), t)
    c_int8, c_int16, c_int32, c_int64 = by_size[1], by_size[2], by_size[4], by_size[8]
    c_uint8, c_uint16, c_uint32, c_uint64 = ubysize[1], ubysize[2], ubysize[4], ubysize[8]

    # ---------------------------------------------------------------- arrays
    class _ArrayMeta(_CDataMeta):
        """`class T(Array): _type_ = c_int; _length_ = 4`, checked as CPython checks it."""

        def __new__(mcls, name, bases, ns, **kw):
            cls = super().__new__(mcls, name, bases, ns, **kw)
            if not any(isinstance(b, _ArrayMeta) for b in bases):
                return cls  # Array itself
            own = [k for k in cls.__mro__ if isinstance(k, _ArrayMeta) and k.__name__ != "Array"]
            for attr in ("_length_", "_type_"):
                if not any(attr in k.__dict__ for k in own):
                    raise AttributeError("class must define a '%s' attribute" % attr)
            length = cls._length_
            if not isinstance(length, int):
                raise TypeError("The '_length_' attribute must be an integer")
            if length < 0:
                raise ValueError("The '_length_' attribute must not be negative")
            if not isinstance(cls._type_, _CDataMeta):
                raise TypeError("_type_ must have storage info")
            if length and sizeof(cls._type_) > (sys.maxsize if backend == "native" else 0xFFFFFFFF) // length:
                raise OverflowError("array too large")
            return cls

    class Array(_CData, metaclass=_ArrayMeta):
        __slots__ = ()
        _type_ = c_int
        _length_ = 0

        def __init__(self, *items):
            if len(items) > self._length_:
                raise IndexError("invalid index")
            scalar = _SCALAR.get(self._type_)
            if scalar is not None and items:
                # Numbers in one write, when they all fit (else one by one, masked as
                # ctypes masks them).
                try:
                    data = _struct.pack("<%d%s" % (len(items), fmt(scalar[0])[1:]), *items)
                except (_struct.error, TypeError):
                    pass
                else:
                    proc.write(self._b_addr, data)
                    return
            for i, v in enumerate(items):
                self[i] = v

        def __len__(self):
            return self._length_

        def _delitem(self, i):
            raise TypeError("Array does not support item deletion")

        def _elem(self, i):
            i = _index(i)
            if not -self._length_ <= i < self._length_:
                raise IndexError("invalid index")
            if i < 0:
                i += self._length_
            return self._b_addr + i * sizeof(self._type_), i

        # obj[i] is `_core.CData.__getitem__`: numbers in Rust, the rest in _getitem (and
        # the same for _setitem and _delitem).
        def _getitem(self, i):
            if isinstance(i, slice):
                span = range(*i.indices(self._length_))
                scalar = _SCALAR.get(self._type_)
                if scalar is not None and span:
                    # Numbers: the span they lie in, read and unpacked in one step each.
                    lo, hi = min(span[0], span[-1]), max(span[0], span[-1])
                    f, size = fmt(scalar[0]), scalar[1]
                    raw = proc.read(self._b_addr + lo * size, (hi - lo + 1) * size)
                    values = _struct.unpack("<%d%s" % (hi - lo + 1, f[1:]), raw)
                    return list(values) if span.step == 1 else [values[j - lo] for j in span]
                items = [self[j] for j in span]
                if self._type_ is c_char:
                    return b"".join(items)
                if self._type_ is c_wchar:
                    return "".join(items)
                return items
            return _read_as(self._type_, *self._elem(i), base=self)

        def _setitem(self, i, v):
            if isinstance(i, slice):
                idx = range(*i.indices(self._length_))
                if len(v) != len(idx):
                    raise ValueError("Can only assign sequence of same size")
                for j, x in zip(idx, v):
                    self[j] = x
                return
            addr, i = self._elem(i)
            _write_as(self._type_, addr, v, self, i)

        def __iter__(self):
            for i in range(self._length_):
                yield self[i]

        def __repr__(self):
            return "<%s object at %#x>" % (type(self).__name__, id(self))

        # char and wchar arrays, as create_string_buffer makes them
        @property
        def value(self):
            if self._type_ is c_char:
                raw = self._raw()
                return raw.split(b"\0", 1)[0]
            if self._type_ is c_wchar:
                s = "".join(self[i] for i in range(self._length_))
                return s.split("\0", 1)[0]
            raise AttributeError("value")

        @value.setter
        def value(self, v):
            if self._type_ is c_char:
                if not isinstance(v, bytes):
                    raise TypeError("bytes expected instead of %s instance" % type(v).__name__)
                if len(v) > self._length_:
                    raise ValueError("byte string too long")
                proc.write(self._b_addr, v + (b"\0" if len(v) < self._length_ else b""))
                return
            if self._type_ is c_wchar:
                if len(v) > self._length_:
                    raise ValueError("string too long")
                for i, ch in enumerate(v + ("\0" if len(v) < self._length_ else "")):
                    self[i] = ch
                return
            raise AttributeError("value")

        @property
        def raw(self):
            if self._type_ is not c_char:
                raise AttributeError("raw")
            return self._raw()

        @value.deleter
        def value(self):
            raise TypeError("can't delete attribute")

        @raw.setter
        def raw(self, v):
            if self._type_ is not c_char:
                raise AttributeError("raw")
            v = bytes(memoryview(v))
            if len(v) > self._length_:
                raise ValueError("byte string too long")
            proc.write(self._b_addr, v)

    _arrays = {}

    def ARRAY(typ, length):
        if not isinstance(length, int):
            raise TypeError("can't multiply sequence by non-int")
        if length < 0:
            raise ValueError("Array length must be >= 0, not %d" % length)
        key = (typ, length)
        if key not in _arrays:
            _arrays[key] = _ArrayMeta(
                "%s_Array_%d" % (typ.__name__, length),
                (Array,),
                {"_type_": typ, "_length_": length},
            )
        return _arrays[key]

    def _index(i):
        """An item's index as ctypes takes it: an int, or what has `__index__`."""
        if isinstance(i, int):
            return i
        if hasattr(type(i), "__index__"):
            return i.__index__()
        raise TypeError("indices must be integers")

    # ---------------------------------------------------------------- pointers
    class _Pointer(_CData):
        __slots__ = ()
        _type_ = c_int
        _b_length_ = 1  # what `_length` says: it keeps one object

        def __init__(self, obj=None):
            if obj is not None:
                self.contents = obj

        def _addr(self):
            if self._b_ptr_ is not None:
                return self._b_ptr_
            return _struct.unpack(fmt("P"), proc.read(self._b_addr, proc.sizeof("P")))[0]

        @property
        def contents(self):
            a = self._addr()
            if not a:
                raise ValueError("NULL pointer access")
            obj = self._type_.from_address(a)
            # The pointer, and through it what it keeps alive, lives as long as its contents.
            obj._b_base_ = self
            obj._b_index = 0
            return obj

        @contents.setter
        def contents(self, obj):
            target = _pointer_target(type(self))
            if not isinstance(obj, target):
                raise TypeError(
                    "expected %s instead of %s" % (self._type_.__name__, type(obj).__name__)
                )
            proc.write(self._b_addr, _struct.pack(fmt("P"), obj._b_addr))
            # As ctypes: the pointer keeps its target, and what the target keeps.
            _keep_ref(self, 1, obj)
            _keep_ref(self, 0, *_kept(obj))

        # obj[i] is `_core.CData.__getitem__`: numbers in Rust, the rest in _getitem (and
        # the same for _setitem and _delitem).
        def _getitem(self, i):
            if isinstance(i, slice):
                # A pointer has no length: the slice says where it stops (and, going down,
                # where it starts), and its bounds are taken as they are, as in ctypes.
                step = 1 if i.step is None else i.step
                if step == 0:
                    raise ValueError("slice step cannot be zero")
                if step < 0 and i.start is None:
                    raise ValueError("slice start is required for step < 0")
                if step > 0 and i.stop is None:
                    raise ValueError("slice stop is required")
                start = i.start if i.start is not None else 0
                stop = i.stop if i.stop is not None else -1
                items = [self[j] for j in range(start, stop, step)]
                if self._type_ is c_char:
                    return b"".join(items)
                if self._type_ is c_wchar:
                    return "".join(items)
                return items
            i = _index(i)
            a = self._addr()
            if not a:
                raise ValueError("NULL pointer access")
            return _read_as(self._type_, a + i * sizeof(self._type_), i, self)

        def _setitem(self, i, v):
            i = _index(i)
            a = self._addr()
            if not a:
                raise ValueError("NULL pointer access")
            _write_as(self._type_, a + i * sizeof(self._type_), v, self, i)

        def __bool__(self):
            return self._addr() != 0

        def _delitem(self, i):
            raise TypeError("Pointer does not support item deletion")

        @classmethod
        def set_type(cls, typ):
            SetPointerType(cls, typ)

        def _as_arg(self):
            return ("P", self._addr())

        @classmethod
        def from_param(cls, obj):
            if obj is None or isinstance(obj, cls):
                return obj
            target = cls._type_
            if target is c_char or target is c_wchar:
                # POINTER(c_char) takes what c_char_p takes, and the same for c_wchar.
                return (c_char_p if target is c_char else c_wchar_p).from_param(obj)
            # byref(x), pointer(x) and arrays of x, for x an instance of the pointed-to type
            if isinstance(obj, _CArg) and isinstance(obj._obj, target):
                return obj
            if isinstance(obj, _Pointer) and isinstance(target, type) and issubclass(obj._type_, target):
                return obj
            if isinstance(obj, Array) and isinstance(target, type) and issubclass(obj._type_, target):
                return obj
            if isinstance(obj, target):
                return obj
            if hasattr(obj, "_as_parameter_") and not isinstance(type(obj), _CDataMeta):
                return cls.from_param(obj._as_parameter_)
            raise TypeError("expected %s instance instead of %s" % (cls.__name__, type(obj).__name__))

    _pointers = {}

    def POINTER(typ):
        """The pointer type to `typ` (cached). A string makes an incomplete pointer type,
        cached by its id until `SetPointerType` completes it, as in CPython."""
        if isinstance(typ, str):
            ptr = _CDataMeta("LP_%s" % typ, (_Pointer,), {})
            _pointers[id(ptr)] = ptr
            return ptr
        if typ not in _pointers:
            ptr = _CDataMeta("LP_%s" % getattr(typ, "__name__", typ), (_Pointer,), {"_type_": typ})
            # The format is fixed when the type is made: a structure still incomplete then
            # is "B", as in CPython.
            f, _, shape = _buffer_format(typ)
            if shape:
                f = "(%s)%s" % (",".join(map(str, shape)), f)
            type.__setattr__(ptr, "_b_format_", "&" + f)
            _pointers[typ] = ptr
        return _pointers[typ]

    def _pointer_target(t):
        """A pointer type's `_type_`: its own, not inherited (a subclass of `POINTER(T)`
        has none, as in CPython), and not a name still waiting for SetPointerType."""
        for k in t.__mro__:
            if "_type_" in k.__dict__:
                if k is not t and k is not _Pointer and k.__base__ is _Pointer and t.__base__ is not _Pointer:
                    raise TypeError("Cannot create instance: has no _type_")
                target = k.__dict__["_type_"]
                if not isinstance(target, _CDataMeta):
                    raise TypeError("Cannot create instance: has no _type_")
                return target
        raise TypeError("Cannot create instance: has no _type_")

    def pointer(obj):
        return POINTER(type(obj))(obj)

    def _set_items(cls):
        """Says in `cls._b_items_` whether the items of an array or pointer type are numbers
        the core reads and writes in one step (see `_SCALAR`)."""
        if isinstance(cls, _ArrayMeta) and cls is not Array:
            scalar, length = _SCALAR.get(cls.__dict__.get("_type_", cls._type_)), cls._length_
        elif issubclass(cls, _Pointer) and cls is not _Pointer:
            scalar, length = _SCALAR.get(cls.__dict__.get("_type_")), None
        else:
            return
        type.__setattr__(cls, "_b_items_", None if scalar is None else proc.items(scalar[0], length))

    _ITEMS_HOOK.append(_set_items)

    class _CArg:
        """ctypes' `cparam`: what `byref()` and `from_param()` of a plain Python value return.
        `_tag` is the type code the call passes it as, `_value` what the core takes, and `_obj`
        the object it keeps alive."""

        __slots__ = ("_tag", "_value", "_obj")

        def __init__(self, tag, value, obj):
            self._tag, self._value, self._obj = tag, value, obj

        @property
        def _addr(self):
            return self._value

        def _as_arg(self):
            return (self._tag, self._value)

        def __repr__(self):
            tag, v = self._tag, self._value  # as CPython's CArgObject
            if tag in "?ug":
                return "<cparam '%s' at %#x>" % (tag, id(self))
            if tag == "c":
                ch = chr(v) if 0x20 <= v < 0x7F and v not in (0x27, 0x5C) else "\\x%02x" % v
                return "<cparam 'c' ('%s')>" % ch
            if tag in "zZ":
                return "<cparam '%s' (%#x)>" % (tag, id(self._obj) if v is self._obj else (v or 0))
            if tag == "P":
                return "<cparam 'P' (%#x)>" % (v or 0)
            return "<cparam '%s' (%r)>" % (tag, v)

    # Its type is ctypes' `CArgObject`, as `type(c_int.from_param(5))` shows.
    _CArg.__name__ = _CArg.__qualname__ = "CArgObject"
    _CArg.__module__ = "builtins"

    def byref(obj, offset=0):
        if not isinstance(type(obj), _CDataMeta):
            raise TypeError("byref() argument must be a ctypes instance, not '%s'" % type(obj).__name__)
        # As ctypes (PyNumber_AsSsize_t with no error): an offset past ssize_t is clamped.
        offset = max(-(1 << 63), min(operator.index(offset), (1 << 63) - 1))
        addr = obj._b_addr + offset
        if backend == "native":
            addr &= (1 << 64) - 1  # C's pointer arithmetic
        else:
            addr = _checked_address(addr, "byref(%s, %d)" % (type(obj).__name__, offset))
        return _CArg("P", addr, obj)

    _ADDRESS_BITS = 8 * proc.sizeof("P")

    def _checked_address(address, what=None):
        """`address` as a pointer of this process: natively wrapped to 64 bits, as C's pointer
        arithmetic wraps (ctypes does the same); in the sandbox it must lie in its 32-bit
        address space (a wrapped address would be another object's, silently)."""
        if not -(1 << 63) <= address < 1 << 64:
            raise OverflowError("int too big to convert to a pointer")
        if backend == "native":
            return address & ((1 << 64) - 1)
        if not 0 <= address < 1 << _ADDRESS_BITS:
            raise ValueError(
                "%s: address %#x is outside the sandbox's 32-bit memory (a host address? share a "
                "host buffer with from_buffer(), or copy it with from_buffer_copy())"
                % (what or "from_address", address)
            )
        return address

    def _read_as(typ, addr, index, base):
        """Item or field `index` of `base`, a `typ` at `addr`: a number or text as its
        value, anything else as an object sharing `base`'s memory."""
        # A number of a fundamental type is read straight from memory, with no object.
        if typ.__dict__.get("_fundamental") and typ._type_ in _NUMBERS and typ._type_ != "g":
            f = typ._endian + fmt(typ._type_)[1:]
            return _struct.unpack(f, proc.read(addr, _struct.calcsize(f)))[0]
        obj = typ.from_address(addr)
        obj._b_base_ = base
        obj._b_index = index
        if issubclass(typ, _SimpleCData) and typ.__dict__.get("_fundamental"):
            return obj.value
        if isinstance(typ, _ArrayMeta) and (typ._type_ is c_char or typ._type_ is c_wchar):
            return obj.value  # ctypes' "s" and "U" getters: the text up to its NUL
        return obj

    def _write_as(typ, addr, v, base, index):
        """Stores `v` as a `typ` at `addr`, item or field `index` of `base`, which keeps what
        `v` needs alive (`_keep_ref`): the rules of ctypes' field and item setters."""
        if issubclass(typ, _SimpleCData):
            if isinstance(v, _SimpleCData) and not (typ._type_ in _POINTERLIKE and v._type_ in _POINTERLIKE):
                v = v.value
            elif isinstance(type(v), _CDataMeta) and typ._type_ in _POINTERLIKE:
                proc.write(addr, _struct.pack(fmt("P"), _address(v)))
                _keep_ref(base, index, v)
                return
            _keep_ref(base, index, *typ.from_address(addr)._set(v))
            return
        if isinstance(v, typ):
            proc.write(addr, v._raw())
            _keep_ref(base, index, *_kept(v))
            return
        if isinstance(typ, _ArrayMeta):
            elem = typ._type_
            if elem is c_char or elem is c_wchar:
                text, what = (bytes, "bytes") if elem is c_char else (str, "str")
                if isinstance(v, text):
                    # ctypes' "s"/"U" setters: up to the first NUL, plus a NUL if it fits.
                    n = v.find(b"\0" if elem is c_char else "\0")
                    if n >= 0:
                        v = v[:n]
                    if len(v) > typ._length_:
                        raise ValueError(
                            "%s too long (%d, maximum length %d)"
                            % ("bytes" if elem is c_char else "string", len(v), typ._length_)
                        )
                    arr = typ.from_address(addr)
                    if elem is c_char:
                        proc.write(addr, v + (b"\0" if len(v) < typ._length_ else b""))
                    else:
                        for i, ch in enumerate(v + ("\0" if len(v) < typ._length_ else "")):
                            arr[i] = ch
                    return
                if not isinstance(v, (tuple, list)):
                    raise TypeError("expected %s, %s found" % (what, type(v).__name__))
                v = tuple(v)
        elif issubclass(typ, _Pointer):
            if v is None:
                proc.write(addr, bytes(proc.sizeof("P")))
                return
            if isinstance(v, Array) and issubclass(v._type_, typ._type_):
                # As ctypes: an array assigned to a pointer is kept whole, with what it keeps.
                proc.write(addr, _struct.pack(fmt("P"), v._b_addr))
                keep, extra = _kept(v)
                _keep_ref(base, index, (keep, v), extra)
                return
            raise TypeError("expected %s instead of %s" % (typ.__name__, type(v).__name__))
        elif issubclass(typ, _CFuncPtr):
            if v is None:
                proc.write(addr, bytes(proc.sizeof("P")))
                return
            if callable(v):
                fp = typ(v)
                proc.write(addr, _struct.pack(fmt("P"), fp._as_arg()[1]))
                _keep_ref(base, index, fp)
                return
        if isinstance(v, tuple) and issubclass(typ, (Array, _StructBase)):
            # As ctypes: the type called with the tuple, and that object stored.
            try:
                obj = typ(*v)
            except Exception as e:
                raise RuntimeError("(%s) %s: %s" % (typ.__name__, type(e).__name__, e)) from None
            proc.write(addr, obj._raw())
            _keep_ref(base, index, *_kept(obj))
            return
        raise TypeError("expected %s instance, got %s" % (typ.__name__, type(v).__name__))

    # ---------------------------------------------------------------- structures
    _ABSTRACT_STRUCTS = set()  # Structure, Union and their kin: no instances, no layout

    class _StructMeta(_CDataMeta):
        # A structure type is final (its `_fields_` can no longer be set) once `_fields_` was
        # set, an instance was made, it was used as a field's type, or it was subclassed.
        def __new__(mcls, name, bases, ns, **kw):
            for b in bases:
                if isinstance(b, _StructMeta) and b.__dict__.get("_ready_"):
                    type.__setattr__(b, "_final_", True)
            cls = super().__new__(mcls, name, bases, ns, **kw)
            type.__setattr__(cls, "_ready_", True)
            if "_fields_" in ns:
                _layout(cls, ns["_fields_"])
            elif "_size_" not in cls.__dict__:
                base = _struct_base(cls)
                type.__setattr__(cls, "_size_", base._size_ if base else 0)
                type.__setattr__(cls, "_align_", base._align_ if base else 1)
                type.__setattr__(cls, "_all_fields_", list(base._all_fields_) if base else [])
            return cls

        def __setattr__(cls, name, value):
            if name == "_fields_":
                if not cls.__dict__.get("_ready_"):
                    raise TypeError("ctypes state is not initialized")
                if cls.__dict__.get("_final_"):
                    raise AttributeError("_fields_ is final")
                _layout(cls, value)
            super().__setattr__(name, value)

    def _struct_base(cls):
        for b in cls.__mro__[1:]:
            if isinstance(b, _StructMeta) and b.__dict__.get("_ready_") and "_size_" in b.__dict__:
                return b if b not in _ABSTRACT_STRUCTS else None
        return None

    class _Field(_core.Field):
        """A structure field (ctypes' CField); a bitfield has `bits` bits from bit `bit` of
        its storage unit (the field type's size, at `offset`). A number field of this
        target's byte order is read and written by `_core.Field`, in Rust; the others by
        `_get` and `_set`."""

        __slots__ = ("name", "typ", "_offset", "_size", "bit", "bits", "owner", "index")

        def __init__(self, name, typ, offset, size, bit=0, bits=0, owner=None, index=0):
            self.name, self.typ, self._offset, self._size = name, typ, offset, size
            self.bit, self.bits, self.owner = bit, bits, owner
            # Its position among the structure's fields, base classes' first (the keys of
            # `_objects`).
            self.index = index
            if not bits and _is_number(typ):
                self._number(proc, typ._type_, offset)

        offset = property(lambda self: self._offset)
        size = property(lambda self: (self.bits << 16) | self.bit if self.bits else self._size)

        def _check(self, obj):
            if not isinstance(obj, _StructBase):
                raise TypeError("not a ctype instance")

        def _get(self, obj):
            self._check(obj)
            if not self.bits:
                return _read_as(self.typ, obj._b_addr + self._offset, self.index, obj)
            raw = proc.read(obj._b_addr + self._offset, self._size)
            unit = int.from_bytes(raw, "big" if self.typ._endian == ">" else "little")
            v = (unit >> self.bit) & ((1 << self.bits) - 1)
            if self.typ._type_ not in _UNSIGNED_CODES and v >> (self.bits - 1):
                v -= 1 << self.bits
            return bool(v) if self.typ._type_ == "?" else v

        def _set(self, obj, v):
            self._check(obj)
            if not self.bits:
                _write_as(self.typ, obj._b_addr + self._offset, v, obj, self.index)
                return
            if not isinstance(v, int):
                raise TypeError("'%s' object cannot be interpreted as an integer" % type(v).__name__)
            order = "big" if self.typ._endian == ">" else "little"
            addr = obj._b_addr + self._offset
            unit = int.from_bytes(proc.read(addr, self._size), order)
            mask = ((1 << self.bits) - 1) << self.bit
            unit = (unit & ~mask) | ((v << self.bit) & mask)
            proc.write(addr, unit.to_bytes(self._size, order))

        def __repr__(self):
            if self.bits:
                return "<Field type=%s, ofs=%d:%d, bits=%d>" % (
                    self.typ.__name__, self._offset, self.bit, self.bits)
            return "<Field type=%s, ofs=%d, size=%d>" % (self.typ.__name__, self._offset, self._size)

    class _StructBase(_CData, metaclass=_StructMeta):
        __slots__ = ()
        _union = False
        _swapped = False

        # A structure's first instance makes its type final (`_CData._b_first_`).

        def __init__(self, *args, **kwargs):
            names = type(self)._all_fields_
            if len(args) > len(names):
                raise TypeError("too many initializers")
            for n, v in zip(names, args):
                if n in kwargs:
                    raise TypeError("duplicate values for field %r" % n)
                setattr(self, n, v)
            for n, v in kwargs.items():
                setattr(self, n, v)

    def _layout(cls, fields):
        pack = cls.__dict__.get("_pack_", getattr(cls, "_pack_", 0))
        if not isinstance(pack, int) or isinstance(pack, bool):
            raise TypeError("_pack_ must be an integer")
        if not 0 <= pack <= 0x7FFFFFFF:
            raise ValueError("_pack_ must be a non-negative integer")
        if not isinstance(fields, (list, tuple)):
            raise TypeError("_fields_ must be a sequence of pairs")
        union = getattr(cls, "_union", False)
        swapped = getattr(cls, "_swapped", False)
        base = _struct_base(cls)
        if union:
            base = None
        offset = size = base._size_ if base else 0
        align = base._align_ if base else 1
        all_fields = list(base._all_fields_) if base else []
        anonymous = cls.__dict__.get("_anonymous_", ())
        if not isinstance(anonymous, (list, tuple)):
            raise TypeError("_anonymous_ must be a sequence")
        # Bitfields as the System V ABI lays them out (gcc, and clang for wasm32): in
        # units of the field type's size, a field never straddling a unit boundary.
        bitpos = None
        for spec in fields:
            if not isinstance(spec, tuple) or len(spec) not in (2, 3) or not isinstance(spec[0], str):
                raise TypeError("'_fields_' must be a sequence of (name, C type) pairs")
            typ = spec[1]
            if typ is cls:
                raise AttributeError("Structure or union cannot contain itself")
            if not isinstance(typ, _CDataMeta):
                raise TypeError("second item in _fields_ tuple (index %d) must be a C type" % fields.index(spec))
            if isinstance(typ, _StructMeta):
                type.__setattr__(typ, "_final_", True)
            all_fields.append(spec[0])
            if len(spec) == 3:
                name, typ, width = spec
                if not issubclass(typ, _SimpleCData) or typ._type_ in "fdgzZPuc":
                    raise TypeError("bit fields not allowed for type %s" % typ.__name__)
                ubits = 8 * sizeof(typ)
                if not 0 < width <= ubits:
                    raise ValueError("number of bits invalid for bit field")
                falign = min(pack, alignment(typ)) if pack else alignment(typ)
                pos = offset * 8 if bitpos is None or union else bitpos
                if width == 0 or (pos // ubits) != ((pos + max(width, 1) - 1) // ubits):
                    pos = (pos + ubits - 1) // ubits * ubits
                unit = pos // ubits * ubits // 8
                if union:
                    pos = 0
                    unit = 0
                if width:
                    bit = pos - unit * 8
                    if swapped:
                        # Big-endian: the first field takes the unit's most significant bits.
                        typ, bit = _swapped_type(typ), ubits - bit - width
                    type.__setattr__(cls, name, _Field(name, typ, unit, sizeof(typ), bit, width, cls, len(all_fields) - 1))
                bitpos = pos + width
                offset = (bitpos + 7) // 8
                size = max(size, offset, unit + (sizeof(typ) if union else 0))
                align = max(align, falign)
                continue
            if bitpos is not None and not union:
                offset = (bitpos + 7) // 8
            bitpos = None
            name, typ = spec
            if swapped:
                typ = _swapped_type(typ)
            fsize, falign = sizeof(typ), alignment(typ)
            if pack:
                falign = min(pack, falign)
            if union:
                at = 0
                size = max(size, fsize)
            else:
                at = (offset + falign - 1) // falign * falign
                offset = at + fsize
                size = offset
            align = max(align, falign)
            type.__setattr__(cls, name, _Field(name, typ, at, fsize, owner=cls, index=len(all_fields) - 1))
        if bitpos is not None and not union:
            size = max(size, (bitpos + 7) // 8)
        type.__setattr__(cls, "_size_", (size + align - 1) // align * align)
        type.__setattr__(cls, "_align_", align)
        type.__setattr__(cls, "_all_fields_", all_fields)
        type.__setattr__(cls, "_b_specs_", list(fields))
        type.__setattr__(cls, "_b_desc_", None)
        type.__setattr__(cls, "_final_", True)
        for name in anonymous:
            _anonymous(cls, name)

    def _swapped_type(typ):
        """The big-endian twin of a field type: numbers swapped, arrays of them too;
        structures keep their own order. Pointers and wide chars cannot be swapped."""
        if issubclass(typ, _StructBase):
            return typ
        if issubclass(typ, Array):
            return ARRAY(_swapped_type(typ._type_), typ._length_)
        if not hasattr(typ, "__ctype_be__"):
            raise TypeError("This type does not support other endian: %s" % typ)
        return typ.__ctype_be__

    def _anonymous(cls, name):
        """`_anonymous_`: the fields of field `name` read as fields of `cls`."""
        outer = cls.__dict__.get(name)
        if not isinstance(outer, _Field):
            raise AttributeError("%r is specified in _anonymous_ but not in _fields_" % name)
        seen = set()
        for klass in outer.typ.__mro__:
            for inner_name, inner in list(klass.__dict__.items()):
                if not isinstance(inner, _Field) or inner_name in seen:
                    continue
                seen.add(inner_name)
                type.__setattr__(
                    cls, inner_name,
                    _Field(inner_name, inner.typ, outer._offset + inner._offset, inner._size, inner.bit, inner.bits, cls,
                           outer.index + inner.index))

    class Structure(_StructBase):
        __slots__ = ()

    class Union(_StructBase):
        _union = True
        __slots__ = ()

    LittleEndianStructure = Structure
    LittleEndianUnion = Union

    class BigEndianStructure(_StructBase):
        _swapped = True
        __slots__ = ()

    class BigEndianUnion(_StructBase):
        _union = True
        _swapped = True
        __slots__ = ()

    _ABSTRACT_STRUCTS.update((_StructBase, Structure, Union, BigEndianStructure, BigEndianUnion))
    _ABSTRACT.update(_ABSTRACT_STRUCTS, (_SimpleCData, Array, _Pointer))

    # ---------------------------------------------------------------- functions
    def _code(t):
        """The core's type code of an argtype or restype."""
        if t is None:
            return "void"
        if isinstance(t, type) and issubclass(t, _SimpleCData):
            return t._type_
        if isinstance(t, type) and issubclass(t, (_Pointer, Array, _CFuncPtr)):
            return "P"
        if isinstance(t, type) and issubclass(t, _StructBase):
            return _desc(t)
        if callable(t):
            return "i"
        raise TypeError("invalid type: %r" % (t,))

    def _descriptor(t):
        """How the core sees a field's type (see `_core.StructDesc`)."""
        if issubclass(t, _SimpleCData):
            return t._type_
        if issubclass(t, Array):
            return ("A", _descriptor(t._type_), t._length_)
        if issubclass(t, _StructBase):
            return _desc(t)
        return "P"

    def _desc(t):
        """The core's description of structure type `t`, for by-value calls (cached)."""
        d = t.__dict__.get("_b_desc_")
        if d is None:
            if t in _ABSTRACT_STRUCTS:
                raise TypeError("abstract class")
            fields = []
            base = _struct_base(t)
            if base is not None and not getattr(t, "_union", False) and base._size_:
                fields.append(("_base", _desc(base), None))
            for spec in t.__dict__.get("_b_specs_", ()):
                fields.append((spec[0], _descriptor(spec[1]), spec[2] if len(spec) == 3 else None))
            pack = t.__dict__.get("_pack_", getattr(t, "_pack_", 0))
            d = proc.struct_type(t.__name__, bool(getattr(t, "_union", False)), pack, fields)
            if d.size != sizeof(t):
                raise TypeError("structure %s cannot be passed by value: its layout (%d bytes) "
                                "is not one C gives it (%d bytes)" % (t.__name__, sizeof(t), d.size))
            type.__setattr__(t, "_b_desc_", d)
        return d

    def _own_type(t):
        """Refuses a ctypes type of another namespace (another sandbox, or the other backend):
        its sizes and memory are another process's, and as a restype it would pass for a
        converting callable."""
        if isinstance(t, type) and issubclass(t, _core.CData) and not issubclass(t, _CData):
            raise TypeError(
                "%s is a type of another %s: use this one's (a sandbox's own types, as sb.%s)"
                % (t.__name__, "sandbox" if backend == "wasm" else "namespace", t.__name__)
            )

    # What an argument of a given type is, for `_arg` without a declared type: "plain" (the
    # core converts it), "struct" (passed by value), "cdata" (its `_as_arg`), or "other"
    # (looked at each time: `_as_parameter_` may be an instance's own). Bounded: a program
    # that makes types without end does not grow it past _ARG_KINDS_MAX.
    _PLAIN = frozenset((int, float, bytes, str, type(None)))
    _arg_kinds = dict.fromkeys(_PLAIN, "plain")
    _ARG_KINDS_MAX = 4096

    # Array types whose every instance passes as its own address without argtypes (they
    # keep `_CData._as_arg`): what a function may learn to pass in Rust (`Func._learn`).
    _by_address_types = set()

    def _arg_kind(t):
        kind = _arg_kinds.get(t)
        if kind is not None:
            return kind
        if issubclass(t, _core.CData) and not issubclass(t, _CData):
            return "foreign"  # not cached: the error is raised each time
        if issubclass(t, _StructBase):
            kind = "struct"
        elif issubclass(t, (_CData, _CArg)):
            kind = "cdata"
        else:
            kind = "other"
        if len(_arg_kinds) < _ARG_KINDS_MAX:
            _arg_kinds[t] = kind
            if kind == "cdata" and issubclass(t, Array) and t._as_arg is _CData._as_arg:
                _by_address_types.add(t)
            elif kind == "cdata" and issubclass(t, _SimpleCData) and _passes_its_number(t):
                _by_value_codes[t] = t._type_
        return kind

    # Number types whose every instance passes as the number it holds without argtypes:
    # what a function may learn to read and pass in Rust (`Func._learn` with a code).
    _by_value_codes = {}

    def _passes_its_number(t):
        """Whether instances of the simple type `t` pass as `_SimpleCData` passes them, the
        number read from their memory in this target's byte order (no override of how)."""
        return (
            isinstance(t._type_, str)
            and t._type_ in "bBhHiIlLqQnNfd"
            and t._endian == "<"
            and all(_package_defines(t, n) for n in ("_as_arg", "_get_param", "_get"))
        )

    def _package_defines(t, name):
        """Whether attribute `name` of simple type `t` is the package's own (a fundamental
        type's or `_SimpleCData`'s), not a subclass's."""
        for k in t.__mro__:
            if name in k.__dict__:
                return k is _SimpleCData or bool(k.__dict__.get("_fundamental"))
        return False

    def _arg(a, declared=None, keep=None, infer=False):
        """A Python argument as the core takes it; objects made for it go to `keep`, which
        the caller holds until the call returns."""
        if declared is None:
            kind = _arg_kind(type(a))
            if kind == "plain":
                return a
            if kind == "cdata":
                code, v = a._as_arg()
                if code in _POINTERLIKE and not isinstance(v, (bytes, str)):
                    v = ("&", v or 0)
                return (code, v)
            if kind == "struct":
                return (_desc(type(a)), a._raw())  # by value
        if isinstance(a, _core.CData) and not isinstance(a, _CData):
            # A ctypes object of another namespace: its memory is another process's.
            raise ValueError(
                "%s instance belongs to another %s: an object is passed only to the libraries "
                "of the process (sandbox) it was made in"
                % (type(a).__name__, "sandbox" if backend == "wasm" else "namespace")
            )
        if hasattr(a, "_as_parameter_") and not isinstance(a, (_CData, _CArg)):
            a = a._as_parameter_
        if declared is not None and hasattr(declared, "from_param"):
            a = declared.from_param(a)
            if keep is not None:
                keep.append(a)
            if hasattr(a, "_as_parameter_") and not isinstance(a, (_CData, _CArg)):
                a = a._as_parameter_
            if not isinstance(declared, _CDataMeta):
                # An adapter object with from_param, not a ctypes type: what it returns is
                # converted as an argument without argtypes.
                declared = None
        if isinstance(a, _StructBase) and (declared is None or issubclass(declared, _StructBase)):
            return (_desc(type(a)), a._raw())  # by value
        if isinstance(a, (_CData, _CArg)):
            code, v = a._as_arg()
            if code in _POINTERLIKE and not isinstance(v, (bytes, str)):
                # An address of this process's memory, as the core's pointer value (c_char_p
                # takes pointers, not plain integers).
                v = ("&", v or 0)
            if declared is None or infer:
                return (code, v)
            return v
        return a

    def _address_arg(a):
        return ("&", a._b_addr)

    def _plain(a):
        return a

    def _quick(d, t):
        """The conversion of an argument of type `t` to declared type `d` when ctypes' rules
        give the same answer for every value of `t`; None when they do not."""
        if not isinstance(d, _CDataMeta):
            return None
        if getattr(d.from_param, "__func__", None) not in _OWN_FROM_PARAM:
            return None  # a user's own from_param runs every time
        if not issubclass(t, _CData) or "_as_parameter_" in t.__dict__:
            if t in (int, float, bytes, str, type(None)) and d.__dict__.get("_fundamental"):
                code = d._type_
                # Plain values the core converts by itself, for the codes it checks itself.
                if code in "bBhHiIlLqQnN" and t is int:
                    return _plain
                if code in "fd" and t in (int, float):
                    return _plain
                if code == "z" and t in (bytes, type(None)):
                    return _plain
                if code == "Z" and t in (str, type(None)):
                    return _plain
            return None
        if issubclass(t, Array) and t.__dict__.get("_type_") is not None:
            if issubclass(d, _Pointer) and d.__dict__.get("_type_") is not None and issubclass(t._type_, d._type_):
                return _address_arg
            if d.__dict__.get("_fundamental") and (
                d._type_ == "P" or (d._type_ == "z" and t._type_ is c_char) or (d._type_ == "Z" and t._type_ is c_wchar)
            ):
                return _address_arg
        return None

    def _quick_table(d):
        """Declared type `d`'s table of the conversions `_quick` worked out, by argument type.
        Kept on the type itself, so that no cache holds a reference to it (CPython's tests
        count them)."""
        table = d.__dict__.get("_b_quick_")
        if table is None:
            table = {}
            type.__setattr__(d, "_b_quick_", table)
        return table

    def _subclass_of_pointerlike(t):
        """A user's subclass of c_char_p, c_wchar_p or c_void_p, as a restype."""
        return (
            isinstance(t, type)
            and issubclass(t, _SimpleCData)
            and not t.__dict__.get("_fundamental")
            and t._type_ in _POINTERLIKE
        )

    def _callback_arg(t):
        """How a callback's raw argument of declared type `t` becomes what ctypes gives the
        Python function (None: the value as it is; a pointer type: a pointer to it, made in
        Rust)."""
        if isinstance(t, type) and issubclass(t, _Pointer):
            return t
        if isinstance(t, type) and issubclass(t, _StructBase):
            return t.from_buffer_copy
        if t is py_object:
            return _lookup
        if t is c_char_p:
            return lambda v: proc.string_at(v) if v else None
        if t is c_wchar_p:
            return lambda v: wstring_at(v) if v else None
        if isinstance(t, type) and issubclass(t, _SimpleCData) and not t.__dict__.get("_fundamental"):
            def make(v):
                obj = t()
                obj.value = v
                return obj
            return make
        return None

    class _CFuncPtr(_core.CFuncPtr, _CData):
        """A C function: ctypes' `CFuncPtr`, the base of `CFUNCTYPE(...)` types and of a
        library's functions. An instance is made from a Python callable (a callback), an
        address (a function pointer), `(name, dll)` (a library's function, with optional
        paramflags), or nothing (NULL). Calling it calls C, through the core."""

        _restype_ = c_int
        _argtypes_ = None
        _flags_ = 0
        _b_length_ = 1  # what `_length` says: it keeps one object
        _name = None
        _dll = None
        _paramflags = None
        _callable = None
        _core = None
        _fast = False
        _quick = None
        _result = None
        _infer = False
        _errcheck = None

        def _attach(self, addr, base=None, block=None):
            self._argtypes = type(self)._argtypes_
            self._restype = type(self)._restype_
            return super()._attach(addr, base, block)

        def __init__(self, *args):
            if not args:
                return
            if len(args) > 2:
                raise TypeError("COM methods are not supported here: argument must be callable or integer function address")
            a = args[0]
            if isinstance(a, int) and len(args) == 1:
                proc.write(self._b_addr, _struct.pack(fmt("P"), a))
            elif isinstance(a, tuple) and len(a) == 2 and isinstance(a[1], CDLL):
                name, dll = a
                if not isinstance(name, str):
                    raise TypeError("function name must be str, not %s" % type(name).__name__)
                try:
                    # As ctypes: the object holds the function's address (natively its code,
                    # in the sandbox its slot in the function table), which C may be given.
                    address = dll._lib.function_address(name)
                except AttributeError:
                    raise AttributeError("%s: undefined symbol: %s" % (dll._name, name)) from None
                proc.write(self._b_addr, _struct.pack(fmt("P"), address))
                self._name, self._dll, self.__name__ = name, dll, name
                if len(args) > 1 and args[1] is not None:
                    self._paramflags = _check_paramflags(args[1], self._argtypes)
                    self.__class__ = _with_keywords(type(self))
            elif callable(a):
                self._make_callback(a)
            else:
                raise TypeError("argument must be callable or integer function address")

        def _make_callback(self, fn):
            self._callable = fn
            argtypes = self._argtypes or ()
            restype = self._restype
            if restype is not None and not (isinstance(restype, type) and issubclass(restype, _SimpleCData)):
                # As ctypes: a callback returns None or a simple type, never a pointer type.
                raise TypeError("invalid result type for callback function")

            # What each raw argument becomes, decided once (see `_callback_arg`).
            convs = [_callback_arg(t) for t in argtypes]

            def error(e):
                # As ctypes: the exception is reported as unraisable and C gets zero.
                _unraisable(e, "Exception ignored on calling ctypes callback function", fn)

            def result(r):
                # What a result other than a plain int (or float) becomes; the core masks
                # and converts it to restype.
                try:
                    if restype is py_object:
                        if backend == "native":
                            # As ctypes: C owns a new reference to the result.
                            return _core.incref(r)
                        h = _Handle(r)
                        _returned.append(h)
                        return h.h
                    if isinstance(type(r), _CDataMeta):
                        r = _arg(r, None)[1]
                    elif restype._type_ not in _POINTERLIKE:
                        _convert(restype._type_, r)
                    elif not isinstance(r, (int, bytes, str)) and r is not None:
                        raise TypeError("cannot be converted to pointer")
                except Exception as e:
                    _unraisable(e, "Exception ignored on converting result of ctypes callback function", fn)
                    return 0
                return r

            thunk = _core.CallbackObj(
                proc, _code(restype), [_code(t) for t in argtypes], fn, convs, result, error
            )
            proc.write(self._b_addr, _struct.pack(fmt("P"), thunk.address))
            # As ctypes: the C function (the thunk) is kept in _objects, so that whatever
            # keeps those (a structure the pointer was stored in) keeps it callable.
            _keep_ref(self, 0, thunk)

        def _address(self):
            return _struct.unpack(fmt("P"), proc.read(self._b_addr, proc.sizeof("P")))[0]

        def _as_arg(self):
            return ("P", self._address())

        def __bool__(self):
            return self._name is not None or self._address() != 0

        argtypes = property(lambda s: s._argtypes)
        restype = property(lambda s: s._restype)

        @argtypes.setter
        def argtypes(self, value):
            if value is not None:
                value = tuple(value)
                for i, t in enumerate(value):
                    if not hasattr(t, "from_param"):
                        raise TypeError("item %d in _argtypes_ has no from_param method" % (i + 1))
                    _own_type(t)
            self._argtypes = value
            self._unprepare()

        def _unprepare(self):
            """Forgets every prepared call: the next call prepares again, for the argtypes,
            restype and errcheck it then has."""
            self._core = None
            self._set_fast(None)
            self.__dict__.pop("_inferred", None)

        @argtypes.deleter
        def argtypes(self):
            self.argtypes = None

        @restype.setter
        def restype(self, value):
            if value is not None and not isinstance(value, _CDataMeta) and not callable(value):
                raise TypeError("restype must be a type, a callable, or None")
            _own_type(value)
            self._restype = value
            self._unprepare()

        @restype.deleter
        def restype(self):
            self._restype = type(self)._restype_
            self._unprepare()

        @property
        def errcheck(self):
            return self._errcheck

        @errcheck.setter
        def errcheck(self, fn):
            if fn is not None and not callable(fn):
                raise TypeError("the errcheck attribute must be callable")
            self._errcheck = fn
            self._unprepare()

        @errcheck.deleter
        def errcheck(self):
            self.errcheck = None

        def _function(self, codes, rcode):
            # ctypes' use_errno, from the library's or the prototype's flags; the GIL is
            # released around the call unless the flags say it is the interpreter's API.
            use_errno = bool(self._flags_ & FUNCFLAG_USE_ERRNO)
            release_gil = not self._flags_ & FUNCFLAG_PYTHONAPI
            if self._name is not None:
                return self._dll._lib.function(self._name, codes, rcode, use_errno, release_gil)
            addr = self._address()
            if not addr:
                raise ValueError("NULL function pointer")
            return _libc().function_at(addr, codes, rcode, use_errno, release_gil)

        def _prepare(self):
            codes = None
            if self._argtypes is not None and all(isinstance(t, _CDataMeta) for t in self._argtypes):
                codes = [_code(t) for t in self._argtypes]
            rt = self._restype
            rcode = _code(rt) if (rt is None or isinstance(rt, type)) else "i"
            if _subclass_of_pointerlike(rt):
                rcode = "P"  # the instance holds the address C returned, not a copy
            self._core = self._function(codes, rcode)
            self._result = self._result_conversion()
            # Each declared type's table of conversions worked out before (`_quick`); the
            # tables live on the types, and fill as calls go by.
            self._quick = None
            if codes is not None and self._paramflags is None:
                self._quick = [_quick_table(d) for d in self._argtypes]
            # Without types the core can use, every argument goes with its own type code.
            self._infer = codes is None and self._argtypes is not None
            # The call converts in Rust alone when every declared type is a fundamental type
            # (plain numbers, bytes and None: the core checks them) or a pointer or array
            # type with ctypes' own from_param (None, and objects of the types `_call` learns
            # pass as their address), and the result is a fundamental type.
            def own(t):
                return isinstance(t, type) and t.__dict__.get("_fundamental")

            def by_address(t):
                return (
                    isinstance(t, type)
                    and issubclass(t, (_Pointer, Array))
                    and getattr(t.from_param, "__func__", None) in _OWN_FROM_PARAM
                )

            # Without argtypes too: plain values are converted in Rust as ctypes infers them,
            # and arrays learn to pass as their address (`_call`); anything else comes here.
            self._fast = (
                rcode != "O"
                and self._paramflags is None
                and (rt is None or own(rt))
                and (
                    self._argtypes is None
                    or (
                        codes is not None
                        and "O" not in codes
                        and all(own(t) or by_address(t) for t in self._argtypes)
                    )
                )
            )
            if self._fast:
                self._core._objects_only(sum(1 << i for i, t in enumerate(self._argtypes or ()) if not own(t)))
            self._set_fast(self._core if self._fast and self._errcheck is None else None)

        # Memory and what it points at from `_new_block` (and `_attach`).
        __new__ = staticmethod(_CData._new)

        # Calling one is `_core.CFuncPtr`'s call slot, the hot path: plain Python values
        # converted, the call made and the result converted in Rust, with no Python frame
        # between; anything else goes to `_call`.

        def _call(self, args, kwargs):
            """The general call: ctypes' conversions (from_param, _as_parameter_, objects'
            addresses), paramflags, the result's type and errcheck."""
            if self._core is None:
                self._prepare()
            tables = self._quick
            if tables is not None and kwargs is None and len(args) == len(tables):
                # Every argument of a type whose conversion was worked out before (see
                # `_quick`): no from_param, no checks of the value.
                conv = []
                for i, (table, a) in enumerate(zip(tables, args)):
                    f = table.get(type(a))
                    if f is None:
                        break
                    if f is _address_arg and self._fast:
                        self._core._learn(i, type(a))  # the next calls stay in Rust
                    conv.append(f(a))
                else:
                    result = self._core(*conv)
                    if self._result is not None:
                        result = self._result(result)
                    if self._errcheck is not None:
                        return self._errcheck(result, self, args)
                    return result
            if len(args) > _core.MAX_ARGS:
                raise _core.ArgumentError("too many arguments (%d), maximum is %d" % (len(args), _core.MAX_ARGS))
            if self._core is None:
                self._prepare()
            outs = None
            if self._paramflags is not None:
                args, outs = _bind_params(self, args, kwargs or {})
            elif kwargs:
                raise TypeError("this function takes no keyword arguments")
            declared = self._argtypes or ()
            if self._argtypes is not None and len(args) < len(declared):
                raise TypeError(
                    "this function takes at least %d argument%s (%d given)"
                    % (len(declared), "" if len(declared) == 1 else "s", len(args))
                )
            conv = []
            keep = []
            if self._argtypes is None and outs is None:
                # No argtypes: each argument as its own type says (the common case of real
                # bindings, which rarely declare them).
                by_value = False
                for i, a in enumerate(args):
                    t = type(a)
                    if t in _PLAIN:
                        conv.append(a)
                        continue
                    try:
                        c = _arg(a, None, keep)
                    except Exception as e:
                        raise _core.ArgumentError(
                            "argument %d: %s: %s" % (i + 1, type(e).__name__, e)
                        ) from None
                    if type(c) is tuple and not isinstance(c[0], str):
                        by_value = True
                    elif self._fast and t in _by_address_types:
                        self._core._learn(i, t)  # the next calls stay in Rust
                    elif self._fast and t in _by_value_codes:
                        self._core._learn(i, t, _by_value_codes[t])
                    conv.append(c)
                result = (self._by_value(conv) if by_value else self._core)(*conv)
                if self._result is not None:
                    result = self._result(result)
                if self._errcheck is not None:
                    return self._errcheck(result, self, tuple(args))
                return result
            infer = self._infer
            nd = len(declared)
            for i, a in enumerate(args):
                d = declared[i] if i < nd else None
                # A conversion this pair of types had before, if it needs no checks of the
                # value (see `_quick`): an object's address, or a plain value as it is.
                try:
                    conv.append(_arg(a, d, keep, infer))
                except Exception as e:
                    # As ctypes: whatever a conversion raises (from_param, _as_parameter_)
                    # is the argument's ArgumentError.
                    raise _core.ArgumentError(
                        "argument %d: %s: %s" % (i + 1, type(e).__name__, e)
                    ) from None
                if not infer and isinstance(d, _CDataMeta):
                    table = _quick_table(d)
                    if type(a) not in table:
                        table[type(a)] = _quick(d, type(a))
                    if table[type(a)] is _address_arg and self._fast:
                        self._core._learn(i, type(a))
            core = self._core
            if self._argtypes is None and any(type(c) is tuple and not isinstance(c[0], str) for c in conv):
                core = self._by_value(conv)
            result = core(*conv)
            if self._result is not None:
                result = self._result(result)
            if self._errcheck is not None:
                callargs = tuple(args)
                checked = self._errcheck(result, self, callargs)
                if not outs or checked is not callargs:
                    return checked
            if outs:
                vals = [_out_value(o) for o in outs]
                return vals[0] if len(vals) == 1 else tuple(vals)
            return result

        def _result_conversion(self):
            """What the core's result becomes for this restype (None: as it is)."""
            rt = self._restype
            if rt is None or (isinstance(rt, type) and rt.__dict__.get("_fundamental") and rt is not py_object and not hasattr(rt, "_check_retval_")):
                return None
            if isinstance(rt, type) and issubclass(rt, _Pointer):
                def conv(result):
                    p = rt()
                    proc.write(p._b_addr, _struct.pack(fmt("P"), result or 0))
                    return p
            elif isinstance(rt, type) and issubclass(rt, _CFuncPtr):
                def conv(result):
                    return rt(result or 0)
            elif _subclass_of_pointerlike(rt):
                def conv(result):
                    obj = rt()
                    proc.write(obj._b_addr, _struct.pack(fmt("P"), result or 0))
                    return obj
            elif isinstance(rt, type) and issubclass(rt, _SimpleCData) and not rt.__dict__.get("_fundamental"):
                def conv(result):
                    obj = rt()
                    obj.value = result
                    return obj
            elif isinstance(rt, type) and issubclass(rt, _StructBase):
                conv = rt.from_buffer_copy
            elif rt is py_object and backend == "native":
                # As ctypes: the function returned a new reference, which Python now owns.
                conv = _core.steal
            elif rt is py_object:
                def conv(result):
                    try:
                        return _lookup(result)
                    finally:
                        del _returned[:]
            elif not isinstance(rt, type) and callable(rt):
                conv = rt
            else:
                def conv(result):
                    return result
            if isinstance(rt, type) and hasattr(rt, "_check_retval_"):
                first = conv

                def conv(result):
                    return rt._check_retval_(first(result))
            return conv

        def _by_value(self, conv):
            """Without argtypes, a structure argument is passed by value: the prototype is
            inferred as ctypes infers it, with the structure's type (cached per signature)."""
            def infer(c):
                if type(c) is tuple:
                    return c[0]
                if isinstance(c, (bool, int)):
                    return "i"
                if isinstance(c, bytes):
                    return "z"
                if isinstance(c, str):
                    return "Z"
                if c is None:
                    return "P"
                return "d"  # a float: the core raises ctypes' error for it
            codes = [infer(c) for c in conv]
            key = tuple(c if isinstance(c, str) else id(c) for c in codes)
            cache = self.__dict__.setdefault("_inferred", {})
            if key not in cache:
                rt = self._restype
                rcode = _code(rt) if (rt is None or isinstance(rt, type)) else "i"
                cache[key] = (self._function(codes, rcode), codes)
            return cache[key][0]

        def __repr__(self):
            if self._name is not None:
                return "<%s object at %#x>" % (self._name, id(self))
            return "<%s object at %#x>" % (type(self).__name__, id(self))

        @classmethod
        def from_param(cls, obj):
            """NULL, or what passes for any C data of this type."""
            return obj if obj is None else _CData.from_param.__func__(cls, obj)

    _ABSTRACT.add(_CFuncPtr)
    _OWN_FROM_PARAM = {
        k.__dict__["from_param"].__func__ for k in (_CData, _SimpleCData, _Pointer, _CFuncPtr)
    }
    _keyword_classes = {}

    def _with_keywords(cls):
        """The class of a function made with paramflags: its parameters can be named."""
        k = _keyword_classes.get(cls)
        if k is None:
            k = _keyword_classes[cls] = _CDataMeta(
                cls.__name__, (cls,), {"__call__": lambda self, *args, **kwargs: self._call(args, kwargs)}
            )
        return k
    _libc_lib = []

    def _libc():
        if not _libc_lib:
            _libc_lib.append(proc.libc())
        return _libc_lib[0]

    def _check_paramflags(paramflags, argtypes):
        if not isinstance(paramflags, tuple):
            raise TypeError("paramflags must be a tuple or None")
        if argtypes is None or len(paramflags) != len(argtypes):
            raise ValueError("paramflags must have the same length as argtypes")
        for n, (item, t) in enumerate(zip(paramflags, argtypes)):
            if not isinstance(item, tuple) or not 1 <= len(item) <= 3 or not isinstance(item[0], int):
                raise TypeError("paramflags must be a sequence of (int [,string [,value]]) tuples")
            if item[0] & ~7 or item[0] & 3 == 3:
                raise ValueError("paramflag value %d not supported" % item[0])
            if item[0] & 2 and not (isinstance(t, type) and issubclass(t, (_Pointer, Array))):
                raise TypeError("'out' parameter %d must be a pointer type, not %s"
                                % (n + 1, getattr(t, "__name__", t)))
        return paramflags

    def _bind_params(f, args, kwargs):
        """ctypes' paramflags: input parameters from positions, names and defaults; output
        parameters made here and returned after the call."""
        out_args, outs = [], []
        args = list(args)
        kwargs = dict(kwargs)
        for i, (item, t) in enumerate(zip(f._paramflags, f._argtypes)):
            flag = item[0] or 1
            name = item[1] if len(item) > 1 else None
            if flag & 2:
                if name is not None and name in kwargs:
                    v = kwargs.pop(name)
                else:
                    v = (t._type_ if issubclass(t, _Pointer) else t)()
                outs.append(v)
                out_args.append(byref(v) if issubclass(t, _Pointer) and isinstance(type(v), _CDataMeta) else v)
                continue
            if args:
                out_args.append(args.pop(0))
            elif name is not None and name in kwargs:
                out_args.append(kwargs.pop(name))
            elif len(item) > 2:
                out_args.append(item[2])
            elif flag & 4:
                out_args.append(None)
            else:
                raise TypeError("required argument '%s' missing" % (name or i + 1))
        if kwargs:
            raise TypeError("got an unexpected keyword argument '%s'" % next(iter(kwargs)))
        return out_args + args, outs

    def _out_value(v):
        if isinstance(v, _SimpleCData) and type(v).__dict__.get("_fundamental"):
            return v.value
        return v

    _functypes = {}

    # CPython's flags of a function type (`_flags_`): the calling convention, the interpreter
    # API, and whether errno (or Windows' last error) is swapped with the private copy.
    FUNCFLAG_CDECL, FUNCFLAG_PYTHONAPI, FUNCFLAG_USE_ERRNO, FUNCFLAG_USE_LASTERROR = 1, 4, 8, 16

    def _flags(use_errno, use_last_error):
        """The `_flags_` of a C function type of a library or a prototype."""
        return (
            FUNCFLAG_CDECL
            | (FUNCFLAG_USE_ERRNO if use_errno else 0)
            | (FUNCFLAG_USE_LASTERROR if use_last_error else 0)
        )

    def CFUNCTYPE(restype, *argtypes, use_errno=False, use_last_error=False):
        if len(argtypes) > _core.MAX_ARGS:
            raise _core.ArgumentError("too many arguments (%d), maximum is %d" % (len(argtypes), _core.MAX_ARGS))
        key = (restype, argtypes, use_errno, use_last_error)
        try:
            return _functypes[key]
        except KeyError:
            pass
        flags = _flags(use_errno, use_last_error)
        t = _CDataMeta(
            "CFunctionType", (_CFuncPtr,), {"_restype_": restype, "_argtypes_": argtypes, "_flags_": flags}
        )
        _functypes[key] = t
        return t

    # ---------------------------------------------------------------- libraries
    class CDLL:
        """A library loaded into this namespace's process. With `sandbox=`, a
        `wasmctypes.wasm.Sandbox`: loaded into that sandbox instead (its objects are made with
        that sandbox's types: `sandbox.c_int(5)`; an object of another sandbox is an
        ArgumentError)."""

        _func_flags_ = FUNCFLAG_CDECL
        _func_restype_ = c_int

        def __new__(cls, name=None, mode=0, handle=None, use_errno=False, use_last_error=False,
                    winmode=None, sandbox=None):
            if sandbox is not None and sandbox is not ns:
                other = getattr(sandbox, "_process", None)
                if not isinstance(other, _core.Process) or other.backend != "wasm":
                    raise TypeError("sandbox= must be a wasmctypes.wasm.Sandbox, not %s"
                                    % type(sandbox).__name__)
                if backend != "wasm":
                    raise TypeError("a native library runs in this process, not in a sandbox")
                return sandbox.CDLL(name, mode, handle, use_errno, use_last_error, winmode)
            return super().__new__(cls)

        def __init__(self, name, mode=0, handle=None, use_errno=False, use_last_error=False,
                     winmode=None, sandbox=None):
            self._name = name
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
            return self._FuncPtr((name, self))

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
        try:
            pairs = json.loads(text)
            return [(str(h), str(w)) for h, w in pairs]
        except (ValueError, TypeError):
            raise OSError("WASMCTYPES_LIBMAP is not a JSON list of [host, wasm] pairs") from None

    # ---------------------------------------------------------------- functions of ctypes
    def _final_alloc(t, size):
        """Gives a final type its `_b_alloc_`, with which `sizeof` and `T()` are answered
        in Rust from now on: its size is known and will not change (an abstract type, a
        structure before it is final, and a function pointer type, whose `_attach` does
        more, have none)."""
        if "_b_alloc_" in t.__dict__ or _is_abstract(t) or issubclass(t, _CFuncPtr):
            return
        if isinstance(t, _StructMeta) and not t.__dict__.get("_final_"):
            return
        type.__setattr__(t, "_b_alloc_", proc.alloc(size, t))

    def _is_abstract(t):
        """Whether `t` can have no instances: a base such as `Array`, or an abstract
        structure type."""
        return t in _ABSTRACT or (
            isinstance(t, _StructMeta) and (t in _ABSTRACT_STRUCTS or "_abstract_" in t.__dict__)
        )

    def _sizeof(obj):
        """`sizeof(obj)` when `_core.Sizeof` cannot answer alone."""
        if isinstance(type(obj), _CDataMeta) and obj._b_size is not None:
            return obj._b_size
        t = obj if isinstance(obj, type) else type(obj)
        size = _type_size(t)
        if isinstance(t, _CDataMeta):
            _final_alloc(t, size)
        return size

    sizeof = _core.Sizeof(_sizeof)

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

    def addressof(obj):
        if not isinstance(type(obj), _CDataMeta):
            raise TypeError("invalid type")
        return obj._b_addr

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

    def string_at(ptr, size=-1):
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

    def cast(obj, typ):
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
            _container(src)
            if src._b_base_ is None and src._objects is None:
                src._objects = {}
            result._objects = src._objects
            if type(result._objects) is dict:
                result._objects[id(src)] = src
        # Whatever ctypes keeps, the result keeps what it points into (a copy of bytes).
        _keep_ref(result, -1, None, keep[0] if keep else obj)
        return result

    def _buffer(elem, text, init, size):
        if isinstance(init, text):
            buf = (elem * (len(init) + 1 if size is None else size))()
            buf.value = init
            return buf
        if isinstance(init, int):
            return (elem * init)()
        raise TypeError(init)

    def create_string_buffer(init, size=None):
        return _buffer(c_char, bytes, init, size)

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

    # ctypes' memmove and memset are the C library's own, called as foreign functions: their
    # arguments convert as c_void_p and c_size_t (ArgumentError otherwise, a count masked to
    # the width), and in the sandbox a copy outside its memory is a trap, never a host copy.
    _c_library = CDLL(None)
    memmove = _c_library.memmove
    memmove.argtypes = (c_void_p, c_void_p, c_size_t)
    memmove.restype = c_void_p
    memset = _c_library.memset
    memset.argtypes = (c_void_p, c_int, c_size_t)
    memset.restype = c_void_p

    # ---------------------------------------------------------------- the namespace
    # ctypes' own types are found, by pickle among others, in the namespace's module.
    for t in (c_bool, c_char, c_wchar, c_byte, c_ubyte, c_short, c_ushort, c_int, c_uint, c_long,
              c_ulong, c_longlong, c_ulonglong, c_float, c_double, c_longdouble, c_char_p,
              c_wchar_p, c_void_p, c_size_t, c_ssize_t, Structure, Union, BigEndianStructure,
              BigEndianUnion, Array, _Pointer, _SimpleCData, _CFuncPtr):
        t.__module__ = ns.__name__
    for k, v in list(locals().items()):
        if k in ("ns", "proc", "k", "v", "t", "fmt", "simple", "by_size", "ubysize", "backend"):
            continue
        setattr(ns, k, v)
    ns._CFuncPtr = _CFuncPtr
    ns.CFuncPtr = _CFuncPtr
    ns._pointer_type_cache = _pointers
    ns._Pointer = _Pointer
    ns._SimpleCData = _SimpleCData
    def PYFUNCTYPE(restype, *argtypes):
        """A function type whose calls keep the GIL (`FUNCFLAG_PYTHONAPI`)."""
        key = (restype, argtypes, "pythonapi")
        t = _functypes.get(key)
        if t is None:
            t = _functypes[key] = _CDataMeta(
                "CFunctionType",
                (_CFuncPtr,),
                {"_restype_": restype, "_argtypes_": argtypes, "_flags_": FUNCFLAG_CDECL | FUNCFLAG_PYTHONAPI},
            )
        return t

    ns.PYFUNCTYPE = PYFUNCTYPE
    ns.CTYPES_MAX_ARGCOUNT = _core.MAX_ARGS  # this core's limit (CPython's is 1024)
    ns.RTLD_LOCAL = 0
    ns.RTLD_GLOBAL = 256
    ns.DEFAULT_MODE = 0
    from . import _pythonapi

    _pythonapi.install(ns, backend)
    ns.__all__ = [n for n in dir(ns) if not n.startswith("_")]
    return ns
