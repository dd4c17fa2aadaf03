//! The sandbox's file systems, mounted in its private mount namespace before any step starts:
//! the target's overlay (and the tooling image's, with the target at `/target`), tmpfs over the
//! excluded paths, a minimal `/dev` (null, zero, full, random, urandom, shm; no terminal, no
//! block device), the resolver files, the results folder and the mirrored copies of package
//! source files (read-only). The image's folders and the results folder are id-mapped mounts:
//! what is root-owned on disk is the sandbox's root, and what the steps write as the sandbox's
//! root is root-owned on disk, so the unpacked image and the patch layer keep the image's owners
//! while no step ever runs as the host's root. Every mount lives in the private namespace and
//! disappears with it.

use super::ids::IdRange;
use crate::engine::spec::{NetworkSpec, OverlaidFile, OverlaySpec, RESULTS_MOUNT, SandboxSpec};
use cap_std::fs::Dir;
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::CWD;
use rustix::mount::{
    MountFlags, MoveMountFlags, OpenTreeFlags, mount, mount_bind, mount_bind_recursive,
    mount_remount, move_mount, open_tree,
};
use rustix::thread::CapabilitiesSecureBits;
use std::ffi::CString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Device files bound from the host into the sandbox's `/dev`.
const DEVICES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];

/// Mounts everything the steps see; returns the mount points it had to create in the target
/// (image paths), which are not part of the patch.
pub fn prepare(spec: &SandboxSpec, user_namespace: BorrowedFd<'_>) -> io::Result<Vec<PathBuf>> {
    let ids = &spec.ids;
    let mapper = Mapper {
        user_namespace,
        mounts: &spec.run.mounts,
        ids,
    };
    fs::create_dir_all(&spec.run.mounts)?;
    let mut created = Vec::new();
    mapper.overlay(&spec.target, "target")?;
    for path in &spec.exclude_paths {
        let Some(target) = inside(&spec.target.merged, path)? else {
            continue;
        };
        ensure_dir(&spec.target.merged, &target, ids, &mut created)?;
        tmpfs(&target, ids, "755", MountFlags::NOSUID | MountFlags::NODEV)
            .map_err(|error| context(&format!("covering {path} with tmpfs"), error))?;
    }
    let in_target = spec.tooling.is_none();
    if let Some(tooling) = &spec.tooling {
        mapper.overlay(tooling, "tooling")?;
        let mount_point = tooling.merged.join("target");
        ensure_dir(&tooling.merged, &mount_point, ids, &mut Vec::new())?;
        mount_bind_recursive(&spec.target.merged, &mount_point)
            .map_err(|error| context("mounting the target at /target", error.into()))?;
    }
    let root = spec.root().to_path_buf();
    let mut root_created = Vec::new();
    ensure_dir(&root, &root.join("proc"), ids, &mut root_created)?;
    minimal_dev(&root, ids, &mut root_created)?;
    let resolv_conf = match &spec.network {
        NetworkSpec::Sandboxed { resolv_conf, .. } => resolv_conf.clone(),
        NetworkSpec::Host => PathBuf::from("/etc/resolv.conf"),
    };
    for (file, host) in [
        ("etc/resolv.conf", resolv_conf.as_path()),
        ("etc/hosts", Path::new("/etc/hosts")),
    ] {
        resolver_file(&root, file, host, ids, &mut root_created)?;
    }
    let results = root.join(RESULTS_MOUNT.trim_start_matches('/'));
    ensure_dir(&root, &results, ids, &mut root_created)?;
    mapper
        .bind(&spec.results, &results)
        .map_err(|error| context("mounting the results folder", error))?;
    for file in &spec.overlaid_files {
        overlay_file(&root, file)?;
    }
    if in_target {
        created.extend(root_created);
    }
    Ok(created)
}

/// Binds a host file read-only over an image's regular file. The file must be where the steps
/// read it: a symbolic link on the way, or anything but a regular file there, is refused.
fn overlay_file(root: &Path, file: &OverlaidFile) -> io::Result<()> {
    let refused = |why: &str| {
        io::Error::other(format!(
            "putting the mirrored copy of {} in place: {why}",
            file.path
        ))
    };
    let target =
        inside(root, &file.path)?.ok_or_else(|| refused("a symbolic link is on the way"))?;
    if !fs::symlink_metadata(&target).is_ok_and(|metadata| metadata.is_file()) {
        return Err(refused("it is not a regular file in the image"));
    }
    mount_bind(&file.host, &target).map_err(|error| refused(&error.to_string()))?;
    mount_remount(&target, MountFlags::BIND | MountFlags::RDONLY, "")
        .map_err(|error| refused(&error.to_string()))
}

/// Makes id-mapped mounts of host folders.
struct Mapper<'a> {
    /// The sandbox's user namespace: its mapping is the mounts' mapping.
    user_namespace: BorrowedFd<'a>,
    /// A folder for the mount points of id-mapped layers.
    mounts: &'a Path,
    /// The mapping.
    ids: &'a IdRange,
}

impl Mapper<'_> {
    /// Mounts an overlay whose layers are id-mapped; `name` names its mount points. Without a
    /// mapping (rootless), the overlay is mounted on the folders themselves, with overlayfs's
    /// attributes in the `user.` namespace as an unprivileged overlay must keep them.
    fn overlay(&self, overlay: &OverlaySpec, name: &str) -> io::Result<()> {
        if self.ids.is_identity() {
            return mount_overlay(
                &overlay.lower,
                &overlay.upper(),
                &overlay.work(),
                &overlay.merged,
                Xattrs::User,
            );
        }
        let lower = self.mounts.join(format!("{name}-lower"));
        let changes = self.mounts.join(format!("{name}-changes"));
        for (source, target) in [(&overlay.lower, &lower), (&overlay.changes, &changes)] {
            fs::create_dir_all(target)?;
            self.bind(source, target)
                .map_err(|error| context(&format!("id-mapping {}", source.display()), error))?;
        }
        with_sandbox_ids(self.ids, || {
            mount_overlay(
                &lower,
                &changes.join("upper"),
                &changes.join("work"),
                &overlay.merged,
                Xattrs::Trusted,
            )
        })
    }

    /// Binds `source` at `target` with the sandbox's id mapping (if it has one).
    fn bind(&self, source: &Path, target: &Path) -> io::Result<()> {
        if self.ids.is_identity() {
            return mount_bind(source, target).map_err(io::Error::from);
        }
        let tree = open_tree(
            CWD,
            source,
            OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
        )?;
        set_id_mapping(tree.as_fd(), self.user_namespace)?;
        move_mount(
            tree.as_fd(),
            "",
            CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )?;
        Ok(())
    }
}

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    /// Attributes to set.
    attr_set: u64,
    /// Attributes to clear.
    attr_clr: u64,
    /// Propagation to set.
    propagation: u64,
    /// The user namespace of `MOUNT_ATTR_IDMAP`.
    userns_fd: u64,
}

/// `MOUNT_ATTR_IDMAP`.
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// Makes the detached mount `tree` id-mapped by `user_namespace`.
fn set_id_mapping(tree: BorrowedFd<'_>, user_namespace: BorrowedFd<'_>) -> io::Result<()> {
    use rustix::fd::AsRawFd;
    let attributes = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: user_namespace.as_raw_fd() as u64,
    };
    // SAFETY: mount_setattr reads `attributes` (of the size given) and an empty path.
    let result = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attributes as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if result != 0 {
        let error = io::Error::last_os_error();
        return Err(io::Error::new(
            error.kind(),
            format!(
                "{error} (the local engine needs id-mapped mounts: Linux 5.19 or later with a \
                 file system that supports them, such as ext4, xfs, btrfs or tmpfs)"
            ),
        ));
    }
    Ok(())
}

/// Where overlayfs keeps its own attributes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Xattrs {
    /// `trusted.overlay.*`: salve is the machine's root.
    Trusted,
    /// `user.overlay.*`: salve is root only in its own user namespace (no metadata-only copies).
    User,
}

/// Mounts an overlay of `lower` with `upper` and `work` at `merged`.
fn mount_overlay(
    lower: &Path,
    upper: &Path,
    work: &Path,
    merged: &Path,
    xattrs: Xattrs,
) -> io::Result<()> {
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
        "lowerdir={},upperdir={},workdir={}{}",
        lower.display(),
        upper.display(),
        work.display(),
        if xattrs == Xattrs::User {
            ",userxattr"
        } else {
            ""
        }
    );
    // Metadata-only copy-up saves copying whole files when dpkg hard-links them as backups;
    // the parent fills the data in afterwards (see `materialize`). Kernels without it get a
    // plain overlay.
    let fast =
        CString::new(format!("{base},metacopy=on,redirect_dir=on")).map_err(io::Error::other)?;
    if xattrs == Xattrs::Trusted
        && mount(
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
    let plain = CString::new(base).map_err(io::Error::other)?;
    mount(
        "overlay",
        merged,
        "overlay",
        MountFlags::empty(),
        Some(plain.as_c_str()),
    )
    .map_err(|error| context("mounting the image's overlay", error.into()))
}

/// A tmpfs at `target` owned by the sandbox's root.
fn tmpfs(target: &Path, ids: &IdRange, mode: &str, flags: MountFlags) -> io::Result<()> {
    let options = CString::new(format!("mode={mode},uid={},gid={}", ids.uid, ids.gid))
        .map_err(io::Error::other)?;
    mount("tmpfs", target, "tmpfs", flags, Some(options.as_c_str())).map_err(io::Error::from)
}

/// Runs `create` on the image folder `root` (opened as salve, resolving nothing outside it)
/// as the sandbox's root (see [`with_sandbox_ids`]).
fn as_sandbox_root<T>(
    ids: &IdRange,
    root: &Path,
    create: impl FnOnce(&Dir) -> io::Result<T>,
) -> io::Result<T> {
    let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority())?;
    with_sandbox_ids(ids, || create(&dir))
}

/// Runs `work` with the file-system ids of the sandbox's root, keeping salve's capabilities:
/// what it creates through an id-mapped folder is root's on disk (the host's root has no id
/// there), and an overlay mounted meanwhile does its own work in the upper folder as that user.
fn with_sandbox_ids<T>(ids: &IdRange, work: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    if ids.is_identity() {
        return work();
    }
    rustix::thread::set_capabilities_secure_bits(CapabilitiesSecureBits::NO_SETUID_FIXUP)?;
    // SAFETY: setfsuid and setfsgid change only this single-threaded process's credentials.
    unsafe {
        libc::setfsgid(ids.gid);
        libc::setfsuid(ids.uid);
    }
    let result = work();
    // SAFETY: as above; back to the host's root.
    unsafe {
        libc::setfsuid(0);
        libc::setfsgid(0);
    }
    rustix::thread::set_capabilities_secure_bits(CapabilitiesSecureBits::empty())?;
    result
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

/// Makes sure the folder `dir` exists under the image folder `root`, created as the sandbox's
/// root, recording the topmost folder it had to create (as an image path). A symbolic link on
/// the way is refused: something is mounted there, and a link could point it anywhere.
fn ensure_dir(
    root: &Path,
    dir: &Path,
    ids: &IdRange,
    created: &mut Vec<PathBuf>,
) -> io::Result<()> {
    let relative = dir.strip_prefix(root).map_err(io::Error::other)?;
    let mut current = root.to_path_buf();
    for part in relative.components() {
        current.push(part);
        if fs::symlink_metadata(&current).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(io::Error::other(format!(
                "the image's /{} is a symbolic link, and salve mounts nothing through one",
                current.strip_prefix(root).unwrap_or(&current).display()
            )));
        }
    }
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
    as_sandbox_root(ids, root, |image| image.create_dir_all(relative))
        .map_err(|error| context(&format!("creating {}", dir.display()), error))?;
    if let Ok(relative) = topmost.strip_prefix(root) {
        created.push(Path::new("/").join(relative));
    }
    Ok(())
}

/// A tmpfs `/dev` with the harmless device files bound from the host; no terminal.
fn minimal_dev(root: &Path, ids: &IdRange, created: &mut Vec<PathBuf>) -> io::Result<()> {
    let dev = root.join("dev");
    ensure_dir(root, &dev, ids, created)?;
    tmpfs(&dev, ids, "755", MountFlags::NOSUID | MountFlags::NOEXEC)
        .map_err(|error| context("mounting /dev", error))?;
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
    tmpfs(
        &shm,
        ids,
        "1777",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
    )
    .map_err(|error| context("mounting /dev/shm", error))
}

/// Binds a resolver file (`host`) over the image's `relative`, so steps resolve names.
fn resolver_file(
    root: &Path,
    relative: &str,
    host: &Path,
    ids: &IdRange,
    created: &mut Vec<PathBuf>,
) -> io::Result<()> {
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
            as_sandbox_root(ids, root, |image| image.write(relative, b""))?;
            created.push(Path::new("/").join(relative));
        }
    }
    mount_bind(host, &target)
        .map_err(|error| context(&format!("binding {}", host.display()), error.into()))
}

/// An error with what was being done.
fn context(what: &str, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{what}: {error}"))
}
