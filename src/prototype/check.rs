//! A binding checked against the C: a function's `argtypes` and `restype`, and the
//! `_fields_` of the structures they reach, compared with the library's own prototypes.
//!
//! Each disagreement is one [`PrototypeMismatch`], naming the function, the parameter, the C
//! type and the ctypes type. The rules are strict about what corrupts values and silent about
//! what is only a matter of spelling: `c_char_p` for `unsigned char *`, `c_void_p` for any
//! pointer, `c_int` for an enum, `c_size_t` for a pointer, `restype = None` for a function
//! whose result is ignored, and no restype on a function that returns a `size_t` or a `long`
//! (ctypes' `c_int` holds it below 2**31) are all correct bindings. A pointer, a float, a
//! structure or a `long long` result without a restype is reported.

use std::fmt;

use super::ctypes::{ctypes_scalar, CtypesScalar, Scalar, Width};
use super::{CNode, FunctionProto, Prototypes, StructInfo, TypeId, MAX_DEPTH};
use crate::types::{CType, StructType, Type};

/// What kind of disagreement a [`PrototypeMismatch`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MismatchKind {
    /// An integer or float of another width (here, or on the other data model: `c_uint` for
    /// `size_t` is 4 bytes where `size_t` is 8).
    Width,
    /// A signed integer where the C is unsigned, or the reverse.
    Signedness,
    /// An integer where the C has a pointer, or the reverse.
    PointerVsInteger,
    /// A float where the C has an integer, or the reverse.
    FloatVsInteger,
    /// No restype on a function whose result ctypes' default `c_int` cannot hold.
    MissingRestype,
    /// A structure of another size.
    StructSize,
    /// A structure member at another offset.
    MemberOffset,
    /// A structure with other members (their number, or a member's type).
    Member,
    /// A structure where the C has a scalar, or the reverse.
    StructVsScalar,
    /// argtypes with another number of parameters than the C.
    Arity,
    /// A variadic function called without argtypes for its fixed parameters.
    VariadicWithoutArgtypes,
}

impl MismatchKind {
    /// The stable name: `width`, `signedness`, `pointer_vs_integer`, ...
    pub fn name(self) -> &'static str {
        match self {
            MismatchKind::Width => "width",
            MismatchKind::Signedness => "signedness",
            MismatchKind::PointerVsInteger => "pointer_vs_integer",
            MismatchKind::FloatVsInteger => "float_vs_integer",
            MismatchKind::MissingRestype => "missing_restype",
            MismatchKind::StructSize => "struct_size",
            MismatchKind::MemberOffset => "member_offset",
            MismatchKind::Member => "member",
            MismatchKind::StructVsScalar => "struct_vs_scalar",
            MismatchKind::Arity => "arity",
            MismatchKind::VariadicWithoutArgtypes => "variadic_without_argtypes",
        }
    }
}

/// One place where a binding disagrees with the C.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrototypeMismatch {
    /// The function.
    pub function: String,
    /// The parameter (0-based), or `None` for the result or the function as a whole.
    pub parameter: Option<usize>,
    /// The parameter's name in the C, when it has one.
    pub parameter_name: Option<String>,
    /// The kind.
    pub kind: MismatchKind,
    /// The C type, as C spells it.
    pub c_type: String,
    /// The ctypes type, as ctypes names it (`c_int`, `LP_Point`, `None`).
    pub ctypes_type: String,
    /// What differs, in words.
    pub detail: String,
}

impl fmt::Display for PrototypeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match (self.kind, self.parameter) {
            (MismatchKind::MissingRestype, _) => "no restype (ctypes assumes c_int)".to_string(),
            (MismatchKind::Arity | MismatchKind::VariadicWithoutArgtypes, _) => {
                format!("argtypes {}", self.ctypes_type)
            }
            (_, Some(i)) => match &self.parameter_name {
                Some(name) => format!("argtypes[{i}] ({name}) is {}", self.ctypes_type),
                None => format!("argtypes[{i}] is {}", self.ctypes_type),
            },
            (_, None) => format!("restype is {}", self.ctypes_type),
        };
        let c = match (self.kind, self.parameter) {
            (MismatchKind::Arity | MismatchKind::VariadicWithoutArgtypes, _) => {
                format!("C declares {}", self.c_type)
            }
            (_, Some(_)) => format!("C declares `{}`", self.c_type),
            (_, None) => format!("C returns `{}`", self.c_type),
        };
        write!(
            f,
            "{}: {what}, but {c}: {} ({})",
            self.function,
            self.detail,
            self.kind.name()
        )
    }
}

/// A comparison against one library's prototypes (and its data model).
struct Cmp<'a> {
    protos: &'a Prototypes,
}

/// A disagreement before it is placed: its kind and words.
type Found = (MismatchKind, String);

impl Prototypes {
    /// Compares a binding of `f` with its C prototype: `argtypes` as set (`None` when unset),
    /// `restype` as set (`None` when unset: ctypes' default `c_int`; `CType::Void` for
    /// `restype = None`). Returns every disagreement, at most one per parameter.
    pub fn check(
        &self,
        f: &FunctionProto,
        argtypes: Option<&[Type]>,
        restype: Option<&Type>,
    ) -> Vec<PrototypeMismatch> {
        let cmp = Cmp { protos: self };
        let sig = &f.signature;
        let mut out = Vec::new();
        let decl = || self.declaration(f);
        let mismatch = |parameter: Option<usize>, (kind, detail): Found, c: String, t: String| {
            PrototypeMismatch {
                function: f.name.clone(),
                parameter,
                parameter_name: parameter
                    .and_then(|i| sig.params.get(i))
                    .and_then(|(n, _)| n.clone()),
                kind,
                c_type: c,
                ctypes_type: t,
                detail,
            }
        };
        match argtypes {
            None if sig.variadic => out.push(mismatch(
                None,
                (
                    MismatchKind::VariadicWithoutArgtypes,
                    format!(
                        "a variadic function needs argtypes for its {} fixed parameter{}",
                        sig.params.len(),
                        if sig.params.len() == 1 { "" } else { "s" }
                    ),
                ),
                format!("`{}`", decl()),
                "not set".into(),
            )),
            None => {}
            Some(types) if sig.prototyped || !sig.params.is_empty() => {
                let fixed = sig.params.len();
                let wrong_count = if sig.variadic {
                    types.len() < fixed
                } else {
                    types.len() != fixed
                };
                if wrong_count {
                    out.push(mismatch(
                        None,
                        (
                            MismatchKind::Arity,
                            format!(
                                "{} argtypes for {}{fixed} parameter{}",
                                types.len(),
                                if sig.variadic {
                                    "the fixed part's "
                                } else {
                                    ""
                                },
                                if fixed == 1 { "" } else { "s" }
                            ),
                        ),
                        format!("`{}`", decl()),
                        names(types),
                    ));
                }
                for (i, (t, (_, c))) in types.iter().zip(&sig.params).enumerate() {
                    if let Some(found) = cmp.value(*c, t, 0) {
                        out.push(mismatch(Some(i), found, self.type_name(*c), t.name()));
                    }
                }
            }
            Some(_) => {}
        }
        let ret = sig.ret;
        let returns_void = matches!(self.node(self.resolve(ret)), CNode::Void);
        match restype {
            _ if returns_void => {}
            Some(Type::Simple(CType::Void)) => {}
            Some(t) => {
                if let Some(found) = cmp.value(ret, t, 0) {
                    out.push(mismatch(None, found, self.type_name(ret), t.name()));
                }
            }
            // ctypes' default, `c_int`, holds a `size_t` or a `long` result while it is under
            // 2**31, as bindings of `strlen` and of size constants rely on: not reported.
            None if matches!(
                self.scalar(ret),
                Scalar::Int {
                    width: Width::PointerSized | Width::Unknown,
                    ..
                }
            ) => {}
            None => {
                // ctypes' default: what an `int` cannot hold is lost.
                let default = Type::Simple(CType::Int);
                if let Some((kind, detail)) = cmp.value(ret, &default, 0) {
                    if kind != MismatchKind::Signedness {
                        out.push(mismatch(
                            None,
                            (
                                MismatchKind::MissingRestype,
                                format!("set restype ({detail})"),
                            ),
                            self.type_name(ret),
                            "c_int".into(),
                        ));
                    }
                }
            }
        }
        out
    }

    /// Compares a structure's `_fields_` with the C structure or union `id`: the first
    /// disagreement, if any.
    pub fn check_struct(&self, id: TypeId, st: &StructType) -> Option<(MismatchKind, String)> {
        let cmp = Cmp { protos: self };
        match self.node(self.resolve(id)) {
            CNode::Struct(s) => cmp.structure(s, st, 0),
            _ => Some((MismatchKind::StructVsScalar, "not a structure in C".into())),
        }
    }
}

fn names(types: &[Type]) -> String {
    let list: Vec<String> = types.iter().map(|t| t.name()).collect();
    format!("[{}]", list.join(", "))
}

fn int_words(size: u64, signed: bool) -> String {
    format!(
        "{} {size}-byte integer",
        if signed { "a signed" } else { "an unsigned" }
    )
}

impl Cmp<'_> {
    /// Compares a value of C type `c` (a parameter, a result or a member) with ctypes type `t`.
    fn value(&self, c: TypeId, t: &Type, depth: u32) -> Option<Found> {
        if depth > MAX_DEPTH {
            return None;
        }
        let ct = ctypes_scalar(t, self.protos.model);
        let ptr = self.protos.model.pointer_size() as u64;
        match (self.protos.scalar(c), ct) {
            (Scalar::Unknown, _) | (Scalar::Void, _) | (_, CtypesScalar::Void) => None,
            (
                Scalar::Int {
                    size,
                    signed,
                    lenient,
                    width,
                },
                CtypesScalar::Int {
                    size: tsize,
                    signed: tsigned,
                    width: twidth,
                },
            ) => {
                if size != tsize {
                    return Some((
                        MismatchKind::Width,
                        format!("{} in C, {tsize} bytes in ctypes", int_words(size, signed)),
                    ));
                }
                let portable = [width, twidth].contains(&Width::Unknown) || width == twidth;
                if !portable {
                    let (pointer_sized, fixed) = if width == Width::PointerSized {
                        ("the C type", "the ctypes type")
                    } else {
                        ("the ctypes type", "the C type")
                    };
                    return Some((
                        MismatchKind::Width,
                        format!(
                            "{pointer_sized} is as wide as a pointer (4 bytes on ILP32, 8 on \
                             LP64) and {fixed} is {size} bytes everywhere"
                        ),
                    ));
                }
                if signed != tsigned && !lenient && size > 1 {
                    return Some((
                        MismatchKind::Signedness,
                        format!(
                            "{} in C, {} in ctypes",
                            if signed { "signed" } else { "unsigned" },
                            if tsigned { "signed" } else { "unsigned" }
                        ),
                    ));
                }
                None
            }
            (Scalar::Int { size, .. }, CtypesScalar::Bool)
            | (Scalar::Bool, CtypesScalar::Int { size, .. }) => (size != 1).then(|| {
                (
                    MismatchKind::Width,
                    format!("{size} bytes against a 1-byte _Bool"),
                )
            }),
            (Scalar::Bool, CtypesScalar::Bool) => None,
            (Scalar::Float(a), CtypesScalar::Float(b)) => (a != b).then(|| {
                (
                    MismatchKind::Width,
                    format!("a {a}-byte float in C, {b} bytes in ctypes"),
                )
            }),
            (Scalar::Int { .. } | Scalar::Bool, CtypesScalar::Float(_))
            | (Scalar::Float(_), CtypesScalar::Int { .. } | CtypesScalar::Bool) => Some((
                MismatchKind::FloatVsInteger,
                "a float and an integer travel in different registers".into(),
            )),
            (Scalar::Pointer(_), CtypesScalar::Int { width, size, .. }) => (width
                != Width::PointerSized
                && !(width == Width::Unknown && size == ptr))
                .then(|| {
                    (
                        MismatchKind::PointerVsInteger,
                        format!("a pointer in C, a {size}-byte integer in ctypes"),
                    )
                }),
            (Scalar::Int { width, size, .. }, CtypesScalar::Pointer) => (width
                != Width::PointerSized
                && !(width == Width::Unknown && size == ptr))
                .then(|| {
                    (
                        MismatchKind::PointerVsInteger,
                        format!("a {size}-byte integer in C, a pointer in ctypes"),
                    )
                }),
            (Scalar::Pointer(to), CtypesScalar::Pointer) => self.pointee(to, t, depth),
            (Scalar::Struct(id), CtypesScalar::Struct) => match (self.protos.node(id), t) {
                (CNode::Struct(s), Type::Struct(st)) => self.structure(s, st, depth + 1),
                _ => None,
            },
            (Scalar::Struct(_), _) => Some((
                MismatchKind::StructVsScalar,
                "a structure by value in C, not in ctypes".into(),
            )),
            (_, CtypesScalar::Struct) => Some((
                MismatchKind::StructVsScalar,
                "a structure by value in ctypes, not in C".into(),
            )),
            (Scalar::Bool | Scalar::Float(_), CtypesScalar::Pointer)
            | (Scalar::Pointer(_), CtypesScalar::Bool | CtypesScalar::Float(_)) => Some((
                MismatchKind::PointerVsInteger,
                "a pointer on one side only".into(),
            )),
        }
    }

    /// Compares what a C pointer points to with what a ctypes pointer type points to. Only
    /// `POINTER(T)`, arrays and `CFUNCTYPE` say: `c_void_p`, `c_char_p` and `c_wchar_p` are
    /// correct for any pointer.
    fn pointee(&self, to: TypeId, t: &Type, depth: u32) -> Option<Found> {
        let target = self.protos.resolve(to);
        let elem = match t {
            Type::Pointer(e) | Type::Array(e, _) => e,
            Type::Function(f) => {
                let CNode::Function(sig) = self.protos.node(target) else {
                    return None;
                };
                if !sig.prototyped || sig.variadic {
                    return None;
                }
                if sig.params.len() != f.argtypes.len() {
                    return Some((
                        MismatchKind::Arity,
                        format!(
                            "the function pointer takes {} parameters in C, {} in CFUNCTYPE",
                            sig.params.len(),
                            f.argtypes.len()
                        ),
                    ));
                }
                for (i, ((_, c), t)) in sig.params.iter().zip(&f.argtypes).enumerate() {
                    if let Some((kind, detail)) = self.value(*c, t, depth + 1) {
                        return Some((kind, format!("the callback's parameter {i}: {detail}")));
                    }
                }
                if f.restype == Type::Simple(CType::Void) {
                    return None;
                }
                return self
                    .value(sig.ret, &f.restype, depth + 1)
                    .map(|(kind, detail)| (kind, format!("the callback's result: {detail}")));
            }
            _ => return None,
        };
        let scalar = self.protos.scalar(target);
        let c_struct = matches!(scalar, Scalar::Struct(_));
        let t_struct = matches!(**elem, Type::Struct(_));
        match (scalar, &**elem) {
            (Scalar::Void | Scalar::Unknown, _) => None,
            // A byte view of anything is how bindings see opaque memory.
            (_, Type::Simple(CType::Char | CType::Byte | CType::UByte)) => None,
            // A structure seen as something else (or the reverse) is a view, not checked.
            _ if c_struct != t_struct => None,
            _ => self
                .value(target, elem, depth + 1)
                .map(|(kind, detail)| (kind, format!("what it points to: {detail}"))),
        }
    }

    /// Compares a C structure with a ctypes structure: the first disagreement.
    fn structure(&self, s: &StructInfo, st: &StructType, depth: u32) -> Option<Found> {
        let size = s.size?;
        if depth > MAX_DEPTH {
            return None;
        }
        let layout = st.layout(self.protos.model);
        let cname = format!(
            "{} {}",
            if s.union { "union" } else { "struct" },
            s.name.as_deref().unwrap_or("<anonymous>")
        );
        // C has no member for an unnamed bitfield (padding); a binding may name it.
        let fields: Vec<usize> = (0..st.fields().len())
            .filter(|&i| {
                let f = &layout.fields[i];
                match f.bitfield {
                    Some((_, 0)) => false,
                    Some((bit, _)) if st.fields().len() > s.members.len() => {
                        let start = f.offset as u64 * 8 + u64::from(bit);
                        s.members
                            .iter()
                            .any(|m| m.bits.map(|(_, b)| b) == Some(start))
                    }
                    _ => true,
                }
            })
            .collect();
        if fields.len() != s.members.len() {
            return Some((
                MismatchKind::Member,
                format!(
                    "{cname} has {} members, _fields_ of {} has {}",
                    s.members.len(),
                    st.name(),
                    fields.len()
                ),
            ));
        }
        for (&i, m) in fields.iter().zip(&s.members) {
            let field = &st.fields()[i];
            let at = &layout.fields[i];
            let mname = m.name.as_deref().unwrap_or("<anonymous>");
            match (m.bits, at.bitfield, field.bits) {
                (Some((width, start)), Some((bit, _)), Some(twidth)) => {
                    let tstart = at.offset as u64 * 8 + u64::from(bit);
                    if start != tstart || width != twidth {
                        return Some((
                            MismatchKind::MemberOffset,
                            format!(
                                "bitfield {mname} of {cname} is bits {start}..{} in C, \
                                 {tstart}..{} in _fields_ ({})",
                                start + u64::from(width),
                                tstart + u64::from(twidth),
                                field.name
                            ),
                        ));
                    }
                    continue;
                }
                (Some(_), _, _) | (None, _, Some(_)) => {
                    return Some((
                        MismatchKind::Member,
                        format!(
                            "member {mname} of {cname} is {}a bitfield, {} in _fields_ is {}",
                            if m.bits.is_some() { "" } else { "not " },
                            field.name,
                            if field.bits.is_some() { "one" } else { "not" }
                        ),
                    ))
                }
                _ => {}
            }
            if m.offset != at.offset as u64 {
                return Some((
                    MismatchKind::MemberOffset,
                    format!(
                        "member {mname} of {cname} is at offset {} in C, {} in _fields_ ({})",
                        m.offset, at.offset, field.name
                    ),
                ));
            }
            if let Some((_, detail)) = self.member(m.ty, &field.ty, depth) {
                return Some((
                    MismatchKind::Member,
                    format!(
                        "member {mname} of {cname} is `{}`, {} in _fields_ is {}: {detail}",
                        self.protos.type_name(m.ty),
                        field.name,
                        field.ty.name()
                    ),
                ));
            }
        }
        let tsize = layout.size as u64;
        (size != tsize).then(|| {
            (
                MismatchKind::StructSize,
                format!("{cname} is {size} bytes, {} is {tsize}", st.name()),
            )
        })
    }

    /// Compares a member's C type with its ctypes type: arrays by count and element, the rest
    /// as values.
    fn member(&self, c: TypeId, t: &Type, depth: u32) -> Option<Found> {
        let resolved = self.protos.resolve(c);
        match (self.protos.node(resolved), t) {
            (CNode::Array { elem, count }, Type::Array(te, n)) => {
                if let Some(count) = count {
                    if *count != *n as u64 && *count != 0 {
                        return Some((
                            MismatchKind::Member,
                            format!("{count} elements in C, {n} in ctypes"),
                        ));
                    }
                }
                self.member(*elem, te, depth + 1)
            }
            (CNode::Array { .. }, _) | (_, Type::Array(..)) => {
                let csize = self.protos.size_of(c);
                let tsize = t.sizeof(self.protos.model) as u64;
                (csize.is_some_and(|s| s != tsize)).then(|| {
                    (
                        MismatchKind::Width,
                        format!("{} bytes in C, {tsize} in ctypes", csize.unwrap_or(0)),
                    )
                })
            }
            _ => self.value(c, t, depth + 1),
        }
    }
}
