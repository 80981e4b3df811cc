//! The scalar call path allocates nothing on the heap, on either backend, once the prototype
//! is prepared; nor does a string argument, copied into the library's scratch block. Checked with a counting global allocator that counts the calling thread only:
//! the engine's epoch ticker and compiler threads are not the call path.

#[path = "it/common.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::both;
use wasmctypes::{CType, Value};

struct Counting;

thread_local! {
    /// Set while the test thread runs the calls being counted.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Allocations (and reallocations) while counting, on this thread.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed while counting, on this thread.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

/// Counts an allocation of `grown` bytes (negative: freed), if this thread is counting.
fn count(new_block: bool, grown: isize) {
    if COUNTING.with(Cell::get) {
        if new_block {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
        }
        LIVE.with(|n| n.set(n.get() + grown));
    }
}

/// Runs `f` with counting on; returns the allocations and the bytes it left allocated.
fn counted(f: impl FnOnce()) -> (usize, isize) {
    ALLOCATIONS.with(|n| n.set(0));
    LIVE.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    (ALLOCATIONS.with(Cell::get), LIVE.with(Cell::get))
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(true, layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(false, -(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(true, new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn scalar_calls_do_not_allocate() {
    for lib in both("testlib") {
        let mut add = lib.function("add").unwrap();
        add.set_argtypes(&[CType::Int, CType::Int])
            .unwrap()
            .set_restype(CType::Int)
            .unwrap();
        let mix = common::mix(&lib);
        let mut strlen = lib.function("str_len").unwrap();
        strlen.set_argtypes(&[CType::CharP]).unwrap();
        let add_args = [Value::Int(2), Value::Int(3)];
        let mix_args = common::mix_args();
        // A string argument is copied into the library's scratch block, made on first use.
        let text = [Value::Bytes(vec![b'a'; 100])];
        // The first calls prepare the prototypes.
        assert_eq!(add.call(&add_args).unwrap(), Value::Int(5));
        assert_eq!(mix.call(&mix_args).unwrap(), Value::Float(16.25));
        assert_eq!(strlen.call(&text).unwrap(), Value::Int(100));
        let typed_add = add.typed::<(i32, i32), i32>().unwrap();
        let typed_mix = mix.typed::<(i32, f64, f32, i64, i8, f64), f64>().unwrap();
        let mut sum = 0;
        let (n, _) = counted(|| {
            for _ in 0..1000 {
                if let Ok(Value::Int(v)) = add.call(&add_args) {
                    sum += v;
                }
                let _ = mix.call(&mix_args);
                sum += typed_add.call((2, 3)).unwrap_or(0) as i128;
                let _ = typed_mix.call((1, 2.5, 0.5, 10, 2, 0.25));
                if let Ok(Value::Int(v)) = strlen.call(&text) {
                    sum += v;
                }
            }
        });
        assert_eq!(sum, 10000 + 100 * 1000);
        assert_eq!(
            n,
            0,
            "{} backend: {n} heap allocations in 5000 scalar and string calls",
            lib.backend()
        );
    }
}

/// A function object made, prepared and dropped again and again (as `lib["add"]` in a loop,
/// or a test runner's next test) keeps no memory: the backend keeps one prototype per
/// distinct prototype, not one per preparation.
#[test]
fn preparing_the_same_prototype_again_keeps_no_memory() {
    for lib in both("testlib") {
        let call_add = || {
            let mut add = lib.function("add").unwrap();
            add.set_argtypes(&[CType::Int, CType::Int]).unwrap();
            assert_eq!(add.call(&[2.into(), 3.into()]).unwrap(), Value::Int(5));
        };
        call_add();
        let (_, kept) = counted(|| (0..2000).for_each(|_| call_add()));
        assert!(
            kept < 4096,
            "{} backend: 2000 preparations of one prototype kept {kept} bytes",
            lib.backend()
        );
    }
}
