//! The scalar call path allocates nothing on the heap, on either backend, once the prototype
//! is prepared; nor does a string argument, copied into the library's scratch block. Checked with a counting global allocator that counts the calling thread only:
//! the engine's epoch ticker and compiler threads are not the call path.

#[path = "it/common.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::both;
use wasmctypes::{CType, Value};

struct Counting;

thread_local! {
    /// Set while the test thread runs the calls being counted.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn scalar_calls_do_not_allocate() {
    // One test function only: the counter is process-wide.
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
        ALLOCATIONS.store(0, Ordering::SeqCst);
        COUNTING.with(|c| c.set(true));
        let mut sum = 0;
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
        COUNTING.with(|c| c.set(false));
        let n = ALLOCATIONS.load(Ordering::SeqCst);
        assert_eq!(sum, 10000 + 100 * 1000);
        assert_eq!(
            n,
            0,
            "{} backend: {n} heap allocations in 5000 scalar and string calls",
            lib.backend()
        );
    }
}
