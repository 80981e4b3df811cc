//! clang's wasm32 C ABI: how each C argument and result of a prototype becomes wasm
//! parameters and a wasm result (structures by value, `sret`, variadic buffers).

use wasmtime::Func;

use super::{func_signature, slots_signature, Slot, WasmLibrary, SCALAR_SLOTS};
use crate::backend::{Callee, Passing, ProtoId};
use crate::error::{Error, Result};
use crate::types::Repr;

/// Where a wasm parameter's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ArgPlan {
    /// Argument `index`'s raw slot, as this wasm type.
    Slot(usize, Slot),
    /// Argument `index` is a single-scalar structure: load `size` bytes from the address in
    /// its slot and pass them as this wasm type.
    Load(usize, Slot, usize),
    /// Argument `index` is a `long double` (an IEEE quad, which clang's wasm32 ABI passes as
    /// two i64): half `half` (0 the low 8 bytes, 1 the high) of the 16 bytes at the address in
    /// its slot.
    Half(usize, usize),
    /// The hidden pointer to the result structure (`sret`), passed first.
    RetAddr,
    /// The pointer to the buffer of variadic arguments, passed last.
    VaBuffer,
}

/// What happens to the wasm result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RetPlan {
    /// No result.
    None,
    /// The raw result slot.
    Slot(Slot),
    /// A single-scalar structure returned as a scalar: store `size` bytes at `ret_addr`.
    Store(Slot, usize),
    /// A result the prototype ignores (restype None for a function that returns a value,
    /// as ctypes users write to discard it): received, then dropped.
    Discard(Slot),
}

/// How clang's wasm32 C ABI passes a structure: a structure whose only non-empty member is
/// one scalar (possibly nested, or an array of one) travels as that scalar; an empty one is
/// dropped; any other goes indirectly (an argument as a pointer to a caller-made copy, a
/// result through a hidden pointer passed first).
pub(super) enum StructAbi {
    Empty,
    Scalar(Slot, usize),
    Indirect,
}

/// `Some(Some(r))`: the type is, for the ABI, the single scalar `r`; `Some(None)`: empty;
/// `None`: an aggregate.
pub(super) fn single_scalar(t: &crate::types::Type) -> Option<Option<Repr>> {
    use crate::types::Type as T;
    let m = crate::types::DataModel::ILP32;
    match t {
        T::Simple(_) | T::Pointer(_) | T::Function(_) => Some(t.call_repr(m)),
        T::Array(elem, 1) => single_scalar(elem),
        T::Array(_, 0) => Some(None),
        T::Array(..) => None,
        T::Struct(s) => {
            let mut found = None;
            for f in s.fields() {
                if f.bits.is_some() {
                    return None;
                }
                match single_scalar(&f.ty)? {
                    None => continue,
                    Some(r) if found.is_none() => found = Some(r),
                    Some(_) => return None,
                }
            }
            match found {
                Some(r) if r.size() == t.sizeof(m) => Some(Some(r)),
                Some(_) => None,
                None if t.sizeof(m) == 0 => Some(None),
                None => None,
            }
        }
    }
}

pub(super) fn struct_abi(s: &std::rc::Rc<crate::types::StructType>) -> StructAbi {
    let t = crate::types::Type::Struct(s.clone());
    match single_scalar(&t) {
        Some(None) => StructAbi::Empty,
        Some(Some(r)) => match Slot::of_repr(r) {
            Some(slot) => StructAbi::Scalar(slot, r.size()),
            None => StructAbi::Indirect,
        },
        None => StructAbi::Indirect,
    }
}

impl WasmLibrary {
    /// See [`Backend::prepare`].
    pub(super) fn prepare_proto(
        &mut self,
        module: usize,
        callee: Callee<'_>,
        args: &[Passing],
        ret: &Passing,
        fixed: Option<usize>,
    ) -> Result<ProtoId> {
        let symbol = callee.to_string();
        let target = match callee {
            Callee::Symbol(name) => Target::Symbol(name.to_string()),
            Callee::Address(index) => Target::Address(index),
        };
        // A function its module lists as variadic is called as one, with the fixed
        // parameters the module says it has, whatever the declaration left out: the
        // arguments past them go in clang's buffer of variadic arguments (none: an empty
        // buffer), never where its address belongs.
        let (variadic, fixed) = match callee {
            Callee::Symbol(name) => match self.variadic_of(module, name) {
                Some(Some(f)) if args.len() < f as usize => {
                    return Err(Error::TypeError(format!(
                        "this function takes at least {f} argument{} ({} given): {symbol} is \
                         variadic, with {f} fixed",
                        if f == 1 { "" } else { "s" },
                        args.len()
                    )))
                }
                Some(Some(f)) => (Some(true), Some(f as usize)),
                Some(None) => (Some(false), fixed),
                None => (None, fixed),
            },
            // A callback of this sandbox is not variadic.
            Callee::Address(index) => (self.slot_ids.contains_key(&index).then_some(false), fixed),
        };
        let func = self.resolve_target(module, &target)?;
        let ty = func.ty(self.live.guest.cx()?);
        let actual: Vec<Slot> = ty
            .params()
            .map(|t| Slot::of_valtype(&t))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                Error::TypeError(format!(
                    "{symbol} has a wasm signature C cannot call: {}",
                    func_signature(&ty)
                ))
            })?;
        let results: Vec<Slot> = ty.results().filter_map(|t| Slot::of_valtype(&t)).collect();
        if results.len() > 1 {
            return Err(Error::TypeError(format!(
                "{symbol} returns several values in wasm: {}",
                func_signature(&ty)
            )));
        }
        // The wasm signature the C prototype lowers to, per clang's wasm32 ABI.
        let mut params = Vec::with_capacity(args.len() + 1);
        let mut result = match ret {
            Passing::Scalar(Repr::Void) => RetPlan::None,
            Passing::Scalar(r) => RetPlan::Slot(Slot::of_repr(*r).unwrap_or(Slot::I32)),
            Passing::Struct(s) => match struct_abi(s) {
                StructAbi::Empty => RetPlan::None,
                StructAbi::Scalar(slot, size) => RetPlan::Store(slot, size),
                StructAbi::Indirect => {
                    params.push(ArgPlan::RetAddr);
                    RetPlan::None
                }
            },
            // A long double result is returned through a hidden pointer, as a structure.
            Passing::Memory(_) => {
                params.push(ArgPlan::RetAddr);
                RetPlan::None
            }
        };
        let nfixed = fixed.unwrap_or(args.len()).min(args.len());
        for (i, a) in args[..nfixed].iter().enumerate() {
            match a {
                Passing::Scalar(r) => {
                    params.push(ArgPlan::Slot(i, Slot::of_repr(*r).unwrap_or(Slot::I32)))
                }
                Passing::Struct(s) => match struct_abi(s) {
                    StructAbi::Empty => {}
                    StructAbi::Scalar(slot, size) => params.push(ArgPlan::Load(i, slot, size)),
                    StructAbi::Indirect => params.push(ArgPlan::Slot(i, Slot::I32)),
                },
                Passing::Memory(_) => {
                    params.push(ArgPlan::Half(i, 0));
                    params.push(ArgPlan::Half(i, 1));
                }
            }
        }
        // clang's wasm32 varargs: each promoted argument at its own alignment in a buffer in
        // linear memory, whose address is passed as one last i32.
        let mut varargs = Vec::new();
        let mut va_size = 0usize;
        if fixed.is_some() {
            for (i, a) in args.iter().enumerate().skip(nfixed) {
                let Passing::Scalar(r) = a else {
                    return Err(Error::TypeError(
                        "a structure or long double cannot be a variadic argument".into(),
                    ));
                };
                let slot = Slot::of_repr(*r).unwrap_or(Slot::I32);
                let size = match slot {
                    Slot::I32 | Slot::F32 => 4,
                    Slot::I64 | Slot::F64 => 8,
                };
                va_size = va_size.div_ceil(size) * size;
                varargs.push((i, slot, va_size));
                va_size += size;
            }
            params.push(ArgPlan::VaBuffer);
        }
        let lowered: Vec<Slot> = params
            .iter()
            .map(|p| match p {
                ArgPlan::Slot(_, s) | ArgPlan::Load(_, s, _) => *s,
                ArgPlan::Half(..) => Slot::I64,
                ArgPlan::RetAddr | ArgPlan::VaBuffer => Slot::I32,
            })
            .collect();
        // A C function returning void called with ctypes' default restype, c_int (`qsort` in
        // the ctypes tutorial): natively the result is whatever the register held; here it
        // is 0, as ctypes users ignore it.
        if results.is_empty() && matches!(result, RetPlan::Slot(Slot::I32)) {
            result = RetPlan::None;
        }
        // The converse, restype None for a function that returns a value: natively the value
        // is left in its register; here it is received and dropped.
        if let (RetPlan::None, [r], Passing::Scalar(Repr::Void)) = (result, &results[..], ret) {
            result = RetPlan::Discard(*r);
        }
        let lowered_ret = match result {
            RetPlan::None => None,
            RetPlan::Slot(s) | RetPlan::Store(s, _) | RetPlan::Discard(s) => Some(s),
        };
        let sret = params.iter().any(|p| matches!(p, ArgPlan::RetAddr)) as usize;
        // Arguments past the declared ones, to a function known not to be variadic (its
        // module says so, or it is a callback), whose wasm signature is exactly the declared
        // parameters: as a C call of a
        // function with extra arguments, the function gets its own and the rest are not
        // passed (ctypes' `CFUNCTYPE(c_int, c_int, c_int)(f)(1, 2, 3)` is `f(1, 2)`).
        let mut lowered = lowered;
        if lowered != actual
            && variadic == Some(false)
            && params.last() == Some(&ArgPlan::VaBuffer)
            && lowered[..lowered.len() - 1] == actual[..]
        {
            params.pop();
            lowered.pop();
            varargs.clear();
            va_size = 0;
        }
        if lowered.len() != actual.len() && lowered_ret == results.first().copied() {
            let want = actual.len().saturating_sub(sret);
            return Err(Error::TypeError(format!(
                "this function takes {want} argument{} ({} given): {symbol} is {} in wasm",
                if want == 1 { "" } else { "s" },
                args.len(),
                func_signature(&ty)
            )));
        }
        if lowered != actual || lowered_ret != results.first().copied() {
            return Err(Error::TypeError(format!(
                "the prototype {} does not match {symbol}'s wasm signature {}{}",
                slots_signature(&lowered, lowered_ret),
                func_signature(&ty),
                if results.is_empty() && lowered_ret.is_some() {
                    " (set restype to None/void)"
                } else {
                    ""
                }
            )));
        }
        let scalar = va_size == 0
            && params.len() <= SCALAR_SLOTS
            && params
                .iter()
                .enumerate()
                .all(|(k, p)| matches!(p, ArgPlan::Slot(i, _) if *i == k))
            && !matches!(result, RetPlan::Store(..) | RetPlan::Discard(_));
        let proto = WasmProto {
            module,
            target,
            func,
            generation: self.generation,
            signature: func_signature(&ty),
            params,
            result,
            varargs,
            va_size,
            scalar,
        };
        // The same prototype prepared again (a function object made anew, a test runner's
        // next test) is the one kept: the prototypes stay as many as the distinct ones.
        let key = (module, proto.target.clone());
        let same = self.proto_index.get(&key).and_then(|ids| {
            ids.iter()
                .copied()
                .find(|&i| self.protos[i].same_plan(&proto))
        });
        if let Some(i) = same {
            // A function pointer's table entry may hold another function of the same type
            // now: the prototype calls what the entry holds, as a C call through it would.
            self.protos[i].func = func;
            self.protos[i].generation = self.generation;
            return Ok(ProtoId(i));
        }
        self.protos.push(proto);
        let id = self.protos.len() - 1;
        self.proto_index.entry(key).or_default().push(id);
        Ok(ProtoId(id))
    }

    /// What the module that defines the function `name` (as module `module` finds it) says
    /// of it (see [`super::sections`]): `Some(Some(fixed))` variadic with `fixed`
    /// parameters, `Some(None)` not variadic, `None` nothing.
    fn variadic_of(&mut self, module: usize, name: &str) -> Option<Option<u32>> {
        let owner = self.live.function_owner(module, name)?;
        let loaded = match owner.checked_sub(1) {
            None => &self.loaded,
            Some(side) => &self.sides.get(side)?.1,
        };
        Some(loaded.variadic.as_ref()?.get(name).copied())
    }

    /// The function `target` names in the current instance, as module `module` sees it.
    fn resolve_target(&mut self, module: usize, target: &Target) -> Result<Func> {
        match target {
            Target::Symbol(name) => {
                self.live
                    .function(module, name)
                    .ok_or_else(|| Error::AttributeError {
                        library: self.library_name(module),
                        symbol: name.to_string(),
                    })
            }
            Target::Address(index) => self.live.function_at(*index),
        }
    }

    /// Makes prototype `proto` call into the current instance: after a `reset()` its export
    /// is looked up again when it is next used, not at the reset (a test runner prepares
    /// thousands of prototypes and resets before each test). The export must still have the
    /// wasm signature the prototype was checked against, or the call is refused.
    pub(super) fn refresh(&mut self, proto: ProtoId) -> Result<()> {
        let p = self
            .protos
            .get(proto.0)
            .ok_or_else(|| Error::Runtime("unknown prototype".into()))?;
        if p.generation == self.generation {
            return Ok(());
        }
        let (module, target) = (p.module, p.target.clone());
        let func = self.resolve_target(module, &target)?;
        let signature = func_signature(&func.ty(self.live.guest.cx()?));
        let p = &mut self.protos[proto.0];
        if signature != p.signature {
            return Err(Error::TypeError(format!(
                "{target} is {signature} in wasm since the reset, not {}",
                p.signature
            )));
        }
        p.func = func;
        p.generation = self.generation;
        Ok(())
    }
}

/// What a prototype calls: a symbol, looked up in the scope of its module, or an entry of
/// the function table (a C function pointer).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Target {
    Symbol(String),
    Address(u64),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Symbol(name) => Callee::Symbol(name).fmt(f),
            Target::Address(a) => Callee::Address(*a).fmt(f),
        }
    }
}
/// A prepared call: the resolved export and its slot types.
pub(super) struct WasmProto {
    /// The module whose handle looked the symbol up.
    pub(super) module: usize,
    pub(super) target: Target,
    /// The export, valid while `generation` is the library's (see [`WasmLibrary::refresh`]).
    pub(super) func: Func,
    pub(super) generation: u64,
    /// The wasm signature of `func`, which the prototype was checked against.
    pub(super) signature: crate::backend::Signature,
    /// One entry per wasm parameter.
    pub(super) params: Vec<ArgPlan>,
    pub(super) result: RetPlan,
    /// Variadic arguments: (argument index, wasm type, offset in the buffer).
    pub(super) varargs: Vec<(usize, Slot, usize)>,
    /// Size of the variadic argument buffer.
    pub(super) va_size: usize,
    /// Every parameter is argument i's own slot and the result is a slot or nothing: the
    /// prototype can take [`Backend::call_scalar`]'s short path.
    pub(super) scalar: bool,
}

impl WasmProto {
    /// Whether `other`, prepared for the same module and target, calls it the same way.
    fn same_plan(&self, other: &WasmProto) -> bool {
        self.params == other.params
            && self.result == other.result
            && self.varargs == other.varargs
            && self.va_size == other.va_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{CType, Field, StructType, Type};

    fn abi(fields: Vec<Field>) -> StructAbi {
        struct_abi(&StructType::structure("S", fields))
    }

    /// clang's wasm32 C ABI for structures by value: one scalar member (however nested)
    /// travels as that scalar, an empty structure not at all, anything else indirectly.
    #[test]
    fn lowers_structures_as_clang_does() {
        let f = |name, t: Type| Field::new(name, t);
        assert!(matches!(
            abi(vec![f("d", CType::Double.into())]),
            StructAbi::Scalar(Slot::F64, 8)
        ));
        assert!(matches!(
            abi(vec![f("c", CType::Char.into())]),
            StructAbi::Scalar(Slot::I32, 1)
        ));
        assert!(matches!(
            abi(vec![f("x", CType::LongLong.into())]),
            StructAbi::Scalar(Slot::I64, 8)
        ));
        assert!(matches!(
            abi(vec![f("p", crate::types::POINTER(CType::Int))]),
            StructAbi::Scalar(Slot::I32, 4)
        ));
        let inner = StructType::structure("In", vec![f("v", CType::Float.into())]);
        assert!(matches!(
            abi(vec![
                f("inner", inner.into()),
                f("none", Type::array(CType::Int, 0))
            ]),
            StructAbi::Scalar(Slot::F32, 4)
        ));
        assert!(matches!(
            abi(vec![f("one", Type::array(CType::Short, 1))]),
            StructAbi::Scalar(Slot::I32, 2)
        ));
        assert!(matches!(abi(vec![]), StructAbi::Empty));
        assert!(matches!(
            abi(vec![f("e", Type::array(CType::Int, 0))]),
            StructAbi::Empty
        ));
        assert!(matches!(
            abi(vec![f("x", CType::Int.into()), f("y", CType::Int.into())]),
            StructAbi::Indirect
        ));
        assert!(matches!(
            abi(vec![f("two", Type::array(CType::Int, 2))]),
            StructAbi::Indirect
        ));
        // Packing that leaves the one scalar whole keeps it a scalar; a bitfield never is.
        let padded = StructType::packed("P", vec![f("c", CType::Char.into())], 1);
        assert!(matches!(
            struct_abi(&padded),
            StructAbi::Scalar(Slot::I32, 1)
        ));
        assert!(matches!(
            abi(vec![Field::bits("b", CType::Int, 3)]),
            StructAbi::Indirect
        ));
    }
}
