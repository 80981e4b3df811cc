//! What `inspect` shows of a wasm library: its exports with their wasm signatures, its memory
//! and table.

use wasmtime::ExternType;

use super::{func_signature, WasmLibrary};
use crate::backend::{Backend, Export, LibraryInfo};

impl WasmLibrary {
    pub(super) fn library_info(&mut self, index: usize) -> LibraryInfo {
        let nothing = LibraryInfo {
            exports: Vec::new(),
            memory: None,
            table: None,
        };
        let Some(linked) = self.live.modules.get(index).cloned() else {
            return nothing;
        };
        let Ok(cx) = self.live.guest.cx() else {
            return nothing;
        };
        let module = linked.instance.module(&cx).clone();
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
        let (memory, table) = (self.live.memory, self.live.table);
        let Ok(cx) = self.live.guest.cx() else {
            return LibraryInfo {
                exports,
                memory: None,
                table: None,
            };
        };
        let mem_ty = memory.ty(&cx);
        let memory = Some((
            memory.data_size(&cx) as u64,
            mem_ty.maximum().map(|p| p * 65536),
        ));
        let table = table.map(|t| (t.size(&cx), t.ty(&cx).maximum()));
        LibraryInfo {
            exports,
            memory,
            table,
        }
    }
}
