//! The network namespaces steps run in. A step that needs no network gets an empty namespace
//! (no interface but a loopback that is down). A step that needs it gets a namespace of its own
//! whose only way out is `slirp4netns` (user-mode networking: the step's connections become
//! ordinary connections of a process on the host), started with the host's loopback out of
//! reach, so the step meets the internet as any machine on the network would, but not the
//! services listening on the host's 127.0.0.1, nor link-local addresses (a cloud's metadata
//! endpoint; see `routes`). With `--network host` such steps share the
//! host's namespace instead. The namespaces belong to salve's user namespace, not the
//! sandbox's: the steps cannot reconfigure them.

use super::process::{
    close_in_child, die_with_parent, fork, inherit_as, signal, wait_for, wait_signal,
};
use super::routes;
use crate::engine::spec::{NetworkSpec, SandboxSpec};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::process::Pid;
use rustix::thread::UnshareFlags;
use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The device slirp4netns opens to create the interface.
const TUN: &str = "/dev/net/tun";

/// The name of the interface slirp4netns creates in the namespace.
const TAP_NAME: &str = "tap0";

/// The namespaces prepared for one run.
pub struct Networks {
    /// The empty namespace, when a step needs no network.
    offline: Option<Holder>,
    /// The namespace behind slirp4netns, when a step needs the network and it is sandboxed.
    online: Option<Online>,
}

/// A process that keeps a new network namespace alive (for slirp4netns, which joins it by
/// pid) until it is dropped.
struct Holder {
    /// The process.
    pid: Pid,
    /// The namespace.
    namespace: OwnedFd,
}

/// A namespace with slirp4netns serving it.
struct Online {
    /// The namespace's holder.
    holder: Holder,
    /// slirp4netns.
    slirp: Child,
    /// Closing this makes slirp4netns exit.
    exit: Option<OwnedFd>,
}

impl Networks {
    /// Prepares the namespaces the spec's steps need (slirp4netns's output goes with the logs).
    pub fn prepare(spec: &SandboxSpec) -> io::Result<Networks> {
        let offline = if spec.steps.iter().any(|step| !step.network) {
            Some(Holder::start(false)?)
        } else {
            None
        };
        let online = match &spec.network {
            NetworkSpec::Sandboxed { slirp4netns, .. }
                if spec.steps.iter().any(|step| step.network) =>
            {
                Some(Online::start(
                    slirp4netns,
                    &spec.run.logs.join("slirp4netns.log"),
                )?)
            }
            _ => None,
        };
        Ok(Networks { offline, online })
    }

    /// The namespace for a step (`None`: the host's, with `--network host`).
    pub fn for_step(&self, network: bool) -> Option<BorrowedFd<'_>> {
        if network {
            self.online
                .as_ref()
                .map(|online| online.holder.namespace.as_fd())
        } else {
            self.offline.as_ref().map(|holder| holder.namespace.as_fd())
        }
    }
}

impl Holder {
    /// Starts a process in a new network namespace (with link-local addresses unreachable when
    /// `online`) and opens the namespace.
    fn start(online: bool) -> io::Result<Holder> {
        let parent = rustix::process::getpid();
        let (ready_read, ready_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let pid = fork(|| {
            close_in_child(&ready_read);
            die_with_parent(Some(parent));
            // SAFETY: the forked child has one thread.
            if unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNET) }.is_err() {
                return 1;
            }
            if online && let Err(error) = routes::block_link_local() {
                eprintln!("salve sandbox: making link-local addresses unreachable: {error}");
                return 1;
            }
            if signal(&ready_write).is_err() {
                return 1;
            }
            loop {
                // SAFETY: waits for a signal; the holder is killed when dropped.
                unsafe { libc::pause() };
            }
        })?;
        drop(ready_write);
        if !wait_signal(&ready_read)? {
            let _ = wait_for(pid);
            return Err(io::Error::other("creating a network namespace failed"));
        }
        let namespace = File::open(format!("/proc/{}/ns/net", pid.as_raw_nonzero()))?.into();
        Ok(Holder { pid, namespace })
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = rustix::process::kill_process(self.pid, rustix::process::Signal::KILL);
        let _ = wait_for(self.pid);
    }
}

impl Online {
    /// Starts a namespace and slirp4netns for it, and waits until the interface is up.
    fn start(slirp4netns: &Path, log: &Path) -> io::Result<Online> {
        if rustix::fs::access(
            TUN,
            rustix::fs::Access::READ_OK | rustix::fs::Access::WRITE_OK,
        )
        .is_err()
        {
            return Err(io::Error::other(format!(
                "steps that need the network reach it through slirp4netns, which needs {TUN} \
                 readable and writable (Debian's udev makes it mode 0666; here it is not): run \
                 `chmod 0666 {TUN}` as root, or share this machine's network with --network host"
            )));
        }
        let holder = Holder::start(true)?;
        let (ready_read, ready_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let (exit_read, exit_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let output = File::create(log)?;
        let mut command = Command::new(slirp4netns);
        command
            .args([
                "--configure",
                "--mtu=65520",
                "--disable-host-loopback",
                "--enable-sandbox",
                "--enable-seccomp",
                "--ready-fd=3",
                "--exit-fd=4",
            ])
            .arg(holder.pid.as_raw_nonzero().to_string())
            .arg(TAP_NAME)
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output);
        let (ready_raw, exit_raw) = (ready_write.as_raw_fd(), exit_read.as_raw_fd());
        // SAFETY: runs in the child between fork and exec; only dup, dup2, fcntl and prctl.
        unsafe {
            command.pre_exec(move || {
                let _ = rustix::process::set_parent_process_death_signal(Some(
                    rustix::process::Signal::KILL,
                ));
                inherit_as(&[(ready_raw, 3), (exit_raw, 4)])
            });
        }
        let slirp = command.spawn().map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("starting {}: {error}", slirp4netns.display()),
            )
        })?;
        drop(ready_write);
        drop(exit_read);
        let mut online = Online {
            holder,
            slirp,
            exit: Some(exit_write),
        };
        if !wait_signal(&ready_read)? {
            let _ = online.slirp.wait();
            let output = std::fs::read_to_string(log).unwrap_or_default();
            return Err(io::Error::other(format!(
                "slirp4netns could not give the steps a network (or use --network host): {}",
                output.trim()
            )));
        }
        Ok(online)
    }
}

impl Drop for Online {
    fn drop(&mut self) {
        self.exit.take();
        let _ = self.slirp.wait();
    }
}
