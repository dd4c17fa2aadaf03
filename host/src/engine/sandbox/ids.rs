//! The sandbox's user namespace: which host ids its ids 0 to 65535 map to, and creating the
//! namespace with that mapping. As root, salve maps them to root's range in `/etc/subuid` and
//! `/etc/subgid` (the ranges rootless Podman and BuildKit use), or, without one, to a dedicated
//! range starting at 2147483648; the image's root is never the host's root. Rootless, salve is
//! already in a user namespace of its own whose ids are the user's (see `engine::rootless`),
//! and the sandbox's namespace maps them one to one.

use super::process::{close_in_child, fork, signal, wait_exit, wait_signal};
use rustix::fd::OwnedFd;
use rustix::thread::UnshareFlags;
use serde::{Deserialize, Serialize};
use std::io;

/// How many ids the sandbox has: 0 up to 65535, every id a distribution's image uses.
pub const SANDBOX_IDS: u32 = 65536;

/// The first host id salve as root maps the sandbox to when root has no subordinate range.
pub const ROOT_DEFAULT_START: u32 = 2_147_483_648;

/// The host ids the sandbox's ids `0..count` stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    /// The host user id of the sandbox's root.
    pub uid: u32,
    /// The host group id of the sandbox's root group.
    pub gid: u32,
    /// How many ids are mapped.
    pub count: u32,
}

impl IdRange {
    /// The range for this process: as the machine's root, root's subordinate ranges or the
    /// dedicated one; inside salve's rootless user namespace (see `engine::rootless`), the
    /// namespace's own ids one to one, which are already the user's subordinate ids.
    pub fn for_this_process() -> IdRange {
        if crate::image::unpack::in_initial_user_namespace() {
            IdRange::for_root()
        } else {
            IdRange {
                uid: 0,
                gid: 0,
                count: SANDBOX_IDS,
            }
        }
    }

    /// True when the sandbox's ids are this process's own (no id-mapped mounts needed).
    pub fn is_identity(&self) -> bool {
        self.uid == 0 && self.gid == 0
    }

    /// The range for salve running as root: root's subordinate ranges, or the dedicated one.
    fn for_root() -> IdRange {
        let uid = subordinate_start("/etc/subuid");
        let gid = subordinate_start("/etc/subgid");
        IdRange {
            uid: uid.unwrap_or(ROOT_DEFAULT_START),
            gid: gid.unwrap_or(ROOT_DEFAULT_START),
            count: SANDBOX_IDS,
        }
    }

    /// The `uid_map` lines (or `gid_map` with `gid`). One to one, root and the other ids are
    /// two lines, as they are two ranges of salve's rootless namespace (the user's own id and
    /// the subordinate ids), and one line of a map may not straddle two of the parent's.
    fn map_lines(start: u32, count: u32) -> String {
        if start == 0 {
            format!("0 0 1\n1 1 {}\n", count - 1)
        } else {
            format!("0 {start} {count}\n")
        }
    }
}

/// The start of root's range in a subordinate id file (`root:START:COUNT` or `0:START:COUNT`)
/// that holds at least [`SANDBOX_IDS`] ids.
fn subordinate_start(file: &str) -> Option<u32> {
    let text = std::fs::read_to_string(file).ok()?;
    parse_subordinate(&text, &["root", "0"], SANDBOX_IDS)
}

/// The first range of one of `owners` in subordinate id file text with at least `needed` ids.
pub fn parse_subordinate(text: &str, owners: &[&str], needed: u32) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        let (owner, start, count) = (fields.next()?, fields.next()?, fields.next()?);
        let start: u32 = start.parse().ok()?;
        let count: u32 = count.parse().ok()?;
        (owners.contains(&owner) && count >= needed && start > 0).then_some(start)
    })
}

/// Creates a user namespace whose ids `0..count` map to `range` and returns a handle on it; the
/// process that created it is gone by then (the handle keeps the namespace).
pub fn create_user_namespace(range: &IdRange) -> io::Result<OwnedFd> {
    let (ready_read, ready_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let (go_read, go_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let child = fork(|| {
        close_in_child(&ready_read);
        close_in_child(&go_write);
        // SAFETY: the forked child has one thread.
        if unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWUSER) }.is_err() {
            return 1;
        }
        if signal(&ready_write).is_err() {
            return 1;
        }
        let _ = wait_signal(&go_read);
        0
    })?;
    drop(ready_write);
    drop(go_read);
    let created = wait_signal(&ready_read)?;
    let result = if created {
        map_and_open(child, range)
    } else {
        Err(io::Error::other(
            "the kernel refused a new user namespace (is user.max_user_namespaces 0?)",
        ))
    };
    drop(go_write);
    wait_exit(child)?;
    result
}

/// Writes the id maps of process `pid`'s (new) user namespace and opens it.
fn map_and_open(pid: rustix::process::Pid, range: &IdRange) -> io::Result<OwnedFd> {
    let proc = format!("/proc/{}", pid.as_raw_nonzero());
    std::fs::write(
        format!("{proc}/uid_map"),
        IdRange::map_lines(range.uid, range.count),
    )
    .map_err(|error| io::Error::new(error.kind(), format!("writing the uid map: {error}")))?;
    std::fs::write(
        format!("{proc}/gid_map"),
        IdRange::map_lines(range.gid, range.count),
    )
    .map_err(|error| io::Error::new(error.kind(), format!("writing the gid map: {error}")))?;
    Ok(std::fs::File::open(format!("{proc}/ns/user"))?.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ranges_need_enough_ids() {
        let text = "alice:100000:65536\nroot:200000:1000\n0:300000:65536\n";
        assert_eq!(
            parse_subordinate(text, &["root", "0"], SANDBOX_IDS),
            Some(300000)
        );
        assert_eq!(
            parse_subordinate(text, &["alice"], SANDBOX_IDS),
            Some(100000)
        );
        assert_eq!(parse_subordinate("root:x:y\n", &["root"], 1), None);
        assert_eq!(parse_subordinate("", &["root"], 1), None);
    }
}
