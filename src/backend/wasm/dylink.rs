//! The `dylink.0` section of a position-independent side module, as the WebAssembly tool
//! conventions define it (`DynamicLinking.md`): how much memory and how many table slots the
//! module needs, and which libraries it needs first.

use wasmparser::{Dylink0Subsection, KnownCustom, Parser, Payload};

/// What a side module asks of the loader.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dylink {
    /// Bytes of memory for the module's data, placed at `__memory_base`.
    pub(crate) memory_size: u32,
    /// Their alignment, as a power of two.
    pub(crate) memory_align: u32,
    /// Table slots for the module's own function pointers, placed at `__table_base`.
    pub(crate) table_size: u32,
    /// Libraries the module was linked against (`DT_NEEDED`).
    pub(crate) needed: Vec<String>,
    /// The symbols the module imports weakly: one that nothing defines has a null address,
    /// as an undefined weak symbol has natively.
    pub(crate) weak: Vec<String>,
}

/// Whether the file at `path` is a side module, from its first 64 KiB (`dylink.0` comes
/// first). A file that cannot be read or parsed is not one: loading it reports why.
pub(crate) fn is_side_module(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(64 * 1024).read_to_end(&mut head));
    read.is_ok() && matches!(dylink(&head), Ok(Some(_)))
}

/// The module's `dylink.0` section, `Ok(None)` for a module that has none (a standalone
/// module), or an error for a malformed one. The section must come first, so only the
/// custom sections before the first other section are read.
pub(crate) fn dylink(bytes: &[u8]) -> Result<Option<Dylink>, String> {
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| e.to_string())? {
            Payload::Version { .. } => {}
            Payload::CustomSection(c) => {
                let KnownCustom::Dylink0(reader) = c.as_known() else {
                    continue;
                };
                let mut info = Dylink::default();
                for sub in reader {
                    match sub.map_err(|e| format!("malformed dylink.0 section: {e}"))? {
                        Dylink0Subsection::MemInfo(m) => {
                            if m.memory_alignment > 16 || m.table_alignment > 16 {
                                return Err("dylink.0 asks for an alignment over 2^16".into());
                            }
                            info.memory_size = m.memory_size;
                            info.memory_align = m.memory_alignment;
                            info.table_size = m.table_size;
                        }
                        Dylink0Subsection::Needed(names) => {
                            info.needed = names.into_iter().map(String::from).collect();
                        }
                        Dylink0Subsection::ImportInfo(imports) => {
                            info.weak.extend(
                                imports
                                    .iter()
                                    .filter(|i| {
                                        i.flags.contains(wasmparser::SymbolFlags::BINDING_WEAK)
                                    })
                                    .map(|i| i.field.to_string()),
                            );
                        }
                        _ => {}
                    }
                }
                return Ok(Some(info));
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// The content of the module's custom section `name`, if it has one (a malformed module has
/// none here; loading it reports why).
pub(crate) fn custom_section<'a>(bytes: &'a [u8], name: &str) -> Option<&'a [u8]> {
    for payload in Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::CustomSection(c)) if c.name() == name => return Some(c.data()),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    None
}
