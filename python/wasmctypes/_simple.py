"""Simple types (`c_int`, `c_char_p`, `c_void_p`, `py_object`, ...): `_SimpleCData`, its
values' conversions and `from_param`, and the handles a `py_object` passes as in the sandbox."""

import struct as _struct

from . import _core
from ._cdata import _NOTHING, _POINTERLIKE


def define(m):
    """Defines the simple types (`_SimpleCData`, `c_int`, ..., `py_object`) in `m`, the namespace
    being made (see `_model`)."""
    _ABSTRACT, _CData, _CDataMeta, _TYPE_HOOKS = m._ABSTRACT, m._CData, m._CDataMeta, m._TYPE_HOOKS
    backend, fmt, proc = m.backend, m.fmt, m.proc

    class _SimpleCData(_CData):
        __slots__ = ()
        _type_ = "i"
        # Byte order in memory: "<" (this target's, little-endian), or ">" for the swapped
        # types of a BigEndianStructure's fields (`c_int.__ctype_be__`).
        _endian = "<"

        # `c_int(5)` sets its value in `_core.CDataInit`'s tp_init (see `_final_alloc`); this is
        # what it does for a type whose layout is not final yet.
        def _b_init_(self, args, kwargs):
            if len(args) > 1:
                raise TypeError("__init__ expected at most 1 argument, got %d" % len(args))
            if args and not (args[0] is None and self._type_ in "zZP"):
                self.value = args[0]

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
                return m.wstring_at(v) if v else None
            if code == "P":
                return v or None
            if code == "O":
                return _lookup(v)
            if code == "v":
                return v != 0
            return v

        def _set(self, value):
            """Stores `value`; returns what the memory must keep alive, as `(keep, extra)`
            (see `_b_keep`)."""
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
                buf = (m.create_string_buffer if code == "z" else m.create_unicode_buffer)(value)
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
            self._b_keep(0, keep, extra)

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
                    return m._CArg._make("z", obj, obj)
                if isinstance(obj, str) and code != "z":
                    return m._CArg._make("Z", obj, obj)
                if code == "P":
                    # What c_void_p takes, as ctypes: an int (a bool too) masked to the
                    # pointer's width, arrays and pointers, byref(), a function pointer (its
                    # address), c_char_p, c_wchar_p and c_void_p objects (their value).
                    if isinstance(obj, int):
                        return m._CArg._make("P", obj & ((1 << (8 * proc.sizeof("P"))) - 1), obj)
                    if isinstance(obj, (m.Array, m._Pointer)):
                        return obj
                    if isinstance(obj, m._CArg) and obj._tag == "P":
                        return obj
                    if isinstance(obj, m._CFuncPtr):
                        return m._CArg._make("P", obj._address(), obj)
                    if isinstance(obj, _SimpleCData) and obj._type_ in _POINTERLIKE:
                        return m._CArg._make("P", obj._get_param(), obj)
                else:
                    # c_char_p takes what points to chars: byref(c_char), c_char arrays and
                    # pointers; c_wchar_p the same for c_wchar.
                    char = c_char if code == "z" else c_wchar
                    target = obj._obj if isinstance(obj, m._CArg) else obj
                    if isinstance(target, char) or (
                        isinstance(target, (m.Array, m._Pointer)) and target._type_ is char
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
                return m._CArg._make("P", h.h, h)
            if not isinstance(obj, (int, float, bytes, str)) and hasattr(obj, "_as_parameter_"):
                return cls.from_param(obj._as_parameter_)
            try:
                value = _convert(code, obj)
            except Exception:
                # As ctypes: whatever the setter said, from_param says this.
                raise TypeError("wrong type") from None
            return m._CArg._make(code, value, obj)

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

    def _fundamental(cls, bases, ns):
        """A direct subclass of _SimpleCData is a fundamental type, as c_int is: its `_type_`
        must be one of ctypes' codes, and a number's value is read and written in Rust."""
        if _SimpleCData not in bases:
            return
        code = ns.get("_type_")
        if not isinstance(code, str) or len(code) != 1 or code not in _SIMPLE_CODES:
            raise AttributeError(
                "class must define a '_type_' attribute which must be\n"
                "a single character string containing one of '%s'." % _SIMPLE_CODES
            )
        type.__setattr__(cls, "_fundamental", True)
        if _is_number(cls) and "value" not in ns:
            type.__setattr__(cls, "value", _Value(proc, code))

    _TYPE_HOOKS.insert(0, _fundamental)

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
                    if h >= 1 << m._ADDRESS_BITS:
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
                import weakref

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

    m.add(locals())
