//! `TypedFunction`: a function whose prototype is checked once against Rust types, then
//! called with plain Rust values, like wasmtime's `TypedFunc` over a `Func`.
//!
//! ctypes has only the dynamic call ([`Function::call`](crate::Function::call) here). A Rust caller that knows the
//! signature can skip [`Value`](crate::Value) altogether: `typed` checks the declared
//! argtypes and restype against the Rust types once, and each call then moves raw slots only.
//!
//! ```no_run
//! use wasmctypes::{CType, CDLL};
//! let lib = CDLL::open_wasm("target/guest/testlib.wasm")?;
//! let mut add = lib.function("add")?;
//! add.set_argtypes(&[CType::Int, CType::Int])?;
//! let add = add.typed::<(i32, i32), i32>()?;
//! assert_eq!(add.call((2, 3))?, 5);
//! # Ok::<(), wasmctypes::Error>(())
//! ```

use std::marker::PhantomData;
use std::rc::Rc;

use crate::backend::native::shims::{Image, SLOTS};
use crate::backend::wasm::WasmTyped;
use crate::backend::ProtoId;
use crate::error::{Error, Mismatch, Result};
use crate::library::LibInner;
use crate::types::{CType, DataModel, Repr};

/// The wasm side of the typed traits, sealed: no public item names a wasmtime type, so a
/// wasmtime release never changes this crate's API, and no type outside this crate can be a
/// [`Scalar`], [`Params`] or [`Results`].
mod sealed {
    /// How a [`Scalar`](super::Scalar) travels in wasm32's C ABI.
    pub trait WasmScalar: Copy {
        /// The wasm value type that carries it: `i32` for every integer of at most 32 bits
        /// and `bool`, `i64`, `f32`, `f64`.
        type Wasm: wasmtime::WasmTy;
        /// The wasm value: the low bits of the slot, at the wasm type's width.
        fn to_wasm(self) -> Self::Wasm;
        /// The value from a wasm result (only the low bits of the type's width count).
        fn from_wasm(w: Self::Wasm) -> Self;
    }

    /// How [`Params`](super::Params) travel in wasm.
    pub trait WasmParams: Copy {
        /// The tuple of each parameter's wasm type.
        type Wasm: wasmtime::WasmParams;
        /// The wasm parameters.
        fn to_wasm(self) -> Self::Wasm;
    }

    /// How [`Params`](super::Params) travel natively through a register shim.
    pub trait ShimParams: Copy {
        /// Bit i set: parameter i travels in a float register.
        const FLOATS: u32;
        /// Writes each parameter's slot into its class's register image, in order from slot
        /// 0: what the shim reads. The classes are known here at compile time, so every store
        /// goes to a fixed slot.
        fn images(self, ints: &mut super::Image, floats: &mut super::Image);
    }

    /// How [`Results`](super::Results) travel in wasm.
    pub trait WasmResults: Sized {
        /// The wasm result, or `()`.
        type Wasm: wasmtime::WasmResults;
        /// The value from the wasm result.
        fn from_wasm(w: Self::Wasm) -> Self;
    }
}

use sealed::{ShimParams, WasmParams, WasmResults, WasmScalar};

/// Whether a scalar of this representation travels in a float register natively.
const fn float_class(r: Repr) -> bool {
    matches!(r, Repr::F32 | Repr::F64)
}

/// A Rust type that is one C scalar: its representation, and its raw 64-bit slot (integers
/// sign- or zero-extended, an `f32` in the low half). Implemented for `i8` to `u64`, `bool`,
/// `f32` and `f64`; sealed.
pub trait Scalar: Copy + WasmScalar {
    /// The C representation this Rust type stands for.
    const REPR: Repr;
    /// The raw slot for this value.
    fn to_slot(self) -> u64;
    /// The value from a raw result slot (only the low bits of the type's width count).
    fn from_slot(raw: u64) -> Self;
}

macro_rules! int_scalar {
    ($($t:ty => $repr:expr, $wasm:ty);* $(;)?) => {$(
        impl Scalar for $t {
            const REPR: Repr = $repr;
            fn to_slot(self) -> u64 {
                // Sign-extends signed types and zero-extends unsigned ones, to 64 bits.
                self as i64 as u64
            }
            fn from_slot(raw: u64) -> Self {
                raw as $t
            }
        }

        impl WasmScalar for $t {
            type Wasm = $wasm;
            fn to_wasm(self) -> $wasm {
                self.to_slot() as $wasm
            }
            fn from_wasm(w: $wasm) -> Self {
                w as $t
            }
        }
    )*};
}

int_scalar! {
    i8 => Repr::Int(1), i32; u8 => Repr::UInt(1), i32; i16 => Repr::Int(2), i32;
    u16 => Repr::UInt(2), i32; i32 => Repr::Int(4), i32; u32 => Repr::UInt(4), i32;
    i64 => Repr::Int(8), i64; u64 => Repr::UInt(8), i64;
}

impl WasmScalar for bool {
    type Wasm = i32;
    fn to_wasm(self) -> i32 {
        self as i32
    }
    fn from_wasm(w: i32) -> Self {
        w as u8 != 0
    }
}

impl Scalar for bool {
    const REPR: Repr = Repr::Bool;
    fn to_slot(self) -> u64 {
        self as u64
    }
    fn from_slot(raw: u64) -> Self {
        raw as u8 != 0
    }
}

impl WasmScalar for f32 {
    type Wasm = f32;
    fn to_wasm(self) -> f32 {
        self
    }
    fn from_wasm(w: f32) -> Self {
        w
    }
}

impl Scalar for f32 {
    const REPR: Repr = Repr::F32;
    fn to_slot(self) -> u64 {
        self.to_bits() as u64
    }
    fn from_slot(raw: u64) -> Self {
        f32::from_bits(raw as u32)
    }
}

impl WasmScalar for f64 {
    type Wasm = f64;
    fn to_wasm(self) -> f64 {
        self
    }
    fn from_wasm(w: f64) -> Self {
        w
    }
}

impl Scalar for f64 {
    const REPR: Repr = Repr::F64;
    fn to_slot(self) -> u64 {
        self.to_bits()
    }
    fn from_slot(raw: u64) -> Self {
        f64::from_bits(raw)
    }
}

/// The parameters of a typed function: a tuple of [`Scalar`]s, up to eight; sealed.
pub trait Params: Copy + WasmParams + ShimParams {
    /// How many.
    const COUNT: usize;
    /// The representation of parameter `i`.
    fn repr(i: usize) -> Repr;
    /// Writes one slot per parameter into `slots[..COUNT]`.
    fn write(self, slots: &mut [u64; MAX_PARAMS]);
}

/// The most parameters a [`TypedFunction`] takes.
pub(crate) const MAX_PARAMS: usize = 8;

macro_rules! params {
    ($(($($name:ident $index:tt),*)),* $(,)?) => {$(
        impl<$($name: Scalar),*> Params for ($($name,)*) {
            const COUNT: usize = 0 $(+ { let _ = $index; 1 })*;
            fn repr(i: usize) -> Repr {
                let reprs: [Repr; 0 $(+ { let _ = $index; 1 })*] = [$($name::REPR),*];
                reprs[i]
            }
            #[allow(unused_variables)]
            fn write(self, slots: &mut [u64; MAX_PARAMS]) {
                $(slots[$index] = self.$index.to_slot();)*
            }
        }

        impl<$($name: Scalar),*> ShimParams for ($($name,)*) {
            const FLOATS: u32 = 0 $(| ((float_class($name::REPR) as u32) << $index))*;
            #[allow(unused_variables, unused_mut, unused_assignments)]
            #[inline(always)]
            fn images(self, ints: &mut Image, floats: &mut Image) {
                let (mut ni, mut nf) = (0usize, 0usize);
                $(
                    if float_class($name::REPR) {
                        floats[nf & (SLOTS - 1)].write(self.$index.to_slot());
                        nf += 1;
                    } else {
                        ints[ni & (SLOTS - 1)].write(self.$index.to_slot());
                        ni += 1;
                    }
                )*
            }
        }

        impl<$($name: Scalar),*> WasmParams for ($($name,)*) {
            type Wasm = ($(<$name as WasmScalar>::Wasm,)*);
            #[allow(clippy::unused_unit)]
            fn to_wasm(self) -> Self::Wasm {
                ($(self.$index.to_wasm(),)*)
            }
        }
    )*};
}

params! {
    (),
    (A 0),
    (A 0, B 1),
    (A 0, B 1, C 2),
    (A 0, B 1, C 2, D 3),
    (A 0, B 1, C 2, D 3, E 4),
    (A 0, B 1, C 2, D 3, E 4, F 5),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7),
}

/// The result of a typed function: a [`Scalar`], or `()` for void; sealed.
pub trait Results: Sized + WasmResults {
    /// The representation, `Repr::Void` for `()`.
    const REPR: Repr;
    /// The value from the raw result slot.
    fn from_slot(raw: u64) -> Self;
}

impl<T: Scalar> Results for T {
    const REPR: Repr = T::REPR;
    fn from_slot(raw: u64) -> Self {
        T::from_slot(raw)
    }
}

impl<T: Scalar> WasmResults for T {
    type Wasm = <T as WasmScalar>::Wasm;
    fn from_wasm(w: Self::Wasm) -> Self {
        <T as WasmScalar>::from_wasm(w)
    }
}

impl Results for () {
    const REPR: Repr = Repr::Void;
    fn from_slot(_: u64) -> Self {}
}

impl WasmResults for () {
    type Wasm = ();
    fn from_wasm(_: ()) -> Self {}
}

/// A function checked against the Rust signature `fn(P) -> R`: wasmtime's `TypedFunc`, for
/// C. Made by [`Function::typed`](crate::Function::typed); calls go straight to the
/// backend's scalar path with no [`Value`](crate::Value) conversion and no allocation.
pub struct TypedFunction<P: Params, R: Results> {
    lib: Rc<LibInner>,
    name: String,
    proto: ProtoId,
    /// In wasm, the export as wasmtime's own `TypedFunc`, for the instance it was made for
    /// (see [`WasmLibrary::typed_func`](crate::backend::wasm::WasmLibrary::typed_func)).
    wasm: Option<WasmTyped<P::Wasm, R::Wasm>>,
    /// Natively, the prototype is called through a register shim whose classes are `P`'s
    /// (see [`NativeLibrary::shim_fits`](crate::backend::native::NativeLibrary::shim_fits)).
    shim: bool,
    _signature: PhantomData<fn(P) -> R>,
}

impl<P: Params, R: Results> TypedFunction<P, R> {
    /// Wraps a prepared scalar prototype whose representations were checked against `P` and
    /// `R` by the caller; in wasm, `wasm` is the export as a `TypedFunc`; natively, `shim`
    /// says that the prototype's register shim fits `P` (`NativeLibrary::shim_fits`).
    pub(crate) fn new(
        lib: Rc<LibInner>,
        name: String,
        proto: ProtoId,
        wasm: Option<WasmTyped<P::Wasm, R::Wasm>>,
        shim: bool,
    ) -> Self {
        TypedFunction {
            lib,
            name,
            proto,
            wasm,
            shim,
            _signature: PhantomData,
        }
    }

    /// The symbol name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls the function. Errors are those of [`Function::call`](crate::Function::call):
    /// a guest trap, a callback's error, a busy library; with `use_errno`, errno is swapped
    /// around the call as there.
    ///
    /// The call is inlined into the caller, down to wasmtime's own typed call or the native
    /// register shim; only the rare paths are out of line. Called out of line, the same wasm
    /// call cost about 2 ns more (a frame, and the parameters through memory): as much as
    /// all of wasmctypes' own checks (see benches/README.md).
    #[inline(always)]
    pub fn call(&self, params: P) -> Result<R> {
        match &self.wasm {
            Some(typed) => match self.lib.call_wasm_typed(typed, params.to_wasm()) {
                Some(Ok(r)) => Ok(R::from_wasm(r)),
                Some(Err(e)) => Err(crate::error::unbox(e)),
                None => self.call_slots_cold(params),
            },
            None if self.shim => self.call_images(params),
            None => self.call_slots(params),
        }
    }

    /// Natively, through the prototype's register shim: each parameter goes straight to its
    /// register's slot, which `P` fixes at compile time.
    #[inline(always)]
    fn call_images(&self, params: P) -> Result<R> {
        let mut ints: Image = [std::mem::MaybeUninit::uninit(); SLOTS];
        let mut floats: Image = [std::mem::MaybeUninit::uninit(); SLOTS];
        params.images(&mut ints, &mut floats);
        // SAFETY: `shim` is set only when the prototype's shim fits `P`'s classes and count
        // (`Function::typed`), and `images` wrote each parameter in its class, in order.
        match unsafe { self.lib.call_native_images(self.proto, &ints, &floats) } {
            Some(Ok(raw)) => Ok(R::from_slot(raw)),
            Some(Err(e)) => Err(crate::error::unbox(e)),
            None => self.call_slots_cold(params),
        }
    }

    /// [`TypedFunction::call_slots`] when the direct call cannot be made (a busy library,
    /// `use_errno`, a reset in wasm, captured output natively): out of line, so that the
    /// inlined call stays small.
    #[cold]
    #[inline(never)]
    fn call_slots_cold(&self, params: P) -> Result<R> {
        self.call_slots(params)
    }

    /// The call through the backend's scalar path, with raw slots.
    #[inline(always)]
    fn call_slots(&self, params: P) -> Result<R> {
        let mut slots = [0u64; MAX_PARAMS];
        params.write(&mut slots);
        match self.lib.call_scalar(self.proto, &slots[..P::COUNT]) {
            Ok(raw) => Ok(R::from_slot(raw)),
            Err(e) => Err(*e),
        }
    }
}

/// The Rust type that stands for a representation.
fn rust_name(r: Repr) -> &'static str {
    match r {
        Repr::Bool => "bool",
        Repr::Int(1) => "i8",
        Repr::Int(2) => "i16",
        Repr::Int(4) => "i32",
        Repr::Int(_) => "i64",
        Repr::UInt(1) => "u8",
        Repr::UInt(2) => "u16",
        Repr::UInt(4) => "u32",
        Repr::UInt(_) => "u64",
        Repr::F32 => "f32",
        Repr::F64 => "f64",
        Repr::F80 | Repr::F128 => "long double",
        Repr::Void => "()",
    }
}

/// Checks the declared types, in data model `m`, against `P` and `R`: the error names the
/// first parameter (or the result) that does not match and the Rust type it needs.
pub(crate) fn check_signature<P: Params, R: Results>(
    name: &str,
    m: DataModel,
    args: &[CType],
    ret: CType,
) -> Result<()> {
    let fail = |mismatch| {
        Err(Error::Signature {
            function: name.to_string(),
            mismatch: Box::new(mismatch),
        })
    };
    if args.len() != P::COUNT {
        return fail(Mismatch::Count {
            declared: args.len(),
            rust: P::COUNT,
        });
    }
    for (i, &declared) in args.iter().enumerate() {
        if m.repr(declared) != P::repr(i) {
            return fail(Mismatch::Type {
                position: Some(i + 1),
                declared: declared.name().to_string(),
                needs: rust_name(m.repr(declared)),
                rust: rust_name(P::repr(i)),
            });
        }
    }
    if m.repr(ret) != R::REPR {
        return fail(Mismatch::Type {
            position: None,
            declared: ret.name().to_string(),
            needs: rust_name(m.repr(ret)),
            rust: rust_name(R::REPR),
        });
    }
    Ok(())
}
