"""How a call's arguments are converted: the kind of each argtype and of each argument as
ctypes' `from_param` and `_as_parameter_` have it."""

from . import _core
from ._cdata import _POINTERLIKE


def define(m):
    """Defines how arguments convert in `m`, the namespace being made (see `_model`)."""
    sizeof = m.sizeof
    Array, _ABSTRACT_STRUCTS, _CArg, _CData = m.Array, m._ABSTRACT_STRUCTS, m._CArg, m._CData
    _CDataMeta, _Pointer, _SimpleCData = m._CDataMeta, m._Pointer, m._SimpleCData
    _StructBase, _lookup, _struct_base = m._StructBase, m._lookup, m._struct_base
    backend, c_char, c_char_p, c_wchar = m.backend, m.c_char, m.c_char_p, m.c_wchar
    c_wchar_p, proc, py_object = m.c_wchar_p, m.proc, m.py_object

    def _code(t):
        """The core's type code of an argtype or restype."""
        if t is None:
            return "void"
        if isinstance(t, type) and issubclass(t, _SimpleCData):
            return t._type_
        if isinstance(t, type) and issubclass(t, (_Pointer, Array, m._CFuncPtr)):
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
        if isinstance(a, _StructBase) and declared is None:
            return (_desc(type(a)), a._raw())  # by value
        if isinstance(a, _StructBase) and issubclass(declared, _StructBase):
            # By value with the declared layout, as ctypes passes an instance of a subclass:
            # the declared type's bytes from the start of the object.
            if type(a) is declared:
                return (_desc(declared), a._raw())
            return (_desc(declared), a._raw()[: sizeof(declared)])
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

    def _held_arg(a):
        """A function pointer, as the address it holds (`Func._learn` with "*")."""
        return ("&", a._address() or 0)

    def _struct_arg(a):
        """A structure by value (`Func._learn_struct`)."""
        return (_desc(type(a)), a._raw())

    def _plain(a):
        return a

    def _quick(d, t):
        """The conversion of an argument of type `t` to declared type `d` when ctypes' rules
        give the same answer for every value of `t`; None when they do not."""
        if not isinstance(d, _CDataMeta):
            return None
        if getattr(d.from_param, "__func__", None) not in m._OWN_FROM_PARAM:
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
        if issubclass(d, m._CFuncPtr) and issubclass(t, d) and "_as_parameter_" not in t.__dict__:
            return _held_arg if t._as_arg is m._CFuncPtr._as_arg else None
        if issubclass(d, _StructBase) and t is d and "_as_parameter_" not in t.__dict__:
            return _struct_arg if t._raw is _CData._raw else None
        if issubclass(t, Array) and t.__dict__.get("_type_") is not None:
            if issubclass(d, _Pointer) and d.__dict__.get("_type_") is not None and issubclass(t._type_, d._type_):
                return _address_arg
            if d.__dict__.get("_fundamental") and (
                d._type_ == "P" or (d._type_ == "z" and t._type_ is c_char) or (d._type_ == "Z" and t._type_ is c_wchar)
            ):
                return _address_arg
        return None

    def _byref_quick(d, t):
        """Whether `byref(x)` passes as x's address for declared type `d` for every instance x
        of type `t`, as ctypes' rules say: a pointer type's own from_param takes a cparam of
        its target type (of chars too, through c_char_p), c_void_p's any cparam."""
        if not isinstance(d, _CDataMeta) or getattr(d.from_param, "__func__", None) not in m._OWN_FROM_PARAM:
            return False
        if issubclass(d, _Pointer):
            target = d.__dict__.get("_type_")
            return isinstance(target, _CDataMeta) and target not in (c_char, c_wchar) and issubclass(t, target)
        return bool(d.__dict__.get("_fundamental")) and d._type_ == "P"

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
            return lambda v: m.wstring_at(v) if v else None
        if isinstance(t, type) and issubclass(t, _SimpleCData) and not t.__dict__.get("_fundamental"):
            def make(v):
                obj = t()
                obj.value = v
                return obj
            return make
        return None

    m.add(locals())
