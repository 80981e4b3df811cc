//! `wasmctypes diff`: one call on both backends side by side, or a library's whole test corpus.

use std::process::ExitCode;

use wasmctypes::tools::print;
use wasmctypes::{locate, BackendKind, CallReport, Error};

use super::{fail, run_one, CallArgs};

fn same(a: &Result<CallReport, Error>, b: &Result<CallReport, Error>) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => x.agrees_with(y),
        _ => false,
    }
}

/// `diff LIB SYMBOL`. With `isolate`, the native call is first made in a forked child: if that
/// child dies (a signal, or C's `exit`), the native side reports how, and this process never
/// makes the call; if it returns, the call is made again here for the report. (A native
/// function with effects outside the process therefore runs twice; `--no-isolate` runs it
/// once, in-process.)
pub(crate) fn cmd_diff(call: &CallArgs, isolate: bool) -> ExitCode {
    let native = || -> Result<CallReport, Error> {
        if isolate {
            // SAFETY: the user asked for this native call (`diff`); the child only loads the
            // library and makes the call.
            let tried = unsafe {
                wasmctypes::tools::differential::survives_in_child(|| {
                    let _ = run_one(call, BackendKind::Native);
                })
            };
            if let Err(ended) = tried {
                return Err(Error::Runtime(format!(
                    "native call ended in {} (seen in an isolated child process)",
                    ended.text()
                )));
            }
        }
        run_one(call, BackendKind::Native)
    };
    let results: Vec<Result<CallReport, Error>> = vec![run_one(call, BackendKind::Wasm), native()];
    let (w, n) = (&results[0], &results[1]);
    let agree = same(w, n);
    let code = match (w, n) {
        _ if agree => 0,
        (Ok(_), Err(_)) | (Err(_), Ok(_)) | (Ok(_), Ok(_)) => 1,
        (Err(_), Err(_)) => 2,
    };
    if call.json {
        println!(
            "{}",
            print::diff_json(call.symbol.as_deref().unwrap_or(""), agree, w, n)
        );
    } else {
        print!("{}", print::diff_text(w, n, code));
    }
    ExitCode::from(code)
}

/// `--shard K/N`, with 1 <= K <= N.
pub(crate) fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?}: expected K/N, such as 1/4"))?;
    let (k, n): (usize, usize) = (
        k.parse().map_err(|_| format!("{k:?} is not a number"))?,
        n.parse().map_err(|_| format!("{n:?} is not a number"))?,
    );
    if k == 0 || n == 0 || k > n {
        return Err(format!("shard {k}/{n}: K must be between 1 and N"));
    }
    Ok((k, n))
}

pub(crate) fn cmd_diff_all(
    call: &CallArgs,
    isolate: bool,
    jobs: Option<u64>,
    shard: Option<(usize, usize)>,
) -> ExitCode {
    use std::io::IsTerminal;
    use wasmctypes::tools::differential::{DiffOptions, Isolation};
    let search = call.search.search();
    let report = locate(&call.lib, BackendKind::Wasm, &search).and_then(|w| {
        if !call.preload.is_empty() || call.fixed.is_some() {
            return Err(Error::TypeError(
                "--preload and --fixed apply to one SYMBOL's call, not to a test corpus".into(),
            ));
        }
        let n = locate(&call.lib, BackendKind::Native, &search)?;
        let isolation = match std::env::current_exe() {
            Ok(exe) if isolate => Isolation::Workers(exe),
            Ok(_) => Isolation::InProcess,
            Err(e) => return Err(Error::Runtime(format!("cannot find this program: {e}"))),
        };
        let options = DiffOptions {
            isolation,
            jobs: jobs
                .map(|j| j as usize)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            shard,
            timeout: call.sandbox.options(Some(true))?.sandbox.timeout,
            progress: std::io::stderr().is_terminal(),
        };
        // SAFETY: `diff LIB` runs LIB's tests natively at the user's request (in worker
        // processes unless `--no-isolate`).
        unsafe { wasmctypes::tools::differential::run_all(&w, &n, &options) }
    });
    match report {
        Ok(r) => {
            if call.json {
                for line in r.json_lines() {
                    println!("{line}");
                }
            } else {
                print!("{}", r.table());
            }
            if r.unexplained() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => fail(call.json, BackendKind::Wasm, None, &e),
    }
}
