"""The base of all ctypes data: the metatype (`T * n`, `from_address`, `from_buffer`,
`from_buffer_copy`, `in_dll`), `_CData` with its memory, pickling and `from_param`, and what
an object's memory keeps alive (ctypes' `_objects`)."""

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


def define(m):
    """Defines the base of all data (`_CDataMeta`, `_CData`) and what objects keep alive in `m`,
    the namespace being made (see `_model`)."""
    backend, proc = m.backend, m.proc

    # What the later parts do to every new type, in order: simple types check a fundamental
    # type's code (`_simple`), arrays and pointers say how their items are read (`_pointer`).
    _TYPE_HOOKS = []

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
            for hook in _TYPE_HOOKS:
                hook(cls, bases, ns)

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
            return m.ARRAY(cls, length)

        __rmul__ = __mul__

        def from_address(cls, address):
            if not isinstance(address, int):
                raise TypeError("integer expected")
            return _bare(cls)._attach(m._checked_address(address))

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
            offset = m._index(offset)
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
            obj_._b_keep(-1, base, hold)
            return obj_

        def from_buffer_copy(cls, data, offset=0):
            if cls in _ABSTRACT:
                raise TypeError("abstract class")
            if isinstance(type(data), _CDataMeta):
                data = data._raw()
            view = memoryview(data)
            if not view.c_contiguous:
                raise BufferError("memoryview: underlying buffer is not C-contiguous")
            size = sizeof(cls)
            if offset < 0:
                raise ValueError("offset cannot be negative")
            if view.nbytes < offset + size:
                raise ValueError(
                    "Buffer size too small (%d instead of at least %d bytes)" % (view.nbytes, offset + size)
                )
            obj = cls.__new__(cls)  # memory of its own, no __init__ (a first instance, as ctypes')
            # One copy, from the object's own memory into the instance's.
            proc.write_buffer(obj._b_addr, data, offset, size)
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
        if isinstance(cls, m._StructMeta) and not cls.__dict__.get("_final_"):
            type.__setattr__(cls, "_final_", True)
        return _core.CData._bare(cls)

    def _has_pointers(t):
        if issubclass(t, m._SimpleCData):
            return t._type_ in _POINTERLIKE
        if isinstance(t, m._ArrayMeta):
            return _has_pointers(t._type_)
        if isinstance(t, m._StructMeta):
            return any(
                _has_pointers(spec[1])
                for k in t.__mro__
                for spec in k.__dict__.get("_b_specs_", ())
            )
        return True

    def _buffer_format(t):
        """PEP 3118's description of `t`, as CPython's ctypes gives it to a memoryview:
        `(format, itemsize, shape)`."""
        if issubclass(t, m._SimpleCData):
            code = t._type_
            size = proc.sizeof(code)
            if code in "lL" and size == 8:
                code = "q" if code == "l" else "Q"
            elif code == "?" and size != 1:
                code = _UNSIGNED[size]
            return t._endian + code, size, ()
        if isinstance(t, m._ArrayMeta):
            f, itemsize, shape = _buffer_format(t._type_)
            if isinstance(t._type_, m._StructMeta):
                shape = ()
            return f, itemsize, (t._length_,) + shape
        if issubclass(t, m._Pointer):
            f = t.__dict__.get("_b_format_", "&B")
            return f, proc.sizeof("P"), ()
        if issubclass(t, m._CFuncPtr):
            return "X{}", proc.sizeof("P"), ()
        if isinstance(t, m._StructMeta):
            return _struct_format(t), sizeof(t), ()
        return "B", 1, ()

    def _struct_format(t):
        if t in m._ABSTRACT_STRUCTS or "_b_specs_" not in t.__dict__:
            return "B"  # incomplete
        if getattr(t, "_union", False) or t.__dict__.get("_pack_") or any(len(f) == 3 for f in t._b_specs_):
            return "B"
        parts = []
        for name, typ in t._b_specs_:
            typ = m._swapped_type(typ) if getattr(t, "_swapped", False) else typ
            f, _, shape = _buffer_format(typ)
            if isinstance(typ, m._ArrayMeta):
                parts.append("(%s)%s:%s:" % (",".join(map(str, shape)), f, name))
            else:
                parts.append("%s:%s:" % (f, name))
        return "T{" + "".join(parts) + "}"

    # What objects keep alive (ctypes' `_objects`) is kept in Rust: `obj._b_keep(index, keep,
    # extra)` is ctypes' KeepRef, `obj._b_kept()` its GetKeepedObjects and `obj._b_container()`
    # its PyCData_GetContainer (see `keep.rs`). Whether an instance keeps objects is its type's
    # `_b_length_`: an array's length, a structure's number of fields, 1 for pointers.

    class _CData(_core.CDataInit, metaclass=_CDataMeta):
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
        # How many objects an instance keeps (see above): none for simple types.
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
            if m._is_abstract(cls):
                raise TypeError("abstract class")
            if isinstance(cls, m._StructMeta):
                # Its first instance makes a structure type final: its size is known now.
                type.__setattr__(cls, "_final_", True)
            m._sizeof(cls)
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
            if isinstance(obj, m._CArg) and isinstance(obj._obj, cls):
                return obj
            if hasattr(obj, "_as_parameter_") and not isinstance(type(obj), _CDataMeta):
                return cls.from_param(obj._as_parameter_)
            raise TypeError("expected %s instance instead of %s" % (cls.__name__, type(obj).__name__))

        # How a call passes this object: its address, unless a subclass says otherwise.
        def _as_arg(self):
            return ("P", self._b_addr)

    # byref, sizeof, addressof and pointer are in Rust (`_core.Functions`); sizeof asks the
    # Python layer (`_memory._sizeof`) only about the types whose size is not final yet.
    _functions = _core.Functions(_CData, proc, backend, lambda obj: m._sizeof(obj))
    byref, sizeof, addressof = _functions.byref, _functions.sizeof, _functions.addressof

    m.add(locals())
