//! `salve patch` of RPM images on the local engine, with real packages and package managers:
//! `fixtures/rpm/build.sh` builds two versions of two packages with rpmbuild, a repository with
//! createrepo_c, and Azure Linux 3.0 images holding the old versions (made with
//! `dnf --installroot`): one with only the distroless manifests, one with an rpm database and
//! no package manager. The test serves the repository over HTTP on loopback under
//! `$releasever/$basearch/`, as Azure Linux's own repository files name theirs, and supplies the
//! tooling image (a Debian image with dnf, of no RPM release at all) from a local registry
//! through copa's source policy.

use crate::support::engine::Engine;
use crate::support::patching::{
    fixture_script, has_file, image_layers, layer_file_paths, salve_in, tooling_through_policy,
};
use crate::support::registry::Registry;
use crate::support::served::Served;
use crate::support::{insert_file, run};
use salve::image::read_paths;
use salve::plugin::types::FileKind;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The RPM fixtures' folder (`repo/`, `layout/`).
fn rpm_fixtures() -> PathBuf {
    PathBuf::from(fixture_script("fixtures/rpm/build.sh", &[]))
}

/// Both fixture packages.
pub(crate) const BOTH: &[&str] = &["salve-demo-lib", "salve-demo-app"];

/// A Trivy report for the Azure Linux image: the named packages, 1.0-1 to 1.1-1, each with its
/// own vulnerability id.
pub(crate) fn trivy_report(path: &Path, packages: &[&str]) {
    let findings: Vec<Value> = packages
        .iter()
        .map(|name| {
            json!({"VulnerabilityID": format!("CVE-2099-{}", if name.ends_with("lib") { 50001 } else { 50002 }),
                   "PkgName": name, "InstalledVersion": "1.0-1", "FixedVersion": "1.1-1"})
        })
        .collect();
    let report = json!({
        "SchemaVersion": 2,
        "ArtifactName": "azurelinux-app",
        "Metadata": {"OS": {"Family": "azurelinux", "Name": "3.0"},
                     "ImageConfig": {"architecture": "amd64", "os": "linux"}},
        "Results": [{"Target": "azurelinux-app (azurelinux 3.0)", "Class": "os-pkgs",
                     "Type": "azurelinux", "Vulnerabilities": findings}],
    });
    std::fs::write(path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
}

/// A file of the image, as text.
fn text(layers: &[PathBuf], path: &str) -> Option<String> {
    let files = read_paths(layers, &[path.to_string()], 1 << 20).unwrap();
    (files[0].kind == FileKind::File)
        .then(|| String::from_utf8(files[0].content.clone().unwrap()).unwrap())
}

/// What RPM patches need around them: the fixture repository served over HTTP on loopback
/// (where `$releasever/$basearch` lead: 3.0 and this machine's architecture), the tooling image
/// the rpm plugin asks for in a local registry with a source policy naming it, and a copy of
/// the fixture layout whose images name the served repository.
pub(crate) struct RpmSite {
    /// Serves the repository (stopped when dropped).
    _repo: Served,
    /// The served folder.
    _served: tempfile::TempDir,
    /// The source policy converting the plugin's tooling image into the local one.
    pub policy: PathBuf,
    /// The tooling image, in the registry.
    pub tooling: String,
    /// The layout copy (tags `distroless` and `chroot`).
    pub layout: PathBuf,
}

impl RpmSite {
    /// Serves the repository, pushes the tooling image to `registry` and writes the policy and
    /// the layout (its images tagged `modes` name the repository) into `work`.
    pub(crate) fn start(registry: &Registry, cache: &Path, work: &Path, modes: &[&str]) -> RpmSite {
        let fixtures = rpm_fixtures();
        let served = tempfile::tempdir().unwrap();
        std::fs::create_dir(served.path().join("3.0")).unwrap();
        std::os::unix::fs::symlink(
            fixtures.join("repo"),
            served.path().join("3.0").join(std::env::consts::ARCH),
        )
        .unwrap();
        let repo = Served::start(served.path());
        let policy = work.join("policy.json");
        let tooling = tooling_through_policy(
            cache,
            &registry.address,
            "dnf",
            "azurelinux-core:3.0",
            "mcr.microsoft.com/azurelinux/base/core:3.0",
            &policy,
        );
        let layout = work.join("layout");
        run(
            "cp",
            &[
                "-a",
                fixtures.join("layout").to_str().unwrap(),
                layout.to_str().unwrap(),
            ],
        );
        let repo_file = work.join("salve.repo");
        std::fs::write(
            &repo_file,
            format!("[salve]\nname=salve test repository\nbaseurl=http://127.0.0.1:{}/$releasever/$basearch/\nenabled=1\ngpgcheck=0\n", repo.port),
        )
        .unwrap();
        for mode in modes {
            insert_file(
                &format!("{}:{mode}", layout.display()),
                &repo_file,
                "/etc/yum.repos.d/salve.repo",
            );
        }
        RpmSite {
            _repo: repo,
            _served: served,
            policy,
            tooling,
            layout,
        }
    }
}

/// What patching a fixture image produced.
struct Patched {
    /// Keeps the layouts.
    _work: tempfile::TempDir,
    /// The original image's layers.
    base: Vec<PathBuf>,
    /// The last patched image's layers.
    layers: Vec<PathBuf>,
    /// The last run's VEX document.
    vex: Value,
}

/// Patches the fixture image tagged `mode` once per stage (each stage's report names the
/// packages given, and patches the previous stage's output), and checks that the last image
/// has every package's 1.1 files, nothing of the tooling image and nothing of the package
/// managers' bookkeeping, and that patching it again with the last report writes nothing; on
/// `engine`.
fn patch_mode(engine: &Engine, mode: &str, stages: &[&[&str]]) -> Patched {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let salve = |args: &[&str], env: &[(&str, &str)]| {
        let (ok, _, stderr) = salve_in(cache.path(), args, env);
        assert!(ok, "salve {args:?}: {stderr}");
        stderr
    };
    let site = RpmSite::start(&registry, cache.path(), work.path(), &[mode]);
    let (policy, tooling, layout) = (&site.policy, &site.tooling, &site.layout);
    let base = image_layers(layout, mode);
    assert_eq!(
        text(&base, "/usr/share/salve-demo/lib.txt").unwrap(),
        "lib 1.0\n"
    );

    let mut input = format!("oci:{}:{mode}", layout.display());
    let report = work.path().join("trivy.json");
    let vex = work.path().join("vex.json");
    let patch = |input: &str, out: &Path| {
        salve(
            &strs(&engine.host_network_args(&[
                "patch",
                "-i",
                input,
                "-r",
                report.to_str().unwrap(),
                "-t",
                "patched",
                "--oci-dir",
                out.to_str().unwrap(),
                "-o",
                vex.to_str().unwrap(),
            ])),
            &[(
                "EXPERIMENTAL_BUILDKIT_SOURCE_POLICY",
                policy.to_str().unwrap(),
            )],
        )
    };
    for (index, packages) in stages.iter().enumerate() {
        trivy_report(&report, packages);
        let out = work.path().join(format!("out-{index}"));
        let stderr = patch(&input, &out);
        assert!(stderr.contains(tooling.as_str()), "{stderr}");
        input = format!("oci:{}:patched", out.display());
    }
    // Once more with the last report: the image already has the fixed versions.
    let again = work.path().join("out-again");
    let stderr = patch(&input, &again);
    assert!(stderr.contains("image is already up to date"), "{stderr}");
    assert!(!again.exists(), "nothing written");
    let out = work.path().join(format!("out-{}", stages.len() - 1));
    let patched = image_layers(&out, "patched");
    assert_eq!(patched.len(), base.len() + 1, "one patch layer");
    assert_eq!(
        text(&patched, "/usr/share/salve-demo/lib.txt").unwrap(),
        "lib 1.1\n"
    );
    assert_eq!(
        text(&patched, "/usr/share/salve-demo/app.txt").unwrap(),
        "app 1.1\n"
    );
    for program in ["/usr/bin/dnf", "/usr/bin/rpm", "/bin/sh"] {
        assert!(
            !has_file(&patched, program),
            "{program} leaked from the tooling image"
        );
    }
    // The patch layer: the packages' files and the package lists, no caches, history or logs.
    for path in layer_file_paths(patched.last().unwrap()) {
        let allowed = path.starts_with("usr/share/salve-demo/")
            || path.starts_with("var/lib/rpm/")
            || path.starts_with("var/lib/rpmmanifest/");
        assert!(allowed, "{path} is in the patch layer");
    }
    let vex: Value = serde_json::from_slice(&std::fs::read(&vex).unwrap()).unwrap();
    Patched {
        _work: work,
        base,
        layers: patched,
        vex,
    }
}

/// Checks the VEX statements name `count` packages' new versions as `pkg:rpm` purls.
fn check_vex(document: &Value, count: usize) {
    let statements = document["statements"].as_array().unwrap();
    assert_eq!(statements.len(), count);
    for statement in statements {
        assert_eq!(statement["status"], "fixed");
        let purl = statement["products"][0]["subcomponents"][0]["@id"]
            .as_str()
            .unwrap();
        assert!(
            purl.starts_with("pkg:rpm/azurelinux/salve-demo-") && purl.contains("@1.1-1"),
            "{purl}"
        );
    }
}

#[test]
fn a_distroless_azure_linux_image_gets_both_manifests_rewritten() {
    let patched = patch_mode(&Engine::Local, "distroless", &[BOTH]);
    check_manifests(&patched.layers);
    check_vex(&patched.vex, 2);
}

#[test]
fn a_distroless_azure_linux_image_gets_both_manifests_rewritten_on_buildkit() {
    // The plan's query writes /salve-results/rpm-qa, read back through a second solve.
    let patched = patch_mode(&Engine::buildkit(), "distroless", &[BOTH]);
    check_manifests(&patched.layers);
    check_vex(&patched.vex, 2);
}

/// The arguments as string slices.
fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn a_second_rpm_patch_is_squashed_into_the_first() {
    let patched = patch_mode(
        &Engine::Local,
        "distroless",
        &[&["salve-demo-lib"], &["salve-demo-app"]],
    );
    assert_eq!(
        patched.layers.len(),
        patched.base.len() + 1,
        "both patches in one layer"
    );
    check_manifests(&patched.layers);
    check_vex(&patched.vex, 1);
}

/// Checks both distroless manifests name the 1.1 versions, in their formats, and that the image
/// still has no rpm database.
fn check_manifests(patched: &[PathBuf]) {
    let manifest_2 = text(patched, "/var/lib/rpmmanifest/container-manifest-2").unwrap();
    let manifest_1 = text(patched, "/var/lib/rpmmanifest/container-manifest-1").unwrap();
    for name in ["salve-demo-lib", "salve-demo-app"] {
        let line = manifest_2
            .lines()
            .find(|line| line.split('\t').next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing from container-manifest-2:\n{manifest_2}"));
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            fields.len(),
            10,
            "container-manifest-2's ten tab-separated fields: {line}"
        );
        assert_eq!(fields[1], "1.1-1");
        assert_eq!(fields[7], "noarch");
        assert!(
            manifest_1
                .lines()
                .any(|l| l == format!("{name}-1.1-1.noarch")),
            "{manifest_1}"
        );
        assert!(
            !manifest_1.contains(&format!("{name}-1.0-1")),
            "{manifest_1}"
        );
    }
    assert_eq!(manifest_2.lines().count(), 2);
    assert!(
        !has_file(patched, "/var/lib/rpm/rpmdb.sqlite"),
        "still no rpm database"
    );
}

#[test]
fn an_image_with_an_rpm_database_and_no_manager_is_updated_with_dnf_installroot() {
    let patched = patch_mode(&Engine::Local, "chroot", &[BOTH]);
    assert!(has_file(&patched.layers, "/var/lib/rpm/rpmdb.sqlite"));
    check_vex(&patched.vex, 2);
}

#[test]
fn a_suse_image_is_patched_by_its_own_zypper() {
    // Debian's zypper and rpm in an image whose os-release says SLES 15 SP6, the 1.0 packages in
    // its rpm database: a report naming the app alone gets app 1.1 and the lib 1.1 it needs,
    // from the repository zypper reads through the image's own repository file.
    let fixtures = rpm_fixtures();
    let served = Served::start(&fixtures.join("repo"));
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let source = fixture_script("fixtures/rpm/zypper-image.sh", &[]);
    run("cp", &["-r", &source, layout.to_str().unwrap()]);
    let repo_file = work.path().join("salve.repo");
    std::fs::write(
        &repo_file,
        format!(
            "[salve]\nname=salve test repository\nbaseurl=http://127.0.0.1:{}/\nenabled=1\n\
             autorefresh=1\ngpgcheck=0\n",
            served.port
        ),
    )
    .unwrap();
    let image = format!("{}:zypper", layout.display());
    insert_file(&image, &repo_file, "/etc/zypp/repos.d/salve.repo");
    let base = image_layers(&layout, "zypper");
    assert_eq!(
        text(&base, "/usr/share/salve-demo/lib.txt").unwrap(),
        "lib 1.0\n"
    );
    let report = work.path().join("trivy.json");
    std::fs::write(
        &report,
        serde_json::to_vec(&json!({
            "SchemaVersion": 2, "ArtifactName": "sles-app",
            "Metadata": {"OS": {"Family": "suse linux enterprise server", "Name": "15.6"}},
            "Results": [{"Target": "sles-app (suse linux enterprise server 15.6)",
                         "Class": "os-pkgs", "Type": "suse linux enterprise server",
                         "Vulnerabilities": [{"VulnerabilityID": "CVE-2099-50002",
                             "PkgName": "salve-demo-app", "InstalledVersion": "1.0-1",
                             "FixedVersion": "1.1-1"}]}],
        }))
        .unwrap(),
    )
    .unwrap();
    let out = work.path().join("out");
    let input = format!("oci:{image}");
    let args = Engine::Local.host_network_args(&[
        "patch",
        "-i",
        &input,
        "-r",
        report.to_str().unwrap(),
        "-t",
        "patched",
        "--oci-dir",
        out.to_str().unwrap(),
    ]);
    let (ok, _, stderr) = salve_in(&work.path().join("cache"), &strs(&args), &[]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("salve-demo-app 1.0-1 -> 1.1-1"), "{stderr}");
    assert!(stderr.contains("salve-demo-lib 1.0-1 -> 1.1-1"), "{stderr}");
    let patched = image_layers(&out, "patched");
    assert_eq!(patched.len(), base.len() + 1, "one patch layer");
    assert_eq!(
        text(&patched, "/usr/share/salve-demo/lib.txt").unwrap(),
        "lib 1.1\n"
    );
    let written = layer_file_paths(patched.last().unwrap());
    assert!(
        written
            .iter()
            .all(|path| !path.starts_with("var/cache/zypp/") && !path.starts_with("var/log/zypp")),
        "zypper's caches and logs stay out: {written:?}"
    );
    assert!(
        written.contains(&"var/lib/rpm/rpmdb.sqlite".to_string()),
        "{written:?}"
    );
}
