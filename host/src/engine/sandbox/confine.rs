//! What a step's process gives up just before it runs the step's program: its session (no
//! controlling terminal), every capability but the container default set (the set Docker and
//! runc grant; held in the sandbox's user namespace only), the ability to gain privileges
//! (`no_new_privs`), most system calls (the seccomp filter), and unbounded processes and memory
//! (resource limits, inherited by everything it starts).

use super::seccomp;
use crate::engine::spec::StepLimits;
use rustix::process::{Resource, Rlimit};
use rustix::thread::{CapabilitySet, CapabilitySets};
use seccompiler::BpfProgram;
use std::io;

/// The capabilities a container gets by default from Docker, containerd and runc.
pub const DEFAULT_CAPABILITIES: CapabilitySet = CapabilitySet::CHOWN
    .union(CapabilitySet::DAC_OVERRIDE)
    .union(CapabilitySet::FSETID)
    .union(CapabilitySet::FOWNER)
    .union(CapabilitySet::MKNOD)
    .union(CapabilitySet::NET_RAW)
    .union(CapabilitySet::SETGID)
    .union(CapabilitySet::SETUID)
    .union(CapabilitySet::SETFCAP)
    .union(CapabilitySet::SETPCAP)
    .union(CapabilitySet::NET_BIND_SERVICE)
    .union(CapabilitySet::SYS_CHROOT)
    .union(CapabilitySet::KILL)
    .union(CapabilitySet::AUDIT_WRITE);

/// The highest capability number any kernel may know (the bounding set is dropped up to it).
const LAST_CAPABILITY: u32 = 63;

/// Confines the calling process (a forked child about to exec a step). Async-signal-safe
/// enough for `pre_exec`: no allocation, only system calls.
pub fn confine(limits: &StepLimits, filters: &[BpfProgram]) -> io::Result<()> {
    rustix::process::setsid()?;
    set_limit(Resource::Nproc, limits.processes)?;
    set_limit(Resource::Data, limits.memory)?;
    for capability in 0..=LAST_CAPABILITY {
        if DEFAULT_CAPABILITIES.bits() & (1u64 << capability) != 0 {
            continue;
        }
        // SAFETY: a plain prctl; EINVAL means the kernel has no such capability.
        let dropped = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, capability, 0, 0, 0) };
        if dropped != 0 {
            let error = io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::EINVAL) {
                return Err(error);
            }
        }
    }
    rustix::thread::clear_ambient_capability_set()?;
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: DEFAULT_CAPABILITIES,
            permitted: DEFAULT_CAPABILITIES,
            inheritable: CapabilitySet::empty(),
        },
    )?;
    rustix::thread::set_no_new_privs(true)?;
    seccomp::install(filters)
}

/// Sets a resource limit, soft and hard.
fn set_limit(resource: Resource, value: u64) -> io::Result<()> {
    rustix::process::setrlimit(
        resource,
        Rlimit {
            current: Some(value),
            maximum: Some(value),
        },
    )?;
    Ok(())
}
