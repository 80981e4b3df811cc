//! What `inspect` shows of a wasm library: its exports with their wasm signatures, its memory
//! and table.

use wasmtime::ExternType;

use super::{func_signature, WasmLibrary};
use crate::backend::{Backend, Export, LibraryInfo};

impl WasmLibrary {
    pub(super) fn library_info(&mut self) -> LibraryInfo {
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
