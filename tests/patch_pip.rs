//! `salve patch` of Python packages (experimental, as in copa) on the local engine: a bookworm
//! image with old releases of pure-Python packages installed from PyPI into Debian's
//! `/usr/local/lib/python3.11/dist-packages` and into a virtual environment at `/opt/app`
//! (`fixtures/images/debian-image.sh python`), and one without pip (`python-nopip`) patched
//! through a tooling image supplied by copa's source policy. Fixed versions come from PyPI at
//! the time of the run.

use crate::support::engine::Engine;
use crate::support::patching::{
    debian_fixture, image_layers, layer_file_paths, salve_in, tooling_through_policy, workspace,
};
use crate::support::registry::Registry;
use crate::support::run;
use salve::image::read_paths;
use salve::plugin::types::FileKind;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The newest release of a PyPI project starting with `prefix`.
fn pypi_latest(name: &str, prefix: &str) -> String {
    let script = workspace().join("fixtures/images/pypi-latest.py");
    run("python3", &[script.to_str().unwrap(), name, prefix])
        .trim()
        .to_string()
}

/// The Python environments of the fixture and their site-packages folders (relative, as Trivy
/// writes `PkgPath`).
pub(crate) const LOCAL: &str = "usr/local/lib/python3.11/dist-packages";
/// The virtual environment's site-packages folder.
pub(crate) const VENV: &str = "opt/app/lib/python3.11/site-packages";
/// Environments where Dockerfiles put them: three virtual environments outside `/opt` and a
/// user's site (`pip install --user`).
const ANYWHERE: [&str; 4] = [
    "app/.venv/lib/python3.11/site-packages",
    "venv/lib/python3.11/site-packages",
    "srv/service/env/lib/python3.11/site-packages",
    "home/app/.local/lib/python3.11/site-packages",
];

/// One Python finding.
pub(crate) struct PythonFinding {
    /// The distribution.
    name: &'static str,
    /// The version the fixture installs.
    installed: &'static str,
    /// The version to reach.
    fixed: String,
    /// The site-packages folder.
    folder: &'static str,
    /// The vulnerability id.
    id: String,
}

/// A Trivy report with Python findings, each with its `PkgPath`, and optionally OS findings.
pub(crate) fn trivy_report(path: &Path, python: &[PythonFinding], os: &[(String, String, String)]) {
    let python: Vec<Value> = python
        .iter()
        .map(|finding| {
            json!({"VulnerabilityID": finding.id, "PkgName": finding.name,
                   "InstalledVersion": finding.installed, "FixedVersion": finding.fixed,
                   "PkgPath": format!("{}/{}-{}.dist-info/METADATA", finding.folder, finding.name, finding.installed)})
        })
        .collect();
    let os: Vec<Value> = os
        .iter()
        .map(|(name, installed, fixed)| {
            json!({"VulnerabilityID": "CVE-2099-30000", "PkgName": name,
                   "InstalledVersion": installed, "FixedVersion": fixed})
        })
        .collect();
    let report = json!({
        "SchemaVersion": 2,
        "ArtifactName": "python-app",
        "Metadata": {"OS": {"Family": "debian", "Name": "12.0"},
                     "ImageConfig": {"architecture": "amd64", "os": "linux"}},
        "Results": [
            {"Target": "python-app (debian 12.0)", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": os},
            {"Target": "Python", "Class": "lang-pkgs", "Type": "python-pkg", "Vulnerabilities": python},
        ],
    });
    std::fs::write(path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
}

/// Runs `salve` with a private cache and extra environment; success and stderr.
///
/// pip in the image must trust what this machine trusts to reach PyPI (a proxy with its own CA,
/// say): salve passes the bundle `PIP_CERT` names to the steps, so the tests name this machine's
/// bundle when the environment does not already.
fn salve(engine: &Engine, args: &[&str], cache: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let bundle = pip_cert();
    let mut env = env.to_vec();
    env.extend(bundle.iter().map(|(name, value)| (*name, value.as_str())));
    let args = engine.args(args);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, _, stderr) = salve_in(cache, &args, &env);
    (ok, stderr)
}

/// `PIP_CERT` for the steps: the environment's, else this machine's bundle, when it is a file.
pub(crate) fn pip_cert() -> Vec<(&'static str, String)> {
    let bundle = std::env::var("PIP_CERT")
        .unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".to_string());
    if Path::new(&bundle).is_file() {
        vec![("PIP_CERT", bundle)]
    } else {
        Vec::new()
    }
}

/// A relative path with its `..` segments applied.
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            ".." => {
                parts.pop();
            }
            "" | "." => {}
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// The versions of `name` whose METADATA is in `folder` of the image.
fn versions_in(layers: &[PathBuf], folder: &str, name: &str) -> Vec<String> {
    let pattern = format!("/{folder}/{name}-*.dist-info/METADATA");
    read_paths(layers, &[pattern], 1 << 20)
        .unwrap()
        .into_iter()
        .filter(|file| file.kind == FileKind::File)
        .filter_map(|file| {
            let text = String::from_utf8(file.content.unwrap()).unwrap();
            text.lines()
                .find_map(|line| line.strip_prefix("Version: ").map(str::to_string))
        })
        .collect()
}

/// The findings for urllib3 and idna in the given folders.
pub(crate) fn findings(folders: &[&'static str]) -> Vec<PythonFinding> {
    let urllib3 = pypi_latest("urllib3", "1.26.");
    let idna = pypi_latest("idna", "");
    let mut findings = Vec::new();
    for (index, folder) in folders.iter().enumerate() {
        findings.push(PythonFinding {
            name: "urllib3",
            installed: "1.26.5",
            fixed: urllib3.clone(),
            folder,
            id: format!("CVE-2099-3{index}001"),
        });
        findings.push(PythonFinding {
            name: "idna",
            installed: "2.10",
            fixed: idna.clone(),
            folder,
            id: format!("CVE-2099-3{index}002"),
        });
    }
    findings
}

#[test]
fn python_packages_are_updated_with_pip_in_each_environment_and_os_packages_alongside() {
    python_packages_are_updated_on(&Engine::Local);
}

#[test]
fn python_packages_are_updated_with_pip_in_each_environment_and_os_packages_alongside_on_buildkit()
{
    // pip reaches PyPI trusting the CA bundle salve puts in the results mount with a FileOp.
    python_packages_are_updated_on(&Engine::buildkit());
}

/// The test on one engine.
fn python_packages_are_updated_on(engine: &Engine) {
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let image = format!("oci:{}:python", debian_fixture("python"));
    let python = findings(&[LOCAL, VENV]);
    // One OS finding as well: both ecosystems land in one patch layer.
    let status = read_paths(
        &image_layers(Path::new(&debian_fixture("python")), "python"),
        &["/var/lib/dpkg/status".to_string()],
        64 << 20,
    )
    .unwrap();
    let status_file = work.path().join("status");
    std::fs::write(&status_file, status[0].content.as_ref().unwrap()).unwrap();
    let script = workspace().join("fixtures/images/security-updates.py");
    let updates: Value = serde_json::from_str(&run(
        "python3",
        &[script.to_str().unwrap(), status_file.to_str().unwrap()],
    ))
    .unwrap();
    let os_update = updates[0].clone();
    let os = [(
        os_update["package"].as_str().unwrap().to_string(),
        os_update["installed"].as_str().unwrap().to_string(),
        os_update["fixed"].as_str().unwrap().to_string(),
    )];
    let report = work.path().join("trivy.json");
    trivy_report(&report, &python, &os);
    let out = work.path().join("out");
    let vex = work.path().join("vex.json");
    let (ok, stderr) = salve(
        engine,
        &[
            "patch",
            "-i",
            &image,
            "-r",
            report.to_str().unwrap(),
            "--oci-dir",
            out.to_str().unwrap(),
            "-o",
            vex.to_str().unwrap(),
        ],
        cache.path(),
        &[],
    );
    assert!(ok, "{stderr}");
    let patched = image_layers(&out, "python-patched");
    let base = image_layers(Path::new(&debian_fixture("python")), "python");
    assert_eq!(
        patched.len(),
        base.len() + 1,
        "OS and Python updates in one patch layer"
    );
    for finding in &python {
        let versions = versions_in(&patched, finding.folder, finding.name);
        assert_eq!(
            versions,
            vec![finding.fixed.clone()],
            "{} in /{}",
            finding.name,
            finding.folder
        );
    }
    let document: Value = serde_json::from_slice(&std::fs::read(&vex).unwrap()).unwrap();
    let statements = document["statements"].as_array().unwrap();
    assert_eq!(statements.len(), python.len() + 1);
    for finding in &python {
        let statement = statements
            .iter()
            .find(|s| s["vulnerability"]["name"] == finding.id.as_str())
            .unwrap();
        let purl = statement["products"][0]["subcomponents"][0]["@id"]
            .as_str()
            .unwrap();
        assert_eq!(purl, format!("pkg:pypi/{}@{}", finding.name, finding.fixed));
    }
    let os_statement = statements
        .iter()
        .find(|s| s["vulnerability"]["name"] == "CVE-2099-30000")
        .unwrap();
    assert!(
        os_statement["products"][0]["subcomponents"][0]["@id"]
            .as_str()
            .unwrap()
            .starts_with("pkg:deb/debian/")
    );
}

#[test]
fn an_image_without_pip_is_patched_through_a_python_tooling_image() {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    // The pip plugin asks for python:3.11-slim; the local registry serves a Debian image with
    // Python and pip under that name through the source policy.
    let policy = work.path().join("policy.json");
    let tooling = tooling_through_policy(
        cache.path(),
        &registry.address,
        "python",
        "python:3.11-slim",
        "docker.io/library/python:3.11-slim",
        &policy,
    );
    let layout = debian_fixture("python-nopip");
    let base = image_layers(Path::new(&layout), "python-nopip");
    let pip = read_paths(
        &base,
        &["/usr/lib/python3/dist-packages/pip/__init__.py".to_string()],
        1 << 20,
    )
    .unwrap();
    assert_eq!(pip[0].kind, FileKind::Missing, "the fixture has no pip");
    let python = findings(&[LOCAL]);
    let report = work.path().join("trivy.json");
    trivy_report(&report, &python, &[]);
    let out = work.path().join("out");
    let (ok, stderr) = salve(
        &Engine::Local,
        &[
            "patch",
            "-i",
            &format!("oci:{layout}:python-nopip"),
            "-r",
            report.to_str().unwrap(),
            "--oci-dir",
            out.to_str().unwrap(),
        ],
        cache.path(),
        &[(
            "EXPERIMENTAL_BUILDKIT_SOURCE_POLICY",
            policy.to_str().unwrap(),
        )],
    );
    assert!(ok, "{stderr}");
    assert!(stderr.contains(&tooling), "{stderr}");
    let patched = image_layers(&out, "python-nopip-patched");
    assert_eq!(patched.len(), base.len() + 1);
    for finding in &python {
        let versions = versions_in(&patched, finding.folder, finding.name);
        assert_eq!(
            versions,
            vec![finding.fixed.clone()],
            "the old dist-info is gone: {}",
            finding.name
        );
    }
    let pip = read_paths(
        &patched,
        &["/usr/lib/python3/dist-packages/pip/__init__.py".to_string()],
        1 << 20,
    )
    .unwrap();
    assert_eq!(
        pip[0].kind,
        FileKind::Missing,
        "the tooling image's pip stayed out"
    );
}

#[test]
fn environments_anywhere_are_found_and_a_finding_salve_cannot_place_is_never_skipped_silently() {
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let layout = debian_fixture("python");
    let image = format!("oci:{layout}:python");
    let mut python = findings(&ANYWHERE);
    // Two findings for one package that disagree: PEP 440 puts the release candidate below its
    // release (a generic order puts it above, and pip would be asked for an rc PyPI lacks).
    let release = python[2].fixed.clone();
    python.push(PythonFinding {
        name: "urllib3",
        installed: "1.26.5",
        fixed: format!("{release}rc1"),
        folder: ANYWHERE[1],
        id: "CVE-2099-39998".into(),
    });
    // A finding for a distribution the environment does not have.
    python.push(PythonFinding {
        name: "requests",
        installed: "2.25.0",
        fixed: "2.32.0".into(),
        folder: ANYWHERE[0],
        id: "CVE-2099-39999".into(),
    });
    let report = work.path().join("trivy.json");
    trivy_report(&report, &python, &[]);
    let out = work.path().join("out");
    let vex = work.path().join("vex.json");
    let patch = |extra: &[&str]| {
        let mut args = vec![
            "patch",
            "-i",
            &image,
            "-r",
            report.to_str().unwrap(),
            "--oci-dir",
            out.to_str().unwrap(),
            "-o",
            vex.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let args = Engine::Local.args(&args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let bundle = pip_cert();
        let env: Vec<(&str, &str)> = bundle
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        salve_in(cache.path(), &args, &env)
    };

    // The package that is not there fails the run before anything runs, named with the reason.
    let (ok, _, stderr) = patch(&[]);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("package requests (required 2.32.0) was not patched")
            && stderr
                .contains("not installed in the image at /app/.venv/lib/python3.11/site-packages")
            && stderr.contains("nothing was run")
            && stderr.contains("--ignore-errors"),
        "{stderr}"
    );
    assert!(!out.exists() && !vex.exists(), "nothing written");

    // With --ignore-errors: every environment patched, the finding reported and left out of VEX.
    let (ok, events, stderr) = patch(&["--ignore-errors", "--progress", "json"]);
    assert!(ok, "{stderr}");
    let events: Vec<Value> = events
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let shortfall = events
        .iter()
        .find(|event| event["event"] == "shortfall")
        .expect("a shortfall event");
    assert_eq!(shortfall["shortfall"]["package"], "requests");
    let done = events
        .iter()
        .find(|event| event["event"] == "done")
        .unwrap();
    assert_eq!(done["shortfalls"].as_array().unwrap().len(), 1);

    let patched = image_layers(&out, "python-patched");
    let checked = python
        .iter()
        .filter(|finding| finding.name != "requests" && !finding.fixed.ends_with("rc1"));
    for finding in checked {
        assert_eq!(
            versions_in(&patched, finding.folder, finding.name),
            vec![finding.fixed.clone()],
            "{} in /{}",
            finding.name,
            finding.folder
        );
    }
    let document: Value = serde_json::from_slice(&std::fs::read(&vex).unwrap()).unwrap();
    let statements = document["statements"].as_array().unwrap();
    assert_eq!(statements.len(), python.len() - 1);
    assert!(
        statements
            .iter()
            .all(|statement| statement["vulnerability"]["name"] != "CVE-2099-39999")
    );

    // The patch layer holds the patched distributions and nothing else: no bytecode of pip or
    // of Debian's Python, no caches, no temporary files. A distribution's files are its folders
    // in site-packages and what its RECORD lists elsewhere (console scripts in `bin/`).
    let layer = patched.last().unwrap();
    let mut recorded: Vec<String> = Vec::new();
    for folder in ANYWHERE {
        let records = read_paths(
            std::slice::from_ref(layer),
            &[format!("/{folder}/*.dist-info/RECORD")],
            1 << 20,
        )
        .unwrap();
        for record in records {
            let text = String::from_utf8(record.content.unwrap()).unwrap();
            for line in text.lines() {
                let file = line.split(',').next().unwrap();
                recorded.push(normalise(&format!("{folder}/{file}")));
            }
        }
    }
    let paths = layer_file_paths(layer);
    assert!(!paths.is_empty());
    for path in &paths {
        let in_package_folder = ANYWHERE.iter().any(|folder| {
            path.strip_prefix(&format!("{folder}/"))
                .is_some_and(|rest| {
                    let top = rest.split('/').next().unwrap().trim_start_matches(".wh.");
                    top.starts_with("urllib3") || top.starts_with("idna")
                })
        });
        // A folder the install created is marked opaque: fine when it holds recorded files.
        let opaque_over_recorded = path.strip_suffix("/.wh..wh..opq").is_some_and(|folder| {
            recorded
                .iter()
                .any(|file| file.starts_with(&format!("{folder}/")))
        });
        assert!(
            in_package_folder || recorded.contains(path) || opaque_over_recorded,
            "{path} is not a file of a patched distribution"
        );
    }

    // Without a report, library packages stay as they are, and the run says where they are.
    let (_, stderr) = salve(
        &Engine::Local,
        &[
            "patch",
            "-i",
            &image,
            "--oci-dir",
            work.path().join("all").to_str().unwrap(),
            "--timeout",
            "30s",
        ],
        cache.path(),
        &[],
    );
    let note = stderr
        .lines()
        .find(|line| line.contains("are left as they are"))
        .unwrap_or_else(|| panic!("{stderr}"));
    for folder in ANYWHERE.iter().chain([&VENV, &LOCAL]) {
        assert!(note.contains(&format!("/{folder}")), "{folder}: {note}");
    }
}

#[test]
fn python_packages_are_installed_natively_in_every_environment_as_pip_would_leave_them() {
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let layout = debian_fixture("python");
    let image = format!("oci:{layout}:python");
    let mut folders = vec![LOCAL, VENV];
    folders.extend(ANYWHERE);
    let python = findings(&folders);
    let report = work.path().join("trivy.json");
    trivy_report(&report, &python, &[]);
    let out = work.path().join("out");
    let vex = work.path().join("vex.json");
    let (ok, stderr) = salve(
        &Engine::Native,
        &[
            "patch",
            "-i",
            &image,
            "-r",
            report.to_str().unwrap(),
            "--oci-dir",
            out.to_str().unwrap(),
            "-o",
            vex.to_str().unwrap(),
        ],
        cache.path(),
        &[],
    );
    assert!(ok, "{stderr}");
    assert!(stderr.contains("no bytecode was written"), "{stderr}");
    let patched = image_layers(&out, "python-patched");
    let base = image_layers(Path::new(&layout), "python");
    assert_eq!(patched.len(), base.len() + 1, "one patch layer");
    for finding in &python {
        assert_eq!(
            versions_in(&patched, finding.folder, finding.name),
            vec![finding.fixed.clone()],
            "{} in /{}",
            finding.name,
            finding.folder
        );
    }
    let document: Value = serde_json::from_slice(&std::fs::read(&vex).unwrap()).unwrap();
    assert_eq!(
        crate::support::vex::check_openvex(&document).len(),
        python.len()
    );

    // What pip itself says of the result, run in it (outside salve): every environment lists
    // the fixed versions and nothing it cannot read, its requirements hold, the packages import,
    // and the new RECORD lets pip uninstall what was installed.
    let root = tempfile::tempdir().unwrap();
    salve::image::unpack::unpack_layers(&patched, root.path(), Default::default()).unwrap();
    let in_image = |args: &[&str]| {
        let output = Command::new("chroot")
            .arg(root.path())
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{args:?}: {text}");
        text
    };
    let urllib3 = &python[0].fixed;
    let idna = &python[1].fixed;
    for folder in &folders {
        let listed = in_image(&[
            "/usr/bin/python3",
            "-m",
            "pip",
            "list",
            "--disable-pip-version-check",
            "--path",
            &format!("/{folder}"),
        ]);
        assert!(!listed.contains("WARNING"), "/{folder}: {listed}");
        for (name, version) in [("urllib3", urllib3), ("idna", idna)] {
            assert!(
                listed
                    .lines()
                    .any(|line| line.split_whitespace().collect::<Vec<_>>() == [name, version]),
                "{name} {version} in /{folder}: {listed}"
            );
        }
    }
    for prefix in ["/opt/app", "/app/.venv", "/venv", "/srv/service/env"] {
        let python = format!("{prefix}/bin/python3");
        let check = in_image(&[&python, "-m", "pip", "check", "--disable-pip-version-check"]);
        assert!(
            check.contains("No broken requirements found"),
            "{prefix}: {check}"
        );
        let imported = in_image(&[
            &python,
            "-c",
            "import idna, urllib3; print(idna.__version__, urllib3.__version__)",
        ]);
        assert_eq!(imported.trim(), format!("{idna} {urllib3}"), "{prefix}");
    }
    let uninstalled = in_image(&[
        "/opt/app/bin/python3",
        "-m",
        "pip",
        "uninstall",
        "--yes",
        "--disable-pip-version-check",
        "idna",
    ]);
    assert!(
        uninstalled.contains(&format!("Successfully uninstalled idna-{idna}")),
        "{uninstalled}"
    );
    assert!(versions_in_root(root.path(), VENV, "idna").is_empty());
}

/// The versions of `name` whose METADATA is in `folder` under an unpacked root.
fn versions_in_root(root: &Path, folder: &str, name: &str) -> Vec<String> {
    std::fs::read_dir(root.join(folder))
        .unwrap()
        .filter_map(|entry| {
            let file_name = entry.unwrap().file_name().to_string_lossy().into_owned();
            file_name
                .strip_prefix(&format!("{name}-"))
                .and_then(|rest| rest.strip_suffix(".dist-info"))
                .map(str::to_string)
        })
        .collect()
}
