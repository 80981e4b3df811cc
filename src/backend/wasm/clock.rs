//! The guest's virtual clocks: a fixed time that moves only when the caller advances it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The virtual time the guest's clocks show: starts at 2000-01-01T00:00:00Z (wall) and 0
/// (monotonic), and moves only by [`VirtualClock::advance`].
#[derive(Clone, Debug, Default)]
pub(super) struct VirtualClock {
    nanos: Arc<AtomicU64>,
}

/// 2000-01-01T00:00:00Z in seconds since the Unix epoch.
const VIRTUAL_EPOCH: u64 = 946_684_800;

impl VirtualClock {
    /// Moves the guest's clocks forward.
    pub(super) fn advance(&self, by: Duration) {
        self.nanos
            .fetch_add(by.as_nanos() as u64, Ordering::Relaxed);
    }

    fn now(&self) -> u64 {
        self.nanos.load(Ordering::Relaxed)
    }
}

impl wasmtime_wasi::HostWallClock for VirtualClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        Duration::from_secs(VIRTUAL_EPOCH) + Duration::from_nanos(VirtualClock::now(self))
    }
}

impl wasmtime_wasi::HostMonotonicClock for VirtualClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        VirtualClock::now(self)
    }
}
