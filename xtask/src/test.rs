//! `cargo xtask test`: makes sure the tools the tests compare against are installed, then runs
//! every test of the workspace.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

/// Debian packages the tests need: the real tools salve's version orders are checked against
/// (pacman's `vercmp`, and the shell libraries `repo-add` loads, come with makepkg, which pacman
/// only recommends),
/// Python for the fixture scripts, zstd to make zstd layers, skopeo and umoci, which make and read
/// the OCI layouts salve reads and writes, the registry the tests pull from, the Docker
/// engine the `docker-daemon:` transport talks to, mmdebstrap, which builds the Debian images
/// `salve patch` is tested on, dnf, createrepo_c and cpio, which build the RPM fixtures, and
/// curl, xz-utils and openssl, which fetch a newer Docker engine for the BuildKit tests and make
/// their TLS certificates, slirp4netns, which gives the local engine's steps their network,
/// uidmap (newuidmap, newgidmap), with which it runs rootless, db5.3-util, whose `db5.3_load`
/// writes the Berkeley DB rpm databases the rpm plugin is checked on, and qemu-user-static,
/// binfmt-support and arch-test, with which mmdebstrap builds the arm64 fixture (only that: the
/// native engine patches it without emulation).
const TEST_PACKAGES: &[&str] = &[
    "rpm",
    "python3",
    "python3-packaging",
    "python3-jsonschema",
    "python3-pip",
    "pacman-package-manager",
    "makepkg",
    "libarchive-tools",
    "zypper",
    "zstd",
    "skopeo",
    "umoci",
    "docker-registry",
    "docker.io",
    "mmdebstrap",
    "dnf",
    "createrepo-c",
    "cpio",
    "curl",
    "xz-utils",
    "openssl",
    "slirp4netns",
    "uidmap",
    "db5.3-util",
    "qemu-user-static",
    "binfmt-support",
    "arch-test",
];

/// Installs missing test packages (as root, with apt-get) and runs `cargo test --workspace`.
pub fn run(workspace: &Path, extra_args: &[&str]) -> Result<()> {
    let missing: Vec<&str> = TEST_PACKAGES
        .iter()
        .copied()
        .filter(|package| !is_installed(package))
        .collect();
    if !missing.is_empty() {
        install(&missing)?;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace)
        .args(["test", "--workspace", "--locked"])
        .args(extra_args)
        .status()
        .context("running cargo test")?;
    if !status.success() {
        bail!("the tests failed ({status})");
    }
    Ok(())
}

/// True when dpkg lists the package as installed.
fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|output| {
            String::from_utf8_lossy(&output.stdout).ends_with("install ok installed")
        })
}

/// Installs packages with apt-get when running as root; otherwise says what to run.
fn install(packages: &[&str]) -> Result<()> {
    let line = format!(
        "apt-get install -y --no-install-recommends {}",
        packages.join(" ")
    );
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0");
    if !is_root {
        bail!("the tests need Debian packages that are not installed; run as root:\n  {line}");
    }
    eprintln!(
        "installing the packages the tests need: {}",
        packages.join(" ")
    );
    let update = Command::new("apt-get").args(["update", "-q"]).status()?;
    let install = Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()?;
    if !update.success() || !install.success() {
        bail!("installing the test packages failed; try:\n  {line}");
    }
    Ok(())
}
