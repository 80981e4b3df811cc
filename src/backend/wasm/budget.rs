//! Each entry into the guest gets its whole budget: the deadline (epoch ticks) and the fuel.

use super::{engine, WasmLibrary};

impl WasmLibrary {
    /// Gives the next entry into the guest its full budget: the deadline and the fuel.
    ///
    /// The deadline is set again only when the ticker has finished a round since it was last
    /// set. Within one round an engine's epoch moves by at most one, so a deadline set one
    /// tick further out than the timeout leaves every call between `deadline_ticks - 1` and
    /// `deadline_ticks + 1` ticks: the same lower bound as setting it on every call, whose
    /// first tick may also come at once. Setting it costs a call into wasmtime and a load of
    /// the engine's epoch, about 2 ns of a 35 ns call; the check costs one load.
    ///
    /// Fuel is refilled before every call, so a sandbox with fuel never counts as armed and
    /// every call takes [`WasmLibrary::rearm`]: the common sandbox, without fuel, tests one
    /// value per call, not two.
    #[inline(always)]
    pub(super) fn arm(&mut self) {
        let round = engine::ticker_rounds();
        if round != self.armed_round {
            self.rearm(round);
        }
    }

    /// Sets the deadline and, with fuel, refills the fuel; without fuel, the library counts as
    /// armed for this ticker round (`armed_round`, which stays `u64::MAX` with fuel).
    #[cold]
    #[inline(never)]
    fn rearm(&mut self, round: u64) {
        self.live
            .store
            .set_epoch_deadline(self.deadline_ticks.saturating_add(1));
        match self.sandbox.fuel {
            Some(fuel) => {
                let _ = self.live.store.set_fuel(fuel);
            }
            None => self.armed_round = round,
        }
    }
}
