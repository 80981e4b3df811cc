//! What the benches share: the floors, written as a user of wasmtime or libffi alone would.
#![allow(dead_code)]

use std::path::Path;

use libffi::middle::{Cif, CodePtr, Type};

/// A plain wasmtime instance of `wasm` with WASI preview1 and `_initialize` run: what a user of
/// wasmtime alone would call. The store's epoch deadline is far off.
pub fn raw_instance(
    engine: &wasmtime::Engine,
    wasm: &Path,
) -> (
    wasmtime::Store<wasmtime_wasi::p1::WasiP1Ctx>,
    wasmtime::Instance,
) {
    let module = wasmtime::Module::from_file(engine, wasm).unwrap();
    let mut linker = wasmtime::Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s| s).unwrap();
    let mut store = wasmtime::Store::new(engine, wasmtime_wasi::WasiCtxBuilder::new().build_p1());
    store.set_epoch_deadline(1 << 40);
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let init = inst
        .get_typed_func::<(), ()>(&mut store, "_initialize")
        .unwrap();
    init.call(&mut store, ()).unwrap();
    (store, inst)
}

/// A block of `size` bytes of a raw instance's memory from its own `malloc`, and the memory:
/// where a user of wasmtime alone would put a string or buffer argument.
pub fn raw_block(
    store: &mut wasmtime::Store<wasmtime_wasi::p1::WasiP1Ctx>,
    inst: &wasmtime::Instance,
    size: i32,
) -> (wasmtime::Memory, i32) {
    let malloc = inst
        .get_typed_func::<i32, i32>(&mut *store, "malloc")
        .unwrap();
    let addr = malloc.call(&mut *store, size).unwrap();
    assert_ne!(addr, 0, "guest malloc failed");
    (inst.get_memory(&mut *store, "memory").unwrap(), addr)
}

/// A raw instance's export `name` as a `TypedFunc<P, R>`, with a block of `size` bytes of its
/// memory from [`raw_block`]: the setup of the string and buffer floors.
pub fn raw_func_with_block<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    engine: &wasmtime::Engine,
    wasm: &Path,
    name: &str,
    size: i32,
) -> (
    wasmtime::Store<wasmtime_wasi::p1::WasiP1Ctx>,
    wasmtime::TypedFunc<P, R>,
    wasmtime::Memory,
    i32,
) {
    let (mut store, inst) = raw_instance(engine, wasm);
    let (memory, addr) = raw_block(&mut store, &inst, size);
    let f = inst.get_typed_func::<P, R>(&mut store, name).unwrap();
    (store, f, memory, addr)
}

/// The native build of a library, opened by libloading alone.
pub fn open_so(so: &Path) -> libloading::Library {
    unsafe { libloading::Library::new(so) }.unwrap()
}

/// The function `name` of `lib` as the function pointer type `F` (an `unsafe extern "C" fn`).
/// `F` must be the function's C prototype.
pub fn native_fn<F: Copy>(lib: &libloading::Library, name: &str) -> F {
    *unsafe { lib.get::<F>(name.as_bytes()) }.unwrap()
}

/// `add(int, int)` of the native build: the library (keep it alive) and the function pointer.
pub fn native_add(so: &Path) -> (libloading::Library, unsafe extern "C" fn(i32, i32) -> i32) {
    let lib = open_so(so);
    let add = native_fn(&lib, "add");
    (lib, add)
}

/// The code pointer libffi calls for a function pointer.
pub fn code<F: Copy>(f: F) -> CodePtr {
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut ()>());
    // SAFETY: `F` is a function pointer type (checked to be pointer-sized above).
    CodePtr(unsafe { std::mem::transmute_copy::<F, *mut std::ffi::c_void>(&f) })
}

/// A libffi `Cif` for `int(int, int)`.
pub fn add_cif() -> Cif {
    Cif::new([Type::i32(), Type::i32()], Type::i32())
}

/// A libffi `Cif` for `void(void)`.
pub fn noop_cif() -> Cif {
    Cif::new([], Type::void())
}

/// A libffi `Cif` for `double(int, double, float, long long, char, double)`.
pub fn mix_cif() -> Cif {
    Cif::new(
        [
            Type::i32(),
            Type::f64(),
            Type::f32(),
            Type::i64(),
            Type::i8(),
            Type::f64(),
        ],
        Type::f64(),
    )
}

/// testlib's `mix` natively.
pub type MixFn = unsafe extern "C" fn(i32, f64, f32, i64, i8, f64) -> f64;
/// testlib's `mix` as a wasm export: a `char` travels as an i32.
pub type WasmMix = (i32, f64, f32, i64, i32, f64);
