//! What one invocation's store holds: its WASI context, its resource table, its
//! capabilities, and the cap on its memory.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::capability::invocation::Capability;

/// Everything one invocation's store holds.
pub struct InvocationState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) capability: Capability,
    pub(super) memory: MemoryLimit,
}

impl WasiView for InvocationState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps an instance's linear memory and remembers that the cap was hit.
pub(super) struct MemoryLimit {
    limit: u64,
    /// Bytes of every linear memory of the instance together: a component may hold
    /// several, and the limit is the instance's.
    used: u64,
    exceeded: bool,
}

impl MemoryLimit {
    pub(super) fn new(limit: u64) -> MemoryLimit {
        MemoryLimit {
            limit,
            used: 0,
            exceeded: false,
        }
    }

    /// Whether the guest asked for more memory than its limit.
    pub(super) fn exceeded(&self) -> bool {
        self.exceeded
    }
}

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let used = self.used - (current as u64).min(self.used) + desired as u64;
        if used > self.limit {
            self.exceeded = true;
            return Ok(false);
        }
        self.used = used;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million is far beyond any real plugin.
        Ok(desired <= 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_limit_counts_every_memory_of_the_instance() {
        let mut limit = MemoryLimit {
            limit: 100,
            used: 0,
            exceeded: false,
        };
        assert!(limit.memory_growing(0, 60, None).unwrap());
        assert!(
            limit.memory_growing(60, 80, None).unwrap(),
            "growing one memory"
        );
        assert!(
            !limit.memory_growing(0, 30, None).unwrap(),
            "a second memory past the total"
        );
        assert!(limit.exceeded);
        assert!(limit.memory_growing(0, 20, None).unwrap());
    }
}
