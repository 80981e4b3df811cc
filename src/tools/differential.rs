//! The differential runner: every `test_*` function of a library, run sandboxed and natively,
//! compared, and every difference given a class from evidence.
//!
//! Natively each test runs in a forked child process (isolation), so a segfault, an abort or
//! an `exit()` is an outcome (`signal SIGSEGV`, `exit 3`) and the runner goes on. The classes:
//!
//! - `data-model`: the values differ as 32-bit and 64-bit `long`/pointer/`size_t` arithmetic
//!   differ: the native value truncated to 32 bits is the wasm value.
//! - `sandbox-caught`: wasm trapped on an out-of-bounds access, `unreachable`, or a NULL or bad
//!   indirect call, while native returned or crashed.
//! - `native-caught`: native died of a signal while wasm returned.
//! - `float`: both results are floats that differ only in NaN payload or sign.
//! - `environment`: the wasm result changes when the sandbox is given the real clock, real
//!   randomness and the host's environment.
//! - `unexplained`: anything else.
//!
//! A test may declare its class with an exported string `expect_test_NAME = "data-model"`; a
//! declared class that does not match the evidence is a failure.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use serde_json::json;

use crate::backend::native::memfd;
use crate::backend::sandbox::Sandbox;
use crate::backend::BackendKind;
use crate::backend::LoadOptions;
use crate::error::{Error, Result, TrapKind};
use crate::library::CDLL;
use crate::types::CType;
use crate::value::{bytes_repr, Value};

/// How one backend's run of a test ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// It returned this value.
    Returned(Value),
    /// The wasm guest trapped.
    Trapped(TrapKind, String),
    /// The native child died of this signal.
    Signal(i32),
    /// The code called `exit(n)`.
    Exit(i32),
    /// The runner could not run it.
    Failed(String),
}

impl Outcome {
    /// One short line: `returned 5`, `trap MemoryOutOfBounds`, `signal SIGSEGV`, `exit 3`.
    pub fn text(&self) -> String {
        match self {
            Outcome::Returned(v) => format!("returned {v}"),
            Outcome::Trapped(k, _) => format!("trap {k}"),
            Outcome::Signal(s) => format!("signal {}", signal_name(*s)),
            Outcome::Exit(n) => format!("exit {n}"),
            Outcome::Failed(m) => format!("failed: {m}"),
        }
    }
}

fn signal_name(s: i32) -> String {
    match s {
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGBUS => "SIGBUS".into(),
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGFPE => "SIGFPE".into(),
        libc::SIGILL => "SIGILL".into(),
        libc::SIGTRAP => "SIGTRAP".into(),
        other => format!("signal {other}"),
    }
}

/// One backend's run: its outcome and what it printed.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// How it ended.
    pub outcome: Outcome,
    /// Its stdout.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: Vec<u8>,
}

/// A test's verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct TestResult {
    /// The function name.
    pub name: String,
    /// The sandboxed run.
    pub wasm: Run,
    /// The native run.
    pub native: Run,
    /// `None` when the runs agree, else the class of the difference.
    pub class: Option<&'static str>,
    /// The class the test declared, if any.
    pub expected: Option<String>,
}

impl TestResult {
    /// `same`, or the class.
    pub fn verdict(&self) -> &'static str {
        self.class.unwrap_or("same")
    }

    /// Whether the declared class (if any) disagrees with the evidence.
    pub fn mismatched(&self) -> bool {
        self.expected
            .as_deref()
            .is_some_and(|e| e != self.verdict())
    }
}

/// The whole run.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// One entry per test, in export order.
    pub tests: Vec<TestResult>,
}

impl Report {
    /// Tests whose runs agree.
    pub fn same(&self) -> usize {
        self.tests.iter().filter(|t| t.class.is_none()).count()
    }
    /// Tests whose runs differ.
    pub fn differ(&self) -> usize {
        self.tests.len() - self.same()
    }
    /// Differences with no explanation, plus declared classes the evidence contradicts. A
    /// difference whose test declares `unexplained` has been looked at and accepted by the
    /// library's maintainer: it is reported, but does not count.
    pub fn unexplained(&self) -> usize {
        self.tests
            .iter()
            .filter(|t| (t.class == Some("unexplained") && t.expected.is_none()) || t.mismatched())
            .count()
    }

    /// The human table.
    pub fn table(&self) -> String {
        let w = self
            .tests
            .iter()
            .map(|t| t.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let cell = |r: &Run| {
            let mut s = r.outcome.text();
            if !r.stdout.is_empty() {
                s.push_str(&format!(" {}", bytes_repr(&r.stdout)));
            }
            s
        };
        let ww = self
            .tests
            .iter()
            .map(|t| cell(&t.wasm).len())
            .max()
            .unwrap_or(4)
            .max(4);
        let wn = self
            .tests
            .iter()
            .map(|t| cell(&t.native).len())
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
                t.name,
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

/// The restype of a zero-argument test, from its wasm signature.
fn restype_of(signature: &str) -> Option<CType> {
    let (params, ret) = signature.split_once(" -> ")?;
    if params != "()" {
        return None;
    }
    Some(match ret {
        "()" => CType::Void,
        "i32" => CType::Int,
        "i64" => CType::LongLong,
        "f32" => CType::Float,
        "f64" => CType::Double,
        _ => return None,
    })
}

fn wasm_run(path: &Path, name: &str, restype: CType, sandbox: Sandbox) -> Run {
    let opts = LoadOptions {
        capture_output: Some(true),
        sandbox,
        ..LoadOptions::default()
    };
    let lib = match CDLL::open_wasm_with(path, &opts) {
        Ok(l) => l,
        Err(e) => return failed(e),
    };
    let outcome = lib.function(name).and_then(|mut f| {
        f.set_restype(restype)?;
        f.call(&[])
    });
    let out = lib.take_output();
    Run {
        outcome: match outcome {
            Ok(v) => Outcome::Returned(v),
            Err(Error::Trap {
                kind: TrapKind::GuestExit,
                message,
                ..
            }) => Outcome::Exit(
                message
                    .trim_start_matches("guest called exit(")
                    .trim_end_matches(')')
                    .parse()
                    .unwrap_or(-1),
            ),
            Err(Error::Trap { kind, message, .. }) => Outcome::Trapped(kind, message),
            Err(e) => Outcome::Failed(e.to_string()),
        },
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

fn failed(e: Error) -> Run {
    Run {
        outcome: Outcome::Failed(e.to_string()),
        stdout: Vec::new(),
        stderr: Vec::new(),
    }
}

fn read_all(fd: &OwnedFd) -> Vec<u8> {
    use std::io::{Read, Seek};
    let mut out = Vec::new();
    if let Ok(dup) = fd.try_clone() {
        let mut f = std::fs::File::from(dup);
        let _ = f.seek(std::io::SeekFrom::Start(0));
        let _ = f.read_to_end(&mut out);
    }
    out
}

/// Runs `f` in a forked child with its stdout and stderr discarded, and says how the child
/// ended: `Ok(())` if `f` returned, otherwise the signal or `exit(n)` that ended it. `diff LIB
/// SYMBOL` uses it to try a native call before making it in this process.
///
/// # Safety
/// `f` runs in a child forked from this process, which may have other threads (wasmtime's):
/// it must not need a lock that another thread could have held at the fork, and it must be
/// sound to run (a native call, see [`CDLL::open`]).
pub unsafe fn survives_in_child(f: impl FnOnce()) -> std::result::Result<(), Outcome> {
    let marker = match memfd(c"wasmctypes-isolate") {
        Ok(fd) => fd,
        Err(e) => return Err(Outcome::Failed(e.to_string())),
    };
    // SAFETY: the child runs `f`, writes one byte and leaves with _exit; it never returns
    // into the parent's code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Outcome::Failed(format!(
            "fork: {}",
            std::io::Error::last_os_error()
        )));
    }
    if pid == 0 {
        // SAFETY: in the child: plain fd operations, then _exit.
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
        }
        f();
        // SAFETY: as above; the marker tells a return from a C exit(0).
        unsafe {
            libc::write(marker.as_raw_fd(), b"r".as_ptr().cast(), 1);
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFSIGNALED(status) {
        Err(Outcome::Signal(libc::WTERMSIG(status)))
    } else if read_all(&marker) == b"r" {
        Ok(())
    } else {
        Err(Outcome::Exit(libc::WEXITSTATUS(status)))
    }
}

/// Runs one native call in a forked child, so that a crash is an outcome, not the end of the
/// runner. Without `isolate`, it runs in this process, as ctypes would.
///
/// # Safety
/// The library at `path` runs natively (see [`CDLL::open`]): loading it and calling `name`
/// with no arguments must be sound, also in this process when `isolate` is false.
pub unsafe fn native_run(path: &Path, name: &str, restype: CType, isolate: bool) -> Run {
    let call = || -> Result<Value> {
        // SAFETY: the caller's promise (this function's own).
        let lib = unsafe { CDLL::open(path, BackendKind::Native)? };
        let mut f = lib.function(name)?;
        f.set_restype(restype)?;
        f.call(&[])
    };
    if !isolate {
        let opts = LoadOptions {
            capture_output: Some(true),
            ..LoadOptions::default()
        };
        // SAFETY: the caller's promise (this function's own).
        let lib = unsafe { CDLL::open_with(path, BackendKind::Native, &opts) };
        let outcome = lib
            .as_ref()
            .map_err(|e| Error::Runtime(e.to_string()))
            .and_then(|l| {
                let mut f = l.function(name)?;
                f.set_restype(restype)?;
                f.call(&[])
            });
        let out = lib.map(|l| l.take_output()).unwrap_or_default();
        return Run {
            outcome: match outcome {
                Ok(v) => Outcome::Returned(v),
                Err(e) => Outcome::Failed(e.to_string()),
            },
            stdout: out.stdout,
            stderr: out.stderr,
        };
    }
    let (out, err, res) = match (
        memfd(c"wasmctypes-isolate"),
        memfd(c"wasmctypes-isolate"),
        memfd(c"wasmctypes-isolate"),
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        _ => return failed(Error::Runtime("memfd_create failed".into())),
    };
    // SAFETY: the child only redirects its fds, makes the call, writes the result to a memfd
    // and leaves with _exit; it never returns into the parent's code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return failed(Error::Runtime(format!(
            "fork: {}",
            std::io::Error::last_os_error()
        )));
    }
    if pid == 0 {
        // SAFETY: in the child: plain fd operations, then _exit.
        unsafe {
            libc::dup2(out.as_raw_fd(), 1);
            libc::dup2(err.as_raw_fd(), 2);
        }
        let text = match call() {
            Ok(Value::Float(x)) => format!("float {:016x}", x.to_bits()),
            Ok(v) => format!(
                "ok {}",
                serde_json::to_string(&crate::tools::invoke::value_json(&v)).unwrap_or_default()
            ),
            Err(e) => format!("err {e}"),
        };
        // SAFETY: flush C stdio, write the result, leave without running destructors.
        unsafe {
            libc::fflush(std::ptr::null_mut());
            libc::write(res.as_raw_fd(), text.as_ptr().cast(), text.len());
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let result = String::from_utf8_lossy(&read_all(&res)).into_owned();
    let outcome = if libc::WIFSIGNALED(status) {
        Outcome::Signal(libc::WTERMSIG(status))
    } else if let Some(bits) = result.strip_prefix("float ") {
        Outcome::Returned(Value::Float(f64::from_bits(
            u64::from_str_radix(bits, 16).unwrap_or(0),
        )))
    } else if let Some(json) = result.strip_prefix("ok ") {
        let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        Outcome::Returned(match (restype, v) {
            (CType::Void, _) => Value::None,
            (CType::Float | CType::Double, serde_json::Value::Number(n)) => {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
            (CType::Float | CType::Double, serde_json::Value::String(s)) => {
                Value::Float(s.parse().unwrap_or(f64::NAN))
            }
            (_, serde_json::Value::Number(n)) => Value::Int(
                n.as_i64()
                    .map(i128::from)
                    .or(n.as_u64().map(i128::from))
                    .unwrap_or(0),
            ),
            (_, other) => Value::Str(other.to_string()),
        })
    } else if let Some(e) = result.strip_prefix("err ") {
        Outcome::Failed(e.to_string())
    } else {
        Outcome::Exit(libc::WEXITSTATUS(status))
    };
    Run {
        outcome,
        stdout: read_all(&out),
        stderr: read_all(&err),
    }
}

fn float_only_nan_or_sign(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a.to_bits() ^ b.to_bits()) == 1 << 63
}

/// The class of a difference, from the evidence. `rerun` gives the wasm run with the real
/// environment (clock, randomness, host env).
fn classify(wasm: &Run, native: &Run, rerun: impl FnOnce() -> Run) -> &'static str {
    use Outcome::*;
    match (&wasm.outcome, &native.outcome) {
        (Trapped(k, _), _)
            if matches!(
                k,
                TrapKind::MemoryOutOfBounds
                    | TrapKind::Unreachable
                    | TrapKind::IndirectCallToNull
                    | TrapKind::BadSignature
                    | TrapKind::TableOutOfBounds
            ) && !matches!(native.outcome, Trapped(..)) =>
        {
            "sandbox-caught"
        }
        // A guard page or the NULL page (SIGSEGV, SIGBUS), or the C library's own heap checks
        // (SIGABRT), while wasm ran on.
        (Returned(_), Signal(s)) if [libc::SIGSEGV, libc::SIGBUS, libc::SIGABRT].contains(s) => {
            "native-caught"
        }
        (Returned(Value::Float(a)), Returned(Value::Float(b)))
            if float_only_nan_or_sign(*a, *b) =>
        {
            "float"
        }
        // 32-bit against 64-bit arithmetic: the native value truncated to 32 bits is the wasm
        // value, or the native value is the wasm value scaled by 8/4 (a sizeof in it).
        (Returned(Value::Int(a)), Returned(Value::Int(b)))
            if a != b
                && (*b as u32 == *a as u32
                    || *b as i32 as i128 == *a
                    || (*a != 0 && *b == 2 * *a)) =>
        {
            "data-model"
        }
        _ => {
            let real = rerun();
            if real != *wasm {
                "environment"
            } else {
                "unexplained"
            }
        }
    }
}

/// Reads a declared class: the exported string `expect_NAME`.
fn declared(lib: &CDLL, name: &str) -> Option<String> {
    let addr = lib.data_address(&format!("expect_{name}")).ok()?;
    let ptr = crate::data::simple::CValue::from_address(lib, CType::CharP, addr);
    match ptr.value().ok()? {
        Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        _ => None,
    }
}

/// Runs every exported `test_*` function that takes no arguments, on both backends.
///
/// # Safety
/// The library at `native_path` runs natively (see [`CDLL::open`]): loading it and calling
/// each of its `test_*` functions with no arguments must be sound, also in this process
/// when `isolate` is false.
pub unsafe fn run_all(wasm_path: &Path, native_path: &Path, isolate: bool) -> Result<Report> {
    let lib = CDLL::open_wasm(wasm_path)?;
    let info = lib.info()?;
    let mut tests = Vec::new();
    for e in &info.exports {
        let crate::backend::Export::Function {
            name,
            signature: Some(sig),
        } = e
        else {
            continue;
        };
        if !name.starts_with("test_") {
            continue;
        }
        let Some(restype) = restype_of(sig) else {
            continue;
        };
        let wasm = wasm_run(wasm_path, name, restype, Sandbox::default());
        let native = native_run(native_path, name, restype, isolate);
        let same = wasm == native;
        let class = (!same).then(|| {
            classify(&wasm, &native, || {
                wasm_run(
                    wasm_path,
                    name,
                    restype,
                    Sandbox {
                        real_clock: true,
                        real_random: true,
                        env: std::env::vars().collect(),
                        ..Sandbox::default()
                    },
                )
            })
        });
        tests.push(TestResult {
            name: name.clone(),
            expected: declared(&lib, name),
            wasm,
            native,
            class,
        });
    }
    Ok(Report { tests })
}
