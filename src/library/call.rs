//! The general call path, as CPython's `callproc.c`: every argument converted by ctypes'
//! rules (temporaries copied into the library's memory), the prototype prepared or inferred,
//! errno swapped, the call, and the result converted.

use std::mem::MaybeUninit;

use super::convert::{convert_arg, convert_result};
use super::fast_path::assume_init;
use super::function::{passing, Function};
use super::inner::{LibInner, SCRATCH};

use crate::backend::{Backend, Passing, ProtoId, MAX_ARGS};
use crate::error::{Error, Result};
use crate::types::{CType, Repr, Type};
use crate::value::{int_from_bits, promote, Boxed, FuncPtr, Pointer, StructValue, Value};

/// A call's converted arguments: raw slots, their representations, and temporaries to free.
/// Only the entries in use are written: filling the arrays up front (about 600 bytes) cost
/// a quarter of a general call's own time.
pub(super) struct Converted {
    /// `slots[..len]` and `reprs[..len]` are written.
    pub(super) slots: [MaybeUninit<u64>; MAX_ARGS],
    pub(super) reprs: [MaybeUninit<Repr>; MAX_ARGS],
    pub(super) len: usize,
    /// `temps[..ntemps]` are written.
    pub(super) temps: [MaybeUninit<u64>; MAX_ARGS + 1],
    pub(super) ntemps: usize,
    /// Bytes of the library's scratch block this call has used.
    pub(super) scratch_used: usize,
    /// Whether this call may use the scratch block: not while another call, in flight on
    /// this thread (C called back, and the callback calls), keeps its temporaries there.
    pub(super) scratch: bool,
}

impl Converted {
    pub(super) fn new() -> Converted {
        Converted {
            slots: [MaybeUninit::uninit(); MAX_ARGS],
            reprs: [MaybeUninit::uninit(); MAX_ARGS],
            len: 0,
            temps: [MaybeUninit::uninit(); MAX_ARGS + 1],
            ntemps: 0,
            scratch_used: 0,
            scratch: false,
        }
    }

    /// Claims the library's scratch block for this call, if no call in flight has it; see
    /// [`Converted::release_scratch`].
    pub(super) fn claim_scratch(&mut self, lib: &LibInner) {
        self.scratch = !lib.scratch_busy.replace(true);
    }

    /// Gives the scratch block back, if this call had it.
    pub(super) fn release_scratch(&mut self, lib: &LibInner) {
        if self.scratch {
            lib.scratch_busy.set(false);
            self.scratch = false;
        }
    }

    /// Appends the next argument. At most [`MAX_ARGS`] (checked by the caller).
    pub(super) fn push(&mut self, repr: Repr, bits: u64) {
        self.slots[self.len].write(bits);
        self.reprs[self.len].write(repr);
        self.len += 1;
    }

    pub(super) fn slots(&self) -> &[u64] {
        // SAFETY: `push` wrote `slots[..len]`.
        unsafe { assume_init(&self.slots[..self.len]) }
    }

    pub(super) fn reprs(&self) -> &[Repr] {
        // SAFETY: `push` wrote `reprs[..len]`.
        unsafe { assume_init(&self.reprs[..self.len]) }
    }

    /// Records a block to free after the call: one per argument at most, plus the result.
    pub(super) fn add_temp(&mut self, addr: u64) {
        self.temps[self.ntemps].write(addr);
        self.ntemps += 1;
    }

    pub(super) fn temps(&self) -> &[u64] {
        // SAFETY: `add_temp` wrote `temps[..ntemps]`.
        unsafe { assume_init(&self.temps[..self.ntemps]) }
    }
}

impl Function {
    /// Calls the function: ctypes' `f(*args)`.
    ///
    /// Each argument is converted to its declared type (or inferred, without argtypes); bytes
    /// and str are copied into the library's memory for the duration of the call, and so is a
    /// structure passed by value. The result is converted from the restype: `c_char_p` reads
    /// the string, `c_void_p` gives the address (None for NULL), `POINTER(T)` a
    /// [`Value::Pointer`], a structure a [`Value::Struct`] copied out, integers are masked.
    #[inline(always)]
    pub fn call(&self, args: &[Value]) -> Result<Value> {
        if let Some(s) = self.scalar.get() {
            if let Some(outcome) = self.lib.call_values(s, args, self.detach) {
                return outcome;
            }
        }
        // The general path writes its result through a pointer rather than into this
        // function's return slot. Returned directly, it would make the (inlined) return slot
        // a memory location that escapes, so the fast path's `Value` would be stored there
        // field by field and then copied out with 16-byte loads: a store-forwarding stall
        // that cost about 8 ns per call (`void f(void)` natively: 20 ns with it, 12 without).
        //
        // The read is volatile so that it stays on this path. A plain read can be hoisted
        // above the branch: the fast path's `Value` leaves bytes undefined (an `Int` has no
        // use for the bytes of a `Bytes`), and the compiler then fills them from `out`, whose
        // stack slot may hold narrower stores just made (a 16-byte load of two 8-byte stores,
        // a stall: 1.5 ns of a native `void f(void)` called in a loop, perf on that loop).
        let mut out = MaybeUninit::uninit();
        self.call_general_into(args, &mut out);
        // SAFETY: `call_general_into` always writes `out`; the read is of a local, aligned.
        unsafe { std::ptr::read_volatile(&out).assume_init() }
    }

    /// [`Function::call_general`] written into `out` (see [`Function::call`] for why). The
    /// general path is inlined here so that its results are written into `out` directly: a
    /// copy of a returned `Result<Value>` reads it back in 16-byte pieces just after it was
    /// written in 8-byte ones, another store-forwarding stall (about 5 ns per `strlen` call).
    #[inline(never)]
    pub(super) fn call_general_into(&self, args: &[Value], out: &mut MaybeUninit<Result<Value>>) {
        if let Some(s) = self.scalar.get().filter(|s| s.copies) {
            // Each outcome is written where it is made, not merged into one `Result` first.
            match self.call_scalar_copying(s, args) {
                Some(Ok(raw)) => {
                    out.write(Ok(s.ret.value(raw)));
                    return;
                }
                Some(Err(e)) => {
                    out.write(Err(*e));
                    return;
                }
                None => {}
            }
        }
        out.write(self.call_general(args));
    }

    /// Every call the scalar fast path does not take: inferred prototypes, pointers, strings,
    /// structures, variadic arguments, errno, and arguments that need ctypes' conversions or
    /// are rejected by them. Inlined into [`Function::call_general_into`], its one caller,
    /// which is out of line so that the fast path stays small.
    #[inline(always)]
    pub(super) fn call_general(&self, args: &[Value]) -> Result<Value> {
        let lib = &*self.lib;
        let declared = self.argtypes.as_deref().unwrap_or(&[]);
        if self.argtypes.is_some() && args.len() < declared.len() {
            // ctypes raises a plain TypeError for a count that does not match.
            return Err(Error::TypeError(format!(
                "this function takes at least {} argument{} ({} given)",
                declared.len(),
                if declared.len() == 1 { "" } else { "s" },
                args.len()
            )));
        }
        if args.len() > MAX_ARGS {
            return Err(Error::TypeError(format!(
                "too many arguments ({} given, at most {MAX_ARGS})",
                args.len()
            )));
        }
        let mut cv = Converted::new();
        cv.claim_scratch(lib);
        let result = self.call_converted(args, declared, &mut cv);
        cv.release_scratch(lib);
        if !cv.temps().is_empty() {
            if let Ok(mut b) = lib.backend() {
                for &t in cv.temps() {
                    let _ = b.free(t);
                }
            }
        }
        result
    }

    pub(super) fn call_converted(
        &self,
        args: &[Value],
        declared: &[Type],
        cv: &mut Converted,
    ) -> Result<Value> {
        let (proto, ret_addr) = self.convert_call(args, declared, cv)?;
        let raw = self
            .lib
            .run_call(proto, cv.slots(), ret_addr, self.use_errno, self.detach)?;
        let m = self.lib.model;
        let mut backend = self.lib.backend()?;
        let b: &mut dyn Backend = &mut **backend;
        match &self.restype {
            Type::Simple(CType::LongDouble) => convert_result(b, m, CType::LongDouble, ret_addr),
            Type::Simple(t) => convert_result(b, m, *t, raw),
            Type::Pointer(_) => Ok(Value::Pointer(Pointer {
                lib: self.lib.id,
                addr: int_from_bits(raw, m.repr(CType::VoidP)) as u64,
            })),
            Type::Struct(s) => {
                let mut bytes = crate::error::zeroed(s.layout(m).size)?;
                b.read(ret_addr, &mut bytes)?;
                Ok(Value::Struct(StructValue::from_bytes(s, m, &bytes)?))
            }
            Type::Function(proto) => Ok(Value::Function(Boxed::new(FuncPtr {
                proto: proto.clone(),
                ptr: Pointer {
                    lib: self.lib.id,
                    addr: int_from_bits(raw, m.repr(CType::VoidP)) as u64,
                },
            }))),
            Type::Array(..) => Err(Error::TypeError("a function cannot return an array".into())),
        }
    }

    /// The arguments converted into `cv` (temporaries copied into the library's memory), the
    /// prototype prepared or inferred, and room for a structure or long double result: what
    /// the call itself needs, with the backend lent only meanwhile.
    fn convert_call(
        &self,
        args: &[Value],
        declared: &[Type],
        cv: &mut Converted,
    ) -> Result<(ProtoId, u64)> {
        let mut backend = self.lib.backend()?;
        let b: &mut dyn Backend = &mut **backend;
        let n = args.len();
        let m = self.lib.model;
        let variadic_from = self.argtypes.as_ref().map(Vec::len);
        for (i, v) in args.iter().enumerate() {
            let (mut repr, mut bits) = convert_arg(b, &self.lib, i + 1, declared.get(i), v, cv)?;
            if variadic_from.is_some_and(|f| i >= f) {
                (repr, bits) = promote(repr, bits);
            }
            cv.push(repr, bits);
        }
        let proto = match &self.argtypes {
            Some(types) if n == types.len() => self.declared_proto(b, types)?,
            _ => {
                let fixed = self.argtypes.as_ref().map(|d| d.len());
                let mut cache = self.inferred.borrow_mut();
                match &*cache {
                    Some((reprs, p)) if reprs[..] == *cv.reprs() => *p,
                    _ => {
                        let args: Vec<Passing> = (0..n)
                            .map(|i| match declared.get(i) {
                                Some(t) => passing(t, m),
                                None => Passing::Scalar(cv.reprs()[i]),
                            })
                            .collect();
                        let p = b.prepare(
                            self.module,
                            self.callee(),
                            &args,
                            &passing(&self.restype, m),
                            fixed,
                        )?;
                        *cache = Some((cv.reprs().to_vec(), p));
                        p
                    }
                }
            }
        };
        let ret_addr = match &self.restype {
            Type::Struct(s) => {
                // Room for the result; libffi may store whole registers, so at least 16 bytes.
                let size = s.layout(m).size.max(16);
                let addr = b.malloc(size)?;
                cv.add_temp(addr);
                addr
            }
            // Room for a long double result, in the scratch block (no malloc per call).
            Type::Simple(CType::LongDouble) => temporary(b, &self.lib, &[0; 16], 0, cv)?,
            _ => 0,
        };
        Ok((proto, ret_addr))
    }
}
pub(super) fn wrong_type(position: usize, expected: CType, got: &Value) -> Error {
    Error::arg(position, Error::wrong_type(expected, got.py_type()))
}

/// Copies `data` and then `nul` zero bytes into the library's memory for the duration of a
/// call: into the library's scratch block while it has room (16-byte aligned), otherwise into
/// a block of its own that is freed after the call. As with ctypes' temporaries, C must not
/// keep the pointer past the call.
pub(super) fn temporary(
    b: &mut dyn Backend,
    lib: &LibInner,
    data: &[u8],
    nul: usize,
    cv: &mut Converted,
) -> Result<u64> {
    let size = data.len() + nul;
    let start = cv.scratch_used.next_multiple_of(16);
    let addr = if cv.scratch && start + size <= SCRATCH {
        let base = match lib.scratch.get() {
            0 => {
                let base = b.malloc(SCRATCH)?;
                lib.scratch.set(base);
                base
            }
            base => base,
        };
        cv.scratch_used = start + size;
        base + start as u64
    } else {
        let addr = b.malloc(size)?;
        cv.add_temp(addr);
        addr
    };
    b.write_terminated(addr, data, nul)?;
    Ok(addr)
}
