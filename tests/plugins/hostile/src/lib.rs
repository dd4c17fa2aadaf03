//! A scanner plugin that misbehaves in the way its report asks, so that salve's tests can show
//! that each misbehaviour is stopped by its own limit and that the host carries on.
//!
//! `parse` reads the report as a command:
//! - `loop`: spins forever (stopped by the deadline or the fuel budget);
//! - `grow`: allocates without end (stopped by the memory cap);
//! - `flood`: returns 1 GiB of findings whose names share one 1 MiB buffer, so the guest needs
//!   little memory while the host would have to copy 1 GiB (stopped by the output cap);
//! - `many`: returns 600 000 small findings, each for its own package: within the output cap,
//!   and enough to show whether the host's handling of a manifest stays near its size;
//! - `panic`: panics (a trap);
//! - `recurse`: recurses without end (stopped by the stack limit);
//! - `beyond`: reads a byte 1 MiB past the end of its memory, inside the memory's reservation
//!   (a trap: the reservation is inaccessible past the memory's size);
//! - `top`: reads eight bytes at the last four of the 32-bit address space, running into the
//!   guard region after the reservation (a trap);
//! - anything else: returns an empty manifest, like a well-behaved plugin.
//!
//! `sniff` answers 0, unless the report's head holds `hostile-sniff=NN`: then it claims NN, so
//! tests can make two plugins equally sure of one report.

use salve_plugin_sdk::{Finding, PackageClass, Scanner, ScannerInfo, UpdateManifest};
use std::alloc::{GlobalAlloc, Layout, System};

/// An allocator that never frees, so that the aliased strings of `flood` can be "freed" many
/// times over after the host has read them (each call runs in a fresh instance anyway).
struct NeverFree;

// SAFETY: allocation is delegated to the system allocator; not freeing is always sound.
unsafe impl GlobalAlloc for NeverFree {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOCATOR: NeverFree = NeverFree;

/// The misbehaving scanner.
pub struct Hostile;

impl Scanner for Hostile {
    fn describe() -> ScannerInfo {
        ScannerInfo {
            name: "hostile".into(),
            version: "0.1.0".into(),
            summary: "misbehaves on request (test plugin)".into(),
        }
    }

    fn sniff(head: &[u8]) -> u8 {
        const MARKER: &[u8] = b"hostile-sniff=";
        head.windows(MARKER.len() + 2)
            .find(|window| window.starts_with(MARKER))
            .and_then(|window| {
                std::str::from_utf8(&window[MARKER.len()..])
                    .ok()?
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    }

    fn parse(report: &[u8]) -> Result<UpdateManifest, String> {
        match report {
            b"loop" => spin(),
            b"grow" => grow(),
            b"flood" => Ok(flood()),
            b"many" => Ok(many()),
            b"panic" => panic!("the hostile plugin panics on request"),
            b"recurse" => Ok(empty(recurse(1) as usize)),
            b"beyond" => Ok(empty(read_at(memory_end() + (1 << 20)) as usize)),
            b"top" => Ok(empty(read_at(u32::MAX as usize - 3) as usize)),
            _ => Ok(empty(0)),
        }
    }
}

/// Loops forever without allocating.
fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

/// Allocates and touches memory until the host stops it.
fn grow() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 16 * 1024 * 1024]);
        std::hint::black_box(&hoard);
    }
}

/// 1024 findings whose package names are the same 1 MiB of memory: 1 GiB once copied out.
fn flood() -> UpdateManifest {
    const NAME_BYTES: usize = 1024 * 1024;
    const COPIES: usize = 1024;
    let shared = "a".repeat(NAME_BYTES).leak();
    let findings = (0..COPIES)
        .map(|_| Finding {
            // SAFETY: deliberately aliases one leaked buffer in every name; the strings are
            // only read by the host, and this plugin exists to misbehave.
            package: unsafe { String::from_raw_parts(shared.as_mut_ptr(), NAME_BYTES, NAME_BYTES) },
            installed_version: "1".into(),
            fixed_version: "2".into(),
            vulnerability_id: "CVE-0000-0000".into(),
            class: PackageClass::Os,
            package_type: "debian".into(),
            path: None,
        })
        .collect();
    manifest(findings)
}

/// 600 000 findings, each for a package of its own.
fn many() -> UpdateManifest {
    let findings = (0..600_000)
        .map(|index| Finding {
            package: format!("package-{index}"),
            installed_version: "1.0".into(),
            fixed_version: "1.1".into(),
            vulnerability_id: format!("CVE-2099-{index}"),
            class: PackageClass::Os,
            package_type: "debian".into(),
            path: None,
        })
        .collect();
    manifest(findings)
}

/// Recurses without end; the result is never produced.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    std::hint::black_box(recurse(std::hint::black_box(depth + 1)) + 1)
}

/// An empty manifest (with `n` unused, to keep the recursion's result alive).
fn empty(n: usize) -> UpdateManifest {
    manifest(Vec::with_capacity(n.min(1)))
}

/// A manifest of these findings, naming no OS or platform and skipping nothing.
fn manifest(findings: Vec<Finding>) -> UpdateManifest {
    UpdateManifest {
        os: None,
        platform: None,
        findings,
        skipped: Vec::new(),
    }
}

salve_plugin_sdk::export_scanner!(Hostile);

/// The first address past the plugin's linear memory.
#[cfg(target_arch = "wasm32")]
fn memory_end() -> usize {
    core::arch::wasm32::memory_size(0) * 65536
}

/// Built natively (the workspace's checks), the plugin has no linear memory to read past.
#[cfg(not(target_arch = "wasm32"))]
fn memory_end() -> usize {
    panic!("`beyond` reads past a WebAssembly linear memory; this build is native")
}

/// Reads eight bytes at `address`, wherever that is.
fn read_at(address: usize) -> u64 {
    // SAFETY: none, on purpose: the host must turn the access into a trap.
    unsafe { std::ptr::read_volatile(address as *const u64) }
}
