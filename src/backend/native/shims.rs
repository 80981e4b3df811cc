//! Precompiled call shims for x86-64 System V: the native backend's fast path past libffi.
//!
//! On x86-64 System V, integer/pointer arguments and float arguments go into registers
//! independently, each class in its own order: the first six integers in rdi, rsi, rdx, rcx,
//! r8, r9 and the first eight floats in xmm0–xmm7. A scalar result comes back in rax or xmm0.
//! So any non-variadic signature with at most six integer and at most eight float arguments
//! and a scalar (or no) result is called correctly by one `extern "C"` function pointer type
//! that depends only on (integer count, float count, result class), for example
//! `extern "C" fn(u64, u64, f64) -> u64` for `double f(int, double, long)`.
//!
//! Integer arguments travel sign- or zero-extended to 64 bits (the call path's slots already
//! are), so the callee finds its narrower value in the low bits, as clang and gcc expect. An
//! `f32` travels in the low half of an `f64` register, and an `f32` result is read from the
//! low half of xmm0. A void result is read as rax and ignored.
//!
//! Everything else (stack arguments, structures by value, variadic calls, other
//! architectures) stays with libffi.

use std::ffi::c_void;
use std::mem::MaybeUninit;

/// Integer/pointer arguments passed in registers.
pub(crate) const MAX_INT: usize = 6;
/// Float arguments passed in registers.
pub(crate) const MAX_FLOAT: usize = 8;

/// Calls `code` with `ints[..ni]` and `floats[..nf]` (the shim's own counts, which must be
/// initialised; the rest are not read) and returns rax (integer class) or xmm0's bits (float
/// class).
type Shim = unsafe fn(code: *const c_void, ints: &Image, floats: &Image) -> u64;

/// One class's register image: only the slots of that class's arguments are written, so a
/// call clears no array.
pub(crate) type Image = [MaybeUninit<u64>; SLOTS];

/// Slots per class in a call's register image: a power of two at least [`MAX_INT`] and
/// [`MAX_FLOAT`], so that filling it needs a mask, not a bounds check or a division.
pub(crate) const SLOTS: usize = 8;

macro_rules! as_type {
    ($_index:tt, $t:ty) => {
        $t
    };
}

/// The Rust type a result class comes back as: rax as `u64`, xmm0 as `f64`.
macro_rules! result_type {
    (Int) => {
        u64
    };
    (Float) => {
        f64
    };
}

/// A result register's raw bits.
trait ResultBits {
    fn bits(self) -> u64;
}

impl ResultBits for u64 {
    fn bits(self) -> u64 {
        self
    }
}

impl ResultBits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

macro_rules! shim {
    ($ret:ident, [$($i:tt)*], [$($f:tt)*]) => {{
        unsafe fn shim(code: *const c_void, ints: &Image, floats: &Image) -> u64 {
            let _ = (ints, floats);
            // SAFETY: the caller promises `code` is a function whose register arguments are
            // exactly these classes in this order, with its result in this class's register
            // (or none), and that the slots read here (this shim's counts) are initialised.
            unsafe {
                let f: unsafe extern "C" fn($(as_type!($i, u64),)* $(as_type!($f, f64),)*) -> result_type!($ret) =
                    std::mem::transmute(code);
                f($(ints[$i].assume_init(),)* $(f64::from_bits(floats[$f].assume_init()),)*).bits()
            }
        }
        shim as Shim
    }};
}

macro_rules! row {
    ($ret:ident, [$($i:tt)*]) => {
        [
            shim!($ret, [$($i)*], []),
            shim!($ret, [$($i)*], [0]),
            shim!($ret, [$($i)*], [0 1]),
            shim!($ret, [$($i)*], [0 1 2]),
            shim!($ret, [$($i)*], [0 1 2 3]),
            shim!($ret, [$($i)*], [0 1 2 3 4]),
            shim!($ret, [$($i)*], [0 1 2 3 4 5]),
            shim!($ret, [$($i)*], [0 1 2 3 4 5 6]),
            shim!($ret, [$($i)*], [0 1 2 3 4 5 6 7]),
        ]
    };
}

macro_rules! table {
    ($ret:ident) => {
        [
            row!($ret, []),
            row!($ret, [0]),
            row!($ret, [0 1]),
            row!($ret, [0 1 2]),
            row!($ret, [0 1 2 3]),
            row!($ret, [0 1 2 3 4]),
            row!($ret, [0 1 2 3 4 5]),
        ]
    };
}

/// Shims with an integer (or no) result, indexed by [integer count][float count].
static INT_RESULT: [[Shim; MAX_FLOAT + 1]; MAX_INT + 1] = table!(Int);
/// Shims with a float result, indexed the same way.
static FLOAT_RESULT: [[Shim; MAX_FLOAT + 1]; MAX_INT + 1] = table!(Float);

/// How one prototype is called through a shim.
#[derive(Clone, Copy)]
pub(crate) struct ShimPlan {
    shim: Shim,
    /// Bit i set: argument i is a float (its slot holds f32 or f64 bits).
    floats: u32,
    ints_count: u8,
    floats_count: u8,
    float_result: bool,
}

impl ShimPlan {
    /// The plan for these argument classes (`true` = float) and result class, or `None` if
    /// the signature needs the stack (more than six integers or eight floats) or this is not
    /// x86-64 System V.
    pub(crate) fn new(float_args: &[bool], float_result: bool) -> Option<ShimPlan> {
        if !cfg!(all(target_arch = "x86_64", unix)) || float_args.len() > 32 {
            return None;
        }
        let nf = float_args.iter().filter(|f| **f).count();
        let ni = float_args.len() - nf;
        if ni > MAX_INT || nf > MAX_FLOAT {
            return None;
        }
        let table = if float_result {
            &FLOAT_RESULT
        } else {
            &INT_RESULT
        };
        Some(ShimPlan {
            shim: table[ni][nf],
            floats: float_args
                .iter()
                .enumerate()
                .fold(0, |bits, (i, f)| bits | ((*f as u32) << i)),
            ints_count: ni as u8,
            floats_count: nf as u8,
            float_result,
        })
    }

    /// Calls `code` with one raw slot per argument, in declaration order; returns the raw
    /// result (rax, or xmm0's bits for a float result).
    ///
    /// # Safety
    /// `code` must be a non-variadic function whose arguments have exactly the classes this
    /// plan was made for, in order, and `args` must hold one slot per argument.
    #[inline]
    pub(crate) unsafe fn call(&self, code: *const c_void, args: &[u64]) -> u64 {
        let mut ints: Image = [MaybeUninit::uninit(); SLOTS];
        let mut floats: Image = [MaybeUninit::uninit(); SLOTS];
        let (mut ni, mut nf) = (0, 0);
        for (i, &a) in args.iter().enumerate() {
            if self.floats & (1 << i) != 0 {
                floats[nf & (SLOTS - 1)].write(a);
                nf += 1;
            } else {
                ints[ni & (SLOTS - 1)].write(a);
                ni += 1;
            }
        }
        debug_assert_eq!(
            (ni, nf),
            (self.ints_count as usize, self.floats_count as usize)
        );
        // SAFETY: the plan's shim has this signature's register classes (the caller's promise),
        // and with one slot per argument the loop wrote exactly the shim's `ni` integer and
        // `nf` float slots.
        unsafe { (self.shim)(code, &ints, &floats) }
    }

    /// Whether this plan calls `count` arguments whose float ones are the set bits of
    /// `floats`: the condition of [`ShimPlan::call_images`] for arguments sorted by a caller
    /// that knows their classes (a [`TypedFunction`](crate::TypedFunction), at compile time).
    pub(crate) fn fits(&self, floats: u32, count: usize) -> bool {
        self.floats == floats
            && usize::from(self.ints_count) + usize::from(self.floats_count) == count
    }

    /// Calls `code` with the register images already filled: [`ShimPlan::call`] without
    /// sorting the arguments into their classes.
    ///
    /// # Safety
    /// As for [`ShimPlan::call`], and the plan [`fits`](ShimPlan::fits) the arguments:
    /// `ints` holds the integer arguments in order from slot 0, `floats` the float ones.
    #[inline(always)]
    pub(crate) unsafe fn call_images(
        &self,
        code: *const c_void,
        ints: &Image,
        floats: &Image,
    ) -> u64 {
        // SAFETY: the caller's promise.
        unsafe { (self.shim)(code, ints, floats) }
    }

    /// What `describe` shows: `shim(2 int, 1 float) -> float`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "shim({} int, {} float) -> {}",
            self.ints_count,
            self.floats_count,
            if self.float_result { "float" } else { "int" }
        )
    }
}
