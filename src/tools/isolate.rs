//! Native isolation for the differential runner: worker processes, spawned (never forked
//! from the threaded runner), each of which loads the library once and runs test after test.
//!
//! - A crash (a signal, or C's `exit`) ends the worker; that test's outcome is how it ended,
//!   and the next test gets a fresh worker.
//! - A test past its deadline has its worker's whole process group killed; its outcome is
//!   `timeout`.
//! - A worker dies with the runner (`PR_SET_PDEATHSIG`), so a runner that is killed leaves no
//!   native code spinning.
//!
//! The protocol on the worker's stdin and stdout is binary: each message is a length-prefixed
//! frame. A request is the restype's index and the test's name; a reply is a `ChildResult`,
//! then the captured stdout and stderr, each length-prefixed. The native code's own output
//! never reaches the pipe: it is captured around each call.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::backend::{BackendKind, LoadOptions};
use crate::error::{Error, Result};
use crate::library::CDLL;
use crate::tools::differential::{Outcome, Run};
use crate::types::CType;
use crate::value::Value;

/// The hidden subcommand of the `wasmctypes` binary that serves as a worker.
pub const WORKER_COMMAND: &str = "__worker";

/// The most bytes of one frame: a reply carries at most two captured streams of 16 MiB.
const MAX_FRAME: usize = 40 << 20;

/// One live worker process.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

/// The native side of a differential run: a worker at a time, replaced after a crash or a
/// timeout.
pub(crate) struct Pool {
    exe: PathBuf,
    lib: PathBuf,
    timeout: Option<Duration>,
    worker: Option<Worker>,
}

impl Pool {
    /// Workers of `exe` (a `wasmctypes` binary) for the native library `lib`, each test
    /// stopped after `timeout`.
    pub(crate) fn new(exe: &Path, lib: &Path, timeout: Option<Duration>) -> Pool {
        Pool {
            exe: exe.to_path_buf(),
            lib: lib.to_path_buf(),
            timeout,
            worker: None,
        }
    }

    fn spawn(&self) -> Result<Worker> {
        let mut child = Command::new(&self.exe)
            .arg(WORKER_COMMAND)
            .arg(&self.lib)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own process group, so that a timeout kills whatever the test started too.
            .process_group(0)
            .spawn()
            .map_err(|e| Error::Runtime(format!("cannot start a worker: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(Error::Runtime("a worker has no pipes".into()));
        };
        Ok(Worker {
            child,
            stdin,
            stdout,
        })
    }

    /// Runs the test `name` with this restype in a worker.
    pub(crate) fn run(&mut self, name: &str, restype: CType) -> Run {
        let mut worker = match self.worker.take() {
            Some(w) => w,
            None => match self.spawn() {
                Ok(w) => w,
                Err(e) => return failed(e),
            },
        };
        let mut request = vec![ctype_index(restype)];
        request.extend_from_slice(name.as_bytes());
        if write_frame(&mut worker.stdin, &request).is_err() {
            return self.ended(worker);
        }
        let deadline = self.timeout.map(|t| Instant::now() + t);
        match read_frame(&mut worker.stdout, deadline) {
            Ok(Some(reply)) => match decode_reply(&reply) {
                Some(run) => {
                    self.worker = Some(worker);
                    run
                }
                None => {
                    kill(&mut worker);
                    failed(Error::Runtime("a worker sent a malformed reply".into()))
                }
            },
            Ok(None) => self.ended(worker),
            Err(Timeout) => {
                kill(&mut worker);
                Run {
                    outcome: Outcome::Timeout,
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                }
            }
        }
    }

    /// The outcome of a test whose worker ended: the signal or exit status.
    fn ended(&self, mut worker: Worker) -> Run {
        let outcome = match worker.child.wait() {
            Ok(status) => {
                use std::os::unix::process::ExitStatusExt;
                match (status.signal(), status.code()) {
                    (Some(s), _) => Outcome::Signal(s),
                    (None, Some(c)) => Outcome::Exit(c),
                    _ => Outcome::Failed("the worker ended".into()),
                }
            }
            Err(e) => Outcome::Failed(format!("cannot wait for a worker: {e}")),
        };
        Run {
            outcome,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(mut w) = self.worker.take() {
            kill(&mut w);
        }
    }
}

/// Kills a worker's whole process group and reaps it.
fn kill(worker: &mut Worker) {
    let pid = worker.child.id() as libc::pid_t;
    // SAFETY: a signal to the process group this runner created for the worker.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let _ = worker.child.kill();
    let _ = worker.child.wait();
}

fn failed(e: Error) -> Run {
    Run {
        outcome: Outcome::Failed(e.to_string()),
        stdout: Vec::new(),
        stderr: Vec::new(),
    }
}

fn ctype_index(t: CType) -> u8 {
    CType::all().position(|c| c == t).unwrap_or(0) as u8
}

fn write_frame(w: &mut impl Write, body: &[u8]) -> std::io::Result<()> {
    w.write_all(&(body.len() as u32).to_le_bytes())?;
    w.write_all(body)?;
    w.flush()
}

struct Timeout;

/// Reads one frame, waiting until `deadline`; `Ok(None)` at the end of the stream.
fn read_frame(
    r: &mut ChildStdout,
    deadline: Option<Instant>,
) -> std::result::Result<Option<Vec<u8>>, Timeout> {
    let mut len = [0u8; 4];
    if !read_exact_by(r, &mut len, deadline)? {
        return Ok(None);
    }
    let n = u32::from_le_bytes(len) as usize;
    if n > MAX_FRAME {
        return Ok(None);
    }
    let mut body = vec![0; n];
    if !read_exact_by(r, &mut body, deadline)? {
        return Ok(None);
    }
    Ok(Some(body))
}

/// Fills `buf`, waiting for data at most until `deadline`; false at the end of the stream.
fn read_exact_by(
    r: &mut ChildStdout,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> std::result::Result<bool, Timeout> {
    let mut done = 0;
    while done < buf.len() {
        let wait = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Timeout);
                }
                left.as_millis().clamp(1, i32::MAX as u128) as i32
            }
            None => -1,
        };
        let mut fds = libc::pollfd {
            fd: r.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut fds, 1, wait) };
        if ready == 0 {
            continue;
        }
        if ready < 0 {
            // Interrupted: wait again, still by the deadline; any other failure ends the read.
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Ok(false);
        }
        match r.read(&mut buf[done..]) {
            Ok(0) => return Ok(false),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Ok(false),
        }
    }
    Ok(true)
}

fn encode_reply(result: &ChildResult, stdout: &[u8], stderr: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in [&result.encode()[..], stdout, stderr] {
        out.extend_from_slice(&(part.len() as u32).to_le_bytes());
        out.extend_from_slice(part);
    }
    out
}

fn decode_reply(mut bytes: &[u8]) -> Option<Run> {
    let mut part = || {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let n = u32::from_le_bytes(*len) as usize;
        let (body, rest) = (rest.get(..n)?, rest.get(n..)?);
        bytes = rest;
        Some(body.to_vec())
    };
    let result = ChildResult::decode(&part()?)?;
    let (stdout, stderr) = (part()?, part()?);
    Some(Run {
        outcome: match result {
            ChildResult::Returned(v) => Outcome::Returned(v),
            ChildResult::Failed(e) => Outcome::Failed(e),
        },
        stdout,
        stderr,
    })
}

/// The worker's side, `wasmctypes __worker LIB`: loads LIB natively with its output captured,
/// then answers requests on stdin until it closes. Ends with the runner that started it.
///
/// # Safety
/// LIB runs natively in this process (see [`CDLL::open`]); the runner promised that its tests
/// may be called.
pub unsafe fn serve(lib: &Path) -> Result<()> {
    // SAFETY: prctl with PR_SET_PDEATHSIG and a signal number; no memory is passed.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // SAFETY: getppid has no preconditions. Init adopted us: the runner is already gone.
    if unsafe { libc::getppid() } == 1 {
        return Ok(());
    }
    let options = LoadOptions {
        capture_output: Some(true),
        ..LoadOptions::default()
    };
    // SAFETY: the caller's promise, passed on.
    let lib = unsafe { CDLL::open_with(lib, BackendKind::Native, &options) }?;
    let (mut input, mut output) = (std::io::stdin().lock(), std::io::stdout().lock());
    loop {
        let mut len = [0u8; 4];
        if input.read_exact(&mut len).is_err() {
            return Ok(());
        }
        let n = u32::from_le_bytes(len) as usize;
        if n > MAX_FRAME {
            return Err(Error::Runtime("a request frame is too large".into()));
        }
        let mut request = vec![0; n];
        input
            .read_exact(&mut request)
            .map_err(|e| Error::Runtime(e.to_string()))?;
        let Some((&t, name)) = request.split_first() else {
            continue;
        };
        let restype = CType::all().nth(t as usize).unwrap_or(CType::Int);
        let name = String::from_utf8_lossy(name);
        let outcome = lib.function(&name).and_then(|mut f| {
            f.set_restype(restype)?;
            f.call(&[])
        });
        let out = lib.take_output();
        let reply = encode_reply(&ChildResult::of(outcome), &out.stdout, &out.stderr);
        write_frame(&mut output, &reply).map_err(|e| Error::Runtime(e.to_string()))?;
    }
}

/// What an isolated child sends back through its pipe, in a binary form: a tag byte, then the
/// value's own bits (an integer as 16 little-endian bytes, a float as its 8 bytes), or the
/// error's text. Nothing is parsed from printed text.
#[derive(Debug, PartialEq)]
pub(crate) enum ChildResult {
    /// The call returned this value (None, an integer or a float: a test's result types).
    Returned(Value),
    /// The call failed with this error text.
    Failed(String),
}

impl ChildResult {
    pub(crate) fn of(outcome: Result<Value>) -> ChildResult {
        match outcome {
            Ok(v) => ChildResult::Returned(v),
            Err(e) => ChildResult::Failed(e.to_string()),
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(17);
        match self {
            ChildResult::Returned(Value::Int(i)) => {
                out.push(b'i');
                out.extend_from_slice(&i.to_le_bytes());
            }
            ChildResult::Returned(Value::Float(x)) => {
                out.push(b'f');
                out.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            ChildResult::Returned(Value::Bool(b)) => out.extend_from_slice(&[b'b', *b as u8]),
            ChildResult::Returned(_) => out.push(b'n'),
            ChildResult::Failed(e) => {
                out.push(b'e');
                out.extend_from_slice(e.as_bytes());
            }
        }
        out
    }

    /// `None` when the child wrote nothing (it ended before the call returned) or something
    /// this encoding never makes.
    pub(crate) fn decode(bytes: &[u8]) -> Option<ChildResult> {
        let (&tag, rest) = bytes.split_first()?;
        Some(match tag {
            b'i' => ChildResult::Returned(Value::Int(i128::from_le_bytes(rest.try_into().ok()?))),
            b'f' => ChildResult::Returned(Value::Float(f64::from_bits(u64::from_le_bytes(
                rest.try_into().ok()?,
            )))),
            b'b' => ChildResult::Returned(Value::Bool(*rest.first()? != 0)),
            b'n' if rest.is_empty() => ChildResult::Returned(Value::None),
            b'e' => ChildResult::Failed(String::from_utf8_lossy(rest).into_owned()),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_result_survives_the_pipe_bit_for_bit() {
        for r in [
            ChildResult::Returned(Value::Int(-(1 << 100))),
            ChildResult::Returned(Value::Int(u64::MAX as i128)),
            ChildResult::Returned(Value::Float(f64::from_bits(0x7ff8_0000_dead_beef))),
            ChildResult::Returned(Value::Float(-0.0)),
            ChildResult::Returned(Value::Bool(true)),
            ChildResult::Returned(Value::None),
            ChildResult::Failed("ValueError: NULL pointer access".into()),
        ] {
            let back = ChildResult::decode(&r.encode()).unwrap();
            match (&r, &back) {
                (
                    ChildResult::Returned(Value::Float(a)),
                    ChildResult::Returned(Value::Float(b)),
                ) => assert_eq!(a.to_bits(), b.to_bits()),
                _ => assert_eq!(r, back),
            }
        }
        assert_eq!(ChildResult::decode(b""), None);
        assert_eq!(ChildResult::decode(b"i\x01"), None);
        assert_eq!(ChildResult::decode(b"?"), None);
    }

    #[test]
    fn a_reply_carries_the_result_and_both_streams() {
        let reply = encode_reply(&ChildResult::Returned(Value::Int(-5)), b"out", b"");
        let run = decode_reply(&reply).unwrap();
        assert_eq!(run.outcome, Outcome::Returned(Value::Int(-5)));
        assert_eq!(
            (run.stdout.as_slice(), run.stderr.as_slice()),
            (b"out".as_slice(), b"".as_slice())
        );
        assert!(decode_reply(&reply[..reply.len() - 1]).is_none());
        assert!(decode_reply(b"").is_none());
    }
}
