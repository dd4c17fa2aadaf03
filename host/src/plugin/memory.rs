//! Plugins' linear memories, backed by transparent huge pages where the kernel offers them.
//!
//! A scanner's report is copied into a fresh instance's memory on every call; with the kernel's
//! default of huge pages only where a mapping asks for them, wasmtime's own memories fault that
//! copy in 4 KiB at a time, which BENCHMARKS.md measured at about a tenth of parsing a 50 MB
//! report. These memories keep wasmtime's layout (the reservation its compiled code assumes,
//! inaccessible guard regions before and after, growth that never moves the memory) and ask for
//! huge pages on the reservation; a kernel that refuses the advice leaves ordinary pages.

use std::io;
use std::ptr::NonNull;
use wasmtime::{LinearMemory, MemoryCreator, MemoryType};

/// Makes every plugin instance's linear memory (set on the VM by [`super::vm::build_vm`]).
pub struct HugePageMemories;

// SAFETY: each memory is a private anonymous mapping of its guard regions and full reservation,
// zero-filled, readable and writable exactly over `[0, size)`, never moved, and unmapped only
// when wasmtime drops it; growth fails rather than pass the reservation.
unsafe impl MemoryCreator for HugePageMemories {
    fn new_memory(
        &self,
        _ty: MemoryType,
        minimum: usize,
        _maximum: Option<usize>,
        reserved_size_in_bytes: Option<usize>,
        guard_size_in_bytes: usize,
    ) -> Result<Box<dyn LinearMemory>, String> {
        let capacity = reserved_size_in_bytes
            .ok_or("wasmtime asked for a plugin memory without a reservation")?;
        let mut memory = HugePageMemory::reserve(capacity, guard_size_in_bytes)
            .map_err(|error| format!("reserving a plugin's memory: {error}"))?;
        memory
            .grow_to(minimum)
            .map_err(|error| format!("{error:#}"))?;
        Ok(Box::new(memory))
    }
}

/// One linear memory: `guard | capacity | guard` mapped, the memory at the start of `capacity`.
struct HugePageMemory {
    /// The first byte of the whole mapping, the leading guard region included.
    mapping: NonNull<u8>,
    /// Bytes mapped in all.
    mapped: usize,
    /// The size of each guard region.
    guard: usize,
    /// Bytes the memory may grow to without moving.
    capacity: usize,
    /// Bytes readable and writable now.
    size: usize,
}

// SAFETY: the memory is plain bytes owned by this value; wasmtime serialises access to it.
unsafe impl Send for HugePageMemory {}
// SAFETY: as above; `&self` methods only read the bookkeeping fields.
unsafe impl Sync for HugePageMemory {}

impl HugePageMemory {
    /// Maps `guard + capacity + guard` bytes inaccessible and asks for huge pages on `capacity`.
    fn reserve(capacity: usize, guard: usize) -> io::Result<HugePageMemory> {
        let mapped = guard
            .checked_mul(2)
            .and_then(|guards| guards.checked_add(capacity))
            .ok_or_else(|| io::Error::other("the reservation overflows the address space"))?;
        // SAFETY: a fresh private anonymous mapping at an address the kernel chooses; nothing
        // else refers to it.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let memory = HugePageMemory {
            mapping: NonNull::new(start.cast())
                .ok_or_else(|| io::Error::other("mmap gave null"))?,
            mapped,
            guard,
            capacity,
            size: 0,
        };
        // Advice only: without transparent huge pages the memory works with ordinary pages.
        // SAFETY: the range lies inside the mapping just made.
        unsafe {
            libc::madvise(memory.base().cast(), capacity, libc::MADV_HUGEPAGE);
        }
        Ok(memory)
    }

    /// The memory's first byte, after the leading guard region.
    fn base(&self) -> *mut u8 {
        // SAFETY: `guard` is within the mapping.
        unsafe { self.mapping.as_ptr().add(self.guard) }
    }
}

/// The host's page size.
fn page_size() -> usize {
    rustix::param::page_size()
}

// SAFETY: see `HugePageMemories`.
unsafe impl LinearMemory for HugePageMemory {
    fn byte_size(&self) -> usize {
        self.size
    }

    fn byte_capacity(&self) -> usize {
        self.capacity
    }

    fn grow_to(&mut self, new_size: usize) -> wasmtime::Result<()> {
        if new_size > self.capacity {
            wasmtime::bail!(
                "a plugin memory of {new_size} bytes passes its reservation of {} bytes",
                self.capacity
            );
        }
        if !new_size.is_multiple_of(page_size()) {
            // Only whole pages can be made accessible; a partial one would leave bytes past the
            // memory's end readable by compiled code that counts on the guard to trap.
            wasmtime::bail!("a plugin memory of {new_size} bytes is not a whole number of pages");
        }
        if new_size > self.size {
            // SAFETY: `[size, new_size)` lies inside the reservation, page-aligned at both ends.
            let changed = unsafe {
                libc::mprotect(
                    self.base().add(self.size).cast(),
                    new_size - self.size,
                    libc::PROT_READ | libc::PROT_WRITE,
                )
            };
            if changed != 0 {
                return Err(io::Error::last_os_error().into());
            }
            self.size = new_size;
        }
        Ok(())
    }

    fn as_ptr(&self) -> *mut u8 {
        self.base()
    }
}

impl Drop for HugePageMemory {
    fn drop(&mut self) {
        // SAFETY: the whole mapping made by `reserve`; wasmtime drops a memory only after the
        // instance using it is gone.
        unsafe {
            libc::munmap(self.mapping.as_ptr().cast(), self.mapped);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WASM_PAGE: usize = 65536;

    #[test]
    fn grows_in_place_within_its_reservation() {
        let mut memory = HugePageMemory::reserve(64 * WASM_PAGE, 4 * WASM_PAGE).unwrap();
        memory.grow_to(WASM_PAGE).unwrap();
        let base = memory.as_ptr();
        // SAFETY: the first page is accessible.
        unsafe {
            assert_eq!(*base.add(WASM_PAGE - 1), 0, "memory starts zeroed");
            *base.add(WASM_PAGE - 1) = 7;
        }
        memory.grow_to(40 * WASM_PAGE).unwrap();
        assert_eq!(memory.as_ptr(), base, "growth never moves the memory");
        assert_eq!(memory.byte_size(), 40 * WASM_PAGE);
        assert_eq!(memory.byte_capacity(), 64 * WASM_PAGE);
        // SAFETY: within the grown size.
        unsafe {
            assert_eq!(*base.add(WASM_PAGE - 1), 7);
            *base.add(40 * WASM_PAGE - 1) = 1;
        }
        let too_far = memory.grow_to(65 * WASM_PAGE).unwrap_err();
        assert!(too_far.to_string().contains("reservation"), "{too_far}");
        let partial = memory.grow_to(40 * WASM_PAGE + 1).unwrap_err();
        assert!(partial.to_string().contains("whole number"), "{partial}");
    }

    #[test]
    fn the_creator_gives_the_minimum_and_refuses_no_reservation() {
        let ty = MemoryType::new(1, None);
        let memory = HugePageMemories
            .new_memory(
                ty.clone(),
                2 * WASM_PAGE,
                None,
                Some(16 * WASM_PAGE),
                WASM_PAGE,
            )
            .unwrap();
        assert_eq!(memory.byte_size(), 2 * WASM_PAGE);
        let refused = HugePageMemories
            .new_memory(ty, WASM_PAGE, None, None, WASM_PAGE)
            .err()
            .unwrap();
        assert!(refused.contains("reservation"), "{refused}");
    }
}
