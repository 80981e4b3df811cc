//! The custom sections a module carries for the sandbox, as the toolchain writes them: which
//! functions are variadic and how many fixed parameters each has, and (the libc module's)
//! the names of its errno values. Read here; written by `toolchain::variadic` and
//! `toolchain::libc`.

/// The custom section's name. Its content: one `NAME FIXED` line per variadic function.
pub(crate) const VARIADIC: &str = "wasmctypes.variadic";

/// The libc module's custom section of errno values: one `NAME VALUE` line per `E*` constant
/// of its `<errno.h>` (wasi-libc's `ENOENT` is 44, glibc's 2), so that the host can give a
/// Python program the host's numbers (`ctypes.get_errno() == errno.ENOENT`).
pub(crate) const ERRNO: &str = "wasmctypes.errno";

/// The section's content as a map from function to fixed parameters; lines that do not parse
/// are skipped (a module's sections come from outside).
pub(crate) fn parse_variadic(content: &[u8]) -> std::collections::HashMap<String, u32> {
    String::from_utf8_lossy(content)
        .lines()
        .filter_map(|l| {
            let (name, fixed) = l.split_once(' ')?;
            let fixed: u32 = fixed.trim().parse().ok()?;
            (!name.is_empty() && fixed <= crate::backend::MAX_ARGS as u32)
                .then(|| (name.to_string(), fixed))
        })
        .take(100_000)
        .collect()
}

/// The libc module's errno section: `NAME VALUE` lines; what does not parse is skipped.
pub(crate) fn parse_errno(content: &[u8]) -> Vec<(String, i32)> {
    String::from_utf8_lossy(content)
        .lines()
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .take(4096)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_parses_and_ignores_what_is_not_a_line() {
        let m = parse_variadic(b"printf 1\nopen 2\nbad\n 3\nhuge 99999\nfcntl 2");
        assert_eq!(m.len(), 3);
        assert_eq!(m["printf"], 1);
        assert_eq!(m["open"], 2);
        assert_eq!(m["fcntl"], 2);
    }
}
