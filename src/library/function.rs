//! `Function`: a function of a library with its prototype, ctypes' `_FuncPtr`.

use std::cell::RefCell;
use std::rc::Rc;

use super::fast_path::ScalarCall;
use super::inner::LibInner;

use crate::backend::{AnyBackend, Backend, Callee, Passing, ProtoId};
use crate::error::{Error, Mismatch, Result};
use crate::library::typed::{check_signature, Params, Results, TypedFunction};
use crate::types::{CType, DataModel, Repr, Type};

/// A function of a library with its prototype: ctypes' `_FuncPtr`.
///
/// The prototype is prepared once, on the first call after argtypes or restype were set (a
/// libffi CIF natively, a resolved and type-checked export in wasm); later calls reuse it.
/// Without argtypes, the prototype is inferred from the arguments as ctypes does (int →
/// `c_int`, bytes → `c_char_p`, str → `c_wchar_p`, None → NULL) and prepared once per distinct
/// inferred signature. Arguments beyond the declared argtypes make the call variadic.
pub struct Function {
    pub(super) lib: Rc<LibInner>,
    /// The library (module of the sandbox) whose handle looked the name up.
    pub(super) module: usize,
    /// The file of that library (its debug information holds the C prototypes).
    pub(super) file: Rc<super::cdll::LibFile>,
    pub(super) name: String,
    /// A function pointer's address (see [`CDLL::function_at`](super::CDLL::function_at)),
    /// or `None` for the symbol `name`.
    pub(super) address: Option<u64>,
    pub(super) argtypes: Option<Vec<Type>>,
    pub(super) restype: Type,
    /// Whether `restype` was set (ctypes' default `c_int` otherwise).
    pub(super) restype_declared: bool,
    pub(super) proto: std::cell::Cell<Option<ProtoId>>,
    /// Set once the declared prototype is prepared, when it qualifies for the fast path.
    pub(super) scalar: std::cell::OnceCell<ScalarCall>,
    /// ctypes' `use_errno` for this function: errno is swapped with the sandbox's private
    /// copy around its calls (see [`Function::set_use_errno`]).
    pub(super) use_errno: bool,
    /// Whether the embedding's [`Detach`](super::Detach) hook runs around its calls (ctypes
    /// releases the GIL around a `CDLL`'s calls, not a `PyDLL`'s).
    pub(super) detach: bool,
    pub(super) inferred: RefCell<Option<(Vec<Repr>, ProtoId)>>,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<CFunction {} of {}>", self.name, self.lib.name)
    }
}

pub(super) fn passing(t: &Type, m: DataModel) -> Passing {
    match t {
        Type::Struct(s) => Passing::Struct(s.clone()),
        Type::Simple(CType::LongDouble) => Passing::Memory(m.repr(CType::LongDouble)),
        other => Passing::Scalar(other.call_repr(m).unwrap_or(Repr::Void)),
    }
}

/// The fundamental type of `t` if it is a number: any simple type but the pointers and void.
pub(super) fn number_type(t: &Type) -> Option<CType> {
    match t {
        Type::Simple(CType::CharP | CType::WCharP | CType::VoidP | CType::Void) => None,
        Type::Simple(c) => Some(*c),
        _ => None,
    }
}

impl Function {
    /// The symbol name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The declared argument types, if set.
    pub fn argtypes(&self) -> Option<&[Type]> {
        self.argtypes.as_deref()
    }

    /// The declared result type (`c_int` unless set).
    pub fn restype(&self) -> &Type {
        &self.restype
    }

    /// `f.argtypes = [...]`: declares the argument types (fundamental types, `POINTER(T)`,
    /// structures by value).
    pub fn set_argtypes<T: Into<Type> + Clone>(&mut self, types: &[T]) -> Result<&mut Self> {
        let types: Vec<Type> = types.iter().cloned().map(Into::into).collect();
        if let Some(i) = types.iter().position(|t| *t == Type::Simple(CType::Void)) {
            return Err(Error::TypeError(format!(
                "argtypes item {}: None/void is not an argument type",
                i + 1
            )));
        }
        self.argtypes = Some(types);
        self.invalidate();
        Ok(self)
    }

    /// `f.restype = t`: declares the result type (`CType::Void` for `None`).
    pub fn set_restype(&mut self, t: impl Into<Type>) -> Result<&mut Self> {
        let t = t.into();
        if let Type::Array(..) = t {
            return Err(Error::TypeError("a function cannot return an array".into()));
        }
        self.restype = t;
        self.restype_declared = true;
        self.invalidate();
        Ok(self)
    }

    /// This binding checked against the library's C prototype (see [`Prototypes::check`]):
    /// every place its argtypes or restype disagree with the C. Empty when they agree, and when
    /// the library has no debug information or no prototype for this function.
    ///
    /// [`Prototypes::check`]: crate::Prototypes::check
    pub fn prototype_mismatches(&self) -> Result<Vec<crate::PrototypeMismatch>> {
        if self.address.is_some() {
            return Ok(Vec::new());
        }
        let Some(protos) = self.file.prototypes()? else {
            return Ok(Vec::new());
        };
        let Some(proto) = protos.function(&self.name) else {
            return Ok(Vec::new());
        };
        let restype = self.restype_declared.then_some(&self.restype);
        Ok(protos.check(proto, self.argtypes.as_deref(), restype))
    }

    /// wasmtime's `Func::typed`, for C: checks the declared argtypes and restype against the
    /// Rust signature `fn(P) -> R` and prepares the prototype now. The types must be numbers
    /// (integers, `c_char`, `c_bool`, `c_float`, `c_double`) whose representation in this
    /// library's data model is the Rust type's: `c_int` is `i32`, `c_long` is `i32` in wasm
    /// and `i64` natively, `c_ubyte` is `u8`. Pointers and structures stay with [`call`].
    ///
    /// [`call`]: Function::call
    pub fn typed<P: Params, R: Results>(&self) -> Result<TypedFunction<P, R>> {
        let mismatch = |mismatch| Error::Signature {
            function: self.name.clone(),
            mismatch: Box::new(mismatch),
        };
        let types = self
            .argtypes
            .as_deref()
            .ok_or_else(|| mismatch(Mismatch::NoArgtypes))?;
        let number = |t: &Type, position: Option<usize>| match (t, number_type(t)) {
            (Type::Simple(CType::Void), _) if position.is_none() => Ok(CType::Void),
            (_, Some(c)) => Ok(c),
            (other, None) => Err(mismatch(Mismatch::NotANumber {
                position,
                declared: other.name(),
            })),
        };
        let mut args = Vec::with_capacity(types.len());
        for (i, t) in types.iter().enumerate() {
            args.push(number(t, Some(i + 1))?);
        }
        let ret = number(&self.restype, None)?;
        check_signature::<P, R>(&self.name, self.lib.model, &args, ret)?;
        let mut backend = self.lib.backend()?;
        let proto = self.declared_proto(&mut **backend, types)?;
        let (wasm, shim) = match &mut *backend {
            AnyBackend::Wasm(w) => (w.typed_func::<P::Wasm, R::Wasm>(proto), false),
            AnyBackend::Native(n) => (None, n.shim_fits(proto, P::FLOATS, P::COUNT)),
        };
        Ok(TypedFunction::new(
            self.lib.clone(),
            self.name.clone(),
            proto,
            wasm,
            shim,
        ))
    }

    /// How the declared prototype is called, once a call has prepared it: natively `libffi`
    /// or a register shim such as `shim(2 int, 1 float) -> float`, in wasm `call_unchecked`.
    /// `None` before the first call or without argtypes.
    pub fn call_path(&self) -> Option<String> {
        let p = self.proto.get()?;
        let b = self.lib.backend().ok()?;
        Some(b.describe_call(p))
    }

    /// What a call calls: the symbol, or the function pointer.
    pub(super) fn callee(&self) -> Callee<'_> {
        match self.address {
            Some(a) => Callee::Address(a),
            None => Callee::Symbol(&self.name),
        }
    }

    /// ctypes' `use_errno` (`CDLL(name, use_errno=True)`, `CFUNCTYPE(..., use_errno=True)`):
    /// whether errno is set from the private copy ([`CDLL::set_errno`](super::CDLL::set_errno))
    /// before each call and copied back after it. A function starts with its library's
    /// [`LoadOptions::use_errno`](crate::LoadOptions); turning it on where the library was
    /// loaded without it is a TypeError (there is no private copy). Off, calls cost no errno
    /// traffic, and the private copy stays as it was, as in ctypes.
    pub fn set_use_errno(&mut self, on: bool) -> Result<&mut Self> {
        if on && self.lib.errno.is_none() {
            return Err(Error::TypeError(
                "the library was not loaded with use_errno".into(),
            ));
        }
        self.use_errno = on;
        self.invalidate();
        Ok(self)
    }

    /// Whether errno is swapped around this function's calls ([`Function::set_use_errno`]).
    pub fn use_errno(&self) -> bool {
        self.use_errno
    }

    /// Whether the sandbox's [`Detach`](super::Detach) hook runs around this function's calls
    /// (the default): ctypes releases the GIL around every call of a `CDLL`'s function; a
    /// `PyDLL`'s (`pythonapi`) keep it, with `set_detach(false)`.
    pub fn set_detach(&mut self, on: bool) -> &mut Self {
        self.detach = on;
        self
    }

    /// Forgets the prepared prototypes; the next call prepares again, once.
    pub(super) fn invalidate(&mut self) {
        *self.inferred.get_mut() = None;
        self.proto.set(None);
        self.scalar = std::cell::OnceCell::new();
    }

    /// The prototype for exactly the declared argtypes, prepared on first use.
    pub(super) fn declared_proto(&self, b: &mut dyn Backend, types: &[Type]) -> Result<ProtoId> {
        if let Some(p) = self.proto.get() {
            return Ok(p);
        }
        let m = self.lib.model;
        let args: Vec<Passing> = types.iter().map(|t| passing(t, m)).collect();
        let p = b.prepare(
            self.module,
            self.callee(),
            &args,
            &passing(&self.restype, m),
            None,
        )?;
        self.proto.set(Some(p));
        if let Some(s) = self.scalar_call(p, types) {
            let _ = self.scalar.set(s);
        }
        Ok(p)
    }
}
