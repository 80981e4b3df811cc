//! What `inspect` shows of a wasm library: its exports with their wasm signatures, its memory
//! and table.

use wasmtime::ExternType;

use super::{func_signature, WasmLibrary};
use crate::backend::{Backend, Export, LibraryInfo};

impl WasmLibrary {
    pub(super) fn library_info(&mut self, index: usize) -> LibraryInfo {
        let Some(linked) = self.live.modules.get(index).cloned() else {
            return LibraryInfo {
                exports: Vec::new(),
                memory: None,
                table: None,
            };
        };
        let module = linked.instance.module(&self.live.store).clone();
        let mut exports = Vec::new();
        // The linker's entry points are not the library's functions.
        for export in module
            .exports()
            .filter(|e| !e.name().starts_with("__wasm_"))
        {
            match export.ty() {
                ExternType::Func(ty) => exports.push(Export::Function {
                    name: export.name().to_string(),
                    signature: Some(func_signature(&ty)),
                }),
                ExternType::Global(_) if export.name() != "__stack_pointer" => {
                    if let Ok(addr) = self.data_address(index, export.name()) {
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
        let mem_ty = self.live.memory.ty(&self.live.store);
        let memory = Some((
            self.live.memory.data_size(&self.live.store) as u64,
            mem_ty.maximum().map(|p| p * 65536),
        ));
        let table = self
            .live
            .table
            .map(|t| (t.size(&self.live.store), t.ty(&self.live.store).maximum()));
        LibraryInfo {
            exports,
            memory,
            table,
        }
    }
}
