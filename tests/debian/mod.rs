//! `salve patch` end to end on real Debian images, by subject: the Debian flow ([`flow`]), the
//! BuildKit engine ([`buildkit`]), stopping a run ([`cancellation`]), the cache runs share
//! ([`cache`]), mirrors ([`mirror`]) and Chiseled images ([`chisel`]). The images are a bookworm
//! image built by `fixtures/images/debian-image.sh` with mmdebstrap from the bookworm suite
//! alone, pushed to a real registry, patched from Trivy reports written here from Debian's live
//! bookworm-security index (never hard-coded versions), and read back from the registry.

mod buildkit;
mod cache;
mod cancellation;
mod chisel;
mod flow;
mod generate;
mod mirror;
mod native;

use crate::support::engine::Engine;
use crate::support::patching::{
    debian_fixture, has_file, layer_entries, salve_in, tooling_through_policy, workspace,
};
use crate::support::registry::Registry;
use crate::support::vex::check_openvex;
use crate::support::{insert_file, run};
use salve::image::layout::OciLayout;
use salve::image::read_paths;
use salve::plugin::types::FileKind;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One security update available for an installed package.
#[derive(Clone, Debug)]
pub(crate) struct Update {
    /// The binary package.
    package: String,
    /// The version installed.
    installed: String,
    /// The version bookworm-security has.
    fixed: String,
}

/// The updates bookworm-security has for a dpkg status file's packages.
pub(crate) fn security_updates(status: &[u8]) -> Vec<Update> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), status).unwrap();
    let script = workspace().join("fixtures/images/security-updates.py");
    let listed: Value = serde_json::from_str(&run(
        "python3",
        &[script.to_str().unwrap(), file.path().to_str().unwrap()],
    ))
    .unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| Update {
            package: entry["package"].as_str().unwrap().into(),
            installed: entry["installed"].as_str().unwrap().into(),
            fixed: entry["fixed"].as_str().unwrap().into(),
        })
        .collect()
}

/// The CVE id the reports give update `index`.
fn cve(index: usize) -> String {
    format!("CVE-2099-{:05}", 10_000 + index)
}

/// A Trivy (schema 2) report with one finding per update.
pub(crate) fn trivy_report(path: &Path, updates: &[Update]) {
    let vulnerabilities: Vec<Value> = updates
        .iter()
        .enumerate()
        .map(|(index, update)| {
            json!({"VulnerabilityID": cve(index), "PkgName": update.package,
                   "InstalledVersion": update.installed, "FixedVersion": update.fixed,
                   "Severity": "HIGH"})
        })
        .collect();
    let report = json!({
        "SchemaVersion": 2,
        "ArtifactName": "debian:bookworm",
        "ArtifactType": "container_image",
        "Metadata": {"OS": {"Family": "debian", "Name": "12.0"},
                     "ImageConfig": {"architecture": "amd64", "os": "linux"}},
        "Results": [{"Target": "debian:bookworm (debian 12.0)", "Class": "os-pkgs",
                     "Type": "debian", "Vulnerabilities": vulnerabilities}],
    });
    std::fs::write(path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
}

/// Runs salve on `engine` with a private cache; its success, stdout and stderr.
fn salve(engine: &Engine, args: &[&str], cache: &Path) -> (bool, String, String) {
    salve_in(cache, &strs(&engine.args(args)), &[])
}

/// Pushes the minbase fixture to `registry` as `debian:TAG` (`extra`: more `salve copy`
/// options); returns the image's reference.
pub(crate) fn push_minbase(registry: &Registry, tag: &str, extra: &[&str], cache: &Path) -> String {
    let base = format!("{}/debian:{tag}", registry.address);
    let fixture = format!("oci:{}:minbase", debian_fixture("minbase"));
    let mut args = vec!["copy", fixture.as_str(), base.as_str()];
    args.extend_from_slice(extra);
    let (ok, _, stderr) = salve(&Engine::Local, &args, cache);
    assert!(ok, "{stderr}");
    base
}

/// What a report-mode test starts from: the minbase fixture pushed to a fresh registry as
/// `debian:TAG`, read back, and a Trivy report of its first security updates.
struct ReportCase {
    /// The registry (stopped when dropped).
    _registry: Registry,
    /// The cache folder the test's salve runs share.
    cache: tempfile::TempDir,
    /// A folder for the report and what the test writes.
    work: tempfile::TempDir,
    /// The pushed image's reference.
    base: String,
    /// The pushed image, read back.
    original: ReadBack,
    /// The updates the report asks for.
    chosen: Vec<Update>,
    /// The report.
    report: PathBuf,
}

/// A [`ReportCase`] whose report asks for the first `count` security updates.
fn report_case(tag: &str, count: usize) -> ReportCase {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let base = push_minbase(&registry, tag, &[], cache.path());
    let original = read_back(&base, cache.path());
    let updates = security_updates(&status_of(&original.layers));
    assert!(
        !updates.is_empty(),
        "bookworm-security must have updates for the fixture"
    );
    let chosen: Vec<Update> = updates.into_iter().take(count).collect();
    let report = work.path().join("trivy.json");
    trivy_report(&report, &chosen);
    ReportCase {
        _registry: registry,
        cache,
        work,
        base,
        original,
        chosen,
        report,
    }
}

/// An image read back into a layout: its layer blobs and its config.
pub(crate) struct ReadBack {
    /// Layer blob paths, bottom first.
    layers: Vec<PathBuf>,
    /// The layer digests.
    digests: Vec<String>,
    /// The configuration.
    config: Value,
    /// Keeps the layout.
    _dir: tempfile::TempDir,
}

/// Pulls an image with salve into a fresh layout.
pub(crate) fn read_back(image: &str, cache: &Path) -> ReadBack {
    let dir = tempfile::tempdir().unwrap();
    let target = format!("oci:{}:x", dir.path().display());
    let (ok, _, stderr) = salve(&Engine::Local, &["copy", image, &target], cache);
    assert!(ok, "{stderr}");
    let layout = OciLayout::open(dir.path()).unwrap();
    let manifest: Value = serde_json::from_slice(
        &layout
            .read_blob(&layout.resolve(Some("x")).unwrap().digest)
            .unwrap(),
    )
    .unwrap();
    let digests: Vec<String> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| layer["digest"].as_str().unwrap().to_string())
        .collect();
    let config = serde_json::from_slice(
        &layout
            .read_blob(manifest["config"]["digest"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    ReadBack {
        layers: digests
            .iter()
            .map(|d| layout.blob_path(d).unwrap())
            .collect(),
        digests,
        config,
        _dir: dir,
    }
}

/// The dpkg status file an image's layers hold.
pub(crate) fn status_of(layers: &[PathBuf]) -> Vec<u8> {
    let files = read_paths(layers, &["/var/lib/dpkg/status".to_string()], 64 << 20).unwrap();
    assert_eq!(files[0].kind, FileKind::File);
    files[0].content.clone().unwrap()
}

/// The installed version of a package in a status file.
fn installed_version(status: &[u8], package: &str) -> Option<String> {
    let text = String::from_utf8_lossy(status);
    text.split("\n\n").find_map(|stanza| {
        let mut lines = stanza.lines();
        let name = lines.clone().find_map(|l| l.strip_prefix("Package: "))?;
        (name == package).then(|| {
            lines
                .find_map(|l| l.strip_prefix("Version: "))
                .map(str::to_string)
        })?
    })
}

/// Asserts every update is installed at least at its fixed version in a status file.
fn assert_all_fixed(status: &[u8], updates: &[Update]) {
    for update in updates {
        let now = installed_version(status, &update.package).unwrap();
        assert!(
            at_least(&now, &update.fixed),
            "{} is {now}, wanted {}",
            update.package,
            update.fixed
        );
    }
}

/// True when `a >= b` by dpkg's rules.
fn at_least(a: &str, b: &str) -> bool {
    Command::new("dpkg")
        .args(["--compare-versions", a, "ge", b])
        .status()
        .unwrap()
        .success()
}

/// Borrowed arguments.
fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// True when no mount under `dir` is left in this process's mount table.
fn no_mounts_under(dir: &Path) -> bool {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    !table.contains(dir.to_str().unwrap())
}

/// The entries left in the cache's working folder.
fn leftovers(cache: &Path) -> Vec<String> {
    std::fs::read_dir(cache.join("work"))
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}
