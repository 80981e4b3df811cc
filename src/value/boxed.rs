//! [`Boxed`]: a `Box` whose drop runs out of line, for the nested variants of [`Value`].
//!
//! Dropping a [`Value`] runs its drop glue: a match on the variant, then the drop of the
//! variant's fields. When a variant's drop is inlined into that glue and needs work after a
//! call (the elements of a list, then its buffer; a boxed value, then its box), the glue saves
//! registers on entry, and every drop of a `Value` pays for it, even a plain integer's. The
//! result of every dynamic call is such a drop. Behind a `Boxed`, the nested variants' drops
//! are one out-of-line call each, and dropping an `Int` is a few instructions: about 2 ns less
//! per call.
//!
//! ```
//! use wasmctypes::{Boxed, Value};
//! let items = Value::List(Boxed::new(vec![Value::Int(1), Value::Int(2)]));
//! let Value::List(v) = &items else { unreachable!() };
//! assert_eq!(v.len(), 2); // a `Boxed<T>` derefs to `T`
//! ```
//!
//! [`Value`]: crate::Value

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

/// An owned, heap-allocated `T`, like `Box<T>`, whose drop is a call to one out-of-line
/// function. It derefs to `T`.
pub struct Boxed<T>(ManuallyDrop<Box<T>>);

impl<T> Boxed<T> {
    /// Moves `value` to the heap.
    pub fn new(value: T) -> Boxed<T> {
        Boxed(ManuallyDrop::new(Box::new(value)))
    }

    /// The value, moved out of the box.
    pub fn into_inner(self) -> T {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the box is taken exactly once.
        *unsafe { ManuallyDrop::take(&mut this.0) }
    }
}

impl<T> Drop for Boxed<T> {
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: the box is dropped here only, once, and never used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.0) }
    }
}

impl<T> Deref for Boxed<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Boxed<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for Boxed<T> {
    fn from(value: T) -> Boxed<T> {
        Boxed::new(value)
    }
}

impl<T: Clone> Clone for Boxed<T> {
    fn clone(&self) -> Boxed<T> {
        Boxed::new((**self).clone())
    }
}

impl<T: PartialEq> PartialEq for Boxed<T> {
    fn eq(&self, other: &Boxed<T>) -> bool {
        **self == **other
    }
}

impl<T: fmt::Debug> fmt::Debug for Boxed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: fmt::Display> fmt::Display for Boxed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::Boxed;
    use std::rc::Rc;

    #[test]
    fn drops_its_value_exactly_once() {
        let shared = Rc::new(());
        let b = Boxed::new(Rc::clone(&shared));
        let c = b.clone();
        assert_eq!(Rc::strong_count(&shared), 3);
        drop(b);
        assert_eq!(Rc::strong_count(&shared), 2);
        let inner = c.into_inner();
        assert_eq!(Rc::strong_count(&shared), 2);
        drop(inner);
        assert_eq!(Rc::strong_count(&shared), 1);
    }
}
