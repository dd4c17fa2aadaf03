//! `salve __sandbox-init SPEC`: pid 1 of the sandbox's pid namespace. It mounts `/proc`, enters
//! the root, runs the plan's steps in order (each without a shell, with a clean environment, its
//! output in a log under the results folder, cut off from the network when the step says so),
//! reaps orphans, and finally copies the package database files out for validation. Its status
//! goes to `<results>/.salve/status.json`.

use super::paths::expand;
use super::spec::{DATABASE_DIR, RESULTS_MOUNT, SALVE_DIR, SandboxSpec, SandboxStatus};
use rustix::mount::{MountFlags, mount};
use rustix::process::WaitOptions;
use rustix::thread::UnshareFlags;
use std::fs::{self, File};
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

/// The `PATH` steps run with.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Runs the steps; exit code 0 when all succeeded, 1 when one failed.
pub fn run(spec_path: &Path) -> io::Result<ExitCode> {
    let spec = SandboxSpec::read(spec_path)?;
    let root = spec.root().to_path_buf();
    mount(
        "proc",
        root.join("proc"),
        "proc",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        None,
    )
    .map_err(|error| io::Error::other(format!("mounting /proc: {error}")))?;
    rustix::process::chroot(&root)?;
    std::env::set_current_dir("/")?;
    let results = Path::new(RESULTS_MOUNT);
    fs::create_dir_all(results.join(SALVE_DIR))?;

    let mut status = SandboxStatus::default();
    for (index, step) in spec.steps.iter().enumerate() {
        let log = File::create(results.join(SandboxSpec::log_name(index)))?;
        let outcome = run_step(step, &spec.environment, log);
        reap_orphans();
        if let Some(failure) = outcome {
            status.failed_step = Some(index);
            status.failure = Some(failure);
            break;
        }
    }
    if status.failed_step.is_none() {
        copy_database(&spec, &results.join(DATABASE_DIR))?;
    }
    fs::write(
        results.join(SALVE_DIR).join("status.json"),
        serde_json::to_vec(&status).expect("a status serialises"),
    )?;
    Ok(if status.failed_step.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs one step; `None` when it succeeded, else how it failed.
fn run_step(
    step: &super::spec::StepSpec,
    environment: &[(String, String)],
    log: File,
) -> Option<String> {
    let Some((program, arguments)) = step.argv.split_first() else {
        return Some("the step has no command".into());
    };
    let errors = match log.try_clone() {
        Ok(errors) => errors,
        Err(error) => return Some(format!("opening its log: {error}")),
    };
    let mut command = Command::new(program);
    command
        .args(arguments)
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", "/root")
        .envs(environment.iter().map(|(k, v)| (k, v)))
        .envs(step.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(errors);
    if !step.network {
        // SAFETY: runs in the child between fork and exec; unshare is async-signal-safe and
        // touches only the child.
        unsafe {
            command.pre_exec(|| {
                rustix::thread::unshare_unsafe(UnshareFlags::NEWNET).map_err(io::Error::from)
            });
        }
    }
    match command.status() {
        Ok(status) if status.success() => None,
        Ok(status) => Some(match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            _ => status.to_string(),
        }),
        Err(error) => Some(format!("could not start {program}: {error}")),
    }
}

/// Collects exited processes that were reparented to this init.
fn reap_orphans() {
    while let Ok(Some(_)) = rustix::process::wait(WaitOptions::NOHANG) {}
}

/// Copies the database files the plan names (in the target) into `out`, keeping their paths.
fn copy_database(spec: &SandboxSpec, out: &Path) -> io::Result<()> {
    let target = Path::new(spec.target_inside());
    for pattern in &spec.database_paths {
        if pattern.starts_with(RESULTS_MOUNT) {
            continue;
        }
        for path in expand(target, pattern)? {
            let source = target.join(path.trim_start_matches('/'));
            let copy = out.join(path.trim_start_matches('/'));
            if let Some(parent) = copy.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::copy(&source, &copy)?;
        }
    }
    Ok(())
}
