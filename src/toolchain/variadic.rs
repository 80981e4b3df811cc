//! Which functions of a module are variadic, and how many fixed parameters each has: what the
//! module tells the sandbox, in its custom section `wasmctypes.variadic`, so that a call
//! without argtypes (or with only the fixed ones declared) is made as clang's wasm32 ABI
//! needs it (the variadic arguments in a buffer whose address is passed last), not with its
//! arguments where the buffer's address should be.
//!
//! clang says it: its AST of the module's source (or, for the libc module, of libc's headers)
//! lists each non-static function declared with `...` and its fixed parameters. The list is
//! added to the module with `llvm-objcopy`; a module without the section tells nothing, a
//! module with it says that its other functions are not variadic.

use std::path::Path;
use std::process::Command;

use crate::error::{Error, Result};

/// The custom section's name. Its content: one `NAME FIXED` line per variadic function.
pub const SECTION: &str = crate::backend::wasm::sections::VARIADIC;

/// The variadic functions that `source` declares (with its headers), as clang parses it for
/// wasm32 with `args`: `(name, fixed parameters)`, sorted by name, each name once.
pub(crate) fn declared(cc: &Path, args: &[String], source: &Path) -> Result<Vec<(String, u32)>> {
    let out = Command::new(cc)
        .args(args)
        .args(["-Xclang", "-ast-dump=json", "-fsyntax-only"])
        .arg(source)
        .output()
        .map_err(|e| Error::Toolchain(format!("cannot run {}: {e}", cc.display())))?;
    if !out.status.success() {
        return Err(Error::Compile {
            file: source.to_path_buf(),
            output: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
        });
    }
    let ast: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        Error::Toolchain(format!(
            "clang's AST of {} is not JSON: {e}",
            source.display()
        ))
    })?;
    let mut found = Vec::new();
    if let Some(decls) = ast.get("inner").and_then(|v| v.as_array()) {
        for d in decls {
            if d.get("kind").and_then(|k| k.as_str()) != Some("FunctionDecl")
                || d.get("variadic").and_then(|v| v.as_bool()) != Some(true)
                || d.get("storageClass").and_then(|s| s.as_str()) == Some("static")
            {
                continue;
            }
            let Some(name) = d.get("name").and_then(|n| n.as_str()) else {
                continue;
            };
            let fixed = d
                .get("inner")
                .and_then(|v| v.as_array())
                .map_or(0, |inner| {
                    inner
                        .iter()
                        .filter(|p| p.get("kind").and_then(|k| k.as_str()) == Some("ParmVarDecl"))
                        .count()
                });
            found.push((name.to_string(), fixed as u32));
        }
    }
    found.sort();
    found.dedup_by(|a, b| a.0 == b.0);
    Ok(found)
}

/// Adds the section listing `functions` to the module at `module` (in place). An empty list
/// is a section too: it says that the module has no variadic function.
pub(crate) fn embed(objcopy: &Path, module: &Path, functions: &[(String, u32)]) -> Result<()> {
    let text: String = functions
        .iter()
        .map(|(name, fixed)| format!("{name} {fixed}\n"))
        .collect();
    add_section(objcopy, module, SECTION, text.as_bytes())
}

/// Adds the custom section `name` with `content` to the module at `module` (in place), with
/// `llvm-objcopy`.
pub(crate) fn add_section(objcopy: &Path, module: &Path, name: &str, content: &[u8]) -> Result<()> {
    let file = module.with_extension(name.replace('.', "-"));
    std::fs::write(&file, content).map_err(|e| Error::os(&file, e))?;
    let out = Command::new(objcopy)
        .arg(format!("--add-section={name}={}", file.display()))
        .arg(module)
        .output();
    let _ = std::fs::remove_file(&file);
    let out =
        out.map_err(|e| Error::Toolchain(format!("cannot run {}: {e}", objcopy.display())))?;
    if !out.status.success() {
        return Err(Error::Toolchain(format!(
            "{} --add-section {name} {}: {}",
            objcopy.display(),
            module.display(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        )));
    }
    Ok(())
}
