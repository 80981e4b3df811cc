//! The sandboxed backend: a wasm32-wasi reactor module on wasmtime, with WASI preview1 from
//! `wasmtime_wasi::p1`.
//!
//! Every pointer is an offset into the guest's linear memory. Every host-side read or write is
//! bounds-checked against the memory's current size, so it stays correct after `memory.grow`.
//! A trap becomes [`Error::Trap`] and leaves the library usable: the guest's shadow stack pointer
//! is put back where it was before the call.

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};

use wasmtime::{
    ExternType, Func, Global, Instance, Memory, Store, Trap, TypedFunc, Val, ValRaw, ValType,
    WasmBacktrace, WasmParams, WasmResults,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use super::capture::Capture;
use super::engine::{self, EngineKey, LoadSource, Loaded};
use super::{Backend, BackendKind, Export, LibraryInfo, Output, Passing, ProtoId};
use crate::ctype::Repr;
use crate::error::{Error, Result, TrapKind};
use crate::sandbox::{Limiter, Sandbox, SeededRandom, VirtualClock};
use crate::LoadOptions;

/// The most arguments a call may have (ctypes allows 1024; C code in practice uses far fewer).
pub const MAX_ARGS: usize = crate::library::MAX_ARGS;

/// The most bytes of stdout or stderr kept between two takes; the rest is dropped.
pub const CAPTURE_LIMIT: usize = 16 * 1024 * 1024;

/// Per-store state: the guest's WASI context, its limits and the host's callbacks.
pub(crate) struct GuestState {
    pub(crate) wasi: WasiP1Ctx,
    limits: Limiter,
    /// Callbacks by id; a host function in the table finds its closure here.
    callbacks: Vec<Option<WasmCallback>>,
    /// The error the last failing callback returned.
    callback_error: Option<Error>,
}

/// A callback's closure and prototype.
#[derive(Clone)]
struct WasmCallback {
    f: std::rc::Rc<crate::callback::CallbackFn>,
    args: Vec<crate::ctype::CType>,
    ret: crate::ctype::CType,
}

// SAFETY: WASI's linker wants the store data to be `Send`. A `WasmCallback` lives only in the
// data of a store owned by a `WasmLibrary`, which lives only inside a `CDLL`; `CDLL` holds an
// `Rc` and so is neither `Send` nor `Sync`. The store, and every `Rc` in it, therefore stays on
// the thread that created it.
unsafe impl Send for WasmCallback {}

/// The guest's memory as a callback sees it, through the calling context.
struct CallerMemory<'a, 'b> {
    caller: &'a mut wasmtime::Caller<'b, GuestState>,
    memory: Option<Memory>,
}

impl crate::callback::Memory for CallerMemory<'_, '_> {
    fn read_into(&mut self, addr: u64, out: &mut [u8]) -> Result<()> {
        let data = self.memory.map(|m| m.data(&*self.caller)).unwrap_or(&[]);
        let range = checked(addr, out.len(), data.len())?;
        out.copy_from_slice(&data[range]);
        Ok(())
    }
    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<()> {
        let Some(mem) = self.memory else {
            return Err(Error::OutOfBounds("the guest has no memory".into()));
        };
        let data = mem.data_mut(&mut *self.caller);
        let range = checked(addr, bytes.len(), data.len())?;
        data[range].copy_from_slice(bytes);
        Ok(())
    }
    fn data_model(&self) -> crate::ctype::DataModel {
        crate::ctype::DataModel::ILP32
    }
}

/// `addr..addr+len` if it lies inside a memory of `size` bytes, else an OutOfBounds error.
fn checked(addr: u64, len: usize, size: usize) -> Result<std::ops::Range<usize>> {
    match addr.checked_add(len as u64) {
        Some(end) if end <= size as u64 => Ok(addr as usize..end as usize),
        _ => Err(Error::OutOfBounds(format!(
            "pointer 0x{addr:x} (+{len} bytes) is outside guest memory of {size} bytes"
        ))),
    }
}

fn val_bits(v: &Val) -> u64 {
    match v {
        Val::I32(i) => *i as u32 as u64,
        Val::I64(i) => *i as u64,
        Val::F32(f) => *f as u64,
        Val::F64(f) => *f,
        _ => 0,
    }
}

fn bits_val(slot: Slot, bits: u64) -> Val {
    match slot {
        Slot::I32 => Val::I32(bits as i32),
        Slot::I64 => Val::I64(bits as i64),
        Slot::F32 => Val::F32(bits as u32),
        Slot::F64 => Val::F64(bits),
    }
}

fn valtype(slot: Slot) -> ValType {
    match slot {
        Slot::I32 => ValType::I32,
        Slot::I64 => ValType::I64,
        Slot::F32 => ValType::F32,
        Slot::F64 => ValType::F64,
    }
}

/// Runs a callback for the guest: converts, calls the closure (catching a panic), and turns
/// its error into a trap that stops the guest, keeping the error for the call to report.
fn run_callback(
    mut caller: wasmtime::Caller<'_, GuestState>,
    id: usize,
    params: &[Val],
    results: &mut [Val],
) -> wasmtime::Result<()> {
    let Some(cb) = caller.data().callbacks.get(id).cloned().flatten() else {
        return Err(wasmtime::Error::msg("a released callback was called"));
    };
    let m = crate::ctype::DataModel::ILP32;
    let raw: Vec<u64> = params.iter().map(val_bits).collect();
    let args = crate::callback::callback_args(&cb.args, m, &raw);
    let memory = caller.get_export("memory").and_then(|e| e.into_memory());
    let outcome = {
        let mut mem = CallerMemory {
            caller: &mut caller,
            memory,
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (cb.f)(&mut mem, &args)))
            .unwrap_or_else(|_| Err(Error::Runtime("the callback panicked".into())))
            .and_then(|v| crate::callback::callback_result(cb.ret, m, &v))
    };
    match outcome {
        Ok(bits) => {
            if let (Some(slot), Some(out)) = (Slot::of_repr(m.repr(cb.ret)), results.first_mut()) {
                *out = bits_val(slot, bits);
            }
            Ok(())
        }
        Err(e) => {
            let msg = format!("callback failed: {e}");
            caller.data_mut().callback_error = Some(e);
            Err(wasmtime::Error::msg(msg))
        }
    }
}

/// A wasm value type, as the call path needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    I32,
    I64,
    F32,
    F64,
}

impl Slot {
    fn of_repr(r: Repr) -> Option<Slot> {
        match r {
            Repr::Bool | Repr::Int(1 | 2 | 4) | Repr::UInt(1 | 2 | 4) => Some(Slot::I32),
            Repr::Int(_) | Repr::UInt(_) => Some(Slot::I64),
            Repr::F32 => Some(Slot::F32),
            Repr::F64 => Some(Slot::F64),
            Repr::Void => None,
        }
    }

    fn of_valtype(t: &ValType) -> Option<Slot> {
        match t {
            ValType::I32 => Some(Slot::I32),
            ValType::I64 => Some(Slot::I64),
            ValType::F32 => Some(Slot::F32),
            ValType::F64 => Some(Slot::F64),
            _ => None,
        }
    }

    fn to_raw(self, bits: u64) -> ValRaw {
        match self {
            Slot::I32 => ValRaw::i32(bits as i32),
            Slot::I64 => ValRaw::i64(bits as i64),
            Slot::F32 => ValRaw::f32(bits as u32),
            Slot::F64 => ValRaw::f64(bits),
        }
    }

    fn bits_of(self, raw: ValRaw) -> u64 {
        match self {
            Slot::I32 => raw.get_u32() as u64,
            Slot::I64 => raw.get_u64(),
            Slot::F32 => raw.get_f32() as u64,
            Slot::F64 => raw.get_f64(),
        }
    }
}

/// Something that belongs to one store (an export, a `TypedFunc`), kept outside the library
/// with the instance generation it was made for: [`WasmLibrary::current`] gives it back only
/// while that instance is live (a `reset()` replaces the store).
#[derive(Clone, Copy)]
pub(crate) struct OfInstance<F> {
    generation: u64,
    func: F,
}

/// A scalar prototype's export, as [`WasmLibrary::cached_scalar_func`] keeps it.
pub(crate) type ScalarFunc = OfInstance<Func>;

/// A scalar export as wasmtime's `TypedFunc`, as [`WasmLibrary::typed_func`] makes it.
pub(crate) type WasmTyped<P, R> = OfInstance<TypedFunc<P, R>>;

/// Parameters a scalar call keeps in its stack slots (the library's fast path uses up to 14).
pub(crate) const SCALAR_SLOTS: usize = 16;

/// A prepared call: the resolved export and its slot types.
struct WasmProto {
    name: String,
    func: Func,
    /// One entry per wasm parameter.
    params: Vec<ArgPlan>,
    result: RetPlan,
    /// Variadic arguments: (argument index, wasm type, offset in the buffer).
    varargs: Vec<(usize, Slot, usize)>,
    /// Size of the variadic argument buffer.
    va_size: usize,
    /// Every parameter is argument i's own slot and the result is a slot or nothing: the
    /// prototype can take [`Backend::call_scalar`]'s short path.
    scalar: bool,
}

/// Where a wasm parameter's value comes from.
#[derive(Clone, Copy, Debug)]
enum ArgPlan {
    /// Argument `index`'s raw slot, as this wasm type.
    Slot(usize, Slot),
    /// Argument `index` is a single-scalar structure: load `size` bytes from the address in
    /// its slot and pass them as this wasm type.
    Load(usize, Slot, usize),
    /// The hidden pointer to the result structure (`sret`), passed first.
    RetAddr,
    /// The pointer to the buffer of variadic arguments, passed last.
    VaBuffer,
}

/// What happens to the wasm result.
#[derive(Clone, Copy, Debug)]
enum RetPlan {
    /// No result.
    None,
    /// The raw result slot.
    Slot(Slot),
    /// A single-scalar structure returned as a scalar: store `size` bytes at `ret_addr`.
    Store(Slot, usize),
}

/// How clang's wasm32 C ABI passes a structure: a structure whose only non-empty member is
/// one scalar (possibly nested, or an array of one) travels as that scalar; an empty one is
/// dropped; any other goes indirectly (an argument as a pointer to a caller-made copy, a
/// result through a hidden pointer passed first).
enum StructAbi {
    Empty,
    Scalar(Slot, usize),
    Indirect,
}

/// `Some(Some(r))`: the type is, for the ABI, the single scalar `r`; `Some(None)`: empty;
/// `None`: an aggregate.
fn single_scalar(t: &crate::types::Type) -> Option<Option<Repr>> {
    use crate::types::Type as T;
    let m = crate::ctype::DataModel::ILP32;
    match t {
        T::Simple(_) | T::Pointer(_) => Some(t.call_repr(m)),
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

fn struct_abi(s: &std::rc::Rc<crate::structure::StructType>) -> StructAbi {
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

/// A library loaded into its own wasmtime store.
pub struct WasmLibrary {
    path: PathBuf,
    loaded: Loaded,
    sandbox: Sandbox,
    clock: VirtualClock,
    store: Store<GuestState>,
    instance: Instance,
    memory: Memory,
    malloc: TypedFunc<u32, u32>,
    free: TypedFunc<u32, ()>,
    fflush: Option<TypedFunc<u32, i32>>,
    /// The `__stack_pointer` global and its value between calls, restored after a trap.
    stack_pointer: Option<(Global, Val)>,
    /// Ticks before a call's deadline (`u64::MAX / 2` for none).
    deadline_ticks: u64,
    /// The ticker round at which the deadline was last set (`u64::MAX` for not since the
    /// store was made): see [`WasmLibrary::arm`].
    armed_round: u64,
    /// Bumped by every [`WasmLibrary::reset`]: the store, and every `TypedFunc` of the old
    /// one, is replaced.
    generation: u64,
    protos: Vec<WasmProto>,
    /// Table slots released by dropped callbacks, reused before the table grows.
    free_slots: Vec<u64>,
    /// Table slot -> callback id.
    slot_ids: std::collections::HashMap<u64, usize>,
    stdout: Capture,
    stderr: Capture,
    capture: bool,
}

/// A fresh instance and the exports the runtime uses.
struct Parts {
    store: Store<GuestState>,
    instance: Instance,
    memory: Memory,
    malloc: TypedFunc<u32, u32>,
    free: TypedFunc<u32, ()>,
    fflush: Option<TypedFunc<u32, i32>>,
    stack_pointer: Option<(Global, Val)>,
}

/// The guest's WASI context: nothing of the host unless the sandbox grants it.
fn wasi_context(
    sandbox: &Sandbox,
    clock: &VirtualClock,
    capture: Option<(&Capture, &Capture)>,
) -> Result<WasiP1Ctx> {
    let mut wasi = WasiCtxBuilder::new();
    match capture {
        Some((out, err)) => {
            wasi.stdout(out.clone()).stderr(err.clone());
        }
        None => {
            wasi.inherit_stdout().inherit_stderr();
        }
    }
    if !sandbox.real_clock {
        wasi.wall_clock(clock.clone())
            .monotonic_clock(clock.clone());
    }
    if !sandbox.real_random {
        wasi.secure_random(SeededRandom::new(sandbox.seed))
            .insecure_random(SeededRandom::new(sandbox.seed ^ 0x5eed))
            .insecure_random_seed(sandbox.seed as u128);
    }
    for (k, v) in &sandbox.env {
        wasi.env(k, v);
    }
    for d in &sandbox.dirs {
        let perms = if d.read_only {
            wasmtime_wasi::FsPerms::ReadOnly
        } else {
            wasmtime_wasi::FsPerms::ReadWrite
        };
        wasi.preopened_dir(&d.host, &d.guest, perms)
            .map_err(|e| Error::os(&d.host, format!("cannot grant the directory: {e}")))?;
    }
    Ok(wasi.build_p1())
}

impl WasmLibrary {
    /// Loads a reactor module (from the module cache when it can), instantiates it under the
    /// sandbox of `options`, and runs its `_initialize` once.
    pub fn open(path: &Path, options: &LoadOptions) -> Result<WasmLibrary> {
        let bytes = std::fs::read(path).map_err(|e| Error::os(path, e))?;
        if !bytes.starts_with(b"\0asm") {
            return Err(Error::os(
                path,
                "not a WebAssembly module (no \\0asm header)",
            ));
        }
        let sandbox = options.sandbox.clone();
        let key = EngineKey::of(&sandbox);
        let loaded = engine::load(path, &bytes, key, true)?;
        let capture = options.capture_output.unwrap_or(true);
        let stdout = Capture::new(CAPTURE_LIMIT);
        let stderr = Capture::new(CAPTURE_LIMIT);
        let clock = VirtualClock::default();
        let deadline_ticks = sandbox.timeout.map(engine::ticks).unwrap_or(u64::MAX / 2);
        let parts = WasmLibrary::instantiate(
            path,
            &loaded,
            &sandbox,
            &clock,
            capture.then_some((&stdout, &stderr)),
            deadline_ticks,
        )?;
        Ok(WasmLibrary {
            path: path.to_path_buf(),
            loaded,
            sandbox,
            clock,
            store: parts.store,
            instance: parts.instance,
            memory: parts.memory,
            malloc: parts.malloc,
            free: parts.free,
            fflush: parts.fflush,
            stack_pointer: parts.stack_pointer,
            deadline_ticks,
            armed_round: u64::MAX,
            generation: 0,
            protos: Vec::new(),
            free_slots: Vec::new(),
            slot_ids: std::collections::HashMap::new(),
            stdout,
            stderr,
            capture,
        })
    }

    fn instantiate(
        path: &Path,
        loaded: &Loaded,
        sandbox: &Sandbox,
        clock: &VirtualClock,
        capture: Option<(&Capture, &Capture)>,
        deadline_ticks: u64,
    ) -> Result<Parts> {
        let mut store = Store::new(
            &loaded.engine,
            GuestState {
                wasi: wasi_context(sandbox, clock, capture)?,
                limits: Limiter {
                    max_memory: sandbox.max_memory,
                    max_table_elements: sandbox.max_table_elements,
                },
                callbacks: Vec::new(),
                callback_error: None,
            },
        );
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(deadline_ticks);
        if let Some(fuel) = sandbox.fuel {
            let _ = store.set_fuel(fuel);
        }
        let instance = loaded
            .pre
            .instantiate(&mut store)
            .map_err(|e| match trap_error(e) {
                Error::Trap {
                    kind: TrapKind::MemoryLimit,
                    message,
                    ..
                } => Error::Trap {
                    kind: TrapKind::MemoryLimit,
                    message: format!("cannot instantiate {}: {message}", path.display()),
                    backtrace: String::new(),
                },
                other => Error::os(path, format!("cannot instantiate: {}", other.message())),
            })?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| Error::os(path, "module exports no memory named \"memory\""))?;
        let malloc = instance
            .get_typed_func::<u32, u32>(&mut store, "malloc")
            .map_err(|_| {
                Error::os(
                    path,
                    "module does not export malloc(i32) -> i32; build it with -Wl,--export=malloc",
                )
            })?;
        let free = instance
            .get_typed_func::<u32, ()>(&mut store, "free")
            .map_err(|_| {
                Error::os(
                    path,
                    "module does not export free(i32); build it with -Wl,--export=free",
                )
            })?;
        let fflush = instance
            .get_typed_func::<u32, i32>(&mut store, "fflush")
            .ok();
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ()).map_err(|e| match trap_error(e) {
                Error::Trap {
                    kind,
                    message,
                    backtrace,
                } if kind != TrapKind::Other => Error::Trap {
                    kind,
                    message: format!("_initialize failed: {message}"),
                    backtrace,
                },
                other => Error::os(path, format!("_initialize failed: {other}")),
            })?;
        }
        let stack_pointer = instance.get_global(&mut store, "__stack_pointer").map(|g| {
            let v = g.get(&mut store);
            (g, v)
        });
        Ok(Parts {
            store,
            instance,
            memory,
            malloc,
            free,
            fflush,
            stack_pointer,
        })
    }

    /// Throws the instance away and makes a fresh one from the same (cached) module: the
    /// library's memory, globals and table are as after loading. Prepared prototypes stay
    /// valid; callbacks and memory objects made before are gone.
    pub fn reset(&mut self) -> Result<()> {
        let capture = self.capture.then_some((&self.stdout, &self.stderr));
        let parts = WasmLibrary::instantiate(
            &self.path,
            &self.loaded,
            &self.sandbox,
            &self.clock,
            capture,
            self.deadline_ticks,
        )?;
        self.store = parts.store;
        self.instance = parts.instance;
        self.memory = parts.memory;
        self.malloc = parts.malloc;
        self.free = parts.free;
        self.fflush = parts.fflush;
        self.stack_pointer = parts.stack_pointer;
        self.armed_round = u64::MAX;
        self.generation += 1;
        self.free_slots.clear();
        self.slot_ids.clear();
        let _ = self.stdout.drain();
        let _ = self.stderr.drain();
        for p in &mut self.protos {
            p.func = self
                .instance
                .get_func(&mut self.store, &p.name)
                .ok_or_else(|| Error::Runtime(format!("{} vanished after reset", p.name)))?;
        }
        Ok(())
    }

    /// The scalar prototype `proto` as wasmtime's `TypedFunc<P, R>`, if its export has exactly
    /// that wasm signature: what [`TypedFunction`](crate::TypedFunction) calls in wasm.
    pub(crate) fn typed_func<P: WasmParams, R: WasmResults>(
        &self,
        proto: ProtoId,
    ) -> Option<WasmTyped<P, R>> {
        let p = self.protos.get(proto.0).filter(|p| p.scalar)?;
        Some(self.of_instance(p.func.typed::<P, R>(&self.store).ok()?))
    }

    /// `func`, stamped with the current instance's generation.
    fn of_instance<F>(&self, func: F) -> OfInstance<F> {
        OfInstance {
            generation: self.generation,
            func,
        }
    }

    /// What `kept` holds, if it was made for the current instance.
    #[inline(always)]
    fn current<'k, F>(&self, kept: &'k OfInstance<F>) -> Option<&'k F> {
        (kept.generation == self.generation).then_some(&kept.func)
    }

    /// Calls a `TypedFunc` made by [`WasmLibrary::typed_func`], as the scalar path calls its
    /// export: the deadline armed, a trap or a callback's error turned into the call's error.
    /// `None` if the library was reset since, and the `TypedFunc` belongs to the old store.
    #[inline]
    pub(crate) fn call_typed<P: WasmParams, R: WasmResults>(
        &mut self,
        typed: &WasmTyped<P, R>,
        params: P,
    ) -> Option<std::result::Result<R, Box<Error>>> {
        let func = self.current(typed)?;
        self.arm();
        Some(match func.call(&mut self.store, params) {
            Ok(r) => Ok(r),
            Err(e) => Err(self.scalar_failure(Err(e))),
        })
    }

    /// Gives the next entry into the guest its full budget: the deadline and the fuel.
    ///
    /// The deadline is set again only when the ticker has finished a round since it was last
    /// set. Within one round an engine's epoch moves by at most one, so a deadline set one
    /// tick further out than the timeout leaves every call between `deadline_ticks - 1` and
    /// `deadline_ticks + 1` ticks: the same lower bound as setting it on every call, whose
    /// first tick may also come at once. Setting it costs a call into wasmtime and a load of
    /// the engine's epoch, about 2 ns of a 35 ns call; the check costs one load.
    #[inline]
    fn arm(&mut self) {
        let round = engine::ticker_rounds();
        if round != self.armed_round {
            self.rearm(round);
        }
        if let Some(fuel) = self.sandbox.fuel {
            let _ = self.store.set_fuel(fuel);
        }
    }

    #[cold]
    #[inline(never)]
    fn rearm(&mut self, round: u64) {
        self.store
            .set_epoch_deadline(self.deadline_ticks.saturating_add(1));
        self.armed_round = round;
    }

    /// Moves the guest's virtual clocks forward.
    pub fn advance_clock(&self, by: std::time::Duration) {
        self.clock.advance(by);
    }

    /// Where the module came from and how long loading took.
    pub fn load_stats(&self) -> (LoadSource, std::time::Duration) {
        (self.loaded.source, self.loaded.elapsed)
    }

    fn library_name(&self) -> String {
        self.path.display().to_string()
    }

    /// Turns a failed guest call into an error and puts the shadow stack back, so that the
    /// next call starts from a clean stack.
    fn fail(&mut self, err: wasmtime::Error) -> Error {
        if let Some((global, value)) = &self.stack_pointer {
            let _ = global.set(&mut self.store, *value);
        }
        trap_error(err)
    }

    /// The export of a prepared scalar prototype of `n` arguments, for
    /// [`WasmLibrary::call_slots`]; `None` if the prototype is not scalar or takes another
    /// number of arguments.
    #[inline(always)]
    pub(crate) fn scalar_func(&self, proto: ProtoId, n: usize) -> Option<Func> {
        let p = self.protos.get(proto.0)?;
        (p.scalar && p.params.len() == n).then_some(p.func)
    }

    /// [`WasmLibrary::scalar_func`] through `cache`, which keeps the export of the current
    /// instance: a call after the first reads it without looking the prototype up.
    #[inline(always)]
    pub(crate) fn cached_scalar_func(
        &self,
        cache: &Cell<Option<ScalarFunc>>,
        proto: ProtoId,
        n: usize,
    ) -> Option<Func> {
        match cache.get().as_ref().and_then(|c| self.current(c)) {
            Some(func) => Some(*func),
            None => self.fill_scalar_func(cache, proto, n),
        }
    }

    #[cold]
    #[inline(never)]
    fn fill_scalar_func(
        &self,
        cache: &Cell<Option<ScalarFunc>>,
        proto: ProtoId,
        n: usize,
    ) -> Option<Func> {
        let func = self.scalar_func(proto, n)?;
        cache.set(Some(self.of_instance(func)));
        Some(func)
    }

    /// Calls `func` (from [`WasmLibrary::scalar_func`] for `n` arguments) with its arguments
    /// already in wasmtime's raw slots `slots[..n]`: [`Backend::call_scalar`] without the
    /// intermediate array, for [`Function::call`](crate::Function::call)'s fast path. The
    /// result is the raw slot: its low bits at the result's width hold the result, the rest
    /// (and the whole slot for void) are unspecified.
    ///
    /// # Safety
    /// `slots[..n]` is initialised with one value of the right type for each parameter.
    #[inline(always)]
    pub(crate) unsafe fn call_slots(
        &mut self,
        func: Func,
        slots: &mut [MaybeUninit<ValRaw>; SCALAR_SLOTS],
        n: usize,
    ) -> std::result::Result<u64, Box<Error>> {
        if n == 0 {
            slots[0].write(ValRaw::i64(0));
        }
        self.arm();
        let raw = std::ptr::slice_from_raw_parts_mut(slots.as_mut_ptr().cast::<ValRaw>(), n.max(1));
        // SAFETY: `slots[..n]` holds one value of the right type for every parameter of `func`
        // (the caller's promise; the prototype was checked against the signature in
        // `prepare`), slot 0 is initialised and has room for its one result, and `func`
        // belongs to `self.store`.
        let outcome = unsafe { func.call_unchecked(&mut self.store, raw) };
        // A failing callback returns an error from its host function, which stops the guest:
        // a call that returned normally had no failing callback.
        if outcome.is_err() {
            return Err(self.scalar_failure(outcome));
        }
        // SAFETY: slot 0 was initialised above and holds the result after the call.
        Ok(unsafe { slots[0].assume_init() }.get_u64())
    }

    /// [`Backend::call_scalar`] for a prototype that is not scalar: the general call. Out of
    /// line, so that the scalar path keeps a small frame.
    #[cold]
    #[inline(never)]
    fn call_scalar_general(
        &mut self,
        proto: ProtoId,
        args: &[u64],
    ) -> std::result::Result<u64, Box<Error>> {
        let outcome = self.call(proto, args, 0);
        match self.take_callback_error() {
            Some(e) => Err(Box::new(e)),
            None => outcome.map_err(Box::new),
        }
    }

    /// The error of a scalar call that trapped or whose callback failed: the callback's error
    /// comes first, since the trap (if any) is only how it stopped the guest.
    #[cold]
    #[inline(never)]
    fn scalar_failure(&mut self, outcome: wasmtime::Result<()>) -> Box<Error> {
        let trap = outcome.err().map(|e| self.fail(e));
        let callback = self.store.data_mut().callback_error.take();
        Box::new(match (callback, trap) {
            (Some(e), _) | (None, Some(e)) => e,
            (None, None) => Error::Runtime("a scalar call failed without an error".into()),
        })
    }

    fn check_range(&self, addr: u64, len: usize) -> Result<std::ops::Range<usize>> {
        range_in(self.memory.data_size(&self.store), addr, len)
    }
}

/// The range `addr..addr + len` of a guest memory of `size` bytes, or the out-of-bounds error.
fn range_in(size: usize, addr: u64, len: usize) -> Result<std::ops::Range<usize>> {
    match addr.checked_add(len as u64) {
        Some(end) if end <= size as u64 => Ok(addr as usize..end as usize),
        _ => Err(Error::OutOfBounds(format!(
            "pointer 0x{addr:x} (+{len} bytes) is outside guest memory of {size} bytes"
        ))),
    }
}

/// The wasm backtrace of a trap, one frame per line, with function names.
fn backtrace_text(err: &wasmtime::Error) -> String {
    err.downcast_ref::<WasmBacktrace>()
        .map(|bt| {
            bt.frames()
                .iter()
                .map(|f| {
                    let name = f
                        .func_name()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("<wasm function {}>", f.func_index()));
                    match f.module_offset() {
                        Some(off) => format!("  at {name} (offset 0x{off:x})"),
                        None => format!("  at {name}"),
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Converts a wasmtime error from a guest call into a typed [`Error`].
pub(crate) fn trap_error(err: wasmtime::Error) -> Error {
    if let Some(exit) = err.downcast_ref::<I32Exit>() {
        return Error::Trap {
            kind: TrapKind::GuestExit,
            message: format!("guest called exit({})", exit.0),
            backtrace: backtrace_text(&err),
        };
    }
    if let Some(limit) = err.downcast_ref::<crate::sandbox::LimitExceeded>() {
        return Error::Trap {
            kind: TrapKind::MemoryLimit,
            message: limit.0.clone(),
            backtrace: backtrace_text(&err),
        };
    }
    let backtrace = backtrace_text(&err);
    let Some(trap) = err.downcast_ref::<Trap>() else {
        // A host function failed (e.g. a callback's error), or wasmtime refused the call.
        if let Some(inner) = err.downcast_ref::<Error>() {
            return Error::Trap {
                kind: TrapKind::Other,
                message: inner.to_string(),
                backtrace,
            };
        }
        return Error::Trap {
            kind: TrapKind::Other,
            message: format!("{}", err.root_cause()),
            backtrace,
        };
    };
    let kind = match trap {
        Trap::UnreachableCodeReached => TrapKind::Unreachable,
        Trap::MemoryOutOfBounds | Trap::HeapMisaligned => TrapKind::MemoryOutOfBounds,
        Trap::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        Trap::IntegerOverflow => TrapKind::IntegerOverflow,
        Trap::BadConversionToInteger => TrapKind::BadConversionToInteger,
        Trap::IndirectCallToNull => TrapKind::IndirectCallToNull,
        Trap::BadSignature => TrapKind::BadSignature,
        Trap::TableOutOfBounds => TrapKind::TableOutOfBounds,
        Trap::StackOverflow => TrapKind::StackOverflow,
        Trap::OutOfFuel => TrapKind::OutOfFuel,
        Trap::Interrupt => TrapKind::Timeout,
        _ => TrapKind::Other,
    };
    let message = match kind {
        TrapKind::Unreachable => {
            "wasm trap: unreachable executed (abort() or __builtin_trap())".to_string()
        }
        _ => trap.to_string(),
    };
    Error::Trap {
        kind,
        message,
        backtrace,
    }
}

fn signature_text(params: &[Slot], result: Option<Slot>) -> String {
    let p: Vec<String> = params
        .iter()
        .map(|s| format!("{s:?}").to_lowercase())
        .collect();
    let r = result
        .map(|s| format!("{s:?}").to_lowercase())
        .unwrap_or_else(|| "()".into());
    format!("({}) -> {}", p.join(", "), r)
}

fn func_signature(ty: &wasmtime::FuncType) -> String {
    let p: Vec<String> = ty.params().map(|t| t.to_string()).collect();
    let r: Vec<String> = ty.results().map(|t| t.to_string()).collect();
    let r = match r.len() {
        0 => "()".to_string(),
        1 => r[0].clone(),
        _ => format!("({})", r.join(", ")),
    };
    format!("({}) -> {}", p.join(", "), r)
}

impl Backend for WasmLibrary {
    fn kind(&self) -> BackendKind {
        BackendKind::Wasm
    }

    fn has_function(&self, name: &str) -> bool {
        matches!(
            self.instance.module(&self.store).get_export(name),
            Some(ExternType::Func(_))
        )
    }

    fn prepare(
        &mut self,
        symbol: &str,
        args: &[Passing],
        ret: &Passing,
        fixed: Option<usize>,
    ) -> Result<ProtoId> {
        let func = self
            .instance
            .get_func(&mut self.store, symbol)
            .ok_or_else(|| Error::AttributeError {
                library: self.library_name(),
                symbol: symbol.to_string(),
            })?;
        let ty = func.ty(&self.store);
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
        let result = match ret {
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
                        "a structure cannot be a variadic argument".into(),
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
                ArgPlan::RetAddr | ArgPlan::VaBuffer => Slot::I32,
            })
            .collect();
        let lowered_ret = match result {
            RetPlan::None => None,
            RetPlan::Slot(s) | RetPlan::Store(s, _) => Some(s),
        };
        let sret = params.iter().any(|p| matches!(p, ArgPlan::RetAddr)) as usize;
        if lowered.len() != actual.len() && lowered_ret == results.first().copied() {
            let want = actual.len().saturating_sub(sret);
            return Err(Error::ArgumentError {
                position: None,
                message: format!(
                    "this function takes {want} argument{} ({} given): {symbol} is {} in wasm",
                    if want == 1 { "" } else { "s" },
                    args.len(),
                    func_signature(&ty)
                ),
            });
        }
        if lowered != actual || lowered_ret != results.first().copied() {
            return Err(Error::TypeError(format!(
                "the prototype {} does not match {symbol}'s wasm signature {}{}",
                signature_text(&lowered, lowered_ret),
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
            && !matches!(result, RetPlan::Store(..));
        self.protos.push(WasmProto {
            name: symbol.to_string(),
            func,
            params,
            result,
            varargs,
            va_size,
            scalar,
        });
        Ok(ProtoId(self.protos.len() - 1))
    }

    fn call(&mut self, proto: ProtoId, args: &[u64], ret_addr: u64) -> Result<u64> {
        let p = &self.protos[proto.0];
        let n = p
            .params
            .len()
            .max(!matches!(p.result, RetPlan::None) as usize);
        if n > MAX_ARGS {
            return Err(Error::arg(
                MAX_ARGS + 1,
                format!("too many arguments (at most {MAX_ARGS})"),
            ));
        }
        // Only the slots the call uses are written (see `call_with`).
        let mut slots = [MaybeUninit::<ValRaw>::uninit(); MAX_ARGS];
        let va_buffer = if p.va_size > 0 {
            let (varargs, va_size) = (p.varargs.clone(), p.va_size);
            let addr = self.malloc(va_size)?;
            let mut buf = vec![0u8; va_size];
            for (i, slot, offset) in varargs {
                let size = if matches!(slot, Slot::I32 | Slot::F32) {
                    4
                } else {
                    8
                };
                buf[offset..offset + size].copy_from_slice(&args[i].to_le_bytes()[..size]);
            }
            if let Err(e) = self.write(addr, &buf) {
                let _ = self.free(addr);
                return Err(e);
            }
            addr
        } else {
            0
        };
        self.arm();
        let outcome = self.call_with(proto, args, ret_addr, va_buffer, &mut slots, n);
        if va_buffer != 0 {
            let _ = self.free(va_buffer);
        }
        outcome
    }

    fn call_scalar(
        &mut self,
        proto: ProtoId,
        args: &[u64],
    ) -> std::result::Result<u64, Box<Error>> {
        let Some(func) = self.scalar_func(proto, args.len()) else {
            return self.call_scalar_general(proto, args);
        };
        let mut slots = [MaybeUninit::<ValRaw>::uninit(); SCALAR_SLOTS];
        // ValRaw holds its value little-endian from the first byte, so the 64-bit slot, whose
        // low bits are the value at its own width (an i32, or an f32's bits), reads as the
        // parameter's type without a per-type conversion.
        for (slot, &bits) in slots.iter_mut().zip(args) {
            slot.write(ValRaw::u64(bits));
        }
        // SAFETY: `slots[..args.len()]` is written, one slot per parameter (`scalar_func`).
        unsafe { self.call_slots(func, &mut slots, args.len()) }
    }

    fn describe_call(&self, proto: ProtoId) -> String {
        match self.protos.get(proto.0) {
            Some(p) if p.scalar => "call_unchecked (scalar slots)".into(),
            Some(_) => "call_unchecked".into(),
            None => "unprepared".into(),
        }
    }

    fn malloc(&mut self, size: usize) -> Result<u64> {
        let size32 = u32::try_from(size).map_err(|_| {
            Error::ValueError(format!("cannot allocate {size} bytes in a 32-bit guest"))
        })?;
        self.arm();
        match self.malloc.call(&mut self.store, size32) {
            Ok(0) => Err(Error::ValueError(format!(
                "guest malloc({size}) returned NULL: out of memory"
            ))),
            Ok(addr) => Ok(addr as u64),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn free(&mut self, addr: u64) -> Result<()> {
        let addr = u32::try_from(addr)
            .map_err(|_| Error::OutOfBounds(format!("free(0x{addr:x}): not a guest address")))?;
        self.arm();
        self.free
            .call(&mut self.store, addr)
            .map_err(|e| self.fail(e))
    }

    fn read(&mut self, addr: u64, out: &mut [u8]) -> Result<()> {
        let mem = self.memory.data(&self.store);
        out.copy_from_slice(&mem[range_in(mem.len(), addr, out.len())?]);
        Ok(())
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        let mem = self.memory.data_mut(&mut self.store);
        let range = range_in(mem.len(), addr, data.len())?;
        mem[range].copy_from_slice(data);
        Ok(())
    }

    fn write_terminated(&mut self, addr: u64, data: &[u8], nul: usize) -> Result<()> {
        // One look-up of the memory and one bounds check for the string and its terminator.
        let mem = self.memory.data_mut(&mut self.store);
        let range = range_in(mem.len(), addr, data.len() + nul.min(4))?;
        let (text, zeros) = mem[range].split_at_mut(data.len());
        text.copy_from_slice(data);
        // A C string's one NUL as a store, not a call of memset for one byte.
        match zeros {
            [nul] => *nul = 0,
            _ => zeros.fill(0),
        }
        Ok(())
    }

    fn strlen(&mut self, addr: u64, width: usize) -> Result<usize> {
        let start = self.check_range(addr, 0)?.start;
        let mem = &self.memory.data(&self.store)[start..];
        mem.chunks_exact(width)
            .position(|unit| unit.iter().all(|b| *b == 0))
            .ok_or_else(|| {
                Error::OutOfBounds(format!(
                    "string at 0x{addr:x} runs past the end of guest memory without a terminator"
                ))
            })
    }

    fn set_capture(&mut self, capture: bool) {
        // Capture is fixed when the WASI context is built; the CLI asks before opening.
        let _ = capture;
    }

    fn take_output(&mut self) -> Output {
        self.arm();
        if let Some(fflush) = self.fflush.clone() {
            if fflush.call(&mut self.store, 0).is_err() {
                if let Some((global, value)) = &self.stack_pointer {
                    let _ = global.set(&mut self.store, *value);
                }
            }
        }
        if !self.capture {
            return Output::default();
        }
        let (mut stdout, dropped_out) = self.stdout.drain();
        let (mut stderr, dropped_err) = self.stderr.drain();
        for (buf, dropped) in [(&mut stdout, dropped_out), (&mut stderr, dropped_err)] {
            if dropped > 0 {
                buf.extend_from_slice(
                    format!("\n[wasmctypes: {dropped} more bytes dropped]\n").as_bytes(),
                );
            }
        }
        Output { stdout, stderr }
    }

    fn data_address(&mut self, name: &str) -> Result<u64> {
        match self
            .instance
            .get_global(&mut self.store, name)
            .map(|g| g.get(&mut self.store))
        {
            Some(Val::I32(addr)) if name != "__stack_pointer" => Ok(addr as u32 as u64),
            _ => Err(Error::AttributeError {
                library: self.library_name(),
                symbol: name.to_string(),
            }),
        }
    }

    fn make_callback(
        &mut self,
        args: &[crate::ctype::CType],
        ret: crate::ctype::CType,
        f: std::rc::Rc<crate::callback::CallbackFn>,
    ) -> Result<u64> {
        let m = crate::ctype::DataModel::ILP32;
        let table = self.table()?;
        let params: Vec<ValType> = args
            .iter()
            .filter_map(|t| Slot::of_repr(m.repr(*t)))
            .map(valtype)
            .collect();
        let results: Vec<ValType> = Slot::of_repr(m.repr(ret))
            .map(valtype)
            .into_iter()
            .collect();
        let ty = wasmtime::FuncType::new(&self.loaded.engine, params, results);
        let cb = WasmCallback {
            f,
            args: args.to_vec(),
            ret,
        };
        let callbacks = &mut self.store.data_mut().callbacks;
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
        let func = Func::new(&mut self.store, ty, move |caller, params, results| {
            run_callback(caller, id, params, results)
        });
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                table
                    .set(&mut self.store, slot, wasmtime::Ref::Func(Some(func)))
                    .map_err(|e| {
                        Error::Runtime(format!("cannot place the callback in the table: {e}"))
                    })?;
                slot
            }
            None => table
                .grow(&mut self.store, 1, wasmtime::Ref::Func(Some(func)))
                .map_err(|e| Error::Runtime(format!("cannot grow the function table: {e}")))?,
        };
        self.slot_ids.insert(slot, id);
        Ok(slot)
    }

    fn free_callback(&mut self, ptr: u64) {
        let Some(id) = self.slot_ids.remove(&ptr) else {
            return;
        };
        if let Ok(table) = self.table() {
            let _ = table.set(&mut self.store, ptr, wasmtime::Ref::Func(None));
        }
        if let Some(entry) = self.store.data_mut().callbacks.get_mut(id) {
            *entry = None;
        }
        self.free_slots.push(ptr);
    }

    fn errno_location(&mut self) -> Result<u64> {
        self.data_address("errno").map_err(|_| {
            Error::AttributeError {
                library: self.library_name(),
                symbol: "errno (build the module with -Wl,--export-if-defined=errno, as wasmctypes build does)".into(),
            }
        })
    }

    fn take_callback_error(&mut self) -> Option<Error> {
        self.store.data_mut().callback_error.take()
    }

    fn reset(&mut self) -> Result<()> {
        WasmLibrary::reset(self)
    }

    fn advance_clock(&mut self, by: std::time::Duration) -> Result<()> {
        WasmLibrary::advance_clock(self, by);
        Ok(())
    }

    fn load_stats(&self) -> Option<(LoadSource, std::time::Duration)> {
        Some(WasmLibrary::load_stats(self))
    }

    fn info(&mut self) -> LibraryInfo {
        let module = self.instance.module(&self.store).clone();
        let mut exports = Vec::new();
        for export in module.exports() {
            match export.ty() {
                ExternType::Func(ty) => exports.push(Export::Function {
                    name: export.name().to_string(),
                    signature: Some(func_signature(&ty)),
                }),
                ExternType::Global(_) if export.name() != "__stack_pointer" => {
                    if let Ok(addr) = self.data_address(export.name()) {
                        exports.push(Export::Data {
                            name: export.name().to_string(),
                            addr,
                            size: None,
                        });
                    }
                }
                _ => {}
            }
        }
        let mem_ty = self.memory.ty(&self.store);
        let memory = Some((
            self.memory.data_size(&self.store) as u64,
            mem_ty.maximum().map(|p| p * 65536),
        ));
        let table = self
            .instance
            .get_table(&mut self.store, "__indirect_function_table")
            .map(|t| (t.size(&self.store), t.ty(&self.store).maximum()));
        LibraryInfo {
            exports,
            memory,
            table,
        }
    }
}

impl WasmLibrary {
    /// The call itself, once the variadic buffer (if any) is in place.
    fn call_with(
        &mut self,
        proto: ProtoId,
        args: &[u64],
        ret_addr: u64,
        va_buffer: u64,
        slots: &mut [MaybeUninit<ValRaw>; MAX_ARGS],
        n: usize,
    ) -> Result<u64> {
        let p = &self.protos[proto.0];
        let mem = self.memory.data(&self.store);
        // Slot 0 holds the result, also when there are no parameters.
        slots[0].write(ValRaw::i64(0));
        for (slot, plan) in slots.iter_mut().zip(&p.params) {
            let value = match *plan {
                ArgPlan::Slot(i, ty) => ty.to_raw(args[i]),
                ArgPlan::RetAddr => ValRaw::i32(ret_addr as i32),
                ArgPlan::VaBuffer => ValRaw::i32(va_buffer as i32),
                ArgPlan::Load(i, ty, size) => {
                    let start = args[i] as usize;
                    let bytes = mem.get(start..start + size).ok_or_else(|| {
                        Error::OutOfBounds(format!(
                            "structure argument at 0x{start:x} is outside guest memory"
                        ))
                    })?;
                    let mut b = [0u8; 8];
                    b[..size].copy_from_slice(bytes);
                    ty.to_raw(u64::from_le_bytes(b))
                }
            };
            slot.write(value);
        }
        let func = p.func;
        let result = p.result;
        let raw = std::ptr::slice_from_raw_parts_mut(slots.as_mut_ptr().cast::<ValRaw>(), n);
        // SAFETY: `slots[..n]` is initialised (slot 0 above, one per parameter in the loop,
        // and `n` is the parameter count or 1), holds one value of the right type for every
        // parameter of `func` (checked against `func`'s own signature in `prepare`), and has
        // room for its result; `func` belongs to `self.store`.
        let outcome = unsafe { func.call_unchecked(&mut self.store, raw) };
        if let Err(e) = outcome {
            return Err(self.fail(e));
        }
        // SAFETY: slot 0 was initialised above and holds the result after the call.
        let ret = unsafe { slots[0].assume_init() };
        match result {
            RetPlan::None => Ok(0),
            RetPlan::Slot(s) => Ok(s.bits_of(ret)),
            RetPlan::Store(s, size) => {
                let bits = s.bits_of(ret).to_le_bytes();
                self.write(ret_addr, &bits[..size])?;
                Ok(0)
            }
        }
    }

    fn table(&mut self) -> Result<wasmtime::Table> {
        self.instance
            .get_table(&mut self.store, "__indirect_function_table")
            .ok_or_else(|| {
                Error::TypeError(
                    "the module exports no function table: build it with -Wl,--export-table".into(),
                )
            })
    }
}

impl Drop for WasmLibrary {
    fn drop(&mut self) {
        if !self.capture {
            let _ = self.take_output();
        }
    }
}
