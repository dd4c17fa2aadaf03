//! The built-in `pacman` ecosystem plugin: every WIT function through the sandbox, its version
//! order checked against pacman's own `vercmp` on thousands of generated pairs, and an image
//! patched end to end by its own pacman (Debian's build of pacman 6, in an image whose
//! os-release says Arch Linux) from a repository `repo-add` indexed, served on loopback.

use crate::support::engine::Engine;
use crate::support::insert_file;
use crate::support::patching::{fixture_script, image_layers, layer_file_paths, salve_in};
use crate::support::served::Served;
use crate::support::{Generator, amd64, assert_same_order, file, run};
use salve::image::read_paths;
use salve::plugin::Plugin;
use salve::plugin::types::{FileKind, OsInfo, PlanRequest, RequestedUpdate};
use serde_json::json;
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// The built-in pacman plugin.
fn pacman() -> Plugin {
    crate::support::built_in("pacman")
}

fn arch() -> OsInfo {
    crate::support::os("arch", "")
}

const DESC: &str = "%NAME%\nsalve-demo\n\n%VERSION%\n1.0-1\n\n%BASE%\nsalve-demo\n\n\
    %ARCH%\nx86_64\n\n%DEPENDS%\nsalve-demo-lib>=1.0\n\n";

#[test]
fn every_function_answers_through_the_sandbox() {
    let plugin = pacman();
    let ecosystem = plugin.as_ecosystem().unwrap();
    let probes = ecosystem.probe_paths().unwrap();
    assert!(probes.contains(&"/var/lib/pacman/local/ALPM_DB_VERSION".to_string()));
    let files = [
        file("/var/lib/pacman/local/ALPM_DB_VERSION", "9\n"),
        file("/usr/bin/pacman", "\x7fELF"),
        file("/etc/pacman.conf", "[options]\nIgnorePkg = linux\n"),
    ];
    let target = ecosystem
        .detect(&arch(), &files)
        .unwrap()
        .expect("an Arch image is the pacman plugin's");
    assert_eq!(target.held, ["linux"]);
    assert!(!target.distroless);
    let desc = file("/var/lib/pacman/local/salve-demo-1.0-1/desc", DESC);
    let installed = ecosystem.installed(&[desc]).unwrap();
    assert_eq!(installed[0].version, "1.0-1");
    assert_eq!(
        ecosystem.compare_versions("1:1.0-1", "2.0-1").unwrap(),
        Ordering::Greater
    );
    assert_eq!(
        ecosystem
            .tooling_image(&arch(), &amd64(), &target, false)
            .unwrap(),
        None
    );
    let plan = ecosystem
        .plan(&PlanRequest {
            os: arch(),
            platform: amd64(),
            target,
            updates: vec![RequestedUpdate {
                package: "salve-demo".into(),
                fixed_version: "1.1-1".into(),
                path: None,
            }],
            tooling_image: None,
        })
        .unwrap();
    assert_eq!(plan.steps[0].argv[..3], ["pacman", "-Sy", "--needed"]);
    assert_eq!(plan.database_paths, ["/var/lib/pacman/local/*/desc"]);
    assert_eq!(
        ecosystem.purl(&installed[0], &arch(), &amd64()).unwrap(),
        "pkg:alpm/arch/salve-demo@1.0-1?arch=x86_64"
    );
}

/// A version shaped like Arch's, with vercmp's odd corners: letters, several separators,
/// leading zeros, `~` (a plain separator to pacman), epochs and point releases.
fn arch_version(generator: &mut Generator) -> String {
    let epoch = generator.pick(&["", "", "", "1:", "2:", "0:"]);
    let mut version = generator
        .pick(&["1", "2", "0", "10", "007", "5", "20240101"])
        .to_string();
    for _ in 0..(generator.next() % 4) {
        version.push_str(generator.pick(&[".", ".", "_", "+", "~", "..", ""]));
        version.push_str(generator.pick(&[
            "0",
            "1",
            "2",
            "13",
            "a",
            "rc1",
            "alpha",
            "r123.gabcdef",
            "p1",
            "b",
            "01",
        ]));
    }
    let release = generator.pick(&["", "-1", "-2", "-10", "-1.1", "-3.2"]);
    format!("{epoch}{version}{release}")
}

/// `vercmp`'s answers for many pairs, from one shell running it once per pair.
fn vercmp_orders(pairs: &[(String, String)]) -> Vec<Ordering> {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("pairs");
    let lines: Vec<String> = pairs.iter().map(|(a, b)| format!("{a} {b}")).collect();
    std::fs::write(&list, lines.join("\n") + "\n").unwrap();
    let script = format!(
        "while read -r a b; do vercmp \"$a\" \"$b\"; done < {}",
        list.display()
    );
    run("sh", &["-c", &script])
        .lines()
        .map(|line| line.trim().parse::<i64>().unwrap().cmp(&0))
        .collect()
}

#[test]
fn the_order_agrees_with_vercmp_on_thousands_of_pairs() {
    let mut generator = Generator(0xa1b);
    let pairs: Vec<(String, String)> = (0..3000)
        .map(|_| (arch_version(&mut generator), arch_version(&mut generator)))
        .collect();
    assert_same_order(&pacman(), &pairs, &vercmp_orders(&pairs));
}

/// The pacman fixtures' folder (`repo/`, `layout/`).
fn pacman_fixtures() -> PathBuf {
    PathBuf::from(fixture_script("fixtures/pacman/build.sh", &[]))
}

/// A copy of the fixture layout in `work` whose image's pacman.conf names the repository at
/// `port`; the `oci:` reference to the image.
fn image(work: &Path, fixtures: &Path, port: u16) -> String {
    let layout = work.join("layout");
    run(
        "cp",
        &[
            "-r",
            fixtures.join("layout").to_str().unwrap(),
            layout.to_str().unwrap(),
        ],
    );
    let conf = work.join("pacman.conf");
    std::fs::write(
        &conf,
        format!(
            "[options]\nArchitecture = auto\nSigLevel = Never\nLocalFileSigLevel = Never\n\n\
             [salve]\nServer = http://127.0.0.1:{port}\n"
        ),
    )
    .unwrap();
    let image = format!("{}:pacman", layout.display());
    insert_file(&image, &conf, "/etc/pacman.conf");
    format!("oci:{image}")
}

/// The text of a file in an image's layers.
fn text(layers: &[PathBuf], path: &str) -> Option<String> {
    let found = read_paths(layers, &[path.to_string()], 1 << 20).unwrap();
    let file = found.into_iter().next()?;
    (file.kind == FileKind::File).then(|| String::from_utf8(file.content.unwrap()).unwrap())
}

/// A Trivy report naming Arch packages (Trivy's family name for Arch is `arch`).
fn trivy_report(path: &Path, findings: &[(&str, &str, &str)]) {
    let vulnerabilities: Vec<_> = findings
        .iter()
        .enumerate()
        .map(|(at, (name, installed, fixed))| {
            json!({"VulnerabilityID": format!("CVE-2099-7000{at}"), "PkgName": name,
                   "InstalledVersion": installed, "FixedVersion": fixed, "Status": "fixed"})
        })
        .collect();
    let report = json!({
        "SchemaVersion": 2, "ArtifactName": "arch-app",
        "Metadata": {"OS": {"Family": "arch", "Name": ""},
                     "ImageConfig": {"architecture": "amd64", "os": "linux"}},
        "Results": [{"Target": "arch-app", "Class": "os-pkgs", "Type": "arch",
                     "Vulnerabilities": vulnerabilities}],
    });
    std::fs::write(path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
}

#[test]
fn arch_images_are_patched_by_their_own_pacman() {
    let fixtures = pacman_fixtures();
    let served = Served::start(&fixtures.join("repo"));
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let input = image(work.path(), &fixtures, served.port);
    let base = image_layers(&work.path().join("layout"), "pacman");
    assert_eq!(
        text(&base, "/usr/share/salve-demo/version.txt").as_deref(),
        Some("salve-demo 1.0-1\n")
    );
    let patch = |report: Option<&Path>, tag: &str| {
        let out = work.path().join("out");
        let mut args = vec![
            "patch".to_string(),
            "-i".into(),
            input.clone(),
            "-t".into(),
            tag.into(),
            "--oci-dir".into(),
            out.to_str().unwrap().into(),
        ];
        if let Some(report) = report {
            args.extend(["-r".into(), report.to_str().unwrap().into()]);
        }
        let args =
            Engine::Local.host_network_args(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, _, stderr) = salve_in(&cache, &args, &[]);
        assert!(ok, "{stderr}");
        (stderr, image_layers(&out, tag))
    };

    // A report naming salve-demo alone: pacman installs 1.1, and the library 1.1 that version
    // needs.
    let report = work.path().join("trivy.json");
    trivy_report(&report, &[("salve-demo", "1.0-1", "1.1-1")]);
    let (stderr, patched) = patch(Some(&report), "from-report");
    assert!(stderr.contains("salve-demo 1.0-1 -> 1.1-1"), "{stderr}");
    assert!(stderr.contains("salve-demo-lib 1.0-1 -> 1.1-1"), "{stderr}");
    assert_eq!(patched.len(), base.len() + 1, "one patch layer");
    for name in ["salve-demo", "salve-demo-lib"] {
        assert_eq!(
            text(&patched, &format!("/usr/share/{name}/version.txt")).unwrap(),
            format!("{name} 1.1-1\n")
        );
        let desc = text(
            &patched,
            &format!("/var/lib/pacman/local/{name}-1.1-1/desc"),
        )
        .unwrap();
        assert!(desc.contains("%VERSION%\n1.1-1\n"), "{desc}");
    }
    // The old versions' database folders are gone, and nothing of pacman's downloads is kept.
    assert_eq!(
        text(&patched, "/var/lib/pacman/local/salve-demo-1.0-1/desc"),
        None
    );
    let written = layer_file_paths(patched.last().unwrap());
    assert!(
        written
            .iter()
            .all(|path| !path.starts_with("var/cache/pacman/pkg/")
                && !path.starts_with("var/lib/pacman/sync/")),
        "{written:?}"
    );

    // Without a report, everything the repository has newer is upgraded.
    let (stderr, patched) = patch(None, "update-all");
    assert!(stderr.contains("salve-demo 1.0-1 -> 1.1-1"), "{stderr}");
    assert!(stderr.contains("salve-demo-lib 1.0-1 -> 1.1-1"), "{stderr}");
    assert_eq!(
        text(&patched, "/usr/share/salve-demo-lib/version.txt").unwrap(),
        "salve-demo-lib 1.1-1\n"
    );
}
