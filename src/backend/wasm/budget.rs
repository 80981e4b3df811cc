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
    ///
    /// Only the outermost entry is armed: a call made from inside a callback shares what is
    /// left of the outer call's budget (see [`Entries`](super::store::Entries)).
    #[inline(always)]
    pub(super) fn arm(&mut self) {
        let round = engine::ticker_rounds();
        let entries = &self.live.guest.entries;
        if round != entries.armed_round.get() && !entries.in_callback() {
            self.rearm(round);
        }
    }

    /// Sets the deadline and, with fuel, refills the fuel; without fuel, the library counts as
    /// armed for this ticker round (`armed_round`, which stays `u64::MAX` with fuel).
    #[cold]
    #[inline(never)]
    fn rearm(&mut self, round: u64) {
        let ticks = self.deadline_ticks.saturating_add(1);
        let fuel = self.sandbox.fuel;
        self.live
            .guest
            .entries
            .deadline_round
            .set(round.saturating_add(ticks));
        let Ok(mut cx) = self.live.guest.cx() else {
            return;
        };
        cx.set_epoch_deadline(ticks);
        match fuel {
            Some(fuel) => {
                let _ = cx.set_fuel(fuel);
            }
            None => self.live.guest.entries.armed_round.set(round),
        }
    }
}
