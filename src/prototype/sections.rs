//! The DWARF sections of a wasm module (custom sections named `.debug_*`) or of an ELF shared
//! object, and the names of the functions it exports.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::types::DataModel;

/// What a file holds for the DWARF reader.
pub(super) struct Found<'a> {
    /// The `.debug_*` sections by name.
    pub(super) sections: HashMap<String, &'a [u8]>,
    /// The target's data model.
    pub(super) model: DataModel,
    /// The functions the file exports: only these get a prototype.
    pub(super) exports: HashSet<String>,
}

/// The debug sections of `bytes` (a wasm module or an ELF file), or `None` when it has no
/// `.debug_info`. Anything else is a `ValueError`.
pub(super) fn debug_sections(bytes: &[u8]) -> Result<Option<Found<'_>>> {
    let found = if bytes.starts_with(b"\0asm") {
        wasm(bytes)?
    } else if bytes.starts_with(b"\x7fELF") {
        elf(bytes)?
    } else {
        return Err(Error::ValueError("not a wasm module or an ELF file".into()));
    };
    Ok(found.sections.contains_key(".debug_info").then_some(found))
}

fn wasm(bytes: &[u8]) -> Result<Found<'_>> {
    use wasmparser::{ExternalKind, Parser, Payload};
    let mut found = Found {
        sections: HashMap::new(),
        model: DataModel::ILP32,
        exports: HashSet::new(),
    };
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| Error::ValueError(format!("malformed module: {e}")))?;
        match payload {
            Payload::CustomSection(c) if c.name().starts_with(".debug_") => {
                found.sections.insert(c.name().to_string(), c.data());
            }
            Payload::ExportSection(exports) => {
                for export in exports {
                    let export =
                        export.map_err(|e| Error::ValueError(format!("malformed module: {e}")))?;
                    if export.kind == ExternalKind::Func {
                        found.exports.insert(export.name.to_string());
                    }
                }
            }
            // Code is not looked at: skipping it keeps a large module's read short.
            Payload::CodeSectionStart { .. } | Payload::CodeSectionEntry(_) => {}
            _ => {}
        }
    }
    Ok(found)
}

fn elf(bytes: &[u8]) -> Result<Found<'_>> {
    use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
    let file = object::File::parse(bytes)
        .map_err(|e| Error::ValueError(format!("malformed ELF file: {e}")))?;
    if !file.is_little_endian() {
        return Err(Error::ValueError("a big-endian ELF file".into()));
    }
    let model = if file.is_64() {
        DataModel::LP64
    } else {
        DataModel::ILP32
    };
    let mut found = Found {
        sections: HashMap::new(),
        model,
        exports: HashSet::new(),
    };
    for section in file.sections() {
        let Ok(name) = section.name() else { continue };
        if !name.starts_with(".debug_") {
            continue;
        }
        // A compressed section (`-gz`) is not read: its prototypes are simply unknown.
        if let Ok(data) = section.data() {
            if section.compressed_file_range().map(|r| r.format)
                == Ok(object::CompressionFormat::None)
            {
                found.sections.insert(name.to_string(), data);
            }
        }
    }
    for sym in file.dynamic_symbols() {
        if sym.is_undefined() || !sym.is_global() || sym.kind() != SymbolKind::Text {
            continue;
        }
        if let Ok(name) = sym.name() {
            found.exports.insert(name.to_string());
        }
    }
    Ok(found)
}
