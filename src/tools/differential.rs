//! The differential runner: every `test_*` function of a library, run sandboxed and natively,
//! compared, and every difference given a class from evidence.
//!
//! Natively each test runs in a worker process ([`crate::tools::isolate`]), so a segfault, an
//! abort, an `exit()` or a test past its deadline is an outcome (`signal SIGSEGV`, `exit 3`,
//! `timeout`) and the runner goes on. The classes:
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
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::backend::native::memfd;
use crate::backend::sandbox::SandboxConfig;
use crate::backend::BackendKind;
use crate::backend::{LoadOptions, Signature, WasmType};
use crate::error::{Error, Result, TrapKind};
use crate::library::CDLL;
use crate::tools::isolate::Pool;
use crate::types::CType;
use crate::value::Value;

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
    /// It ran past the per-test deadline (natively its worker was killed; in wasm the epoch
    /// deadline stopped it).
    Timeout,
    /// The runner could not run it.
    Failed(String),
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
}

/// The restype of a zero-argument test, from its wasm signature.
fn restype_of(signature: &Signature) -> Option<CType> {
    if !signature.params.is_empty() {
        return None;
    }
    Some(match signature.results.as_slice() {
        [] => CType::Void,
        [WasmType::I32] => CType::Int,
        [WasmType::I64] => CType::LongLong,
        [WasmType::F32] => CType::Float,
        [WasmType::F64] => CType::Double,
        _ => return None,
    })
}

/// The sandbox that runs a test: its output captured.
fn open_sandboxed(path: &Path, sandbox: SandboxConfig) -> Result<CDLL> {
    let opts = LoadOptions {
        capture_output: Some(true),
        sandbox,
        ..LoadOptions::default()
    };
    CDLL::open_wasm_with(path, &opts)
}

/// One test in a fresh sandbox: `lib` is re-instantiated first (`fresh`), so that no test
/// sees what another left in memory and every wasm result is reproducible on its own (the
/// module stays compiled, so this is far cheaper than loading it again).
fn wasm_run(lib: &CDLL, name: &str, restype: CType, fresh: bool) -> Run {
    if fresh {
        if let Err(e) = lib.reset() {
            return failed(e);
        }
    }
    let _ = lib.take_output();
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
                status: Some(status),
                ..
            }) => Outcome::Exit(status.into()),
            Err(Error::Trap {
                kind: TrapKind::Timeout,
                ..
            }) => Outcome::Timeout,
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

/// Where the native side of a differential run executes.
#[derive(Clone, Debug)]
pub enum Isolation {
    /// In this process, as ctypes would: a crash ends the run.
    InProcess,
    /// In worker processes of this `wasmctypes` binary (`wasmctypes __worker`), spawned, each
    /// running many tests, replaced after a crash or a timeout.
    Workers(PathBuf),
}

/// How to run a corpus.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// Where native code runs.
    pub isolation: Isolation,
    /// Tests run in parallel: each job has its own native worker and its own sandboxes.
    pub jobs: usize,
    /// `(k, n)`: only every n-th test from the k-th (1-based), so that a corpus splits over
    /// machines as nextest's partitions do.
    pub shard: Option<(usize, usize)>,
    /// The per-test deadline on both backends.
    pub timeout: Option<Duration>,
    /// Progress on stderr.
    pub progress: bool,
}

impl Default for DiffOptions {
    fn default() -> DiffOptions {
        DiffOptions {
            isolation: Isolation::InProcess,
            jobs: 1,
            shard: None,
            timeout: SandboxConfig::default().timeout,
            progress: false,
        }
    }
}

/// A finished test, moved from its job's thread into the report.
struct Finished(TestResult);

// SAFETY: `Finished::of` keeps only values of a test's result types (None, bool, int, float),
// which own no `Rc`; everything else in a `TestResult` is owned plain data. Nothing of it is
// shared with the thread that made it.
unsafe impl Send for Finished {}

impl Finished {
    fn of(mut t: TestResult) -> Finished {
        for run in [&mut t.wasm, &mut t.native] {
            if let Outcome::Returned(v) = &run.outcome {
                if !matches!(
                    v,
                    Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_)
                ) {
                    run.outcome = Outcome::Failed(format!("a test returned a {}", v.py_type()));
                }
            }
        }
        Finished(t)
    }
}

/// The `test_*` functions of the library (name and restype), in export order.
fn tests_of(wasm_path: &Path) -> Result<Vec<(String, CType)>> {
    let lib = CDLL::open_wasm(wasm_path)?;
    let mut tests = Vec::new();
    for e in &lib.info()?.exports {
        if let crate::backend::Export::Function {
            name,
            signature: Some(sig),
        } = e
        {
            if let (true, Some(restype)) = (name.starts_with("test_"), restype_of(sig)) {
                tests.push((name.clone(), restype));
            }
        }
    }
    Ok(tests)
}

/// The native run of one test in this process (no isolation).
///
/// # Safety
/// As for [`run_all`].
unsafe fn native_in_process(lib: &Result<CDLL>, name: &str, restype: CType) -> Run {
    let outcome = lib
        .as_ref()
        .map_err(|e| Error::Runtime(e.to_string()))
        .and_then(|l| {
            let mut f = l.function(name)?;
            f.set_restype(restype)?;
            f.call(&[])
        });
    let out = lib.as_ref().map(|l| l.take_output()).unwrap_or_default();
    Run {
        outcome: match outcome {
            Ok(v) => Outcome::Returned(v),
            Err(e) => Outcome::Failed(e.to_string()),
        },
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// Runs every exported `test_*` function that takes no arguments, on both backends, with
/// `options.jobs` in parallel.
///
/// # Safety
/// The library at `native_path` runs natively (see [`CDLL::open`]): loading it and calling
/// each of its `test_*` functions with no arguments must be sound, also in this process with
/// [`Isolation::InProcess`].
pub unsafe fn run_all(
    wasm_path: &Path,
    native_path: &Path,
    options: &DiffOptions,
) -> Result<Report> {
    let mut tests = tests_of(wasm_path)?;
    if let Some((k, n)) = options.shard {
        tests = tests
            .into_iter()
            .enumerate()
            .filter(|(i, _)| n > 0 && i % n == k.saturating_sub(1))
            .map(|(_, t)| t)
            .collect();
    }
    let results: Vec<std::sync::Mutex<Option<Finished>>> =
        tests.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let sandbox = SandboxConfig {
        timeout: options.timeout,
        ..SandboxConfig::default()
    };
    let job = || -> Result<()> {
        let wasm_lib = open_sandboxed(wasm_path, sandbox.clone())?;
        let mut used = false;
        // Where this job's native side runs: its own workers, or this process.
        enum Native {
            Workers(Pool),
            InProcess(Result<CDLL>),
        }
        let mut native_side = match &options.isolation {
            Isolation::Workers(exe) => {
                Native::Workers(Pool::new(exe, native_path, options.timeout))
            }
            Isolation::InProcess => {
                let opts = LoadOptions {
                    capture_output: Some(true),
                    ..LoadOptions::default()
                };
                // SAFETY: the caller's promise (this function's own).
                Native::InProcess(unsafe {
                    CDLL::open_with(native_path, BackendKind::Native, &opts)
                })
            }
        };
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((name, restype)) = tests.get(i) else {
                return Ok(());
            };
            let wasm = wasm_run(&wasm_lib, name, *restype, used);
            used = true;
            let native = match &mut native_side {
                Native::Workers(pool) => pool.run(name, *restype),
                // SAFETY: the caller's promise (this function's own).
                Native::InProcess(lib) => unsafe { native_in_process(lib, name, *restype) },
            };
            let class = (wasm != native).then(|| {
                classify(&wasm, &native, || {
                    let real = SandboxConfig {
                        real_clock: true,
                        real_random: true,
                        env: std::env::vars().collect(),
                        ..sandbox.clone()
                    };
                    match open_sandboxed(wasm_path, real) {
                        Ok(lib) => wasm_run(&lib, name, *restype, false),
                        Err(e) => failed(e),
                    }
                })
            });
            let result = TestResult {
                name: name.clone(),
                expected: declared(&wasm_lib, name),
                wasm,
                native,
                class,
            };
            if let Ok(mut slot) = results[i].lock() {
                *slot = Some(Finished::of(result));
            }
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            if options.progress {
                eprint!("\r{finished}/{} tests", tests.len());
            }
        }
    };
    let jobs = options.jobs.clamp(1, 256);
    // In-process native code is not isolated, so it runs on one thread, as ctypes would.
    let jobs = if matches!(options.isolation, Isolation::InProcess) {
        1
    } else {
        jobs
    };
    let outcomes: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs).map(|_| scope.spawn(job)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Runtime("a job panicked".into())))
            })
            .collect()
    });
    if options.progress {
        eprintln!();
    }
    outcomes.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(Report {
        tests: results
            .into_iter()
            .filter_map(|m| m.into_inner().ok().flatten())
            .map(|f| f.0)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(outcome: Outcome) -> Run {
        Run {
            outcome,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    fn returned(v: impl Into<Value>) -> Run {
        run(Outcome::Returned(v.into()))
    }

    /// The class a difference gets, from its evidence alone (the rerun is the same wasm run
    /// unless the test says otherwise).
    fn class_of(wasm: Run, native: Run) -> &'static str {
        let again = wasm.clone();
        classify(&wasm, &native, move || again)
    }

    #[test]
    fn differences_are_classified_by_their_evidence() {
        let trap = |k| run(Outcome::Trapped(k, String::new()));
        assert_eq!(
            class_of(
                trap(TrapKind::MemoryOutOfBounds),
                run(Outcome::Signal(libc::SIGSEGV))
            ),
            "sandbox-caught"
        );
        assert_eq!(
            class_of(trap(TrapKind::Unreachable), returned(1)),
            "sandbox-caught"
        );
        // A trap the sandbox adds no safety with (a division by zero) is not "caught".
        assert_eq!(
            class_of(
                trap(TrapKind::IntegerDivisionByZero),
                run(Outcome::Signal(libc::SIGFPE))
            ),
            "unexplained"
        );
        assert_eq!(
            class_of(returned(0), run(Outcome::Signal(libc::SIGSEGV))),
            "native-caught"
        );
        assert_eq!(
            class_of(returned(0), run(Outcome::Signal(libc::SIGABRT))),
            "native-caught"
        );
        // 32-bit truncation, sign, and a sizeof(long) inside: the data model.
        assert_eq!(
            class_of(returned(-2147483648i64), returned(2147483648i64)),
            "data-model"
        );
        assert_eq!(
            class_of(returned(4294967295i64), returned(-1)),
            "data-model"
        );
        assert_eq!(class_of(returned(20), returned(40)), "data-model");
        assert_eq!(class_of(returned(3), returned(5)), "unexplained");
        // Floats that differ only in a NaN's payload or sign.
        let nan = f64::from_bits(0x7ff8_0000_0000_0000);
        let negative_nan = f64::from_bits(0xfff8_0000_0000_0000);
        assert_eq!(class_of(returned(nan), returned(negative_nan)), "float");
        assert_eq!(class_of(returned(1.0), returned(2.0)), "unexplained");
        // The rerun with the real clock and randomness differs: the environment.
        let (w, n) = (returned(946), returned(1795));
        assert_eq!(classify(&w, &n, || returned(1795)), "environment");
    }
}
