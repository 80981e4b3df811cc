//! Every text and JSON form the CLI prints: a call's report, an error, the differential
//! runner's table and lines, `inspect`'s listing. The library returns values; this is the one
//! place that turns them into text.

use std::fmt::Write as _;

use serde_json::{json, Value as Json};

use crate::backend::{BackendKind, Export, LibraryInfo};
use crate::error::Error;
use crate::library::CDLL;
use crate::tools::differential::{Outcome, Report, Run};
use crate::tools::invoke::{ArgReport, CallReport};
use crate::types::CType;
use crate::types::DataModel;
use crate::value::{bytes_repr, Value};

/// A value as JSON: numbers as numbers, None as null, bytes and str as their Python repr.
pub fn value_json(v: &Value) -> Json {
    match v {
        Value::None => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => {
            if let Ok(x) = i64::try_from(*i) {
                json!(x)
            } else if let Ok(x) = u64::try_from(*i) {
                json!(x)
            } else {
                json!(i.to_string())
            }
        }
        Value::Float(x) => serde_json::Number::from_f64(*x)
            .map(Json::Number)
            .unwrap_or_else(|| json!(v.to_string())),
        Value::Pointer(p) => json!(p.addr),
        other => json!(other.to_string()),
    }
}

/// Bytes longer than this are shown by their length and a prefix unless asked for in full:
/// a 260 MB buffer is one line, not a gigabyte of text.
const LARGE: usize = 4096;
/// How many bytes of a large value are shown.
const PREFIX: usize = 256;

/// `repr(b)`, or for a large value unless `full`, the repr of its first bytes and its length.
fn shown(b: &[u8], full: bool) -> String {
    if full || b.len() <= LARGE {
        bytes_repr(b)
    } else {
        format!("{}... ({} bytes)", bytes_repr(&b[..PREFIX]), b.len())
    }
}

/// A buffer's `.value`: `.raw` up to the first NUL.
fn buffer_value(raw: &[u8]) -> &[u8] {
    &raw[..raw.iter().position(|b| *b == 0).unwrap_or(raw.len())]
}

impl ArgReport {
    /// The JSON form: `{"type", "value"}`, or `{"type", "raw", "value", "length"}` for a
    /// buffer, whose large contents are shortened unless `full`.
    pub fn to_json(&self, full: bool) -> Json {
        match self {
            ArgReport::Scalar(t, v) => json!({"type": t.name(), "value": value_json(v)}),
            ArgReport::Array(t, items) => {
                json!({"type": format!("{t}[]"), "value": items.iter().map(value_json).collect::<Vec<_>>()})
            }
            ArgReport::Buffer { raw } => json!({
                "type": "buf",
                "length": raw.len(),
                "raw": shown(raw, full),
                "value": shown(buffer_value(raw), full),
            }),
            ArgReport::WideBuffer(v) => json!({"type": "wbuf", "value": crate::value::str_repr(v)}),
            ArgReport::Null => json!({"type": "null", "value": null}),
        }
    }

    /// One line of text for arrays and buffers (`None` for scalars).
    pub fn text(&self, full: bool) -> Option<String> {
        match self {
            ArgReport::Array(t, items) => Some(format!(
                "{t}[]: [{}]",
                items
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            ArgReport::Buffer { raw } => Some(format!(
                "buf: raw={} value={}",
                shown(raw, full),
                shown(buffer_value(raw), full)
            )),
            ArgReport::WideBuffer(v) => Some(format!("wbuf: value={}", crate::value::str_repr(v))),
            _ => None,
        }
    }
}

impl CallReport {
    /// `{"backend", "symbol", "return", "stdout", "stderr", "args"}`; large buffers shortened
    /// unless `full`.
    pub fn to_json(&self, full: bool) -> Json {
        json!({
            "backend": self.backend.name(),
            "symbol": self.symbol,
            "return": value_json(&self.ret),
            "stdout": String::from_utf8_lossy(&self.stdout),
            "stderr": String::from_utf8_lossy(&self.stderr),
            "args": self.args.iter().map(|a| a.to_json(full)).collect::<Vec<_>>(),
        })
    }

    /// The text form: `-> VALUE`, then one line per array or buffer argument.
    pub fn result_lines(&self, full: bool) -> Vec<String> {
        let mut lines = vec![format!("-> {}", self.ret_text())];
        for (i, a) in self.args.iter().enumerate() {
            if let Some(t) = a.text(full) {
                lines.push(format!("arg {} {t}", i + 1));
            }
        }
        lines
    }

    /// The return value as text; pointers also name the backend (`0x10a30 (wasm)`).
    pub fn ret_text(&self) -> String {
        match (&self.ret, self.restype) {
            (Value::Int(addr), CType::VoidP) => format!("0x{addr:x} ({} address)", self.backend),
            (Value::None, CType::VoidP) => format!("None (NULL, {} address)", self.backend),
            (v, _) => v.to_string(),
        }
    }
}

/// The JSON object of a failed call: `{"backend", "symbol", "error": {"kind", "message"}}`.
pub fn error_json(backend: BackendKind, symbol: &str, e: &Error) -> Json {
    let mut err = json!({"kind": e.kind(), "message": e.message()});
    if let Error::Trap { backtrace, .. } = e {
        if !backtrace.is_empty() {
            err["backtrace"] = json!(backtrace.lines().map(str::trim).collect::<Vec<_>>());
        }
    }
    json!({"backend": backend.name(), "symbol": symbol, "error": err})
}

impl Outcome {
    /// One short line: `returned 5`, `trap MemoryOutOfBounds`, `signal SIGSEGV`, `exit 3`.
    pub fn text(&self) -> String {
        match self {
            Outcome::Returned(v) => format!("returned {v}"),
            Outcome::Trapped(k, _) => format!("trap {k}"),
            Outcome::Signal(s) => format!("signal {}", signal_name(*s)),
            Outcome::Exit(n) => format!("exit {n}"),
            Outcome::Timeout => "timeout".to_string(),
            Outcome::Failed(m) => format!("failed: {m}"),
        }
    }
}

/// A signal's name (`SIGSEGV`), or its number when it has no common name.
fn signal_name(s: i32) -> String {
    let name = match s {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGABRT => "SIGABRT",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSYS => "SIGSYS",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGPIPE => "SIGPIPE",
        other => return other.to_string(),
    };
    name.to_string()
}

impl Report {
    /// The human table.
    pub fn table(&self) -> String {
        let w = self
            .tests
            .iter()
            .map(|t| shorten(&t.name).chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let cell = |r: &Run| {
            let mut s = r.outcome.text();
            if !r.stdout.is_empty() {
                s.push_str(&format!(" {}", bytes_repr(&r.stdout)));
            }
            shorten(&s)
        };
        let ww = self
            .tests
            .iter()
            .map(|t| cell(&t.wasm).chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let wn = self
            .tests
            .iter()
            .map(|t| cell(&t.native).chars().count())
            .max()
            .unwrap_or(6)
            .max(6);
        let mut out = format!(
            "{:<w$}  {:<ww$}  {:<wn$}  verdict\n",
            "test", "wasm", "native"
        );
        for t in &self.tests {
            let mut verdict = t.verdict().to_string();
            if t.mismatched() {
                verdict.push_str(&format!(
                    " (declared {}: MISMATCH)",
                    t.expected.as_deref().unwrap_or("")
                ));
            }
            out.push_str(&format!(
                "{:<w$}  {:<ww$}  {:<wn$}  {verdict}\n",
                shorten(&t.name),
                cell(&t.wasm),
                cell(&t.native)
            ));
        }
        out.push_str(&format!(
            "{} tests: {} same, {} differ, {} unexplained\n",
            self.tests.len(),
            self.same(),
            self.differ(),
            self.unexplained()
        ));
        out
    }

    /// One JSON object per test, then the summary.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        let run = |r: &Run| json!({"outcome": r.outcome.text(), "stdout": String::from_utf8_lossy(&r.stdout), "stderr": String::from_utf8_lossy(&r.stderr)});
        let mut lines: Vec<serde_json::Value> = self
            .tests
            .iter()
            .map(|t| json!({"test": t.name, "wasm": run(&t.wasm), "native": run(&t.native), "verdict": t.verdict(), "expected": t.expected, "mismatch": t.mismatched()}))
            .collect();
        lines.push(json!({"summary": {"same": self.same(), "differ": self.differ(), "unexplained": self.unexplained()}}));
        lines
    }
}

/// An error as the CLI prints it on stderr: `error: KIND: message`, then a trap's backtrace
/// or the compiler's output, one item per line.
pub fn error_text(e: &Error) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "error: {}", e.to_string().lines().next().unwrap_or(""));
    if let Error::Trap { backtrace, .. } = e {
        for line in backtrace.lines() {
            let _ = writeln!(out, "{line}");
        }
    }
    if let Error::Compile { output, .. } = e {
        let _ = writeln!(out, "{output}");
    }
    out
}

/// `c_long`, `c_void_p` and `c_size_t` sizes in both data models, one line.
pub fn data_model_line() -> String {
    let w = BackendKind::Wasm.data_model();
    let n = BackendKind::Native.data_model();
    format!(
        "data model: c_long and pointers are {} bytes sandboxed ({}) and {} bytes native ({})",
        w.sizeof(CType::Long),
        w,
        n.sizeof(CType::Long),
        n
    )
}

/// The rows of one side of `diff LIB SYMBOL`'s table: output, result and arguments, or the
/// error.
fn outcome_cells(r: &Result<CallReport, Error>) -> Vec<(String, String)> {
    match r {
        Ok(rep) => {
            let mut rows = vec![
                ("stdout".to_string(), bytes_repr(&rep.stdout)),
                ("stderr".to_string(), bytes_repr(&rep.stderr)),
                ("return".to_string(), rep.ret.to_string()),
            ];
            for (i, a) in rep.args.iter().enumerate() {
                if let Some(t) = a.text(false) {
                    rows.push((format!("arg {}", i + 1), t));
                }
            }
            rows
        }
        Err(e) => vec![(
            "error".to_string(),
            format!("{}: {}", e.kind(), e.message()),
        )],
    }
}

/// `diff LIB SYMBOL --json`: both sides, whether they agree, and both data models.
pub fn diff_json(
    symbol: &str,
    agree: bool,
    w: &Result<CallReport, Error>,
    n: &Result<CallReport, Error>,
) -> Json {
    let side = |k: BackendKind, r: &Result<CallReport, Error>| match r {
        Ok(rep) => rep.to_json(false),
        Err(e) => error_json(k, symbol, e),
    };
    let sizes = |k: BackendKind| {
        let m = k.data_model();
        json!({"model": format!("{m:?}"), "c_long": m.sizeof(CType::Long), "c_void_p": m.sizeof(CType::VoidP), "c_size_t": m.sizeof(CType::SizeT)})
    };
    json!({
        "symbol": symbol,
        "same": agree,
        "wasm": side(BackendKind::Wasm, w),
        "native": side(BackendKind::Native, n),
        "data_model": {"wasm": sizes(BackendKind::Wasm), "native": sizes(BackendKind::Native)},
    })
}

/// `diff LIB SYMBOL`'s table: one row per output, the result and each argument, marked where
/// the backends differ, then the verdict for exit code `code` and the data models.
pub fn diff_text(w: &Result<CallReport, Error>, n: &Result<CallReport, Error>, code: u8) -> String {
    let mut out = String::new();
    let cw = outcome_cells(w);
    let cn = outcome_cells(n);
    let mut keys: Vec<String> = cw.iter().map(|(k, _)| k.clone()).collect();
    for (k, _) in &cn {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    let get = |cells: &[(String, String)], k: &str| {
        cells
            .iter()
            .find(|(c, _)| c == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let head_w = format!("wasm, {}", BackendKind::Wasm.data_model());
    let head_n = format!("native, {}", BackendKind::Native.data_model());
    let width = keys
        .iter()
        .map(|k| shorten(&get(&cw, k)).chars().count())
        .chain([head_w.len()])
        .max()
        .unwrap_or(10);
    let _ = writeln!(out, "{:<8}  {:<width$}  {}", "", head_w, head_n);
    for k in &keys {
        let (a, b) = (get(&cw, k), get(&cn, k));
        // Whether they differ is decided on the whole values, not the shortened cells.
        let mark = if a == b { "" } else { "   <- differs" };
        let (a, b) = (shorten(&a), shorten(&b));
        let _ = writeln!(out, "{k:<8}  {a:<width$}  {b}{mark}");
    }
    let _ = writeln!(
        out,
        "verdict: {}",
        match code {
            0 => "same on both backends",
            1 => "the backends differ",
            _ => "error on both backends",
        }
    );
    let _ = writeln!(out, "{}", data_model_line());
    out
}

/// `inspect LIB --json`.
pub fn inspect_json(l: &CDLL, info: &LibraryInfo) -> Json {
    let (m, kind) = (l.data_model(), l.backend());
    let sizes = inspect_sizes(m);
    let exports: Vec<_> = info
        .exports
        .iter()
        .map(|e| match e {
            Export::Function { name, signature } => {
                json!({"kind": "function", "name": name, "signature": signature.as_ref().map(ToString::to_string)})
            }
            Export::Data { name, addr, size } => {
                json!({"kind": "data", "name": name, "address": addr, "size": size})
            }
        })
        .collect();
    let sizes: serde_json::Map<String, serde_json::Value> = sizes
        .iter()
        .map(|(t, s)| (t.name().to_string(), json!(s)))
        .collect();
    json!({
        "path": l.path().display().to_string(),
        "backend": kind.name(),
        "data_model": format!("{m:?}"),
        "sizes": sizes,
        "exports": exports,
        "memory": info.memory.map(|(s, max)| json!({"bytes": s, "max_bytes": max})),
        "table": info.table.map(|(s, max)| json!({"size": s, "max": max})),
        "load": l.load_stats().map(|(src, t)| json!({"source": src.name(), "ms": t.as_secs_f64() * 1000.0})),
        "prototypes": l.prototypes().ok().flatten().map(|p| p.to_json()),
    })
}

/// `inspect LIB`: the path, data model, load time, sizes, exports, memory and table.
pub fn inspect_text(l: &CDLL, info: &LibraryInfo) -> String {
    let mut out = String::new();
    let (m, kind) = (l.data_model(), l.backend());
    let sizes = inspect_sizes(m);
    let _ = writeln!(out, "{} ({} backend)", l.path().display(), kind);
    let _ = writeln!(out, "data model: {m}");
    if let Some((src, t)) = l.load_stats() {
        let _ = writeln!(
            out,
            "loaded from {} in {:.2} ms",
            src.name(),
            t.as_secs_f64() * 1000.0
        );
    }
    let _ = writeln!(
        out,
        "  {}",
        sizes
            .iter()
            .map(|(t, s)| format!("sizeof({t})={s}"))
            .collect::<Vec<_>>()
            .join("  ")
    );
    let _ = writeln!(out, "{}", data_model_line());
    // The C prototypes, when the library's debug information has them.
    let protos = l.prototypes().ok().flatten();
    let _ = writeln!(out, "functions:");
    for e in &info.exports {
        if let Export::Function { name, signature } = e {
            let c = protos
                .as_ref()
                .and_then(|p| Some(format!("{};", p.declaration(p.function(name)?))));
            let head = match signature {
                Some(s) => format!("{name} {s}"),
                None => name.clone(),
            };
            match c {
                Some(c) => writeln!(out, "  {head}    {c}"),
                None => writeln!(out, "  {head}"),
            }
            .ok();
        }
    }
    if let Some(p) = &protos {
        let _ = writeln!(out, "types:");
        for (_, id) in p.tagged() {
            for line in p.definition(id).lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    let _ = writeln!(out, "data:");
    for e in &info.exports {
        if let Export::Data { name, addr, size } = e {
            match size {
                Some(s) => {
                    let _ = writeln!(out, "  {name} at 0x{addr:x} ({s} bytes)");
                }
                None => {
                    let _ = writeln!(out, "  {name} at 0x{addr:x}");
                }
            }
        }
    }
    if let Some((bytes, max)) = info.memory {
        let max = max
            .map(|m| format!("{m} bytes"))
            .unwrap_or_else(|| "unbounded".into());
        let _ = writeln!(
            out,
            "memory: {bytes} bytes ({} pages of 64 KiB), maximum {max}",
            bytes / 65536
        );
    }
    if let Some((size, max)) = info.table {
        let max = max
            .map(|m| m.to_string())
            .unwrap_or_else(|| "growable, no maximum".into());
        let _ = writeln!(
            out,
            "table: __indirect_function_table, {size} entries, maximum {max}"
        );
    }
    out
}

/// The sizes `inspect` shows, in data model `m`.
fn inspect_sizes(m: DataModel) -> Vec<(CType, usize)> {
    [
        CType::Int,
        CType::Long,
        CType::LongLong,
        CType::SizeT,
        CType::VoidP,
        CType::WChar,
    ]
    .iter()
    .map(|t| (*t, m.sizeof(*t)))
    .collect()
}

/// A call's outcome on one line, as `./run demo` shows each backend's: the output, the result
/// and each array or buffer argument, or the error.
pub fn call_summary(r: &Result<CallReport, Error>) -> String {
    match r {
        Ok(rep) => {
            let mut parts = Vec::new();
            if !rep.stdout.is_empty() {
                parts.push(format!("stdout {}", bytes_repr(&rep.stdout)));
            }
            parts.extend(rep.result_lines(false));
            parts.join("; ")
        }
        Err(e) => format!("error {}: {}", e.kind(), e.message()),
    }
}

/// The most characters a cell of a text table shows; `--json` keeps everything.
const MAX_CELL: usize = 120;

/// `text` cut to [`MAX_CELL`] characters, saying how many were cut: a 70,000-byte stdout is
/// one readable cell, not a table too wide to print.
fn shorten(text: &str) -> String {
    let total = text.chars().count();
    if total <= MAX_CELL {
        return text.to_string();
    }
    let kept: String = text.chars().take(MAX_CELL).collect();
    format!("{kept}... ({} more characters)", total - MAX_CELL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_cell_is_shortened_and_says_by_how_much() {
        let long = "x".repeat(70_000);
        let cell = shorten(&long);
        assert!(cell.starts_with(&"x".repeat(MAX_CELL)));
        assert!(cell.ends_with(&format!("... ({} more characters)", 70_000 - MAX_CELL)));
        assert_eq!(shorten("returned 5"), "returned 5");
        // Characters, not bytes: a multi-byte cell is not cut inside a character.
        assert_eq!(shorten(&"é".repeat(MAX_CELL)), "é".repeat(MAX_CELL));
    }

    #[test]
    fn a_signal_is_named_once() {
        assert_eq!(Outcome::Signal(libc::SIGKILL).text(), "signal SIGKILL");
        assert_eq!(Outcome::Signal(libc::SIGSEGV).text(), "signal SIGSEGV");
        assert_eq!(Outcome::Signal(63).text(), "signal 63");
    }

    #[test]
    fn a_report_with_a_huge_output_prints_as_a_table() {
        let huge = Run {
            outcome: Outcome::Returned(Value::Int(0)),
            stdout: vec![b'a'; 70_000],
            stderr: Vec::new(),
        };
        let report = Report {
            tests: vec![crate::tools::differential::TestResult {
                name: "test_flood".into(),
                wasm: huge.clone(),
                native: huge,
                class: None,
                expected: None,
            }],
        };
        let table = report.table();
        assert!(table.contains("more characters"), "{table}");
        assert!(table.len() < 1000, "{} bytes", table.len());
        assert_eq!(
            report.json_lines()[0]["wasm"]["stdout"]
                .as_str()
                .unwrap()
                .len(),
            70_000
        );
    }
}
