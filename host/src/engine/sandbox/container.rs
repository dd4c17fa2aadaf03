//! One step in a container of its own. A child of the sandbox joins the step's network
//! namespace and the sandbox's user namespace (where it is root with ids that are nobody on
//! the host), then unshares mount, pid, ipc, uts and cgroup namespaces. Its child is pid 1 of
//! the new pid namespace: it mounts a `/proc` for it (with runc's masked and read-only paths),
//! `pivot_root`s into the image and detaches the host's tree, becomes undumpable, and starts
//! the step confined (see `confine`), reaping whatever is orphaned. When the step ends, pid 1
//! reports how and exits, and the kernel kills every process left in the namespace (daemons,
//! double forks) before the sandbox goes on.

use super::confine::confine;
use super::process::{close_in_child, die_with_parent, exit_code, fork, wait_exit};
use crate::engine::spec::{StepLimits, StepSpec};
use rustix::fd::AsFd;
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::fs::CWD;
use rustix::mount::{
    MountFlags, MoveMountFlags, OpenTreeFlags, UnmountFlags, mount, mount_bind, mount_remount,
    move_mount, open_tree,
};
use rustix::process::{Pid, WaitOptions};
use rustix::thread::{LinkNameSpaceType, UnshareFlags};
use seccompiler::BpfProgram;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// `/proc` entries hidden from the steps (runc's default masked paths under `/proc`).
const MASKED: [&str; 10] = [
    "acpi",
    "asound",
    "interrupts",
    "kcore",
    "keys",
    "latency_stats",
    "sched_debug",
    "scsi",
    "timer_list",
    "timer_stats",
];

/// `/proc` entries the steps may read but not write (runc's default read-only paths).
const READ_ONLY: [&str; 5] = ["bus", "fs", "irq", "sys", "sysrq-trigger"];

/// What every step of a run shares.
pub struct Shared<'a> {
    /// The sandbox's user namespace.
    pub user_namespace: BorrowedFd<'a>,
    /// The seccomp filters.
    pub filters: &'a [BpfProgram],
    /// The resource limits.
    pub limits: StepLimits,
    /// The environment every step gets (before its own).
    pub environment: &'a [(String, String)],
}

/// Runs one step; `None` when it succeeded, else how it failed. The current folder must be
/// the folder that becomes `/` (the step's namespaces get it translated, where the sandbox's
/// root could not even reach it by its host path through folders of the host's root).
pub fn run_step(
    shared: &Shared<'_>,
    step: &StepSpec,
    network: Option<BorrowedFd<'_>>,
    log: &File,
) -> io::Result<Option<String>> {
    let sandbox = rustix::process::getpid();
    let (status_read, status_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let child = fork(|| {
        close_in_child(&status_read);
        match enter(shared, step, network, log, &status_write, sandbox) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("salve sandbox: {error}");
                125
            }
        }
    })?;
    drop(status_write);
    let mut report = String::new();
    File::from(status_read).read_to_string(&mut report)?;
    let code = wait_exit(child)?;
    match report.trim() {
        "ok" => Ok(None),
        "" => Err(io::Error::other(format!(
            "the step's container ended without a report (exit code {code})"
        ))),
        failure => Ok(Some(failure.to_string())),
    }
}

/// In the forked child: enters the namespaces and runs pid 1; returns pid 1's exit code.
fn enter(
    shared: &Shared<'_>,
    step: &StepSpec,
    network: Option<BorrowedFd<'_>>,
    log: &File,
    status: &OwnedFd,
    sandbox: Pid,
) -> io::Result<i32> {
    die_with_parent(Some(sandbox));
    if let Some(network) = network {
        rustix::thread::move_into_link_name_space(network, Some(LinkNameSpaceType::Network))
            .map_err(|error| context("joining the step's network namespace", error.into()))?;
    }
    rustix::thread::move_into_link_name_space(shared.user_namespace, Some(LinkNameSpaceType::User))
        .map_err(|error| context("joining the sandbox's user namespace", error.into()))?;
    let root_gid = rustix::process::Gid::ROOT;
    let root_uid = rustix::process::Uid::ROOT;
    rustix::thread::set_thread_res_gid(root_gid, root_gid, root_gid)?;
    rustix::thread::set_thread_groups(&[])?;
    rustix::thread::set_thread_res_uid(root_uid, root_uid, root_uid)?;
    die_with_parent(Some(sandbox));
    // SAFETY: this forked process has one thread and does not share its file table.
    unsafe {
        rustix::thread::unshare_unsafe(
            UnshareFlags::NEWNS
                | UnshareFlags::NEWPID
                | UnshareFlags::NEWIPC
                | UnshareFlags::NEWUTS
                | UnshareFlags::NEWCGROUP,
        )
    }
    .map_err(|error| context("creating the step's namespaces", error.into()))?;
    let _ = rustix::system::sethostname(b"salve");
    let init = fork(|| {
        match pid_one(shared, step, log, status) {
            Ok(()) => 0,
            Err(error) => {
                // The report is how the sandbox learns what went wrong.
                let report = format!("the step's container could not be set up: {error}");
                let _ = rustix::io::write(status, report.as_bytes());
                125
            }
        }
    })?;
    close_in_child(status);
    wait_exit(init)
}

/// Pid 1 of the step's pid namespace.
fn pid_one(shared: &Shared<'_>, step: &StepSpec, log: &File, status: &OwnedFd) -> io::Result<()> {
    die_with_parent(None);
    mount(
        "proc",
        "proc",
        "proc",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        None,
    )
    .map_err(|error| context("mounting /proc", error.into()))?;
    mask_proc()?;
    enter_root()?;
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)?;

    let report = match start(shared, step, log) {
        Ok(child) => outcome(child),
        Err(failure) => failure.to_string(),
    };
    rustix::io::write(status, report.as_bytes())?;
    Ok(())
}

/// Hides and write-protects `/proc` entries as runc does (in the image folder, the current
/// folder).
fn mask_proc() -> io::Result<()> {
    let proc = Path::new("proc");
    let null = Path::new("dev/null");
    for name in MASKED {
        let path = proc.join(name);
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let masked = if metadata.is_dir() {
            mount(
                "tmpfs",
                &path,
                "tmpfs",
                MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
                None,
            )
        } else {
            mount_bind(null, &path)
        };
        masked.map_err(|error| context(&format!("masking /proc/{name}"), error.into()))?;
    }
    for name in READ_ONLY {
        let path = proc.join(name);
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        mount_bind(&path, &path)
            .and_then(|()| {
                mount_remount(
                    &path,
                    MountFlags::BIND
                        | MountFlags::RDONLY
                        | MountFlags::NOSUID
                        | MountFlags::NODEV
                        | MountFlags::NOEXEC,
                    "",
                )
            })
            .map_err(|error| context(&format!("making /proc/{name} read-only"), error.into()))?;
    }
    Ok(())
}

/// Makes the current folder the root of this mount namespace and detaches the old root
/// entirely. The image's mounts came from the sandbox's namespace and are locked here, which
/// `pivot_root` refuses; a recursive copy of them mounted in their place is this namespace's own.
fn enter_root() -> io::Result<()> {
    let copy = open_tree(
        CWD,
        ".",
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE,
    )
    .map_err(|error| context("copying the image's mounts", error.into()))?;
    move_mount(
        copy.as_fd(),
        "",
        CWD,
        ".",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|error| context("mounting the copy of the image's mounts", error.into()))?;
    rustix::process::fchdir(&copy)?;
    rustix::process::pivot_root(".", ".")
        .map_err(|error| context("pivot_root into the image", error.into()))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH)
        .map_err(|error| context("detaching the host's tree", error.into()))?;
    rustix::process::chdir("/")?;
    Ok(())
}

/// Why a step's program did not start; reported as the step's outcome.
#[derive(Debug, thiserror::Error)]
enum StartError {
    /// The plan gave an empty command.
    #[error("the step has no command")]
    NoCommand,
    /// Its log could not be handed to it.
    #[error("opening its log: {0}")]
    Log(io::Error),
    /// The program could not be run.
    #[error("could not start {program}: {error}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        error: io::Error,
    },
}

/// Starts the step's program, confined.
fn start(shared: &Shared<'_>, step: &StepSpec, log: &File) -> Result<Pid, StartError> {
    let Some((program, arguments)) = step.argv.split_first() else {
        return Err(StartError::NoCommand);
    };
    let (output, errors) = match (log.try_clone(), log.try_clone()) {
        (Ok(output), Ok(errors)) => (output, errors),
        (Err(error), _) | (_, Err(error)) => return Err(StartError::Log(error)),
    };
    let mut command = Command::new(program);
    command
        .args(arguments)
        .env_clear()
        .envs(crate::engine::STEP_BASE_ENVIRONMENT)
        .envs(shared.environment.iter().map(|(k, v)| (k, v)))
        .envs(step.env.iter().map(|(k, v)| (k, v)))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(errors);
    let limits = shared.limits;
    let filters = shared.filters.to_vec();
    // SAFETY: runs in the forked child before exec; `confine` makes only system calls.
    unsafe {
        command.pre_exec(move || confine(&limits, &filters));
    }
    match command.spawn() {
        Ok(child) => Ok(Pid::from_child(&child)),
        Err(error) => Err(StartError::Spawn {
            program: program.clone(),
            error,
        }),
    }
}

/// Reaps every process until the step's own ends, and says how it ended.
fn outcome(step: Pid) -> String {
    loop {
        match rustix::process::wait(WaitOptions::empty()) {
            Ok(Some((pid, status))) if pid == step => {
                return match (status.exit_status(), status.terminating_signal()) {
                    (Some(0), _) => "ok".into(),
                    (Some(code), _) => format!("exit code {code}"),
                    (None, Some(signal)) => format!("killed by signal {signal}"),
                    _ => format!("ended with status {}", exit_code(status)),
                };
            }
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return format!("waiting for the step failed: {error}"),
        }
    }
}

/// An error with what was being done.
fn context(what: &str, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{what}: {error}"))
}
