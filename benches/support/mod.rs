//! What the benches share: the floors, written as a user of wasmtime or libffi alone would.
#![allow(dead_code)]

use std::path::Path;

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

/// `add(int, int)` of the native build: the library (keep it alive) and the function pointer.
pub fn native_add(so: &Path) -> (libloading::Library, unsafe extern "C" fn(i32, i32) -> i32) {
    let lib = unsafe { libloading::Library::new(so) }.unwrap();
    let add = *unsafe { lib.get::<unsafe extern "C" fn(i32, i32) -> i32>(b"add") }.unwrap();
    (lib, add)
}

/// A libffi `Cif` for `int(int, int)`.
pub fn add_cif() -> libffi::middle::Cif {
    libffi::middle::Cif::new(
        [libffi::middle::Type::i32(), libffi::middle::Type::i32()],
        libffi::middle::Type::i32(),
    )
}
