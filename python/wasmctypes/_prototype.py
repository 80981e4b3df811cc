"""The library's own C prototypes, as the Python side uses them: `PrototypeWarning`, the
type descriptions a binding is checked with, and functions declared from the C.

`$WASMCTYPES_STRICT=1` (what `run --strict` sets) makes a disagreement an error: the
PrototypeWarning is raised. `$WASMCTYPES_CHECK_PROTOTYPES=0` leaves bindings unchecked."""

import os


class PrototypeWarning(UserWarning):
    """A binding that disagrees with the C it calls: an `argtypes`, `restype` or
    `_fields_` that the library's own prototypes (read from the debug information its build
    kept) say is wrong. The message names the function, the parameter, the C type and the
    ctypes type. `python -m wasmctypes run --strict` makes it an error."""


def define(m):
    _SimpleCData, _Pointer, Array, _StructBase = m._SimpleCData, m._Pointer, m.Array, m._StructBase
    _desc = m._desc

    def _check_desc(t, depth=0):
        """How the core checks type `t` (see `_core.Library.check`); `...` for a type it
        does not check."""
        if t is None:
            return "void"
        if depth > 16:
            return ...
        if not isinstance(t, type):
            return "i" if callable(t) else ...
        try:
            if issubclass(t, _SimpleCData):
                return ... if t._type_ == "O" else t._type_
            if issubclass(t, _Pointer):
                return ("*", _check_desc(t._type_, depth + 1))
            if issubclass(t, Array):
                return ("A", _check_desc(t._type_, depth + 1), t._length_)
            if issubclass(t, _StructBase):
                return _desc(t)
            if issubclass(t, m._CFuncPtr):
                argtypes = [_check_desc(a, depth + 1) for a in (t._argtypes_ or ())]
                return ("F", _check_desc(t._restype_, depth + 1), argtypes)
        except (AttributeError, TypeError, ValueError):
            return ...
        return ...

    def _check_prototype(f, warn):
        """Warns once for each place where `f`'s argtypes and restype disagree with its C
        prototype (raises the first under `$WASMCTYPES_STRICT=1`)."""
        if os.environ.get("WASMCTYPES_CHECK_PROTOTYPES") == "0":
            return
        try:
            argtypes = None if f._argtypes is None else [_check_desc(t) for t in f._argtypes]
            restype = _check_desc(f._restype) if f._restype_set else None
            found = f._dll._lib.check(f._name, argtypes, restype)
        except (OSError, ValueError) as e:
            found = [("unreadable", "%s: the library's prototypes cannot be read: %s" % (f._name, e))]
        strict = os.environ.get("WASMCTYPES_STRICT") == "1"
        for _kind, message in found:
            if strict:
                raise PrototypeWarning(message)
            warn(PrototypeWarning(message))

    def _declare_from_prototype(f):
        """Sets `f`'s argtypes and restype from its C prototype, when there is one that
        ctypes can declare."""
        found = f._dll._lib.prototype(f._name)
        if not found or not found[1]:
            return
        argnames, retname = found[1]
        f.argtypes = [getattr(m, n) for n in argnames]
        f.restype = None if retname == "None" else getattr(m, retname)

    m.add(locals())
