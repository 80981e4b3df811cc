"""Function pointers: `_CFuncPtr` (calls, `argtypes`/`restype`/`errcheck`, `paramflags`),
callbacks made from Python callables, and `CFUNCTYPE`."""

import struct as _struct
import sys

from . import _core
from ._cdata import _POINTERLIKE


def _unraisable(exc, message, obj):
    """Reports `exc` as CPython reports an exception nothing can catch: through
    `sys.unraisablehook`, whose default prints `message: obj` and the traceback."""
    import types

    hook = sys.unraisablehook
    args = types.SimpleNamespace(
        exc_type=type(exc), exc_value=exc, exc_traceback=exc.__traceback__, err_msg=message, object=obj
    )
    if hook is not sys.__unraisablehook__:
        hook(args)
        return
    import traceback

    sys.stderr.write("%s: %r\n" % (message, obj))
    sys.stderr.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def _warn(warning):
    """Issues `warning` at the script's line: the first frame outside this package."""
    import os
    import warnings

    here = os.path.dirname(__file__)
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(here):
        frame, level = frame.f_back, level + 1
    warnings.warn(warning, stacklevel=level)


def define(m):
    """Defines function pointers (`_CFuncPtr`, `CFUNCTYPE`, `PYFUNCTYPE`) in `m`, the namespace
    being made (see `_model`)."""
    Array, _ABSTRACT, _CData, _CDataMeta = m.Array, m._ABSTRACT, m._CData, m._CDataMeta
    _Handle, _PLAIN, _Pointer, _SimpleCData = m._Handle, m._PLAIN, m._Pointer, m._SimpleCData
    _CArg, _StructBase, _address_arg, _arg = m._CArg, m._StructBase, m._address_arg, m._arg
    _byref_quick, _desc, _held_arg, _struct_arg = m._byref_quick, m._desc, m._held_arg, m._struct_arg
    _by_address_types, _by_value_codes = m._by_address_types, m._by_value_codes
    _callback_arg, _code, _convert = m._callback_arg, m._code, m._convert
    _lookup, _own_type, _quick, _quick_table = m._lookup, m._own_type, m._quick, m._quick_table
    _returned, _subclass_of_pointerlike = m._returned, m._subclass_of_pointerlike
    backend, byref, c_int, fmt, proc = m.backend, m.byref, m.c_int, m.fmt, m.proc
    py_object = m.py_object

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
        _restype_set = False  # whether the script set restype (checked against the C)

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
            elif isinstance(a, tuple) and len(a) == 2 and isinstance(a[1], m.CDLL):
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
            self._b_keep(0, thunk)

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
            self._restype_set = True
            self._unprepare()

        @restype.deleter
        def restype(self):
            self._restype = type(self)._restype_
            self._restype_set = False
            self._unprepare()

        @property
        def prototype(self):
            """The C declaration of this library function, from the library's debug
            information (`'size_t strlen(const char *s)'`), or None when it is not known."""
            if self._name is None or not self._dll._checked:
                return None
            found = self._dll._lib.prototype(self._name)
            return found[0] if found else None

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
            if self._name is not None and self._dll._checked:
                m._check_prototype(self, _warn)
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
                    and issubclass(t, (_Pointer, Array, _CFuncPtr, _StructBase))
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
                declared = self._argtypes or ()
                self._core._objects_only(
                    sum(1 << i for i, t in enumerate(declared) if not own(t)),
                    sum(1 << i for i, t in enumerate(declared) if issubclass(t, (_StructBase, _CFuncPtr))),
                )
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
                    elif f is _held_arg and self._fast:
                        self._core._learn(i, type(a), "*")
                    elif f is _struct_arg and self._fast:
                        self._core._learn_struct(i, type(a), _desc(type(a)))
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
                    elif self._fast and t is _CArg and a._tag == "P":
                        self._core._learn(i, type(a._obj), "&")
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
                    how = table[type(a)]
                    if how is _address_arg and self._fast:
                        self._core._learn(i, type(a))
                    elif how is _held_arg and self._fast:
                        self._core._learn(i, type(a), "*")
                    elif how is _struct_arg and self._fast:
                        self._core._learn_struct(i, type(a), _desc(type(a)))
                    elif self._fast and type(a) is _CArg and _byref_quick(d, type(a._obj)):
                        self._core._learn(i, type(a._obj), "&")
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
            """What passes for any C data of this type (None is refused, as in ctypes)."""
            return _CData.from_param.__func__(cls, obj)

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

    m.add(locals())
