//! The sandbox's store, and who may use it.
//!
//! Between calls the host uses the store itself. While the guest runs, the store belongs to
//! that entry into the guest: no Rust reference to it is held by the library (its loan has
//! ended), so that C can call back into the host, and the host, from inside the callback,
//! into the guest again (wasmtime allows host -> wasm -> host -> wasm). Inside a callback
//! every use of the store goes through the callback's own `Caller`, as wasmtime requires: the
//! innermost callback's `Caller` is published in [`Entries`] for as long as it runs.
//!
//! [`Entries`] also keeps the guest's time: a call's deadline counts the time the guest runs,
//! not the time the host spends in callbacks.

use std::cell::Cell;
use std::ptr::NonNull;
use std::rc::Rc;

use wasmtime::{AsContextMut, Caller, Store, StoreContextMut};

use super::engine;
use super::GuestState;
use crate::error::{Error, Result};

/// How deeply calls into one sandbox may nest: a callback calling the guest, whose callback
/// calls the guest again, ... Past it, the innermost callback's call is
/// [`Error::Recursion`](crate::Error), and the sandbox stays usable.
pub(crate) const MAX_DEPTH: u32 = 64;

/// The sandbox's store: owned here, and used through [`GuestStore::cx`].
pub(crate) struct GuestStore {
    /// The store, boxed and held as a pointer: an entry into the guest uses it through this
    /// pointer while no reference to the library exists, so no `&mut` of the library may
    /// cover it.
    store: NonNull<Store<GuestState>>,
    pub(crate) entries: Rc<Entries>,
}

/// The entries into the guest in flight and the innermost callback, shared by the store's
/// owner and by the callbacks (through the store's data).
pub(crate) struct Entries {
    /// Entries into the guest in flight, re-entrant ones included.
    depth: Cell<u32>,
    /// The innermost running callback's `Caller` (its lifetime erased: it is published only
    /// while the callback runs, see [`Entries::in_callback`]).
    caller: Cell<Option<NonNull<Caller<'static, GuestState>>>>,
    /// Epoch ticks a call may run in the guest (`u64::MAX / 2`: no deadline).
    pub(crate) deadline_ticks: u64,
    /// The ticker round at which the deadline was last set, `u64::MAX` when it must be set
    /// again before the next call (see `WasmLibrary::arm`).
    pub(crate) armed_round: Cell<u64>,
    /// The ticker round at which the guest last started running in this call.
    guest_since: Cell<u64>,
    /// Ticker rounds the guest has run in this call before `guest_since`.
    guest_used: Cell<u64>,
    /// The ticker round at which the guest last stopped running (a callback, or the end of a
    /// nested entry).
    paused_at: Cell<u64>,
}

impl Entries {
    fn new(deadline_ticks: u64) -> Entries {
        Entries {
            depth: Cell::new(0),
            caller: Cell::new(None),
            deadline_ticks,
            armed_round: Cell::new(u64::MAX),
            guest_since: Cell::new(0),
            guest_used: Cell::new(0),
            paused_at: Cell::new(0),
        }
    }

    /// Entries into the guest in flight.
    pub(crate) fn depth(&self) -> u32 {
        self.depth.get()
    }

    /// Runs `f` as the callback the guest called, whose `Caller` is `caller`: it is the
    /// store's user while `f` runs (calls into the guest from `f` go through it), and the
    /// time `f` takes is not the guest's.
    pub(crate) fn in_callback<'a, R>(
        &self,
        caller: &mut Caller<'a, GuestState>,
        f: impl FnOnce() -> R,
    ) -> R {
        self.guest_pauses();
        let published = NonNull::from(&mut *caller).cast::<Caller<'static, GuestState>>();
        let outer = self.caller.replace(Some(published));
        // Restored also if `f` unwinds.
        struct Restore<'e>(&'e Entries, Option<NonNull<Caller<'static, GuestState>>>);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.caller.set(self.1);
            }
        }
        let restore = Restore(self, outer);
        let r = f();
        drop(restore);
        self.guest_resumes(&mut caller.as_context_mut());
        r
    }

    /// Runs `f` with the running callback's `Caller`, the store's user while it runs; an
    /// error outside a callback.
    pub(crate) fn with_caller<R>(
        &self,
        f: impl FnOnce(StoreContextMut<'_, GuestState>) -> R,
    ) -> Result<R> {
        let Some(mut c) = self.caller.get() else {
            return Err(Error::Runtime(
                "no callback of this sandbox is running".into(),
            ));
        };
        // SAFETY: published by `in_callback` for as long as the callback runs, on this thread;
        // the `&mut` made here ends when `f` returns, before any other use of the `Caller`.
        Ok(f(unsafe { c.as_mut() }.as_context_mut()))
    }

    /// The guest stops running (it called the host, or a nested entry returned): the ticks
    /// since it last resumed are its own.
    fn guest_pauses(&self) {
        let now = engine::ticker_rounds();
        let ran = now.saturating_sub(self.guest_since.get());
        self.guest_used
            .set(self.guest_used.get().saturating_add(ran));
        self.paused_at.set(now);
    }

    /// The guest runs again (a callback returned, or a nested entry starts): if ticks went by
    /// in the host meanwhile, its deadline is set again to what is left of its time.
    fn guest_resumes(&self, cx: &mut StoreContextMut<'_, GuestState>) {
        let now = engine::ticker_rounds();
        self.guest_since.set(now);
        if self.deadline_ticks < u64::MAX / 2 && now != self.paused_at.get() {
            let left = self.deadline_ticks.saturating_sub(self.guest_used.get());
            cx.set_epoch_deadline(left.max(1));
            // The next outermost call sets its own deadline again.
            self.armed_round.set(u64::MAX);
        }
    }
}

/// Where an entry into the guest runs: the store itself, or the `Caller` of the callback it
/// is made from.
#[derive(Clone, Copy)]
enum Cx {
    Store(NonNull<Store<GuestState>>),
    Caller(NonNull<Caller<'static, GuestState>>),
}

/// One entry into the guest, readied by [`GuestStore::enter`]: it holds no reference to the
/// library, so the library can be used again (by a callback) while it runs.
pub(crate) struct Entry {
    cx: Cx,
    entries: NonNull<Entries>,
    /// For an entry made from a callback, the shadow stack pointer when it was made, which a
    /// trap must put back (the outer call still uses the stack above it); `None` for the
    /// outermost entry, which puts back the value between calls.
    pub(crate) stack: Option<(wasmtime::Global, wasmtime::Val)>,
}

impl Entry {
    /// Runs `f` in the guest, with the store as this entry has it.
    ///
    /// # Safety
    /// The sandbox this entry was made from is alive and is not used while `f` runs, except
    /// through the callbacks the guest calls (which use the store through their own
    /// `Caller`); the entry is run on the thread that made it, at most once, before any
    /// other use of the sandbox.
    #[inline(always)]
    pub(crate) unsafe fn run<R>(&self, f: impl FnOnce(StoreContextMut<'_, GuestState>) -> R) -> R {
        // SAFETY: the sandbox, which owns `Entries` through its store, is alive (the
        // caller's promise).
        let entries = unsafe { self.entries.as_ref() };
        let depth = entries.depth.get() + 1;
        entries.depth.set(depth);
        struct Leave<'e>(&'e Entries, u32);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.depth.set(self.1 - 1);
                if self.1 > 1 {
                    // Back in the callback that made this entry: host time again.
                    self.0.guest_pauses();
                }
            }
        }
        let _leave = Leave(entries, depth);
        // Nothing else uses the store while `f` runs (the caller's promise), so the one `&mut`
        // made here is the store's only user: the store itself at the outermost entry, or the
        // `Caller` of the callback running now, which stays on the stack until this entry
        // returns.
        let mut cx = match self.cx {
            // SAFETY: as said above.
            Cx::Store(mut s) => unsafe { s.as_mut() }.as_context_mut(),
            // SAFETY: as said above.
            Cx::Caller(mut c) => unsafe { c.as_mut() }.as_context_mut(),
        };
        if depth == 1 {
            // The outermost entry: its deadline was armed by the library (`arm`).
            entries.guest_since.set(engine::ticker_rounds());
            entries.guest_used.set(0);
        } else {
            entries.guest_resumes(&mut cx);
        }
        f(cx)
    }
}

impl GuestStore {
    pub(crate) fn new(store: Store<GuestState>, deadline_ticks: u64) -> GuestStore {
        let entries = Rc::new(Entries::new(deadline_ticks));
        let mut store = Box::new(store);
        store.data_mut().entries = Some(super::guest::Shared(entries.clone()));
        GuestStore {
            store: NonNull::from(Box::leak(store)),
            entries,
        }
    }

    /// The store, for the host: itself between calls; while the guest runs, the `Caller` of
    /// the callback it is suspended in. An error while the guest runs with no callback on top
    /// (no host code of this sandbox can run then; a sign of a use from another thread).
    #[inline]
    pub(crate) fn cx(&mut self) -> Result<StoreContextMut<'_, GuestState>> {
        if let Some(mut c) = self.entries.caller.get() {
            // SAFETY: published by `Entries::in_callback` for as long as the callback runs,
            // on this thread: the callback's `Caller` is the store's user now, and this
            // `&mut` of it lives no longer than the borrow of `self`.
            return Ok(unsafe { c.as_mut() }.as_context_mut());
        }
        if self.entries.depth.get() == 0 {
            // SAFETY: no entry into the guest is in flight, so the store has no other user;
            // `&mut self` makes this the only reference made from the pointer.
            return Ok(unsafe { self.store.as_mut() }.as_context_mut());
        }
        Err(Error::Runtime(
            "the sandbox is running guest code: it cannot be used from here".into(),
        ))
    }

    /// Readies an entry into the guest (a call), from the host between calls or from a
    /// callback. More than [`MAX_DEPTH`] nested entries are [`Error::Recursion`].
    pub(crate) fn enter(&mut self) -> Result<Entry> {
        let depth = self.entries.depth.get();
        if depth >= MAX_DEPTH {
            return Err(Error::Recursion(format!(
                "calls into the sandbox nest {depth} deep (callbacks calling the guest): the \
                 limit is {MAX_DEPTH}"
            )));
        }
        let cx = match self.entries.caller.get() {
            Some(c) => Cx::Caller(c),
            None if depth == 0 => Cx::Store(self.store),
            None => {
                return Err(Error::Runtime(
                    "the sandbox is running guest code: it cannot be called from here".into(),
                ))
            }
        };
        Ok(Entry {
            cx,
            entries: NonNull::from(&*self.entries),
            stack: None,
        })
    }

    /// Whether an entry into the guest is in flight.
    pub(crate) fn in_call(&self) -> bool {
        self.entries.depth.get() > 0
    }
}

impl Drop for GuestStore {
    fn drop(&mut self) {
        // SAFETY: `store` came from `Box::leak` in `new` and is dropped once, here; no entry
        // can be in flight (it would hold the library alive).
        drop(unsafe { Box::from_raw(self.store.as_ptr()) });
    }
}
