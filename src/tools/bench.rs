//! Timing repeated calls the way `python -m timeit` does: warm up, then several repeats of a
//! fixed number of calls, reporting the median and the minimum time per call.
//!
//! ```
//! let t = wasmctypes::tools::bench::timeit(Some(1000), 3, || Ok(())).unwrap();
//! assert_eq!(t.iterations, 1000);
//! assert!(t.ns_per_call_min <= t.ns_per_call_median);
//! ```

use std::time::{Duration, Instant};

use crate::error::Result;

/// What [`timeit`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    /// Calls per repeat.
    pub iterations: u64,
    /// Number of repeats.
    pub repeats: usize,
    /// Median over the repeats of the time per call, in nanoseconds.
    pub ns_per_call_median: f64,
    /// Fastest repeat's time per call, in nanoseconds.
    pub ns_per_call_min: f64,
}

fn run(iterations: u64, f: &mut impl FnMut() -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    for _ in 0..iterations {
        f()?;
    }
    Ok(start.elapsed())
}

/// Times `f`. With `iterations` unset, picks the number of calls as timeit does: 1, 2, 5, 10,
/// 20, 50, ... until one repeat takes at least 0.2 s. The first error stops the timing.
pub fn timeit(
    iterations: Option<u64>,
    repeats: usize,
    mut f: impl FnMut() -> Result<()>,
) -> Result<Timing> {
    let iterations = match iterations {
        Some(n) => n.max(1),
        None => {
            let mut n = 1u64;
            'outer: loop {
                for m in [1, 2, 5] {
                    let k = n * m;
                    if run(k, &mut f)? >= Duration::from_millis(200) {
                        break 'outer k;
                    }
                }
                n *= 10;
            }
        }
    };
    // Warm-up: one repeat whose time is not kept.
    run(iterations, &mut f)?;
    let mut per_call: Vec<f64> = (0..repeats.max(1))
        .map(|_| run(iterations, &mut f).map(|d| d.as_nanos() as f64 / iterations as f64))
        .collect::<Result<_>>()?;
    per_call.sort_by(f64::total_cmp);
    let mid = per_call.len() / 2;
    let median = if per_call.len() % 2 == 1 {
        per_call[mid]
    } else {
        (per_call[mid - 1] + per_call[mid]) / 2.0
    };
    Ok(Timing {
        iterations,
        repeats: per_call.len(),
        ns_per_call_median: median,
        ns_per_call_min: per_call[0],
    })
}
