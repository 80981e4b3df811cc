//! The sandbox flags shared by `call`, `diff`, `bench` and `demo`.

use clap::Args;
use wasmctypes::sandbox::{parse_duration, parse_size, DirGrant};
use wasmctypes::{Error, LoadOptions};

#[derive(Args, Clone, Debug, Default)]
pub struct SandboxArgs {
    /// The most linear memory a wasm library may have (e.g. 16MiB). Default 256MiB.
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
    /// A fuel budget per call: deterministic, the same call always stops at the same place.
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// A wall-clock deadline per call (e.g. 1s, 500ms; `none` for none). Default 30s.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Grant a host directory to the guest: HOST[::GUEST][:ro].
    #[arg(long = "dir", value_name = "HOST[::GUEST][:ro]")]
    pub dirs: Vec<String>,
    /// Pass an environment variable to the guest.
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Let the library write straight to this process's stdout and stderr.
    #[arg(long)]
    pub inherit_stdio: bool,
    /// Give the guest the host's real clocks instead of the fixed virtual time.
    #[arg(long)]
    pub real_clock: bool,
    /// The seed of the guest's deterministic random stream. Default 0.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Let NaNs have the host CPU's bits instead of one canonical pattern: faster float code,
    /// no longer the same bits on every machine.
    #[arg(long)]
    pub no_canonical_nans: bool,
}

impl SandboxArgs {
    /// The load options these flags ask for; output is captured unless `--inherit-stdio`.
    pub fn options(&self, capture: Option<bool>) -> Result<LoadOptions, Error> {
        let mut o = LoadOptions {
            capture_output: if self.inherit_stdio {
                Some(false)
            } else {
                capture
            },
            ..LoadOptions::default()
        };
        let s = &mut o.sandbox;
        if let Some(m) = &self.max_memory {
            s.max_memory = parse_size(m)?;
        }
        s.fuel = self.fuel;
        if let Some(t) = &self.timeout {
            s.timeout = match t.as_str() {
                "none" | "0" => None,
                other => Some(parse_duration(other)?),
            };
        }
        for d in &self.dirs {
            s.dirs.push(DirGrant::parse(d)?);
        }
        for kv in &self.env {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| Error::ValueError(format!("--env {kv:?}: expected K=V")))?;
            s.env.push((k.to_string(), v.to_string()));
        }
        s.real_clock = self.real_clock;
        if let Some(seed) = self.seed {
            s.seed = seed;
        }
        s.canonical_nans = !self.no_canonical_nans;
        Ok(o)
    }
}
