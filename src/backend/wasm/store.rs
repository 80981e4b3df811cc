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

/// How deeply calls into one sandbox may nest (see [`MAX_NESTING`]).
pub(crate) const MAX_DEPTH: u32 = crate::backend::MAX_NESTING;

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
    /// Entries made from callbacks in flight (calls into the guest while it is suspended in
    /// a callback). The outermost entry is not counted: it needs no bookkeeping, as nothing of
    /// this thread can reach the sandbox while the guest runs but a callback.
    depth: Cell<u32>,
    /// The innermost running callback's `Caller` (its lifetime erased: it is published only
    /// while the callback runs, see [`Entries::run_callback`]).
    caller: Cell<Option<NonNull<Caller<'static, GuestState>>>>,
    /// Epoch ticks a call may run in the guest (`u64::MAX / 2`: no deadline).
    pub(crate) deadline_ticks: u64,
    /// The ticker round at which the deadline was last set, `u64::MAX` when it must be set
    /// again before the next call (see `WasmLibrary::arm`).
    pub(crate) armed_round: Cell<u64>,
    /// The ticker round at which the call in flight runs out of time, as its deadline was
    /// last set.
    pub(crate) deadline_round: Cell<u64>,
    /// When the guest last stopped running (a callback, or the end of a nested entry): the
    /// ticker round, and the rounds it had left.
    paused_at: Cell<u64>,
    left_at_pause: Cell<u64>,
    /// For each entry made from a callback, by its depth, the shadow stack pointer
    /// (`__stack_pointer`, an i32) when it was made, which a trap must put back (the outer
    /// call still uses the stack above it).
    saved_stack: [Cell<i32>; MAX_DEPTH as usize + 1],
}

impl Entries {
    fn new(deadline_ticks: u64) -> Entries {
        Entries {
            depth: Cell::new(0),
            caller: Cell::new(None),
            deadline_ticks,
            armed_round: Cell::new(u64::MAX),
            deadline_round: Cell::new(u64::MAX),
            paused_at: Cell::new(0),
            left_at_pause: Cell::new(0),
            saved_stack: [const { Cell::new(0) }; MAX_DEPTH as usize + 1],
        }
    }

    /// Keeps the shadow stack pointer for the entry about to be made from a callback.
    pub(crate) fn save_stack(&self, sp: i32) {
        if let Some(slot) = self.saved_stack.get(self.depth.get() as usize + 1) {
            slot.set(sp);
        }
    }

    /// The shadow stack pointer a trap of the entry that just returned must put back: `None`
    /// for the outermost entry (the value between calls), else what it kept. (An entry made
    /// from a callback returns into that callback, which is still running.)
    pub(crate) fn stack_of_returned(&self) -> Option<i32> {
        self.caller.get()?;
        let depth = self.depth.get() as usize + 1;
        Some(self.saved_stack.get(depth).map_or(0, Cell::get))
    }

    /// Whether a callback of this sandbox is running (the guest is suspended in it).
    pub(crate) fn in_callback(&self) -> bool {
        self.caller.get().is_some()
    }

    /// Runs `f` as the callback the guest called, whose `Caller` is `caller`: it is the
    /// store's user while `f` runs (calls into the guest from `f` go through it), and the
    /// time `f` takes is not the guest's.
    pub(crate) fn run_callback<'a, R>(
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
        // SAFETY: published by `run_callback` for as long as the callback runs, on this thread;
        // the `&mut` made here ends when `f` returns, before any other use of the `Caller`.
        Ok(f(unsafe { c.as_mut() }.as_context_mut()))
    }

    /// The guest stops running (it called the host, or a nested entry returned): what is left
    /// of its time is kept.
    fn guest_pauses(&self) {
        let now = engine::ticker_rounds();
        self.paused_at.set(now);
        self.left_at_pause
            .set(self.deadline_round.get().saturating_sub(now));
    }

    /// The guest runs again (a callback returned, or a nested entry starts): if ticks went by
    /// in the host meanwhile, its deadline is set again to what was left of its time.
    fn guest_resumes(&self, cx: &mut StoreContextMut<'_, GuestState>) {
        let now = engine::ticker_rounds();
        if self.deadline_ticks < u64::MAX / 2 && now != self.paused_at.get() {
            let left = self.left_at_pause.get().max(1);
            cx.set_epoch_deadline(left);
            self.deadline_round.set(now.saturating_add(left));
            // The next outermost call sets its own deadline again.
            self.armed_round.set(u64::MAX);
        }
    }
}

/// One entry into the guest, readied by [`GuestStore::enter`]: it holds no reference to the
/// library, so the library can be used again (by a callback) while it runs. Two words,
/// returned in registers: an entry built piecewise in memory and then moved was read back
/// with wider loads than it was written with (a store-forwarding stall of several ns a call).
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    /// Where it runs: the store itself, or (the low bit set) the `Caller` of the callback it
    /// is made from.
    cx: NonNull<u8>,
    entries: NonNull<Entries>,
}

impl Entry {
    /// Starts running in the guest: the store as this entry has it, for one call into the
    /// guest, counted as an entry in flight until the returned guard is dropped.
    ///
    /// # Safety
    /// The sandbox this entry was made from is alive and is not used while the guard lives,
    /// except through the callbacks the guest calls (which use the store through their own
    /// `Caller`); the entry is started on the thread that made it, at most once, before any
    /// other use of the sandbox, and the guard dropped before that.
    #[inline(always)]
    pub(crate) unsafe fn start(&self) -> Running<'_> {
        // SAFETY: the sandbox, which owns `Entries` through its store, is alive (the
        // caller's promise).
        let entries = unsafe { self.entries.as_ref() };
        // Nothing else uses the store while the guard lives (the caller's promise), so the
        // one `&mut` made here is the store's only user: the store itself at the outermost
        // entry, or the `Caller` of the callback running now, which stays on the stack until
        // this entry returns.
        let nested = self.is_nested();
        if !nested {
            let mut store = self.cx.cast::<Store<GuestState>>();
            return Running {
                // SAFETY: as said above.
                cx: unsafe { store.as_mut() }.as_context_mut(),
                entries,
                nested,
            };
        }
        entries.depth.set(entries.depth.get() + 1);
        let mut caller = self
            .cx
            .map_addr(|a| std::num::NonZeroUsize::new(a.get() & !1).unwrap_or(a))
            .cast::<Caller<'static, GuestState>>();
        // SAFETY: as said above.
        let mut cx = unsafe { caller.as_mut() }.as_context_mut();
        // Made from a callback: the guest resumes (the outermost entry's deadline was armed
        // by the library, `arm`).
        entries.guest_resumes(&mut cx);
        Running {
            cx,
            entries,
            nested,
        }
    }

    /// Whether it is made from a callback (inside another entry).
    #[inline(always)]
    pub(crate) fn is_nested(&self) -> bool {
        self.cx.addr().get() & 1 != 0
    }
}

/// An entry into the guest in flight ([`Entry::start`]): the store it uses, until dropped.
pub(crate) struct Running<'e> {
    pub(crate) cx: StoreContextMut<'e, GuestState>,
    entries: &'e Entries,
    nested: bool,
}

impl Drop for Running<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if self.nested {
            self.entries.depth.set(self.entries.depth.get() - 1);
            // Back in the callback that made this entry: host time again.
            self.entries.guest_pauses();
        }
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
            // SAFETY: published by `Entries::run_callback` for as long as the callback runs,
            // on this thread: the callback's `Caller` is the store's user now, and this
            // `&mut` of it lives no longer than the borrow of `self`.
            return Ok(unsafe { c.as_mut() }.as_context_mut());
        }
        // No callback runs, so no call is in flight: a call's guest code runs on this thread
        // (the library is not `Send`), and while it runs, no code of this thread but a
        // callback can reach the library. The store has no other user, and `&mut self` makes
        // this the only reference made from the pointer.
        // SAFETY: as said above.
        Ok(unsafe { self.store.as_mut() }.as_context_mut())
    }

    /// Readies an entry into the guest (a call), from the host between calls or from a
    /// callback; `None` past [`MAX_DEPTH`] nested entries, or while the guest runs with no
    /// callback on top ([`GuestStore::enter_error`] says which).
    #[inline(always)]
    pub(crate) fn enter(&mut self) -> Option<Entry> {
        let entries = NonNull::from(&*self.entries);
        match self.entries.caller.get() {
            None => Some(Entry {
                cx: self.store.cast(),
                entries,
            }),
            Some(c) if self.entries.depth.get() < MAX_DEPTH => Some(Entry {
                cx: c.cast::<u8>().map_addr(|a| a | 1),
                entries,
            }),
            Some(_) => None,
        }
    }

    /// Why [`GuestStore::enter`] gave no entry.
    #[cold]
    pub(crate) fn enter_error(&self) -> Error {
        let depth = self.entries.depth.get();
        if depth >= MAX_DEPTH {
            return Error::Recursion(format!(
                "calls into the sandbox nest {depth} deep (callbacks calling the guest): the \
                 limit is {MAX_DEPTH}"
            ));
        }
        Error::Runtime("the sandbox is running guest code: it cannot be called from here".into())
    }

    /// Whether a call into the guest is in flight, suspended in a callback.
    pub(crate) fn in_call(&self) -> bool {
        self.entries.in_callback()
    }
}

impl Drop for GuestStore {
    fn drop(&mut self) {
        // SAFETY: `store` came from `Box::leak` in `new` and is dropped once, here; no entry
        // can be in flight (it would hold the library alive).
        drop(unsafe { Box::from_raw(self.store.as_ptr()) });
    }
}
