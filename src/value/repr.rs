//! Python-style `repr()` of values: what the CLI and the differential runner print, so that
//! output reads as ctypes' does (`b'ABC123'`, `'wxyz'`, `1.5`).

use std::fmt;

use super::Value;

/// Python's `repr()` of a `bytes` object: `b'ABC\x00'`.
pub fn bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut s = String::with_capacity(b.len() + 3);
    s.push('b');
    s.push(quote);
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            c if c as char == quote => {
                s.push('\\');
                s.push(quote);
            }
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push(quote);
    s
}

/// Python's `repr()` of a `str`.
pub(crate) fn str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut s = String::new();
    s.push(quote);
    for c in text.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\t' => s.push_str("\\t"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            c if c == quote => {
                s.push('\\');
                s.push(quote);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                s.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => s.push(c),
        }
    }
    s.push(quote);
    s
}

/// Python's `repr()` of a float: `2.5`, `1e+100`, `nan`, `inf`.
pub(super) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Python switches to exponent notation here: 1e+16, 1e-05.
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let s = format!("{f:?}");
    s
}

impl fmt::Display for Value {
    /// Formats the value the way Python's `repr()` prints the corresponding object.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&float_repr(*x)),
            Value::Bytes(b) => f.write_str(&bytes_repr(b)),
            Value::Str(s) => f.write_str(&str_repr(s)),
            Value::Pointer(p) => write!(f, "0x{:x}", p.addr),
            Value::Struct(s) => {
                write!(f, "{}(", s.ty().name())?;
                for (i, field) in s.ty().fields().iter().enumerate() {
                    let v = s
                        .get(&field.name)
                        .map(|v| v.to_string())
                        .unwrap_or_else(|_| "?".into());
                    write!(f, "{}{}={v}", if i > 0 { ", " } else { "" }, field.name)?;
                }
                f.write_str(")")
            }
            Value::Typed(t, v) => write!(f, "{t}({v})"),
            Value::Function(fp) => write!(f, "<CFunctionType 0x{:x}>", fp.ptr.addr),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    write!(f, "{}{v}", if i > 0 { ", " } else { "" })?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Parses Python byte-string escapes (`\x00`, `\n`, `\t`, `\r`, `\\`, `\'`, `\"`, `\0`) in
/// command-line text.
pub(crate) fn unescape_bytes(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let next = *bytes
            .get(i + 1)
            .ok_or_else(|| format!("trailing backslash in {text:?}"))?;
        i += 2;
        match next {
            b'\\' => out.push(b'\\'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'0' => out.push(0),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'x' => {
                let hex = text
                    .get(i..i + 2)
                    .ok_or_else(|| format!("truncated \\x escape in {text:?}"))?;
                let v = u8::from_str_radix(hex, 16)
                    .map_err(|_| format!("bad \\x escape \\x{hex} in {text:?}"))?;
                out.push(v);
                i += 2;
            }
            other => {
                // Python keeps unknown escapes as they are.
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprs_like_python() {
        assert_eq!(bytes_repr(b"ABC123\x00"), "b'ABC123\\x00'");
        assert_eq!(bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(bytes_repr(b"\x01\n\\"), "b'\\x01\\n\\\\'");
        assert_eq!(float_repr(2.5), "2.5");
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(1e100), "1e+100");
        assert_eq!(float_repr(1e-5), "1e-05");
        assert_eq!(str_repr("a'b"), "\"a'b\"");
    }

    #[test]
    fn unescapes_python_escapes() {
        assert_eq!(unescape_bytes(r"a\x00b\n\\").unwrap(), b"a\x00b\n\\");
        assert!(unescape_bytes(r"\x4").is_err());
        assert!(unescape_bytes("\\").is_err());
    }
}
