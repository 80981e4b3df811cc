//! The scalar fast path of [`Function::call`]: a prototype whose arguments are numbers or
//! addresses and whose result is a number is planned once ([`ScalarCall`]), and each call
//! converts its arguments straight into the backend's own slots, with no temporaries.

use std::mem::MaybeUninit;

use super::call::{temporary, Converted};
use super::function::{number_type, Function};

use crate::backend::{wasm, Backend, ProtoId};
use crate::error::Error;
use crate::types::{CType, Repr, Type};
use crate::value::{LibId, Value};

/// The most arguments a call on the scalar fast path may have (see [`Function::call`]).
pub(super) const SCALAR_MAX: usize = 14;

/// A prepared prototype whose arguments are numbers or addresses and whose result is a number
/// (or void): calls of it need no structure copies and no reads of library memory, so they
/// take the backend's scalar call. Numbers, pointers, addresses and None are converted inline
/// straight into the backend's own slots ([`LibInner::call_values`]); bytes for a `c_char_p`
/// or `c_void_p` are copied into the library's scratch block first
/// ([`Function::call_scalar_copying`]).
#[derive(Clone)]
pub(super) struct ScalarCall {
    pub(super) proto: ProtoId,
    pub(super) n: usize,
    pub(super) args: [Num; SCALAR_MAX],
    /// Each argument's common case, precomputed from `args`.
    pub(super) plain: [Plain; SCALAR_MAX],
    pub(super) ret: Num,
    /// Some argument may be bytes, which are copied in.
    pub(super) copies: bool,
    /// In wasm, the export of the current instance, kept by the first call.
    pub(super) wasm: std::cell::Cell<Option<wasm::ScalarFunc>>,
}

/// A number's conversion between a Python value and a raw 64-bit slot, in 64-bit arithmetic:
/// the same bits as [`mask_int`] on the slot's low 64 bits, without i128 shifts per call.
#[derive(Clone, Copy)]
pub(super) enum Num {
    /// A signed integer: sign-extend from the low `64 - shift` bits.
    Signed(u8),
    /// An unsigned integer: keep the low `64 - shift` bits.
    Unsigned(u8),
    /// `c_bool`: any non-zero value is 1.
    Bool,
    F32,
    F64,
    /// An address (`POINTER(T)`, an array): None is NULL, an int is an address masked to the
    /// low `64 - shift` bits, a pointer must be into this library.
    Address(u8),
    /// An address that may also be given as bytes (`c_char_p`, `c_void_p`), which are copied
    /// in and their address passed.
    AddressOrBytes(u8),
    /// No result (and the filler of unused argument entries).
    Void,
}

impl Num {
    pub(super) fn of(r: Repr) -> Num {
        match r {
            Repr::Int(n) => Num::Signed(64 - 8 * n),
            Repr::UInt(n) => Num::Unsigned(64 - 8 * n),
            Repr::Bool => Num::Bool,
            Repr::F32 => Num::F32,
            Repr::F64 => Num::F64,
            // A long double never takes the fast path (see `scalar_call`).
            Repr::F80 | Repr::F128 | Repr::Void => Num::Void,
        }
    }

    /// The slot for `v` in a call into library `lib`, or `None` if `v` is not a plain number
    /// or address of this kind (bytes are copied by the caller, not here).
    #[inline(always)]
    pub(super) fn slot(self, v: &Value, lib: LibId) -> Option<u64> {
        Some(match (self, v) {
            (Num::F64, Value::Float(x)) => x.to_bits(),
            (Num::F32, Value::Float(x)) => (*x as f32).to_bits() as u64,
            (Num::Signed(shift), Value::Int(i)) => (((*i as u64) << shift) as i64 >> shift) as u64,
            (Num::Unsigned(shift), Value::Int(i)) => *i as u64 & (u64::MAX >> shift),
            (Num::Bool, Value::Int(i)) => (*i != 0) as u64,
            (Num::Address(_) | Num::AddressOrBytes(_), Value::Pointer(p)) if p.lib == lib => p.addr,
            (Num::Address(_) | Num::AddressOrBytes(_), Value::None) => 0,
            (Num::Address(shift) | Num::AddressOrBytes(shift), Value::Int(i)) => {
                *i as u64 & (u64::MAX >> shift)
            }
            _ => return None,
        })
    }

    /// The Python value of a raw result slot: what [`convert_result`] gives for this type.
    #[inline(always)]
    pub(super) fn value(self, raw: u64) -> Value {
        match self {
            Num::Signed(shift) => Value::Int(((raw << shift) as i64 >> shift) as i128),
            Num::Unsigned(shift) => Value::Int((raw & (u64::MAX >> shift)) as i128),
            Num::Bool => Value::Bool(raw as u8 != 0),
            Num::F32 => Value::Float(f32::from_bits(raw as u32) as f64),
            Num::F64 => Value::Float(f64::from_bits(raw)),
            // Not a result kind (see `scalar_call`); the address as an int.
            Num::Address(shift) | Num::AddressOrBytes(shift) => {
                Value::Int((raw & (u64::MAX >> shift)) as i128)
            }
            Num::Void => Value::None,
        }
    }
}

/// The common case of one argument's conversion, precomputed from its [`Num`] so that a call
/// tests flags instead of dispatching on the kind: an int for an integer type or an address,
/// a float for `c_float` or `c_double`. Every other value (a pointer, None, a bool for
/// `c_bool`, an int for a float type) takes [`Num::slot`], which gives the same bits for
/// these cases. The jump on the kind that each argument took before cost about 2 ns of a
/// six-argument call in wasm (34 against 32 ns) and about 4 ns of `add` natively (15.6 against
/// 11.1-11.5 ns): see benches/README.md.
#[derive(Clone, Copy)]
pub(super) struct Plain {
    /// An int converts: sign-extended from its low `64 - shift` bits, then masked by `mask`
    /// (all ones for a signed type, the low `64 - shift` bits for an unsigned one).
    int: bool,
    /// A float converts, to `f32` first if `f32`.
    float: bool,
    f32: bool,
    shift: u8,
    mask: u64,
}

impl Plain {
    const NONE: Plain = Plain {
        int: false,
        float: false,
        f32: false,
        shift: 0,
        mask: 0,
    };

    fn of(num: Num) -> Plain {
        let int = |shift: u8, mask: u64| Plain {
            int: true,
            shift,
            mask,
            ..Plain::NONE
        };
        match num {
            Num::Signed(shift) => int(shift, u64::MAX),
            Num::Unsigned(shift) | Num::Address(shift) | Num::AddressOrBytes(shift) => {
                int(shift, u64::MAX >> shift)
            }
            Num::F64 => Plain {
                float: true,
                ..Plain::NONE
            },
            Num::F32 => Plain {
                float: true,
                f32: true,
                ..Plain::NONE
            },
            Num::Bool | Num::Void => Plain::NONE,
        }
    }

    /// The slot for `v` if it is this kind's common case: [`Num::slot`]'s bits for it.
    #[inline(always)]
    fn slot(self, v: &Value) -> Option<u64> {
        if self.int {
            match v {
                Value::Int(i) => {
                    Some((((*i as u64) << self.shift) as i64 >> self.shift) as u64 & self.mask)
                }
                _ => None,
            }
        } else if self.float {
            match v {
                Value::Float(x) if self.f32 => Some((*x as f32).to_bits() as u64),
                Value::Float(x) => Some(x.to_bits()),
                _ => None,
            }
        } else {
            None
        }
    }
}

/// Converts the arguments of a call on the fast path into `slots[..args.len()]`, each slot
/// made by `wrap` from the bits; `None` when they are not plain numbers of the declared kinds,
/// and the general path must convert (or reject) them. `args.len() == s.n` is the caller's
/// check.
///
/// The first six positions are written out one by one rather than looped over: each then
/// tests its own flags, which the branch predictor learns per position, and the common case
/// runs straight through. In a loop, the same flag tests took as long as the jump on the kind.
/// Calls of more arguments take [`fill_general`].
#[inline(always)]
pub(super) fn fill_slots<T, const M: usize>(
    s: &ScalarCall,
    args: &[Value],
    lib: LibId,
    slots: &mut [MaybeUninit<T>; M],
    wrap: impl Fn(u64) -> T + Copy,
) -> Option<()> {
    const UNROLLED: usize = 6;
    if args.len() > UNROLLED {
        return fill_general(s, args, lib, slots, wrap);
    }
    macro_rules! position {
        ($i:literal) => {
            let Some(v) = args.get($i) else {
                return Some(());
            };
            match s.plain[$i].slot(v) {
                Some(bits) => slots[$i].write(wrap(bits)),
                None => return fill_general(s, args, lib, slots, wrap),
            };
        };
    }
    position!(0);
    position!(1);
    position!(2);
    position!(3);
    position!(4);
    position!(5);
    Some(())
}

/// [`fill_slots`] for calls of more than six arguments and for arguments that are not all
/// common cases: each converted by its [`Num`], as the general path would.
#[cold]
#[inline(never)]
fn fill_general<T, const M: usize>(
    s: &ScalarCall,
    args: &[Value],
    lib: LibId,
    slots: &mut [MaybeUninit<T>; M],
    wrap: impl Fn(u64) -> T,
) -> Option<()> {
    if args.len() > M || args.len() > s.args.len() {
        return None;
    }
    for ((slot, num), v) in slots.iter_mut().zip(&s.args).zip(args) {
        slot.write(wrap(num.slot(v, lib)?));
    }
    Some(())
}

/// `part`, all of whose elements were written.
///
/// # Safety
/// Every element of `part` is initialised.
pub(super) unsafe fn assume_init<T>(part: &[MaybeUninit<T>]) -> &[T] {
    // SAFETY: `MaybeUninit<T>` has `T`'s layout, and the caller promises every element is
    // initialised.
    unsafe { &*(part as *const [MaybeUninit<T>] as *const [T]) }
}

impl Function {
    /// The fast-path plan for the declared prototype `proto`, if every argument is a number
    /// (an integer type, `c_char`, `c_bool`, `c_float` or `c_double`) or an address
    /// (`c_void_p`, `c_char_p`, `POINTER(T)`, an array), the result is a number or void, and
    /// errno is not swapped around calls. Results that make objects (`c_char` as bytes,
    /// `c_char_p`, `c_void_p`'s None for NULL) take the general path, and so do `c_wchar`
    /// and `c_wchar_p` arguments (a str, encoded per call) and structures.
    pub(super) fn scalar_call(&self, proto: ProtoId, types: &[Type]) -> Option<ScalarCall> {
        let m = self.lib.model;
        let shift = match m.repr(CType::VoidP) {
            Repr::UInt(n) => 64 - 8 * n,
            _ => return None,
        };
        let number = |t: &Type| match t {
            Type::Simple(CType::CharP | CType::VoidP) => Some(Num::AddressOrBytes(shift)),
            Type::Pointer(_) | Type::Array(..) => Some(Num::Address(shift)),
            // c_wchar takes a one-character str, not an int.
            // A long double travels through memory.
            _ => number_type(t)
                .filter(|c| !matches!(c, CType::WChar | CType::LongDouble))
                .map(|c| Num::of(m.repr(c))),
        };
        let Type::Simple(restype) = self.restype else {
            return None;
        };
        if types.len() > SCALAR_MAX || self.use_errno {
            return None;
        }
        let mut args = [Num::Void; SCALAR_MAX];
        for (slot, t) in args.iter_mut().zip(types) {
            *slot = number(t)?;
        }
        let ret = match restype {
            CType::Char
            | CType::WChar
            | CType::CharP
            | CType::WCharP
            | CType::VoidP
            | CType::LongDouble => return None,
            t => Num::of(m.repr(t)),
        };
        let copies = args.iter().any(|a| matches!(a, Num::AddressOrBytes(_)));
        Some(ScalarCall {
            proto,
            n: types.len(),
            plain: args.map(Plain::of),
            args,
            ret,
            copies,
            wasm: std::cell::Cell::new(None),
        })
    }

    /// Converts the arguments for the fast path into `slots` ([`fill_slots`]); `None` when
    /// they are not plain numbers of the declared kinds, and the general path must convert
    /// (or reject) them.
    #[inline(always)]
    pub(super) fn scalar_slots<'s>(
        s: &ScalarCall,
        lib: LibId,
        args: &[Value],
        slots: &'s mut [MaybeUninit<u64>; SCALAR_MAX],
    ) -> Option<&'s [u64]> {
        if args.len() != s.n {
            return None;
        }
        fill_slots(s, args, lib, slots, |bits| bits)?;
        // SAFETY: `fill_slots` wrote `slots[..s.n]` (`args.len() == s.n <= SCALAR_MAX`).
        Some(unsafe { assume_init(&slots[..s.n]) })
    }

    /// The scalar call of a prototype with bytes among its arguments (`c_char_p`, `c_void_p`):
    /// each is copied into the library's memory as the general path does (into the scratch
    /// block while it has room), and the call is [`LibInner::call_scalar_slots`]'s. `None` when an
    /// argument needs the general path's conversions or errors, or the library is busy.
    pub(super) fn call_scalar_copying(
        &self,
        s: &ScalarCall,
        args: &[Value],
    ) -> Option<std::result::Result<u64, Box<Error>>> {
        if args.len() != s.n {
            return None;
        }
        let lib = &*self.lib;
        let mut cv = Converted::new();
        cv.claim_scratch(lib);
        let mut slots = [MaybeUninit::uninit(); SCALAR_MAX];
        let converted = (|| {
            let mut backend = lib.backend.lend()?;
            let b: &mut dyn Backend = &mut **backend;
            for ((slot, num), v) in slots.iter_mut().zip(&s.args).zip(args) {
                let bits = match (num, v) {
                    (Num::AddressOrBytes(_), Value::Bytes(data)) => {
                        match temporary(b, lib, data, 1, &mut cv) {
                            Ok(addr) => addr,
                            Err(e) => return Some(Err(Box::new(e))),
                        }
                    }
                    _ => num.slot(v, lib.id)?,
                };
                slot.write(bits);
            }
            Some(Ok(()))
        })();
        let outcome = match converted {
            Some(Ok(())) => {
                // SAFETY: the loop wrote `slots[..s.n]` (`args.len() == s.n <= SCALAR_MAX`).
                let slots = unsafe { assume_init(&slots[..s.n]) };
                lib.call_scalar_slots(s, slots, self.detach).or_else(|| {
                    Some(
                        lib.run_call(s.proto, slots, 0, false, self.detach)
                            .map_err(Box::new),
                    )
                })
            }
            other => other.map(|r| r.map(|()| 0)),
        };
        cv.release_scratch(lib);
        if !cv.temps().is_empty() {
            if let Some(mut b) = lib.backend.lend() {
                for &t in cv.temps() {
                    let _ = b.free(t);
                }
            }
        }
        outcome
    }
}
