//! The store's resource limiter: memory and table growth past the sandbox's limits trap.

/// Why a limiter refused to grow memory or a table; becomes [`crate::TrapKind::MemoryLimit`].
#[derive(Debug)]
pub(crate) struct LimitExceeded(pub String);

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LimitExceeded {}

/// The store's resource limiter: growth past the sandbox's limits traps with
/// [`LimitExceeded`].
#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) max_memory: usize,
    pub(crate) max_table_elements: usize,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            return Err(wasmtime::Error::new(LimitExceeded(format!(
                "memory limit: the guest asked to grow its memory from {current} to {desired} bytes, the limit is {}",
                self.max_memory
            ))));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            return Err(wasmtime::Error::new(LimitExceeded(format!(
                "table limit: the guest asked to grow a table from {current} to {desired} elements, the limit is {}",
                self.max_table_elements
            ))));
        }
        Ok(true)
    }
}
