"""Pointers: `POINTER(T)`, `pointer(obj)`, `byref`, and reading and writing through an address."""

import struct as _struct

from . import _core
from ._cdata import _POINTERLIKE


def define(m):
    """Defines pointers (`_Pointer`, `POINTER`, `pointer`, `byref`) in `m`, the namespace being
    made (see `_model`)."""
    sizeof = m.sizeof
    Array, _ArrayMeta, _CData, _CDataMeta = m.Array, m._ArrayMeta, m._CData, m._CDataMeta
    _TYPE_HOOKS, _NUMBERS, _SCALAR = m._TYPE_HOOKS, m._NUMBERS, m._SCALAR
    _SimpleCData, _buffer_format, _index = m._SimpleCData, m._buffer_format, m._index
    backend, c_char = m.backend, m.c_char
    c_char_p, c_int, c_wchar, c_wchar_p, fmt = m.c_char_p, m.c_int, m.c_wchar, m.c_wchar_p, m.fmt
    _functions, proc = m._functions, m.proc

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

        def _contents(self):
            """`contents` for a target type that is not final yet (`_core.Functions._contents`
            makes it in Rust for the others)."""
            a = self._addr()
            if not a:
                raise ValueError("NULL pointer access")
            obj = self._type_.from_address(a)
            # The pointer, and through it what it keeps alive, lives as long as its contents.
            obj._b_base_ = self
            obj._b_index = 0
            return obj

        @property
        def contents(self):
            return _functions._contents(self, _Pointer._contents)

        @contents.setter
        def contents(self, obj):
            t = type(self)
            target = t.__dict__.get("_b_target_") or _pointer_target(t)
            if not isinstance(obj, target):
                raise TypeError(
                    "expected %s instead of %s" % (self._type_.__name__, type(obj).__name__)
                )
            # As ctypes: the pointer keeps its target, and what the target keeps.
            _functions._point(self, obj)

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
            m.SetPointerType(cls, typ)

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
                type.__setattr__(t, "_b_target_", target)  # complete: it stays
                return target
        raise TypeError("Cannot create instance: has no _type_")

    # pointer(obj) is POINTER(type(obj))(obj), made in Rust for the package's pointer types.
    _functions._pointers(_pointers, POINTER, _Pointer.__init__)
    pointer = _functions.pointer

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

    _TYPE_HOOKS.append(lambda cls, bases, ns: _set_items(cls))

    # ctypes' `cparam`: what `byref()` and `from_param()` of a plain Python value return (in
    # Rust, `_core.CArgObject`: its type is `CArgObject`, as `type(c_int.from_param(5))` shows).
    _CArg = _core.CArgObject

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
        `v` needs alive (`_b_keep`): the rules of ctypes' field and item setters."""
        if issubclass(typ, _SimpleCData):
            if isinstance(v, _SimpleCData) and not (typ._type_ in _POINTERLIKE and v._type_ in _POINTERLIKE):
                v = v.value
            elif isinstance(type(v), _CDataMeta) and typ._type_ in _POINTERLIKE:
                proc.write(addr, _struct.pack(fmt("P"), m._address(v)))
                base._b_keep(index, v)
                return
            base._b_keep(index, *typ.from_address(addr)._set(v))
            return
        if isinstance(v, typ):
            proc.write(addr, v._raw())
            base._b_keep(index, *v._b_kept())
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
                keep, extra = v._b_kept()
                base._b_keep(index, (keep, v), extra)
                return
            raise TypeError("expected %s instead of %s" % (typ.__name__, type(v).__name__))
        elif issubclass(typ, m._CFuncPtr):
            if v is None:
                proc.write(addr, bytes(proc.sizeof("P")))
                return
            if callable(v):
                fp = typ(v)
                proc.write(addr, _struct.pack(fmt("P"), fp._as_arg()[1]))
                base._b_keep(index, fp)
                return
        if isinstance(v, tuple) and issubclass(typ, (Array, m._StructBase)):
            # As ctypes: the type called with the tuple, and that object stored.
            try:
                obj = typ(*v)
            except Exception as e:
                raise RuntimeError("(%s) %s: %s" % (typ.__name__, type(e).__name__, e)) from None
            proc.write(addr, obj._raw())
            base._b_keep(index, *obj._b_kept())
            return
        raise TypeError("expected %s instance, got %s" % (typ.__name__, type(v).__name__))

    m.add(locals())
