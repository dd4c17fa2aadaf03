//! `salve __sandbox SPEC`: the local engine's sandbox. salve starts it with an empty environment
//! in a session of its own. It creates the sandbox's user namespace (see `ids`), enters a
//! private mount namespace and mounts what the steps see (see `mounts`), prepares their
//! network namespaces (see `network`), then runs each step in a container of its own (see
//! `container`): user, mount, pid, ipc, uts, cgroup and network namespaces, `pivot_root` into
//! the image, runc's `/proc` masks, the default container capabilities, `no_new_privs`, the
//! default seccomp profile (see `seccomp`) and resource limits (see `confine`). Afterwards it
//! copies the package database files out of the target for validation (`copy_out`) and writes
//! its status. Everything it mounted and started goes with it.

mod confine;
mod container;
mod copy_out;
pub mod ids;
mod mounts;
mod network;
mod process;
mod routes;
mod seccomp;

use super::spec::{SandboxSpec, SandboxStatus};
use rustix::fd::AsFd;
use rustix::mount::MountPropagationFlags;
use rustix::thread::UnshareFlags;
use std::fs::{self, File};
use std::io;
use std::path::Path;
use std::process::ExitCode;

pub use process::inherit_as;

/// The exit code of a sandbox that could not be set up (its reason is on stderr).
pub const SETUP_FAILED: u8 = 125;

/// Runs the hidden sandbox command when `args` names it; `None` otherwise.
pub fn dispatch(args: &[String]) -> Option<ExitCode> {
    let (command, spec) = (args.get(1)?, args.get(2)?);
    if command != "__sandbox" {
        return None;
    }
    Some(match run(Path::new(spec)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("salve sandbox: {error}");
            ExitCode::from(SETUP_FAILED)
        }
    })
}

/// Sets up the sandbox, runs the steps and writes the status.
fn run(spec_path: &Path) -> io::Result<()> {
    let spec = SandboxSpec::read(spec_path)?;
    let user_namespace = ids::create_user_namespace(&spec.ids)
        .map_err(|error| context("creating the sandbox's user namespace", error))?;
    // SAFETY: this process is single-threaded (it started no thread), and FILES is not among
    // the flags.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNS) }
        .map_err(|error| context("creating a mount namespace", error.into()))?;
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(|error| context("making mounts private", error.into()))?;

    let created = mounts::prepare(&spec, user_namespace.as_fd())?;
    let listed: Vec<String> = created
        .iter()
        .map(|path| path.to_string_lossy().into_owned())
        .collect();
    fs::write(
        &spec.run.created,
        serde_json::to_vec(&listed).expect("a list serialises"),
    )?;
    fs::create_dir_all(&spec.run.logs)?;
    let networks = network::Networks::prepare(&spec)?;
    let filters = seccomp::filters()?;
    std::env::set_current_dir(spec.root())?;
    let shared = container::Shared {
        user_namespace: user_namespace.as_fd(),
        filters: &filters,
        limits: spec.limits,
        environment: &spec.environment,
    };

    let mut status = SandboxStatus::default();
    for (index, step) in spec.steps.iter().enumerate() {
        let log = File::create(spec.run.log(index))?;
        let network = networks.for_step(step.network);
        if let Some(failure) = container::run_step(&shared, step, network, &log)? {
            status.failed_step = Some(index);
            status.failure = Some(failure);
            break;
        }
    }
    drop(networks);
    if status.failed_step.is_none() {
        copy_out::copy_database(&spec).map_err(|error| {
            context(
                "after the steps, copying the package databases out of the image",
                error,
            )
        })?;
    }
    fs::write(
        &spec.run.status,
        serde_json::to_vec(&status).expect("a status serialises"),
    )
}

/// An error with what was being done.
fn context(what: &str, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{what}: {error}"))
}
