"""Arrays: `T * n`, `ARRAY`, their items and slices, `.value` and `.raw` of char arrays."""

import struct as _struct
import sys

from . import _core


def define(m):
    """Defines arrays (`Array`, `ARRAY`) in `m`, the namespace being made (see `_model`)."""
    sizeof = m.sizeof
    _CData, _CDataMeta, _SCALAR, backend = m._CData, m._CDataMeta, m._SCALAR, m.backend
    c_char, c_int, c_wchar, fmt, proc = m.c_char, m.c_int, m.c_wchar, m.fmt, m.proc

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
            type.__setattr__(cls, "_b_length_", min(length, sys.maxsize))  # what it keeps
            return cls

    class Array(_CData, metaclass=_ArrayMeta):
        __slots__ = ()
        _type_ = c_int
        _length_ = 0

        # `T(*items)` sets its items in `_core.CDataInit`'s tp_init (see `_final_alloc`), as
        # this does; keywords are ignored, as ctypes ignores them.
        def _b_init_(self, items, kwargs):
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
            return m._read_as(self._type_, *self._elem(i), base=self)

        def _setitem(self, i, v):
            if isinstance(i, slice):
                idx = range(*i.indices(self._length_))
                if len(v) != len(idx):
                    raise ValueError("Can only assign sequence of same size")
                for j, x in zip(idx, v):
                    self[j] = x
                return
            addr, i = self._elem(i)
            m._write_as(self._type_, addr, v, self, i)

        def __iter__(self):
            for i in range(self._length_):
                yield self[i]

        def __repr__(self):
            return "<%s object at %#x>" % (type(self).__name__, id(self))

        # char and wchar arrays, as create_string_buffer makes them
        @property
        def value(self):
            if self._type_ is c_char:
                return proc.read_cstr(self._b_addr, sizeof(self))
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
                proc.write_buffer(self._b_addr, v, 0, len(v), 1 if len(v) < self._length_ else 0)
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
            view = memoryview(v)
            if not view.c_contiguous:
                raise BufferError("memoryview: underlying buffer is not C-contiguous")
            if view.nbytes > self._length_:
                raise ValueError("byte string too long")
            proc.write_buffer(self._b_addr, v, 0, view.nbytes)

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

    m.add(locals())
