//! Rootless runs of the local engine, the way rootless Podman and BuildKit run: salve, started
//! by an ordinary user, runs itself again inside a user namespace where it is root, its own id
//! mapped to root and the user's subordinate ids (`/etc/subuid`, `/etc/subgid`, at least 65536
//! of each) to the ids 1 to 65536, written by `newuidmap` and `newgidmap` from Debian's
//! `uidmap`. Inside, everything salve writes (outputs, caches) belongs to the user on the host,
//! and the image's files belong to the user's subordinate ids; the sandbox's own user namespace
//! then maps the image's ids one to one (see `sandbox::ids`).

use super::sandbox::inherit_as;
use anyhow::{Context, bail};
use rustix::fd::{AsRawFd, FromRawFd};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Set in the environment of the copy of salve that enters the namespace.
const CHILD_VARIABLE: &str = "SALVE_ROOTLESS_CHILD";

/// The descriptor on which the copy says it has entered the namespace.
const READY_FD: i32 = 3;

/// The descriptor on which the copy learns that its ids are mapped.
const GO_FD: i32 = 4;

/// How many subordinate ids the namespace needs (the image's 1 to 65535, and 65536 spare).
const SUBORDINATE_IDS: u32 = 65536;

/// In the copy of salve started by [`run_in_namespace`]: enters the new user and mount
/// namespaces, has the parent write the id maps, and becomes root there. Does nothing in any
/// other process. Runs first in `main`, while the process has one thread.
pub fn enter_if_child() -> std::io::Result<()> {
    if std::env::var_os(CHILD_VARIABLE).is_none() {
        return Ok(());
    }
    // SAFETY: called first in main, before any thread starts; the variable is salve's own.
    unsafe { std::env::remove_var(CHILD_VARIABLE) };
    // SAFETY: this process has one thread and does not share its file table.
    unsafe {
        rustix::thread::unshare_unsafe(
            rustix::thread::UnshareFlags::NEWUSER | rustix::thread::UnshareFlags::NEWNS,
        )
    }?;
    // SAFETY: the parent passed these two descriptors for the handshake; nothing else owns them.
    let (mut ready, mut go) = unsafe {
        (
            std::fs::File::from_raw_fd(READY_FD),
            std::fs::File::from_raw_fd(GO_FD),
        )
    };
    ready.write_all(b"ready\n")?;
    drop(ready);
    let mut answer = [0u8; 3];
    go.read_exact(&mut answer)?;
    if &answer != b"go\n" {
        return Err(std::io::Error::other(
            "the parent could not map the user namespace",
        ));
    }
    let root_gid = rustix::process::Gid::ROOT;
    let root_uid = rustix::process::Uid::ROOT;
    rustix::thread::set_thread_res_gid(root_gid, root_gid, root_gid)?;
    rustix::thread::set_thread_res_uid(root_uid, root_uid, root_uid)?;
    Ok(())
}

/// Runs this salve command again inside a user namespace where salve is root, and returns its
/// exit code.
pub fn run_in_namespace() -> anyhow::Result<i32> {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let user = user_name(uid).unwrap_or_else(|| uid.to_string());
    let subuid = subordinate_range("/etc/subuid", &user, uid)
        .with_context(|| missing_ranges(&user, "/etc/subuid"))?;
    let subgid = subordinate_range("/etc/subgid", &user, uid)
        .with_context(|| missing_ranges(&user, "/etc/subgid"))?;
    let args: Vec<String> = std::env::args().collect();
    let (ready_read, ready_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let (go_read, go_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let mut command = Command::new("/proc/self/exe");
    command
        .arg0(&args[0])
        .args(&args[1..])
        .env(CHILD_VARIABLE, "1");
    let (ready_raw, go_raw) = (ready_write.as_raw_fd(), go_read.as_raw_fd());
    // SAFETY: runs in the child between fork and exec; only dup, dup2, fcntl and prctl.
    unsafe {
        command.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            inherit_as(&[(ready_raw, READY_FD), (go_raw, GO_FD)])
        });
    }
    let mut child = command
        .spawn()
        .context("starting salve in a user namespace")?;
    drop(ready_write);
    drop(go_read);
    let mut input = std::fs::File::from(go_write);
    let mut ready = [0u8; 6];
    let mut output = std::fs::File::from(ready_read);
    if output.read_exact(&mut ready).is_err() || &ready != b"ready\n" {
        let status = child.wait()?;
        bail!(
            "salve could not create a user namespace for the local engine ({status}); is \
             kernel.unprivileged_userns_clone or user.max_user_namespaces set to 0?"
        );
    }
    let pid = child.id().to_string();
    for (program, own, range) in [("newuidmap", uid, subuid), ("newgidmap", gid, subgid)] {
        let status = Command::new(program)
            .args([&pid, "0", &own.to_string(), "1"])
            .args(["1", &range.to_string(), &SUBORDINATE_IDS.to_string()])
            .status()
            .with_context(|| {
                format!(
                    "running {program}, which maps the user namespace's ids: apt-get install \
                     uidmap"
                )
            })?;
        if !status.success() {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{program} could not map the user namespace ({status})");
        }
    }
    input.write_all(b"go\n")?;
    drop(input);
    // Ctrl-C reaches both processes; the copy handles it and ends, and this one waits for it.
    let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, Default::default());
    let status = child.wait()?;
    Ok(status.code().unwrap_or(1))
}

/// The error for a user without subordinate ids.
fn missing_ranges(user: &str, file: &str) -> String {
    format!(
        "{file} gives {user} no range of {SUBORDINATE_IDS} subordinate ids, which the local \
         engine needs to run without root: as root, run `usermod --add-subuids \
         100000-165535 --add-subgids 100000-165535 {user}` (any free range of {SUBORDINATE_IDS} \
         will do), or patch on a BuildKit daemon with --addr"
    )
}

/// The user's name, from `/etc/passwd`.
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.get(2)? == &uid.to_string()).then(|| fields[0].to_string())
    })
}

/// The start of the first range of at least [`SUBORDINATE_IDS`] ids of `user` (by name or id)
/// in a subordinate id file.
fn subordinate_range(file: &str, user: &str, uid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(file).ok()?;
    let id = uid.to_string();
    super::sandbox::ids::parse_subordinate(&text, &[user, &id], SUBORDINATE_IDS)
}
