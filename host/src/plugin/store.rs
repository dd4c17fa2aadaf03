//! The state each plugin call's store holds: the memory cap and the counts of memories, tables
//! and instances a plugin may create.

use wasmtime::ResourceLimiter;

/// Linear memories one plugin instance may define: the canonical ABI needs one, and the memory
/// limit is simplest to reason about when a plugin cannot multiply it.
pub const MAX_MEMORIES: usize = 1;

/// Tables one plugin instance may define: a component built by `wit-component` has one for the
/// module's indirect calls and may carry a few for its adapters.
pub const MAX_TABLES: usize = 4;

/// Core instances one plugin instance may create.
const MAX_INSTANCES: usize = 16;

/// The state of one call's store: the memory it holds, its cap, and whether a growth was refused.
pub struct CallState {
    /// The cap on all linear memories and tables together, in bytes.
    memory_bytes: u64,
    /// What the instance's memories and tables hold now, in bytes.
    held_bytes: u64,
    /// Set when a growth was refused, so the failure is reported as the memory cap.
    memory_refused: bool,
}

impl CallState {
    /// A fresh state with the given memory cap.
    pub fn new(memory_bytes: u64) -> CallState {
        CallState {
            memory_bytes,
            held_bytes: 0,
            memory_refused: false,
        }
    }

    /// Whether a growth was refused during the call, so its failure is the memory cap's.
    pub fn memory_refused(&self) -> bool {
        self.memory_refused
    }

    /// Allows one memory or table to grow from `current` to `desired` bytes if everything the
    /// instance holds stays within the cap, or records the refusal.
    fn allow(&mut self, current: u64, desired: u64) -> bool {
        let total = self
            .held_bytes
            .saturating_sub(current)
            .saturating_add(desired);
        let allowed = total <= self.memory_bytes;
        if allowed {
            self.held_bytes = total;
        }
        self.memory_refused |= !allowed;
        allowed
    }
}

impl ResourceLimiter for CallState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.allow(current as u64, desired as u64))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let entry_bytes = std::mem::size_of::<usize>() as u64;
        Ok(self.allow(
            (current as u64).saturating_mul(entry_bytes),
            (desired as u64).saturating_mul(entry_bytes),
        ))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}
