//! A value lent to one user at a time: a library's backend, lent to one call.
//!
//! `RefCell::try_borrow_mut` with the same contract, and a flag that is only ever written
//! whole: the loan reads it and sets it, and its end clears it with a plain store, where a
//! `RefCell` releases its borrow by incrementing its counter, a read-modify-write of memory
//! last written before the call into the guest. Measured against `RefCell`, the flag takes
//! about 0.8 ns off every wasm call (the typed six-argument call: 30.2 to 29.2-29.4 ns; see
//! benches/README.md).

use std::cell::{Cell, UnsafeCell};
use std::ops::{Deref, DerefMut};

/// A value that [`LoanCell::lend`] gives to one user at a time, as `RefCell::try_borrow_mut`
/// would: while it is lent, another loan is refused (a re-entrant call into a library, from
/// inside a callback, is refused this way).
pub(crate) struct LoanCell<T> {
    lent: Cell<bool>,
    value: UnsafeCell<T>,
}

/// The loan of a [`LoanCell`]'s value: derefs to it, and ends when dropped (also while
/// unwinding).
pub(crate) struct Lent<'a, T> {
    cell: &'a LoanCell<T>,
}

impl<T> LoanCell<T> {
    pub(crate) fn new(value: T) -> LoanCell<T> {
        LoanCell {
            lent: Cell::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, or `None` while it is lent.
    #[inline(always)]
    pub(crate) fn lend(&self) -> Option<Lent<'_, T>> {
        if self.lent.get() {
            return None;
        }
        self.lent.set(true);
        Some(Lent { cell: self })
    }

    /// The value, through exclusive access to the cell (so no loan is out).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T> Deref for Lent<'_, T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: while this loan is out, `lent` is set and no other `Lent` of the cell
        // exists (`lend` refuses), and `get_mut` needs the cell exclusively, which the loan's
        // borrow of it prevents: the only references to the value are this loan's.
        unsafe { &*self.cell.value.get() }
    }
}

impl<T> DerefMut for Lent<'_, T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference through the loan.
        unsafe { &mut *self.cell.value.get() }
    }
}

impl<T> Drop for Lent<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        self.cell.lent.set(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loan_excludes_another_until_it_ends() {
        let mut cell = LoanCell::new(String::from("backend"));
        let mut loan = cell.lend().expect("the first loan");
        loan.push_str(" used");
        assert!(
            cell.lend().is_none(),
            "a second loan while the first is out"
        );
        drop(loan);
        assert_eq!(
            cell.lend().as_deref().map(String::as_str),
            Some("backend used")
        );
        assert_eq!(cell.get_mut().len(), 12);
    }

    #[test]
    fn a_loan_ended_by_a_panic_is_given_back() {
        let cell = LoanCell::new(vec![1, 2, 3]);
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _loan = cell.lend().expect("the loan");
            panic!("inside the loan");
        }));
        assert!(unwound.is_err());
        assert_eq!(cell.lend().map(|v| v.len()), Some(3));
    }
}
