//! ctypes' private copy of errno (`use_errno`): one per thread, as in ctypes.

use std::cell::RefCell;
use std::thread::ThreadId;

/// The private copies of errno that a library's `use_errno` calls swap in and out: each
/// thread has its own, as `ctypes.get_errno()` gives each thread its own.
///
/// A [`CDLL`](crate::CDLL) is not `Send`, so in Rust one thread uses it; a binding that lets
/// several threads use one library in turn (the Python package does, under the GIL) gets
/// ctypes' per-thread copies. A copy of zero is not stored, so a thread that ends leaves
/// nothing behind unless its copy was not zero.
#[derive(Default)]
pub(crate) struct PrivateErrno(RefCell<Vec<(ThreadId, i32)>>);

/// This thread's id, read once per thread (`thread::current()` clones a handle each time).
fn me() -> ThreadId {
    thread_local!(static ME: ThreadId = std::thread::current().id());
    ME.with(|id| *id)
}

impl PrivateErrno {
    /// This thread's copy (zero until set).
    pub(crate) fn get(&self) -> i32 {
        let me = me();
        self.0
            .borrow()
            .iter()
            .find(|(t, _)| *t == me)
            .map_or(0, |(_, v)| *v)
    }

    /// Sets this thread's copy; returns the old one.
    pub(crate) fn replace(&self, value: i32) -> i32 {
        let me = me();
        let mut copies = self.0.borrow_mut();
        let at = copies.iter().position(|(t, _)| *t == me);
        let old = at.map_or(0, |i| copies[i].1);
        match (at, value) {
            (Some(i), 0) => {
                copies.swap_remove(i);
            }
            (Some(i), v) => copies[i].1 = v,
            (None, 0) => {}
            (None, v) => copies.push((me, v)),
        }
        old
    }
}

#[cfg(test)]
mod tests {
    use super::PrivateErrno;
    use std::sync::Mutex;

    #[test]
    fn each_thread_has_its_own_copy() {
        // Shared the way a binding shares it: one thread at a time.
        let e = Mutex::new(PrivateErrno::default());
        assert_eq!(e.lock().unwrap().replace(32), 0);
        std::thread::scope(|s| {
            s.spawn(|| {
                let e = e.lock().unwrap();
                assert_eq!(e.get(), 0);
                assert_eq!(e.replace(7), 0);
                assert_eq!(e.get(), 7);
            });
        });
        let e = e.into_inner().unwrap();
        assert_eq!(e.get(), 32);
        assert_eq!(e.replace(0), 32);
        assert_eq!(e.0.borrow().len(), 1, "a zero copy is not stored");
    }
}
