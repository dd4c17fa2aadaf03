//! `salve bulk` end to end on the local engine: ten images of three ecosystems in a test
//! registry, named by one copa `PatchConfig` with each of its tag strategies — Debian images
//! patched from reports and one updated as a whole, two Python images (pip from PyPI), both RPM
//! fixture images (the repository served on loopback, the tooling image through a source
//! policy), and one image whose layer the registry serves corrupted. Nine are patched and pushed,
//! the broken one is reported, and the run says so with its exit code. An ignored test times the
//! same configuration one image at a time and two at a time (`scripts/bench-bulk.sh`).

use crate::debian::{push_minbase, security_updates, status_of};
use crate::patch_pip::{LOCAL, VENV, findings, pip_cert};
use crate::patch_rpm::{BOTH, RpmSite};
use crate::support::patching::{debian_fixture, image_layers, salve_in};
use crate::support::registry::Registry;
use crate::support::{insert_file, run};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// Tags of the Debian repository: the pattern `^[0-9]$` with `maxTags: 4` chooses 5, 4, 3, 2.
const DEBIAN_TAGS: [&str; 6] = ["1", "2", "3", "4", "5", "edge"];

/// The registry, images, reports and configuration of a bulk run.
struct BulkSite {
    /// The registry (stopped when dropped).
    registry: Registry,
    /// What RPM patches need (the served repository, the policy).
    rpm: RpmSite,
    /// The cache folder the runs share.
    cache: tempfile::TempDir,
    /// The configuration and its reports.
    work: tempfile::TempDir,
    /// Findings per report-driven Debian tag.
    debian_findings: BTreeMap<String, usize>,
    /// Findings of the Python report.
    python_findings: usize,
    /// The digest of the layer the registry serves corrupted.
    corrupted: String,
}

impl BulkSite {
    /// Pushes the ten images and writes the reports and the configuration.
    fn start() -> BulkSite {
        let registry = Registry::start();
        let cache = tempfile::tempdir().unwrap();
        let work = tempfile::tempdir().unwrap();
        let reports = work.path().join("reports");
        std::fs::create_dir(&reports).unwrap();
        let salve = |args: &[&str]| {
            let (ok, _, stderr) = salve_in(cache.path(), args, &[]);
            assert!(ok, "salve {args:?}: {stderr}");
        };

        // Debian: one report per tag, tag N asking for N-1 of the security updates.
        for tag in DEBIAN_TAGS {
            push_minbase(&registry, tag, &[], cache.path());
        }
        let minbase = image_layers(Path::new(&debian_fixture("minbase")), "minbase");
        let updates = security_updates(&status_of(&minbase));
        let mut debian_findings = BTreeMap::new();
        for tag in ["2", "3", "4", "5"] {
            let count = (tag.parse::<usize>().unwrap() - 1).min(updates.len());
            crate::debian::trivy_report(
                &reports.join(format!("debian-{tag}.json")),
                &updates[..count],
            );
            debian_findings.insert(tag.to_string(), count);
        }

        // Python: two tags of the fixture, one report of urllib3 and idna in two environments.
        let python = format!("oci:{}:python", debian_fixture("python"));
        for tag in ["a", "b"] {
            salve(&[
                "copy",
                &python,
                &format!("{}/python:{tag}", registry.address),
            ]);
        }
        let python_findings = findings(&[LOCAL, VENV]);
        crate::patch_pip::trivy_report(&reports.join("python.json"), &python_findings, &[]);

        // RPM: both fixture images, naming the served repository.
        let rpm = RpmSite::start(
            &registry,
            cache.path(),
            work.path(),
            &["distroless", "chroot"],
        );
        for mode in ["distroless", "chroot"] {
            salve(&[
                "copy",
                &format!("oci:{}:{mode}", rpm.layout.display()),
                &format!("{}/azurelinux:{mode}", registry.address),
            ]);
        }
        crate::patch_rpm::trivy_report(&reports.join("rpm.json"), BOTH);

        // Broken: minbase with a layer of its own, which the registry's storage then corrupts.
        let layout = work.path().join("broken");
        run(
            "cp",
            &["-a", &debian_fixture("minbase"), layout.to_str().unwrap()],
        );
        let marker = work.path().join("marker");
        std::fs::write(&marker, vec![b'x'; 4096]).unwrap();
        insert_file(
            &format!("{}:minbase", layout.display()),
            &marker,
            "/etc/marker",
        );
        salve(&[
            "copy",
            &format!("oci:{}:minbase", layout.display()),
            &format!("{}/broken:1", registry.address),
        ]);
        let own_layer = image_layers(&layout, "minbase").pop().unwrap();
        let hex = own_layer.file_name().unwrap().to_str().unwrap().to_string();
        let stored = registry
            .storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(&hex)
            .join("data");
        let mut bytes = std::fs::read(&stored).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&stored, bytes).unwrap();

        std::fs::write(work.path().join("bulk.yaml"), config(&registry.address)).unwrap();
        BulkSite {
            registry,
            rpm,
            cache,
            work,
            debian_findings,
            python_findings: python_findings.len(),
            corrupted: format!("sha256:{hex}"),
        }
    }

    /// Runs `salve bulk` on the configuration with `extra` options; its success, stdout, stderr.
    fn bulk(&self, extra: &[&str]) -> (bool, String, String) {
        let config = self.work.path().join("bulk.yaml");
        let mut args = vec![
            "bulk",
            config.to_str().unwrap(),
            "--push",
            "--network",
            "host",
        ];
        args.extend_from_slice(extra);
        let certificate = pip_cert();
        let mut env = vec![(
            "EXPERIMENTAL_BUILDKIT_SOURCE_POLICY",
            self.rpm.policy.to_str().unwrap(),
        )];
        env.extend(
            certificate
                .iter()
                .map(|(name, value)| (*name, value.as_str())),
        );
        salve_in(self.cache.path(), &args, &env)
    }

    /// The digest the registry has for `repository:tag`.
    fn digest_of(&self, image: &str) -> String {
        let (repository, tag) = image
            .strip_prefix(&format!("{}/", self.registry.address))
            .unwrap()
            .rsplit_once(':')
            .unwrap();
        let headers = run(
            "curl",
            &[
                "-sfI",
                "-H",
                "Accept: application/vnd.oci.image.manifest.v1+json, \
                 application/vnd.oci.image.index.v1+json, \
                 application/vnd.docker.distribution.manifest.v2+json",
                &format!(
                    "http://{}/v2/{repository}/manifests/{tag}",
                    self.registry.address
                ),
            ],
        );
        headers
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .starts_with("docker-content-digest:")
                    .then(|| line.split_once(':').unwrap().1.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no digest for {image}: {headers}"))
    }
}

/// The configuration: every strategy, a target tag template, reports by tag, one entry
/// without a report (every upgradable package).
fn config(registry: &str) -> String {
    format!(
        r#"apiVersion: copa.sh/v1alpha1
kind: PatchConfig
images:
  - name: debian
    image: {registry}/debian
    tags:
      strategy: pattern
      pattern: "^[0-9]$"
      maxTags: 4
    report: "reports/debian-{{{{ .SourceTag }}}}.json"
  - name: debian-all
    image: {registry}/debian
    tags:
      strategy: list
      list: ["1"]
    target:
      tag: "{{{{ .SourceTag }}}}-all"
  - name: python
    image: {registry}/python
    tags:
      strategy: list
      list: ["a", "b"]
    report: reports/python.json
  - name: azurelinux
    image: {registry}/azurelinux
    tags:
      strategy: list
      list: ["distroless", "chroot"]
    report: reports/rpm.json
  - name: broken
    image: {registry}/broken
    tags:
      strategy: latest
"#
    )
}

/// A result's text field.
fn field<'a>(result: &'a Value, name: &str) -> &'a str {
    result[name].as_str().unwrap_or_default()
}

#[test]
fn ten_images_are_patched_at_once_and_the_broken_one_is_reported() {
    let site = BulkSite::start();
    let (ok, stdout, stderr) = site.bulk(&["--jobs", "2", "--format", "json"]);
    assert!(!ok, "one image is broken, so the run fails: {stderr}");
    assert!(
        stderr.contains("1 of 10 image(s) were not patched"),
        "{stderr}"
    );
    let output: Value = serde_json::from_str(&stdout).unwrap();
    let results = output["results"].as_array().unwrap();
    let images: Vec<&str> = results.iter().map(|r| field(r, "image")).collect();
    let registry = &site.registry.address;
    let expected: Vec<String> = [
        "debian:5",
        "debian:4",
        "debian:3",
        "debian:2",
        "debian:1",
        "python:a",
        "python:b",
        "azurelinux:distroless",
        "azurelinux:chroot",
        "broken:1",
    ]
    .iter()
    .map(|image| format!("{registry}/{image}"))
    .collect();
    assert_eq!(images, expected, "the tags each strategy chooses, in order");

    for result in results {
        let image = field(result, "image");
        let name = field(result, "name");
        if name == "broken" {
            assert_eq!(field(result, "status"), "failed", "{result}");
            let error = field(result, "error");
            assert!(
                error.contains(&site.corrupted) && error.contains("digest"),
                "the corrupt blob is named: {result}"
            );
            continue;
        }
        assert_eq!(field(result, "status"), "patched", "{result}");
        let target = field(result, "target");
        assert_eq!(
            site.digest_of(target),
            field(result, "digest"),
            "{target} holds what the run reports"
        );
        let packages = result["packages"].as_u64().unwrap() as usize;
        let fixed = result["vulnerabilities"].as_u64().unwrap() as usize;
        let tag = image.rsplit_once(':').unwrap().1;
        match name {
            "debian" => {
                assert_eq!(target, format!("{registry}/debian:{tag}-patched"));
                assert_eq!(fixed, site.debian_findings[tag], "{result}");
                assert!(packages >= fixed, "{result}");
            }
            "debian-all" => {
                assert_eq!(target, format!("{registry}/debian:1-all"));
                assert!(packages > 0 && fixed == 0, "{result}");
            }
            "python" => {
                assert_eq!(fixed, site.python_findings, "{result}");
                assert_eq!(packages, 2, "urllib3 and idna: {result}");
            }
            "azurelinux" => assert_eq!((packages, fixed), (2, 2), "{result}"),
            other => panic!("unexpected entry {other}"),
        }
    }
    // What the tag rules left out was not written.
    for left in ["debian:edge-patched", "debian:1-patched"] {
        let (repository, tag) = left.split_once(':').unwrap();
        let url = format!("http://{registry}/v2/{repository}/manifests/{tag}");
        let found = std::process::Command::new("curl")
            .args(["-sf", "-o", "/dev/null", &url])
            .status()
            .unwrap()
            .success();
        assert!(!found, "{left} was written");
    }
}

/// Times the configuration patched one image at a time and two at a time, twice each
/// alternately after a warm-up run, and prints the figures (`scripts/bench-bulk.sh`).
#[test]
#[ignore = "a benchmark: scripts/bench-bulk.sh runs it"]
fn bench_bulk_against_one_at_a_time() {
    let site = BulkSite::start();
    let rounds: usize = std::env::var("SALVE_BENCH_ROUNDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(2);
    let timed = |jobs: &str| {
        let started = Instant::now();
        let (ok, _, stderr) = site.bulk(&["--jobs", jobs]);
        assert!(!ok && stderr.contains("1 of 10"), "{stderr}");
        started.elapsed().as_secs_f64()
    };
    timed("2");
    let mut figures: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for _ in 0..rounds {
        for jobs in ["1", "2", "4"] {
            figures.entry(jobs).or_default().push(timed(jobs));
        }
    }
    let median = |values: &[f64]| {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    let one = median(&figures["1"]);
    for (jobs, values) in &figures {
        let value = median(values);
        println!(
            "bench-bulk: --jobs {jobs}: median {value:.1} s of {values:.1?}, {:.2}x of --jobs 1",
            value / one
        );
    }
}
