//! `salve patch` end to end on both engines (the local one, and BuildKit in a Docker engine the
//! test starts), on real Debian images: a bookworm image built
//! by `fixtures/images/debian-image.sh` with mmdebstrap from the bookworm suite alone, pushed to
//! a real registry, patched from Trivy reports written here from Debian's live
//! bookworm-security index (never hard-coded versions), and read back from the registry.

mod support;

use salve::image::layout::OciLayout;
use salve::image::read_paths;
use salve::plugin::types::FileKind;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::engine::Engine;
use support::patching::{debian_fixture, has_file, salve_in, tooling_through_policy, workspace};
use support::registry::Registry;
use support::{insert_file, run};

/// One security update available for an installed package.
#[derive(Clone, Debug)]
struct Update {
    /// The binary package.
    package: String,
    /// The version installed.
    installed: String,
    /// The version bookworm-security has.
    fixed: String,
}

/// The updates bookworm-security has for a dpkg status file's packages.
fn security_updates(status: &[u8]) -> Vec<Update> {
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
fn trivy_report(path: &Path, updates: &[Update]) {
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
fn push_minbase(registry: &Registry, tag: &str, extra: &[&str], cache: &Path) -> String {
    let base = format!("{}/debian:{tag}", registry.address);
    let fixture = format!("oci:{}:minbase", debian_fixture("minbase"));
    let mut args = vec!["copy", fixture.as_str(), base.as_str()];
    args.extend_from_slice(extra);
    let (ok, _, stderr) = salve(&Engine::Local, &args, cache);
    assert!(ok, "{stderr}");
    base
}

/// An image read back into a layout: its layer blobs and its config.
struct ReadBack {
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
fn read_back(image: &str, cache: &Path) -> ReadBack {
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
fn status_of(layers: &[PathBuf]) -> Vec<u8> {
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

/// Checks a VEX document against the OpenVEX 0.2.0 schema's rules (required fields, field
/// types, the status values, at least one statement, no unknown fields) and returns its
/// statements.
fn check_openvex(document: &Value) -> Vec<Value> {
    let object = document.as_object().unwrap();
    for key in object.keys() {
        assert!(
            [
                "@context",
                "@id",
                "author",
                "role",
                "timestamp",
                "last_updated",
                "version",
                "tooling",
                "statements"
            ]
            .contains(&key.as_str()),
            "unknown field {key}"
        );
    }
    assert_eq!(document["@context"], "https://openvex.dev/ns/v0.2.0");
    assert!(document["@id"].as_str().unwrap().starts_with("https://"));
    assert!(document["author"].is_string());
    assert!(document["version"].as_u64().unwrap() >= 1);
    let timestamp = |value: &Value| {
        let text = value.as_str().unwrap();
        assert!(
            text.len() == 20 && text.ends_with('Z') && &text[10..11] == "T",
            "{text}"
        );
    };
    timestamp(&document["timestamp"]);
    let statements = document["statements"].as_array().unwrap().clone();
    assert!(!statements.is_empty());
    for statement in &statements {
        for key in statement.as_object().unwrap().keys() {
            assert!(
                [
                    "vulnerability",
                    "timestamp",
                    "products",
                    "status",
                    "@id",
                    "version",
                    "last_updated",
                    "supplier",
                    "status_notes",
                    "justification",
                    "impact_statement",
                    "action_statement",
                    "action_statement_timestamp"
                ]
                .contains(&key.as_str()),
                "{key}"
            );
        }
        assert!(statement["vulnerability"]["name"].is_string());
        assert!(
            ["not_affected", "affected", "fixed", "under_investigation"]
                .contains(&statement["status"].as_str().unwrap())
        );
        timestamp(&statement["timestamp"]);
        for product in statement["products"].as_array().unwrap() {
            assert!(product["@id"].as_str().unwrap().starts_with("pkg:oci/"));
            for sub in product["subcomponents"].as_array().unwrap() {
                assert!(sub["@id"].as_str().unwrap().starts_with("pkg:"));
            }
        }
    }
    statements
}

#[test]
fn a_report_patch_then_an_update_all_repatch_leave_one_patch_layer() {
    a_report_patch_then_an_update_all_repatch_leave_one_patch_layer_on(&Engine::Local);
}

#[test]
fn a_report_patch_then_an_update_all_repatch_leave_one_patch_layer_on_buildkit() {
    a_report_patch_then_an_update_all_repatch_leave_one_patch_layer_on(&Engine::buildkit());
}

#[test]
fn a_report_patch_then_an_update_all_repatch_leave_one_patch_layer_on_a_newer_buildkit_on_a_unix_socket()
 {
    a_report_patch_then_an_update_all_repatch_leave_one_patch_layer_on(
        &Engine::newer_buildkit_on_unix_socket(),
    );
}

/// The test on one engine.
fn a_report_patch_then_an_update_all_repatch_leave_one_patch_layer_on(engine: &Engine) {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();
    let work = tempfile::tempdir().unwrap();
    let base = push_minbase(&registry, "bookworm", &[], cache);
    let original = read_back(&base, cache);
    let updates = security_updates(&status_of(&original.layers));
    assert!(
        updates.len() >= 2,
        "bookworm-security must have updates for the fixture: {updates:?}"
    );

    // Report mode: the first half of the updates.
    let chosen: Vec<Update> = updates
        .iter()
        .take(updates.len().div_ceil(2).min(5))
        .cloned()
        .collect();
    let report = work.path().join("trivy.json");
    trivy_report(&report, &chosen);
    let vex = work.path().join("vex.json");
    let (ok, _, stderr) = salve(
        engine,
        &[
            "patch",
            "-i",
            &base,
            "-r",
            report.to_str().unwrap(),
            "--push",
            "-o",
            vex.to_str().unwrap(),
        ],
        cache,
    );
    assert!(ok, "{stderr}");
    let patched_name = format!("{base}-patched");
    let patched = read_back(&patched_name, cache);
    assert_eq!(
        patched.digests.len(),
        original.digests.len() + 1,
        "exactly one new layer"
    );
    assert_eq!(
        patched.digests[..original.digests.len()],
        original.digests[..],
        "base layers untouched"
    );
    let status = status_of(&patched.layers);
    assert_all_fixed(&status, &chosen);
    assert_eq!(
        patched.config["config"]["Cmd"],
        original.config["config"]["Cmd"]
    );
    assert_eq!(
        patched.config["config"]["Labels"]["sh.salve.base-image"],
        format!("docker://{base}")
    );

    // The VEX document: one statement per finding, the pushed image as product.
    let document: Value = serde_json::from_slice(&std::fs::read(&vex).unwrap()).unwrap();
    let statements = check_openvex(&document);
    assert_eq!(statements.len(), chosen.len());
    let pushed_digest = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--format",
            "{{.Digest}}",
            &format!("docker://{patched_name}"),
        ],
    );
    for (index, update) in chosen.iter().enumerate() {
        let statement = statements
            .iter()
            .find(|s| s["vulnerability"]["name"] == cve(index).as_str())
            .unwrap_or_else(|| panic!("no statement for {}", cve(index)));
        assert_eq!(statement["status"], "fixed");
        let product = &statement["products"][0];
        assert_eq!(
            product["@id"].as_str().unwrap(),
            format!(
                "pkg:oci/debian@{}?repository_url={}/debian",
                pushed_digest.trim().replace(':', "%3A"),
                registry.address
            )
        );
        let now = installed_version(&status, &update.package).unwrap();
        let purl = product["subcomponents"][0]["@id"].as_str().unwrap();
        assert!(
            purl.starts_with(&format!("pkg:deb/debian/{}@", update.package))
                && purl.contains(&now.replace('+', "%2B").replace(':', "%3A")),
            "{purl}"
        );
    }

    // Update-all on the patched image: everything else, still one patch layer.
    let (ok, stdout, stderr) = salve(
        engine,
        &[
            "patch",
            "-i",
            &patched_name,
            "-t",
            "all",
            "--push",
            "--progress",
            "json",
        ],
        cache,
    );
    assert!(ok, "{stderr}");
    let events: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let changed: Vec<&str> = events
        .iter()
        .filter(|event| event["event"] == "package")
        .map(|event| event["package"].as_str().unwrap())
        .collect();
    // Packages the first patch did not already raise (apt pulls in some as dependencies)
    // are in the change list.
    let after_first = status_of(&patched.layers);
    let rest: Vec<&Update> = updates
        .iter()
        .filter(|u| {
            !at_least(
                &installed_version(&after_first, &u.package).unwrap(),
                &u.fixed,
            )
        })
        .collect();
    assert!(
        !rest.is_empty(),
        "the report left updates for update-all: {updates:?}"
    );
    for update in &rest {
        assert!(
            changed.contains(&update.package.as_str()),
            "{} not in the change list {changed:?}",
            update.package
        );
    }
    let again = read_back(&format!("{}/debian:all", registry.address), cache);
    assert_eq!(
        again.digests.len(),
        original.digests.len() + 1,
        "the two patches are one layer"
    );
    let status = status_of(&again.layers);
    assert_all_fixed(&status, &updates);
    let labels = &again.config["config"]["Labels"];
    assert_eq!(
        labels["sh.salve.base-image"],
        format!("docker://{base}"),
        "the first base is remembered"
    );
    assert_eq!(
        labels["sh.salve.patch.layer"],
        again.config["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone()
    );

    // Patching it once more finds nothing to do and writes nothing.
    let (ok, _, stderr) = salve(
        engine,
        &[
            "patch",
            "-i",
            &format!("{}/debian:all", registry.address),
            "-t",
            "none",
            "--push",
        ],
        cache,
    );
    assert!(
        ok && stderr.contains("image is already up to date"),
        "{stderr}"
    );
    let missing = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{}/debian:none", registry.address),
        ])
        .output()
        .unwrap();
    assert!(
        !missing.status.success(),
        "no image is written when nothing changed"
    );
}

#[test]
fn unreachable_repositories_and_unreachable_versions_are_reported() {
    unreachable_repositories_and_unreachable_versions_are_reported_on(&Engine::Local);
}

#[test]
fn unreachable_repositories_and_unreachable_versions_are_reported_on_buildkit() {
    unreachable_repositories_and_unreachable_versions_are_reported_on(&Engine::buildkit());
}

/// The test on one engine.
fn unreachable_repositories_and_unreachable_versions_are_reported_on(engine: &Engine) {
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();
    let work = tempfile::tempdir().unwrap();
    let source = debian_fixture("minbase");
    let layout_dir = work.path().join("layout");
    run("cp", &["-a", &source, layout_dir.to_str().unwrap()]);
    let image = format!("oci:{}:minbase", layout_dir.display());
    let base = read_back(&image, cache);
    let updates = security_updates(&status_of(&base.layers));
    let report = work.path().join("trivy.json");

    // A version no repository has: copa's message, or with --ignore-errors a written image
    // whose VEX document leaves that finding out.
    let mut impossible = updates[0].clone();
    impossible.fixed = format!("{}+salve.test", updates[0].fixed);
    trivy_report(&report, &[updates[1].clone(), impossible.clone()]);
    let out = work.path().join("out");
    let vex = work.path().join("vex.json");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "patch",
            "-i",
            &image,
            "-r",
            report.to_str().unwrap(),
            "--oci-dir",
            out.to_str().unwrap(),
            "-o",
            vex.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let (ok, _, stderr) = salve(engine, &strs(&args(&[])), cache);
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "downloaded package {} version",
            impossible.package
        )) && stderr.contains(&format!(
            "lower than required {} for update",
            impossible.fixed
        )),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is written on failure");
    let (ok, _, stderr) = salve(engine, &strs(&args(&["--ignore-errors"])), cache);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("(ignored)"), "{stderr}");
    let document: Value = serde_json::from_slice(&std::fs::read(&vex).unwrap()).unwrap();
    let statements = check_openvex(&document);
    let names: Vec<&str> = statements
        .iter()
        .map(|s| s["vulnerability"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![cve(0).as_str()],
        "only the fixed finding is in the VEX document"
    );

    // Sources that answer 404, as an end-of-life release's do: the plugin's advice, no image.
    let empty = tempfile::tempdir().unwrap();
    let port = support::registry::free_port();
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
            empty.path().to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sources = work.path().join("sources.list");
    std::fs::write(
        &sources,
        format!("deb http://127.0.0.1:{port}/debian bookworm main\n"),
    )
    .unwrap();
    insert_file(
        &format!("{}:minbase", layout_dir.display()),
        &sources,
        "/etc/apt/sources.list",
    );
    trivy_report(&report, &updates[..1]);
    let eol_out = work.path().join("eol-out");
    // The repository is on this machine's loopback: the steps share its network.
    let patch_failing = || {
        let (ok, _, stderr) = salve_in(
            cache,
            &strs(&engine.host_network_args(&[
                "patch",
                "-i",
                &image,
                "-r",
                report.to_str().unwrap(),
                "--oci-dir",
                eol_out.to_str().unwrap(),
            ])),
            &[],
        );
        assert!(!ok, "{stderr}");
        assert!(!eol_out.exists(), "no image is written");
        stderr
    };
    let stderr = patch_failing();
    let _ = server.kill();
    let _ = server.wait();
    assert!(stderr.contains("404 or no Release file"), "{stderr}");
    assert!(
        stderr.contains("apt-get-update debian 12"),
        "the failed step is named: {stderr}"
    );

    // apt-get update failing for another reason (a broken hook in the image): its own output,
    // and no advice about archives, whatever the release.
    let hook = work.path().join("99broken");
    std::fs::write(&hook, "APT::Update::Pre-Invoke {\"false\";};\n").unwrap();
    insert_file(
        &format!("{}:minbase", layout_dir.display()),
        &hook,
        "/etc/apt/apt.conf.d/99broken",
    );
    let stderr = patch_failing();
    assert!(
        stderr.contains("apt-get-update debian 12") && stderr.contains("Pre-Invoke"),
        "{stderr}"
    );
    assert!(!stderr.contains("archive"), "no archive advice: {stderr}");
}

/// Borrowed arguments.
fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn a_distroless_image_is_patched_through_a_tooling_image_from_the_source_policy() {
    a_distroless_image_is_patched_through_a_tooling_image_from_the_source_policy_on(&Engine::Local);
}

#[test]
fn a_distroless_image_is_patched_through_a_tooling_image_from_the_source_policy_on_buildkit() {
    a_distroless_image_is_patched_through_a_tooling_image_from_the_source_policy_on(
        &Engine::buildkit(),
    );
}

/// The test on one engine.
fn a_distroless_image_is_patched_through_a_tooling_image_from_the_source_policy_on(
    engine: &Engine,
) {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();
    let work = tempfile::tempdir().unwrap();
    // The tooling image the dpkg plugin asks for (debian:12-slim) is served by the local
    // registry, through copa's source policy.
    let policy = work.path().join("policy.json");
    let tooling = tooling_through_policy(
        cache,
        &registry.address,
        "minbase",
        "debian:12-slim",
        "docker.io/library/debian:12-slim",
        &policy,
    );
    let image = format!("oci:{}:distroless", debian_fixture("distroless"));
    let base = read_back(&image, cache);
    let pattern = ["/var/lib/dpkg/status.d/*".to_string()];
    let entries = read_paths(&base.layers, &pattern, 64 << 20).unwrap();
    assert!(
        entries.len() > 20,
        "the fixture keeps one status.d file per package"
    );
    assert!(
        !has_file(&base.layers, "/usr/bin/apt-get"),
        "the fixture has no apt"
    );
    let status: Vec<u8> = entries
        .iter()
        .flat_map(|entry| {
            let mut content = entry.content.clone().unwrap();
            content.extend_from_slice(b"\n");
            content
        })
        .collect();
    // Libraries only: the fixture has removed apt's and dpkg's programs, not their entries.
    let updates: Vec<Update> = security_updates(&status)
        .into_iter()
        .filter(|update| update.package.starts_with("lib") && !update.package.starts_with("libapt"))
        .take(3)
        .collect();
    assert!(!updates.is_empty());
    let report = work.path().join("trivy.json");
    trivy_report(&report, &updates);
    let out = work.path().join("out");
    let (ok, _, stderr) = salve_in(
        cache,
        &strs(&engine.args(&[
            "patch",
            "-i",
            &image,
            "-r",
            report.to_str().unwrap(),
            "--oci-dir",
            out.to_str().unwrap(),
        ])),
        &[(
            "EXPERIMENTAL_BUILDKIT_SOURCE_POLICY",
            policy.to_str().unwrap(),
        )],
    );
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(&tooling),
        "the tooling image came from the policy: {stderr}"
    );
    let patched = read_back(&format!("oci:{}:distroless-patched", out.display()), cache);
    assert_eq!(patched.digests.len(), base.digests.len() + 1);
    for update in &updates {
        let path = format!("/var/lib/dpkg/status.d/{}", update.package);
        let entry = read_paths(&patched.layers, std::slice::from_ref(&path), 1 << 20).unwrap();
        let content = entry[0]
            .content
            .clone()
            .unwrap_or_else(|| panic!("{path} is gone"));
        let version = installed_version(&content, &update.package).unwrap();
        assert!(
            at_least(&version, &update.fixed),
            "{path}: {version}, wanted {}",
            update.fixed
        );
    }
    // Still distroless: the tooling image's programs stayed out of the layer.
    for program in ["/usr/bin/apt-get", "/usr/bin/dpkg", "/bin/sh"] {
        assert!(
            !has_file(&patched.layers, program),
            "{program} leaked into the image"
        );
    }
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

#[test]
fn a_timeout_and_ctrl_c_stop_the_run_and_leave_nothing_behind() {
    use std::io::{BufRead, BufReader};
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();
    let work = tempfile::tempdir().unwrap();
    let image = format!("oci:{}:minbase", debian_fixture("minbase"));
    let out = work.path().join("out");

    let (ok, _, stderr) = salve(
        &Engine::Local,
        &[
            "patch",
            "-i",
            &image,
            "--oci-dir",
            out.to_str().unwrap(),
            "--timeout",
            "2s",
        ],
        cache,
    );
    assert!(!ok);
    assert!(
        stderr.contains("--timeout") && stderr.contains("nothing was written"),
        "{stderr}"
    );
    assert!(!out.exists());
    assert_eq!(leftovers(cache), Vec::<String>::new());
    assert!(no_mounts_under(cache));

    let mut child = Command::new(env!("CARGO_BIN_EXE_salve"))
        .args([
            "patch",
            "-i",
            &image,
            "--oci-dir",
            out.to_str().unwrap(),
            "--cache-dir",
        ])
        .arg(cache)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("running") {
            break;
        }
    }
    assert!(seen.iter().any(|line| line.contains("running")), "{seen:?}");
    run("kill", &["-INT", &child.id().to_string()]);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        rest.iter().any(|line| line.contains("interrupted")),
        "{rest:?}"
    );
    assert!(!out.exists());
    assert_eq!(leftovers(cache), Vec::<String>::new());
    assert!(no_mounts_under(cache));
}

/// A layer's entries without timestamps: path → kind, mode, owner, link target and content
/// digest (whiteouts by their own names).
fn layer_entries(blob: &Path) -> std::collections::BTreeMap<String, String> {
    use sha2::Digest;
    use std::io::Read;
    let file = std::fs::File::open(blob).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut entries = std::collections::BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = String::from_utf8_lossy(&entry.path_bytes())
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let header = entry.header().clone();
        let link = entry
            .link_name()
            .unwrap()
            .map(|target| target.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        let described = format!(
            "{:?} {:o} {}:{} {link} {}",
            header.entry_type(),
            header.mode().unwrap() & 0o7777,
            header.uid().unwrap(),
            header.gid().unwrap(),
            hex::encode(sha2::Sha256::digest(&content))
        );
        entries.insert(path, described);
    }
    entries
}

/// Files whose content records when or where it was made (logs with dates, caches with inode
/// numbers), compared by presence only: these, and everything under `var/log/`.
const VOLATILE: [&str; 1] = ["var/cache/ldconfig/aux-cache"];

#[test]
fn both_engines_make_the_same_patch_layer_from_the_same_plan() {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();
    let work = tempfile::tempdir().unwrap();
    let base = push_minbase(&registry, "parity", &[], cache);
    let buildkit = Engine::buildkit();
    let mut layers = Vec::new();
    for (name, engine) in [("local", &Engine::Local), ("buildkit", &buildkit)] {
        let out = work.path().join(name);
        let (ok, _, stderr) = salve(
            engine,
            &["patch", "-i", &base, "--oci-dir", out.to_str().unwrap()],
            cache,
        );
        assert!(ok, "{name}: {stderr}");
        let patched = read_back(&format!("oci:{}", out.display()), cache);
        layers.push(layer_entries(patched.layers.last().unwrap()));
    }
    let (local, buildkit) = (&layers[0], &layers[1]);
    let only = |a: &std::collections::BTreeMap<String, String>,
                b: &std::collections::BTreeMap<String, String>| {
        a.keys()
            .filter(|path| !b.contains_key(*path))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        (only(local, buildkit), only(buildkit, local)),
        (Vec::new(), Vec::new()),
        "paths only the local engine's layer has, and only BuildKit's"
    );
    assert!(local.len() > 50, "the update-all patch changed files");
    let differing: Vec<&String> = local
        .iter()
        .filter(|(path, entry)| {
            !VOLATILE.contains(&path.as_str())
                && !path.starts_with("var/log/")
                && buildkit.get(*path) != Some(entry)
        })
        .map(|(path, _)| path)
        .collect();
    assert!(
        differing.is_empty(),
        "entries that differ between the engines: {:?}",
        differing
            .iter()
            .map(|path| format!("{path}: {} vs {}", local[*path], buildkit[*path]))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_buildkit_daemon_that_cannot_be_reached_is_named_with_what_to_do() {
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let image = format!("oci:{}:minbase", debian_fixture("minbase"));
    let socket = work.path().join("no-buildkitd.sock");
    let out = work.path().join("out");
    let (ok, _, stderr) = salve_in(
        cache.path(),
        &[
            "patch",
            "-i",
            &image,
            "--oci-dir",
            out.to_str().unwrap(),
            "--addr",
            &format!("unix://{}", socket.display()),
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "cannot reach BuildKit at unix://{}",
            socket.display()
        )),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is written");
    let (ok, _, stderr) = salve_in(
        cache.path(),
        &["patch", "-i", &image, "--addr", "http://builder:1234"],
        &[],
    );
    assert!(!ok);
    assert!(stderr.contains("expected unix:///PATH"), "{stderr}");
}

#[test]
fn a_buildkit_daemon_behind_tls_needs_the_right_certificates() {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();
    let work = tempfile::tempdir().unwrap();
    let base = push_minbase(&registry, "tls", &[], cache);
    let engine = Engine::newer_buildkit_over_tls();
    let out = work.path().join("out");
    let patch = ["patch", "-i", &base, "--oci-dir", out.to_str().unwrap()];
    let (ok, _, stderr) = salve(&engine, &patch, cache);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("on BuildKit at tcp://127.0.0.1:"),
        "{stderr}"
    );
    let patched = read_back(&format!("oci:{}", out.display()), cache);
    let original = read_back(&base, cache);
    assert_eq!(patched.digests.len(), original.digests.len() + 1);
    assert_all_fixed(
        &status_of(&patched.layers),
        &security_updates(&status_of(&original.layers)),
    );

    // Without the client certificate, or trusting another CA, the daemon cannot be reached.
    let Engine::Buildkit(daemon) = &engine else {
        unreachable!("a BuildKit engine")
    };
    let (address, ca) = (&daemon.options[1], &daemon.options[3]);
    let other = support::grpc_proxy::Certificates::new();
    let path = |name: &str| other.file(name).to_str().unwrap().to_string();
    let attempts: [Vec<String>; 2] = [
        vec!["--cacert".into(), ca.clone()],
        vec![
            "--cacert".into(),
            path("ca.crt"),
            "--cert".into(),
            path("client.crt"),
            "--key".into(),
            path("client.key"),
        ],
    ];
    for tls in attempts {
        let mut args: Vec<String> = patch.iter().map(|arg| arg.to_string()).collect();
        args.extend(["--addr".to_string(), address.clone()]);
        args.extend(tls);
        let (ok, _, stderr) = salve(&Engine::Local, &strs(&args), cache);
        assert!(!ok, "{args:?}");
        assert!(
            stderr.contains(&format!("cannot reach BuildKit at {address}")),
            "{stderr}"
        );
    }
}

#[test]
fn buildkit_pulls_from_a_private_registry_with_the_credentials_salve_gives_it() {
    let registry = Registry::with_password("salve", "s3cret");
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();
    let work = tempfile::tempdir().unwrap();
    let auth_file = work.path().join("auth.json");
    let encoded = "c2FsdmU6czNjcmV0"; // base64 of "salve:s3cret"
    std::fs::write(
        &auth_file,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{encoded}"}}}}}}"#,
            registry.address
        ),
    )
    .unwrap();
    let auth = auth_file.to_str().unwrap();
    let base = push_minbase(&registry, "private", &["--authfile", auth], cache);
    // The daemon pulls the image itself, asking salve's session for the credentials.
    let engine = Engine::buildkit();
    let out = work.path().join("out");
    let (ok, _, stderr) = salve(
        &engine,
        &[
            "patch",
            "-i",
            &base,
            "--authfile",
            auth,
            "--oci-dir",
            out.to_str().unwrap(),
        ],
        cache,
    );
    assert!(ok, "{stderr}");
    assert!(stderr.contains("on BuildKit at docker://"), "{stderr}");
    assert!(out.join("index.json").exists());
}

#[test]
fn a_timeout_and_ctrl_c_cancel_the_build_on_buildkit_and_write_nothing() {
    use std::io::{BufRead, BufReader};
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let base = push_minbase(&registry, "cancel", &[], cache.path());
    let engine = Engine::buildkit();
    let out = work.path().join("out");
    let args = engine.args(&["patch", "-i", &base, "--oci-dir", out.to_str().unwrap()]);

    // A time limit shorter than the build: it is cancelled, nothing is written. (On a slow
    // machine the limit may pass before the build starts; the message says so either way.)
    let mut limited = strs(&args);
    limited.extend(["--timeout", "8s"]);
    let (ok, _, stderr) = salve(&Engine::Local, &limited, cache.path());
    assert!(!ok);
    assert!(
        stderr.contains("--timeout") && stderr.contains("nothing was written"),
        "{stderr}"
    );
    assert!(!out.exists());

    let mut child = Command::new(env!("CARGO_BIN_EXE_salve"))
        .args(&args)
        .arg("--cache-dir")
        .arg(cache.path())
        .args(["--progress", "plain"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let Engine::Buildkit(daemon) = &engine else {
        unreachable!("a BuildKit engine")
    };
    // Processes under dockerd that a build runs (not containerd and its shims).
    let build_processes = || -> Vec<String> {
        daemon
            .docker
            .descendants()
            .into_iter()
            .filter(|name| !name.starts_with("containerd") && name != "docker-proxy")
            .collect()
    };
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("on BuildKit") {
            break;
        }
    }
    assert!(
        seen.iter().any(|line| line.contains("on BuildKit")),
        "{seen:?}"
    );
    // Ctrl-C while a step runs on the daemon.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while build_processes().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no step started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    run("kill", &["-INT", &child.id().to_string()]);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        rest.iter().any(|line| line.contains("interrupted")),
        "{rest:?}"
    );
    assert!(!out.exists(), "nothing is written");
    // The daemon stops the build: none of the steps' processes stay.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let left = build_processes();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running under dockerd: {left:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
