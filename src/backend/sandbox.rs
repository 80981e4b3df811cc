//! What a sandboxed library may use: its limits, and what it is granted of the outside world.
//!
//! The defaults are safe. Memory is capped (256 MiB), the function table is capped, and every
//! call has a wall-clock deadline (30 s). The guest has no filesystem, no environment, no
//! arguments and no sockets. Its clocks show a fixed virtual time that moves only when the
//! caller advances it, and its random numbers are a deterministic stream from a seed. Each of
//! these is an explicit opt-in: a fuel budget, a longer or no timeout, directories (read-only
//! or read-write), environment variables, the real clocks, real randomness.
//!
//! ```
//! use wasmctypes::sandbox::{parse_duration, parse_size, DirGrant, SandboxConfig};
//! let mut s = SandboxConfig::default();
//! s.max_memory = parse_size("16MiB").unwrap();
//! s.timeout = Some(parse_duration("1s").unwrap());
//! s.dirs.push(DirGrant::parse("/tmp/data::/data:ro").unwrap());
//! assert_eq!(s.max_memory, 16 << 20);
//! assert!(s.dirs[0].read_only);
//! ```

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// A directory of the host granted to the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirGrant {
    /// The host directory.
    pub host: PathBuf,
    /// Where the guest sees it.
    pub guest: String,
    /// Whether the guest may only read.
    pub read_only: bool,
}

impl DirGrant {
    /// Parses `HOST[::GUEST][:ro]` (the guest path defaults to the host path).
    pub fn parse(text: &str) -> Result<DirGrant> {
        let (rest, read_only) = match text.strip_suffix(":ro") {
            Some(r) => (r, true),
            None => (text, false),
        };
        let (host, guest) = match rest.split_once("::") {
            Some((h, g)) => (h, g.to_string()),
            None => (rest, rest.to_string()),
        };
        if host.is_empty() || guest.is_empty() {
            return Err(Error::ValueError(format!(
                "--dir {text:?}: expected HOST[::GUEST][:ro]"
            )));
        }
        Ok(DirGrant {
            host: PathBuf::from(host),
            guest,
            read_only,
        })
    }
}

/// The limits and grants of one wasm library. See the module docs for the defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SandboxConfig {
    /// The most linear memory, in bytes.
    pub max_memory: usize,
    /// The most elements of any table (callbacks take one each).
    pub max_table_elements: usize,
    /// A fuel budget per call (deterministic: the same call always uses the same fuel), or
    /// `None` for unmetered execution.
    pub fuel: Option<u64>,
    /// A wall-clock deadline per call, or `None` for none at all. It is kept in 10 ms ticks
    /// of the engine's epoch, so a call that runs on is stopped within one tick of it.
    pub timeout: Option<Duration>,
    /// The most native stack a call into the sandbox may use, in bytes: the guest's frames
    /// and, when callbacks call the guest again, the host's frames between (each level of
    /// a Python callback that calls its library takes some 20 KiB). The thread that calls
    /// must have this much stack left (Python's and the CLI's threads have 8 MiB).
    pub max_stack: usize,
    /// Host directories the guest may open.
    pub dirs: Vec<DirGrant>,
    /// Environment variables the guest sees.
    pub env: Vec<(String, String)>,
    /// Use the host's clocks instead of the virtual ones.
    pub real_clock: bool,
    /// Use the host's randomness instead of the seeded stream.
    pub real_random: bool,
    /// The seed of the deterministic random stream.
    pub seed: u64,
    /// Every NaN a float operation makes has the same bits on every machine (wasmtime's NaN
    /// canonicalisation, on by default). Off, float code runs faster (the six-argument `mix`
    /// call: about 1.25x less guest time) and a NaN's sign and payload are the host CPU's:
    /// `0.0 / 0.0` is `0xfff8000000000000` on x86-64 and `0x7ff8000000000000` on AArch64.
    pub canonical_nans: bool,
}

impl Default for SandboxConfig {
    fn default() -> SandboxConfig {
        SandboxConfig {
            max_memory: 256 << 20,
            max_table_elements: 100_000,
            fuel: None,
            timeout: Some(Duration::from_secs(30)),
            max_stack: 1 << 20,
            dirs: Vec::new(),
            env: Vec::new(),
            real_clock: false,
            real_random: false,
            seed: 0,
            canonical_nans: true,
        }
    }
}

/// Parses a size: `16MiB`, `512KiB`, `1GiB`, `65536` (bytes); also `MB`/`KB`/`GB` as powers of
/// 1000.
pub fn parse_size(text: &str) -> Result<usize> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| Error::ValueError(format!("bad size {text:?}")))?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" | "kB" => 1000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(Error::ValueError(format!(
                "bad size unit {other:?} in {text:?}"
            )))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| Error::ValueError(format!("size {text:?} is too large")))
}

/// Parses a duration: `1s`, `500ms`, `2m`, `1.5s`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| Error::ValueError(format!("bad duration {text:?}")))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "us" => n / 1e6,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(Error::ValueError(format!(
                "bad duration unit {other:?} in {text:?}"
            )))
        }
    };
    Duration::try_from_secs_f64(secs)
        .map_err(|_| Error::ValueError(format!("bad duration {text:?}")))
}
