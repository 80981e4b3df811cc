//! Callbacks in wasm: a host function placed in the guest's indirect function table, which
//! calls the closure with the arguments converted and the guest's memory to read and write.

use std::mem::MaybeUninit;

use wasmtime::{Func, Memory, ValRaw};

use super::store::Entries;
use super::{range_in, valtype, GuestState, Slot, WasmLibrary};
use crate::error::{Error, Result};

/// A callback's closure and prototype, with the wasm slots of its parameters (the `sret`
/// address first, when it has one) and of its result.
#[derive(Clone)]
pub(super) struct WasmCallback {
    pub(super) f: std::rc::Rc<crate::backend::CallbackFn>,
    pub(super) args: std::rc::Rc<[crate::backend::CallbackArg]>,
    pub(super) ret: crate::types::CType,
    pub(super) params: std::rc::Rc<[Slot]>,
    pub(super) result: Option<Slot>,
}

// SAFETY: WASI's linker wants the store data to be `Send`. A `WasmCallback` lives only in the
// data of a store, which lives only in a `WasmLibrary` (it is never moved out). A
// `WasmLibrary` is not `Send` (its `_thread` marker; the assertion below proves it), so the
// store, and every `Rc` in it, stays on the thread that created it.
unsafe impl Send for WasmCallback {}

// A compile-time proof that `WasmLibrary` is not `Send`: if it were, both impls of
// `AmbiguousIfSend` would apply and the path below would be ambiguous, which does not compile.
const _: () = {
    trait AmbiguousIfSend<A> {
        fn some_item() {}
    }
    impl<T: ?Sized> AmbiguousIfSend<()> for T {}
    impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}
    let _ = <WasmLibrary as AmbiguousIfSend<_>>::some_item;
};

/// The guest's memory as a callback sees it: through the running callback's `Caller`, which
/// [`Entries`] publishes while the callback runs (so that the callback may also call the
/// guest again, through the same `Caller`).
pub(super) struct CallerMemory<'e> {
    pub(super) entries: &'e Entries,
    pub(super) memory: Option<Memory>,
}

impl crate::backend::Memory for CallerMemory<'_> {
    fn read_into(&mut self, addr: u64, out: &mut [u8]) -> Result<()> {
        let memory = self.memory;
        self.entries.with_caller(|cx| {
            let data = memory.map(|m| m.data(&cx)).unwrap_or(&[]);
            let range = range_in(data.len(), addr, out.len())?;
            out.copy_from_slice(&data[range]);
            Ok(())
        })?
    }
    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<()> {
        let Some(mem) = self.memory else {
            return Err(Error::OutOfBounds("the guest has no memory".into()));
        };
        self.entries.with_caller(|cx| {
            let data = mem.data_mut(cx);
            let range = range_in(data.len(), addr, bytes.len())?;
            data[range].copy_from_slice(bytes);
            Ok(())
        })?
    }
    fn data_model(&self) -> crate::types::DataModel {
        crate::types::DataModel::ILP32
    }
    fn malloc(&mut self, size: usize) -> Result<u64> {
        let size32 = u32::try_from(size).map_err(|_| {
            Error::ValueError(format!("cannot allocate {size} bytes in a 32-bit guest"))
        })?;
        // A call back into the guest from inside its own call: wasmtime allows it, and the
        // sandbox's limits (fuel, deadline, memory) still apply.
        self.entries.with_caller(|mut cx| {
            let (malloc, _) = allocator(&cx)?;
            match malloc.call(&mut cx, size32) {
                Ok(0) => Err(Error::ValueError(format!(
                    "guest malloc({size}) returned NULL: out of memory"
                ))),
                Ok(addr) => Ok(addr as u64),
                Err(e) => Err(super::trap::trap_error(e)),
            }
        })?
    }
    fn free(&mut self, addr: u64) -> Result<()> {
        let addr = u32::try_from(addr)
            .map_err(|_| Error::OutOfBounds(format!("free(0x{addr:x}): not a guest address")))?;
        self.entries.with_caller(|mut cx| {
            let (_, free) = allocator(&cx)?;
            free.call(&mut cx, addr).map_err(super::trap::trap_error)
        })?
    }
}

/// libc's `malloc` and `free`, as the store's data keeps them.
fn allocator(
    cx: &wasmtime::StoreContextMut<'_, GuestState>,
) -> Result<(wasmtime::TypedFunc<u32, u32>, wasmtime::TypedFunc<u32, ()>)> {
    cx.data()
        .allocator
        .clone()
        .ok_or_else(|| Error::Runtime("the sandbox has no allocator yet".into()))
}

/// Runs a callback for the guest: converts, calls the closure (catching a panic), and turns
/// its error into a trap that stops the guest, keeping the error for the call to report.
/// While the closure runs, the callback's `Caller` is the store's user (see [`Entries`]), and
/// its time is not the guest's.
///
/// `raw` holds the parameters as wasmtime passes them to a function made by
/// `Func::new_unchecked` with the type [`WasmLibrary::add_callback`] gave it: one initialized
/// value of each of `cb.params`' slots, in order; the result goes to its first entry.
pub(super) fn run_callback(
    mut caller: wasmtime::Caller<'_, GuestState>,
    id: usize,
    raw: &mut [MaybeUninit<ValRaw>],
) -> wasmtime::Result<()> {
    let Some(cb) = caller.data().callbacks.get(id).cloned().flatten() else {
        return Err(wasmtime::Error::msg("a released callback was called"));
    };
    let Some(entries) = caller.data().entries.as_ref().map(|s| s.0.clone()) else {
        return Err(wasmtime::Error::msg(
            "a callback ran before its sandbox was ready",
        ));
    };
    let m = crate::types::DataModel::ILP32;
    // The parameters' bits, each read as its slot's type.
    let mut bits = smallvec::SmallVec::<[u64; 8]>::new();
    for (slot, value) in cb.params.iter().zip(raw.iter()) {
        // SAFETY: wasmtime initialized one value per parameter of the function's type, whose
        // parameters are `cb.params` (see `add_callback`).
        bits.push(slot.bits_of(unsafe { value.assume_init() }));
    }
    // The sandbox's one memory: the caller may be a side module, which imports it.
    let memory = caller.data().memory;
    // A long double result's address comes first (`sret`).
    let (sret, params) = match returns_through_memory(cb.ret) {
        true => (bits.first().copied(), bits.get(1..).unwrap_or(&[])),
        false => (None, &bits[..]),
    };
    let args = match callback_values(&cb.args, params, memory.map(|mem| mem.data(&caller))) {
        Ok(args) => args,
        Err(e) => return Err(failed(&mut caller, e)),
    };
    let outcome = entries.run_callback(&mut caller, || {
        let mut mem = CallerMemory {
            entries: &entries,
            memory,
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (cb.f)(&mut mem, &args)))
            .unwrap_or_else(|_| Err(Error::Runtime("the callback panicked".into())))
    });
    let outcome = outcome
        .and_then(|v| crate::value::callback_result(cb.ret, m, &v))
        .and_then(|bits| match sret {
            // The result's 16 bytes, where the caller asked (bounds-checked).
            Some(addr) => {
                let bytes = crate::value::long_double_bytes(m.repr(cb.ret), f64::from_bits(bits));
                let Some(mem) = memory else {
                    return Err(Error::OutOfBounds("the guest has no memory".into()));
                };
                let data = mem.data_mut(&mut caller);
                let range = range_in(data.len(), addr, bytes.len())?;
                data[range].copy_from_slice(&bytes);
                Ok(0)
            }
            None => Ok(bits),
        });
    match outcome {
        Ok(bits) => {
            if let (Some(slot), Some(out)) = (cb.result, raw.first_mut()) {
                out.write(slot.to_raw(bits));
            }
            Ok(())
        }
        Err(e) => Err(failed(&mut caller, e)),
    }
}

/// A callback's error, kept for the call to report, as the trap that stops the guest.
fn failed(caller: &mut wasmtime::Caller<'_, GuestState>, e: Error) -> wasmtime::Error {
    let msg = format!("callback failed: {e}");
    caller.data_mut().callback_error = Some(e);
    wasmtime::Error::msg(msg)
}

/// The wasm parameters one callback argument takes, as clang's wasm32 ABI passes it: a
/// scalar in its slot; a `long double` as two i64 (low half first); a structure as its
/// single scalar, not at all when empty, or as a pointer to a copy the caller made.
fn arg_slots(a: &crate::backend::CallbackArg) -> &'static [Slot] {
    use super::abi::{struct_abi, StructAbi};
    let one = |s: Option<Slot>| -> &'static [Slot] {
        match s {
            Some(Slot::I32) => &[Slot::I32],
            Some(Slot::I64) => &[Slot::I64],
            Some(Slot::F32) => &[Slot::F32],
            Some(Slot::F64) => &[Slot::F64],
            None => &[],
        }
    };
    match a {
        crate::backend::CallbackArg::Scalar(t) => {
            let r = crate::types::DataModel::ILP32.repr(*t);
            if r.is_long_double() {
                &[Slot::I64, Slot::I64]
            } else {
                one(Slot::of_repr(r))
            }
        }
        crate::backend::CallbackArg::Struct(s) => match struct_abi(s) {
            StructAbi::Empty => &[],
            StructAbi::Scalar(slot, _) => one(Some(slot)),
            StructAbi::Indirect => &[Slot::I32],
        },
    }
}

/// Whether a callback returning `ret` gets its result's address as a hidden first parameter
/// (`sret`): a `long double`, which clang's wasm32 ABI returns through memory.
fn returns_through_memory(ret: crate::types::CType) -> bool {
    crate::types::DataModel::ILP32.repr(ret).is_long_double()
}

/// The callback's arguments from the wasm parameters; a structure passed by pointer is read
/// from the sandbox's memory, bounds-checked.
fn callback_values(
    args: &[crate::backend::CallbackArg],
    params: &[u64],
    memory: Option<&[u8]>,
) -> Result<crate::backend::CallbackValues> {
    use super::abi::{struct_abi, StructAbi};
    use crate::backend::CallbackArg;
    let m = crate::types::DataModel::ILP32;
    let mut params = params.iter();
    let mut out = crate::backend::CallbackValues::new();
    for a in args {
        // Its parameters' bits: one, or two halves (a long double), or none.
        let mut halves = [0u64; 2];
        for half in halves.iter_mut().take(arg_slots(a).len()) {
            *half = params.next().copied().unwrap_or(0);
        }
        let bits = halves[0];
        let v = match a {
            CallbackArg::Scalar(t) if arg_slots(a).len() == 2 => {
                // A long double: its value as a double, in the slot (see `encode`).
                let wide = (halves[0] as u128 | (halves[1] as u128) << 64).to_le_bytes();
                let x = crate::value::long_double_value(m.repr(*t), &wide);
                a.value(m, x.to_bits(), &[])?
            }
            CallbackArg::Scalar(_) => a.value(m, bits, &[])?,
            CallbackArg::Struct(s) => {
                let size = s.layout(m).size;
                match struct_abi(s) {
                    StructAbi::Empty => a.value(m, 0, &vec![0; size])?,
                    StructAbi::Scalar(_, n) => {
                        let mut bytes = vec![0; size];
                        let n = n.min(size);
                        bytes[..n].copy_from_slice(&bits.to_le_bytes()[..n]);
                        a.value(m, 0, &bytes)?
                    }
                    StructAbi::Indirect => {
                        let data = memory.unwrap_or(&[]);
                        a.value(m, 0, &data[range_in(data.len(), bits, size)?])?
                    }
                }
            }
        };
        out.push(v);
    }
    Ok(out)
}

impl WasmLibrary {
    /// See [`Backend::make_callback`].
    pub(super) fn add_callback(
        &mut self,
        args: &[crate::backend::CallbackArg],
        ret: crate::types::CType,
        f: std::rc::Rc<crate::backend::CallbackFn>,
    ) -> Result<u64> {
        let m = crate::types::DataModel::ILP32;
        let table = self.table()?;
        let sret = returns_through_memory(ret).then_some(Slot::I32);
        let params: std::rc::Rc<[Slot]> = sret
            .into_iter()
            .chain(args.iter().flat_map(|a| arg_slots(a).iter().copied()))
            .collect();
        let result = Slot::of_repr(m.repr(ret));
        let ty = wasmtime::FuncType::new(
            &self.loaded.engine,
            params.iter().copied().map(valtype),
            result.map(valtype),
        );
        let cb = WasmCallback {
            f,
            args: args.into(),
            ret,
            params,
            result,
        };
        let mut cx = self.live.guest.cx()?;
        let callbacks = &mut cx.data_mut().callbacks;
        let id = match callbacks.iter().position(Option::is_none) {
            Some(free) => {
                callbacks[free] = Some(cb);
                free
            }
            None => {
                callbacks.push(Some(cb));
                callbacks.len() - 1
            }
        };
        // SAFETY: `run_callback` reads the parameters as `cb.params`' slots and writes the
        // result as `cb.result`'s, the parameter and result types of `ty`.
        let func = unsafe {
            Func::new_unchecked(&mut cx, ty, move |caller, raw| {
                run_callback(caller, id, raw)
            })
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                table
                    .set(&mut cx, slot, wasmtime::Ref::Func(Some(func)))
                    .map_err(|e| {
                        Error::Runtime(format!("cannot place the callback in the table: {e}"))
                    })?;
                slot
            }
            None => table
                .grow(&mut cx, 1, wasmtime::Ref::Func(Some(func)))
                .map_err(|e| Error::Runtime(format!("cannot grow the function table: {e}")))?,
        };
        self.slot_ids.insert(slot, id);
        Ok(slot)
    }
}

impl WasmLibrary {
    /// See [`Backend::free_callback`].
    pub(super) fn remove_callback(&mut self, ptr: u64) {
        let Some(id) = self.slot_ids.remove(&ptr) else {
            return;
        };
        let table = self.table();
        if let Ok(mut cx) = self.live.guest.cx() {
            if let Ok(table) = table {
                let _ = table.set(&mut cx, ptr, wasmtime::Ref::Func(None));
            }
            if let Some(entry) = cx.data_mut().callbacks.get_mut(id) {
                *entry = None;
            }
        }
        self.free_slots.push(ptr);
    }
}
