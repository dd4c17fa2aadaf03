//! `salve __sandbox SPEC`: the local engine's sandbox process. It enters new mount, pid, ipc and
//! uts namespaces, mounts the target's overlay (and the tooling image's, with the target at
//! `/target`), tmpfs over the excluded paths, a minimal `/dev`, the host's resolver files and the
//! results folder, then starts `salve __sandbox-init SPEC` as pid 1 of the new pid namespace to
//! run the steps. Every mount lives in the private mount namespace, so all of them disappear when
//! these processes end, however they end.

use super::init;
use super::spec::{RESULTS_MOUNT, SandboxSpec};
use rustix::mount::{MountFlags, MountPropagationFlags, mount, mount_bind, mount_bind_recursive};
use rustix::thread::UnshareFlags;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Device files bound from the host into the sandbox's `/dev`.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Runs the hidden sandbox commands when `args` names one; `None` otherwise.
pub fn dispatch(args: &[String]) -> Option<ExitCode> {
    let (command, spec) = (args.get(1)?, args.get(2)?);
    let result = match command.as_str() {
        "__sandbox" => setup(Path::new(spec)),
        "__sandbox-init" => init::run(Path::new(spec)),
        _ => return None,
    };
    Some(match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("salve sandbox: {error}");
            ExitCode::from(125)
        }
    })
}

/// Sets up the namespaces and mounts, then runs the init process and returns its exit code.
fn setup(spec_path: &Path) -> io::Result<ExitCode> {
    let spec = SandboxSpec::read(spec_path)?;
    // SAFETY: salve is single-threaded here (nothing has started a thread), and FILES is not
    // among the flags, so no thread can observe a changed file descriptor table.
    unsafe {
        rustix::thread::unshare_unsafe(
            UnshareFlags::NEWNS
                | UnshareFlags::NEWPID
                | UnshareFlags::NEWIPC
                | UnshareFlags::NEWUTS,
        )
    }
    .map_err(|error| {
        context(
            "creating namespaces (the local engine needs root)",
            error.into(),
        )
    })?;
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(|error| context("making mounts private", error.into()))?;
    let _ = rustix::system::sethostname(b"salve");

    let mut created = Vec::new();
    overlay(
        &spec.target_lower,
        &spec.target_upper,
        &spec.target_work,
        &spec.target_merged,
    )?;
    for path in &spec.exclude_paths {
        let Some(target) = inside(&spec.target_merged, path)? else {
            continue;
        };
        ensure_dir(&spec.target_merged, &target, &mut created)?;
        mount(
            "tmpfs",
            &target,
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
            None,
        )
        .map_err(|error| context(&format!("covering {path} with tmpfs"), error.into()))?;
    }
    let in_target = spec.tooling.is_none();
    if let Some(tooling) = &spec.tooling {
        overlay(
            &tooling.lower,
            &tooling.upper,
            &tooling.work,
            &tooling.merged,
        )?;
        let mount_point = tooling.merged.join("target");
        fs::create_dir_all(&mount_point)?;
        mount_bind_recursive(&spec.target_merged, &mount_point)
            .map_err(|error| context("mounting the target at /target", error.into()))?;
    }
    let root = spec.root().to_path_buf();
    let mut root_created = Vec::new();
    ensure_dir(&root, &root.join("proc"), &mut root_created)?;
    minimal_dev(&root, &mut root_created)?;
    for file in ["etc/resolv.conf", "etc/hosts"] {
        resolver_file(&root, file, &mut root_created)?;
    }
    let results = root.join(RESULTS_MOUNT.trim_start_matches('/'));
    ensure_dir(&root, &results, &mut root_created)?;
    mount_bind(&spec.results, &results)
        .map_err(|error| context("mounting the results folder", error.into()))?;
    if in_target {
        created.extend(root_created);
    }
    let listed: Vec<String> = created
        .iter()
        .map(|path| path.to_string_lossy().into_owned())
        .collect();
    fs::write(
        &spec.created_list,
        serde_json::to_vec(&listed).expect("a list serialises"),
    )?;

    let status = Command::new("/proc/self/exe")
        .arg("__sandbox-init")
        .arg(spec_path)
        .status()
        .map_err(|error| context("starting the sandbox's init", error))?;
    Ok(ExitCode::from(
        status.code().unwrap_or(126).clamp(0, 255) as u8
    ))
}

/// Mounts an overlay of `lower` with `upper` and `work` at `merged`.
fn overlay(lower: &Path, upper: &Path, work: &Path, merged: &Path) -> io::Result<()> {
    for path in [lower, upper, work, merged] {
        let text = path.to_string_lossy();
        if text.contains([',', ':', '\\']) {
            return Err(io::Error::other(format!(
                "{text}: overlay folders cannot have `,`, `:` or `\\` in their path; set \
                 --cache-dir or TMPDIR elsewhere"
            )));
        }
    }
    let base = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    // Metadata-only copy-up saves copying whole files when dpkg hard-links them as backups;
    // the parent fills the data in afterwards (see `materialize`). Kernels without it get a
    // plain overlay.
    let fast = std::ffi::CString::new(format!("{base},metacopy=on,redirect_dir=on"))
        .map_err(io::Error::other)?;
    if mount(
        "overlay",
        merged,
        "overlay",
        MountFlags::empty(),
        Some(fast.as_c_str()),
    )
    .is_ok()
    {
        return Ok(());
    }
    let plain = std::ffi::CString::new(base).map_err(io::Error::other)?;
    mount(
        "overlay",
        merged,
        "overlay",
        MountFlags::empty(),
        Some(plain.as_c_str()),
    )
    .map_err(|error| context("mounting the image's overlay", error.into()))
}

/// The host path of image path `path` under `root`, refusing to pass through a symbolic link
/// (which could lead out of the image); `None` (with a warning) for such paths.
fn inside(root: &Path, path: &str) -> io::Result<Option<PathBuf>> {
    let mut current = root.to_path_buf();
    for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            return Err(io::Error::other(format!("{path}: `..` is not allowed")));
        }
        current.push(part);
        if fs::symlink_metadata(&current).is_ok_and(|m| m.file_type().is_symlink()) {
            eprintln!("salve sandbox: not covering {path}: {part} is a symbolic link");
            return Ok(None);
        }
    }
    Ok(Some(current))
}

/// Makes sure a folder exists, recording the topmost folder it had to create (relative to `root`).
fn ensure_dir(root: &Path, dir: &Path, created: &mut Vec<PathBuf>) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut topmost = dir.to_path_buf();
    while let Some(parent) = topmost.parent() {
        if parent.exists() || parent == root {
            break;
        }
        topmost = parent.to_path_buf();
    }
    fs::create_dir_all(dir)
        .map_err(|error| context(&format!("creating {}", dir.display()), error))?;
    if let Ok(relative) = topmost.strip_prefix(root) {
        created.push(Path::new("/").join(relative));
    }
    Ok(())
}

/// A tmpfs `/dev` with the usual device files bound from the host.
fn minimal_dev(root: &Path, created: &mut Vec<PathBuf>) -> io::Result<()> {
    let dev = root.join("dev");
    ensure_dir(root, &dev, created)?;
    let mode = std::ffi::CString::new("mode=755").expect("no NUL");
    mount(
        "tmpfs",
        &dev,
        "tmpfs",
        MountFlags::NOSUID,
        Some(mode.as_c_str()),
    )
    .map_err(|error| context("mounting /dev", error.into()))?;
    for device in DEVICES {
        let target = dev.join(device);
        fs::write(&target, b"")?;
        mount_bind(Path::new("/dev").join(device), &target)
            .map_err(|error| context(&format!("binding /dev/{device}"), error.into()))?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, dev.join(link))?;
    }
    let shm = dev.join("shm");
    fs::create_dir(&shm)?;
    mount(
        "tmpfs",
        &shm,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV,
        None,
    )
    .map_err(|error| context("mounting /dev/shm", error.into()))
}

/// Binds the host's resolver file over the image's, so steps resolve names as the host does.
fn resolver_file(root: &Path, relative: &str, created: &mut Vec<PathBuf>) -> io::Result<()> {
    let host = Path::new("/").join(relative);
    if !host.exists() {
        return Ok(());
    }
    let target = root.join(relative);
    match fs::symlink_metadata(&target) {
        Ok(metadata) if metadata.file_type().is_symlink() => {
            // A link may point anywhere; the step keeps the image's own resolver setup.
            return Ok(());
        }
        Ok(_) => {}
        Err(_) => {
            if !target.parent().is_some_and(Path::is_dir) {
                return Ok(());
            }
            fs::write(&target, b"")?;
            created.push(Path::new("/").join(relative));
        }
    }
    mount_bind(&host, &target)
        .map_err(|error| context(&format!("binding {}", host.display()), error.into()))
}

/// An error with what was being done.
fn context(what: &str, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{what}: {error}"))
}
