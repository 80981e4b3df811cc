//! Which thread uses a sandbox now: one at a time, as a wasm sandbox runs one call at a time.
//!
//! A foreign call releases the GIL while C runs (as ctypes does), so another Python thread may
//! run meanwhile; it must not touch the sandbox the call is using. Every use of a wasm
//! sandbox's core from Python (a call, a read of its memory, an object made in it) first
//! claims its [`Gate`]: at once when no other thread holds it (or this thread does: a callback
//! of its own call), else by waiting, with the GIL released, until the holder's call is done.
//!
//! A native process needs no gate: C runs in this process, and calls from several threads run
//! at the same time, as with ctypes (each call's C code holds no borrow of the library).
//!
//! A holder that waits for the waiter would never let go (a callback that joins a thread
//! that calls into the same sandbox): a wait while the holder runs a Python callback ends,
//! after the sandbox's deadline, with a `SandboxError` that says so.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::error::SandboxError;

/// This thread's token: the address of a thread-local, never 0, unique among live threads.
fn me() -> u64 {
    thread_local!(static TOKEN: u8 = const { 0 });
    TOKEN.with(|t| t as *const u8 as u64)
}

/// A sandbox's gate (see the module docs). Its state is written with the GIL held; waiters
/// read it without the GIL.
pub(crate) struct Gate {
    /// Off natively: every claim succeeds at once.
    on: bool,
    /// The holder's token, 0 for none.
    owner: AtomicU64,
    /// The holder's nested claims.
    depth: AtomicU32,
    /// Threads waiting for the gate.
    waiters: AtomicU32,
    /// When the holder entered the Python callback it runs now (nanoseconds since `epoch`,
    /// 0 for none): a wait on a holder that runs Python code is bounded.
    in_callback: AtomicU64,
    /// How long a thread waits on a holder that runs a Python callback (`None`: for ever).
    patience: Option<Duration>,
    epoch: Instant,
    lock: Mutex<()>,
    freed: Condvar,
}

/// A claim on a [`Gate`], released when dropped (with the GIL held).
pub(crate) struct Claim<'g> {
    gate: Option<&'g Gate>,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Some(gate) = self.gate {
            gate.release();
        }
    }
}

impl Gate {
    /// A gate for a sandbox (`on`) whose deadline is `patience`, or none natively.
    pub(crate) fn new(on: bool, patience: Option<Duration>) -> Gate {
        Gate {
            on,
            owner: AtomicU64::new(0),
            depth: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
            in_callback: AtomicU64::new(0),
            patience,
            epoch: Instant::now(),
            lock: Mutex::new(()),
            freed: Condvar::new(),
        }
    }

    /// Claims the gate for this thread: at once if it is free or already this thread's,
    /// else after waiting (the GIL released) until it is free.
    #[inline]
    pub(crate) fn claim(&self, py: Python<'_>) -> PyResult<Claim<'_>> {
        if !self.on {
            return Ok(Claim { gate: None });
        }
        let me = me();
        loop {
            // Written only with the GIL held, which this thread holds: no other thread can
            // change the owner between this read and the write below.
            match self.owner.load(Ordering::Relaxed) {
                0 => {
                    self.owner.store(me, Ordering::Relaxed);
                    self.depth.store(1, Ordering::Relaxed);
                    return Ok(Claim { gate: Some(self) });
                }
                o if o == me => {
                    self.depth.fetch_add(1, Ordering::Relaxed);
                    return Ok(Claim { gate: Some(self) });
                }
                _ => self.wait(py)?,
            }
        }
    }

    /// Claims the gate if that needs no wait: `None` when another thread holds it.
    pub(crate) fn try_claim(&self) -> Option<Claim<'_>> {
        if !self.on {
            return Some(Claim { gate: None });
        }
        let me = me();
        match self.owner.load(Ordering::Relaxed) {
            0 => {
                self.owner.store(me, Ordering::Relaxed);
                self.depth.store(1, Ordering::Relaxed);
                Some(Claim { gate: Some(self) })
            }
            o if o == me => {
                self.depth.fetch_add(1, Ordering::Relaxed);
                Some(Claim { gate: Some(self) })
            }
            _ => None,
        }
    }

    fn release(&self) {
        if self.depth.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.owner.store(0, Ordering::Release);
            if self.waiters.load(Ordering::Relaxed) > 0 {
                let _held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
                self.freed.notify_all();
            }
        }
    }

    /// Waits, with the GIL released, until no thread holds the gate; a `SandboxError` when
    /// the holder has run a Python callback for longer than the sandbox's deadline.
    #[cold]
    fn wait(&self, py: Python<'_>) -> PyResult<()> {
        self.waiters.fetch_add(1, Ordering::Relaxed);
        let outcome = py.detach(|| {
            let mut held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            while self.owner.load(Ordering::Acquire) != 0 {
                held = self
                    .freed
                    .wait_timeout(held, Duration::from_millis(50))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                let since = self.in_callback.load(Ordering::Relaxed);
                if let (Some(patience), true) = (self.patience, since != 0) {
                    let now = self.epoch.elapsed().as_nanos() as u64;
                    if now.saturating_sub(since) > patience.as_nanos() as u64 {
                        return Err(patience);
                    }
                }
            }
            Ok(())
        });
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        outcome.map_err(|patience| {
            SandboxError::new_err(format!(
                "Busy: the sandbox is in use by another thread, which has been running a \
                 Python callback for over {patience:?} (the sandbox's timeout): a sandbox runs \
                 one thread's calls at a time, and that callback may be waiting for this thread"
            ))
        })
    }

    /// Runs `f`, a Python callback of the holder's call, marked as such for the threads
    /// that wait (see [`Gate::wait`]).
    pub(crate) fn in_callback<R>(&self, f: impl FnOnce() -> R) -> R {
        if !self.on {
            return f();
        }
        let now = (self.epoch.elapsed().as_nanos() as u64).max(1);
        let outer = self.in_callback.swap(now, Ordering::Relaxed);
        let r = f();
        self.in_callback.store(outer, Ordering::Relaxed);
        r
    }
}
