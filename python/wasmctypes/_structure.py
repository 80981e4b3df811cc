"""Structures and unions: their layout from `_fields_` (bit fields, `_pack_`, `_anonymous_`,
byte order) and their fields."""

from . import _core


def define(m):
    """Defines structures and unions in `m`, the namespace being made (see `_model`)."""
    sizeof = m.sizeof
    ARRAY, Array, _ABSTRACT, _CData = m.ARRAY, m.Array, m._ABSTRACT, m._CData
    _CDataMeta, _Pointer, _SimpleCData = m._CDataMeta, m._Pointer, m._SimpleCData
    _UNSIGNED_CODES, _is_number, _read_as = m._UNSIGNED_CODES, m._is_number, m._read_as
    _write_as, proc = m._write_as, m.proc

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
                type.__setattr__(cls, "_b_length_", len(cls._all_fields_))
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

        # `P(1, y=2.0)` sets its fields in `_core.CDataInit`'s tp_init (see `_final_alloc`);
        # this is what it does for a structure whose layout is not final yet.
        def _b_init_(self, args, kwargs):
            kwargs = kwargs or {}
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
                falign = min(pack, m.alignment(typ)) if pack else m.alignment(typ)
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
            fsize, falign = sizeof(typ), m.alignment(typ)
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
        type.__setattr__(cls, "_b_length_", len(all_fields))
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

    m.add(locals())
