//! What `inspect` shows of a wasm library: its exports with their wasm signatures, its memory
//! and table.

use wasmtime::ExternType;

use super::{func_signature, WasmLibrary};
use crate::backend::{Backend, Export, LibraryInfo};

impl WasmLibrary {
    pub(super) fn library_info(&mut self) -> LibraryInfo {
        let module = self.live.instance.module(&self.live.store).clone();
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
        let mem_ty = self.live.memory.ty(&self.live.store);
        let memory = Some((
            self.live.memory.data_size(&self.live.store) as u64,
            mem_ty.maximum().map(|p| p * 65536),
        ));
        let table = self
            .live
            .instance
            .get_table(&mut self.live.store, "__indirect_function_table")
            .map(|t| (t.size(&self.live.store), t.ty(&self.live.store).maximum()));
        LibraryInfo {
            exports,
            memory,
            table,
        }
    }
}
