//! The built-in `pip` ecosystem plugin through the host, one component call per WIT function,
//! and its PEP 440 order checked against the `packaging` library on thousands of generated pairs.

use crate::support::{Generator, amd64};
use salve::plugin::Plugin;
use salve::plugin::types::{FileKind, ImageFile, OsInfo, PlanRequest, RequestedUpdate};
use std::cmp::Ordering;
use std::process::Command;

/// The built-in pip plugin.
fn pip() -> Plugin {
    crate::support::built_in("pip")
}

fn debian() -> OsInfo {
    crate::support::os("debian", "12")
}

const REQUESTS: &str = "/opt/venv/lib/python3.11/site-packages/requests-2.25.0.dist-info/METADATA";

fn metadata() -> ImageFile {
    ImageFile {
        path: REQUESTS.into(),
        kind: FileKind::File,
        content: Some(b"Metadata-Version: 2.1\nName: requests\nVersion: 2.25.0\n".to_vec()),
        link_target: None,
    }
}

#[test]
fn every_function_answers_through_the_sandbox() {
    let plugin = pip();
    let ecosystem = plugin.as_ecosystem().unwrap();
    assert!(
        ecosystem
            .probe_paths()
            .unwrap()
            .iter()
            .any(|glob| glob == "/**/lib/python3*/site-packages/*.dist-info/METADATA")
    );
    let target = ecosystem.detect(&debian(), &[metadata()]).unwrap().unwrap();
    assert!(target.distroless, "no pip in the environment");
    assert_eq!(
        ecosystem
            .tooling_image(&debian(), &amd64(), &target, false)
            .unwrap()
            .as_deref(),
        Some("docker.io/library/python:3.11-slim")
    );
    let installed = ecosystem.installed(&[metadata()]).unwrap();
    assert_eq!(installed[0].version, "2.25.0");
    assert_eq!(
        ecosystem.compare_versions("1.0rc1", "1.0").unwrap(),
        Ordering::Less
    );
    let plan = ecosystem
        .plan(&PlanRequest {
            os: debian(),
            platform: amd64(),
            target,
            updates: vec![RequestedUpdate {
                package: "requests".into(),
                fixed_version: "2.31.0".into(),
                path: Some(REQUESTS.into()),
            }],
            tooling_image: Some("docker.io/library/python:3.11-slim".into()),
        })
        .unwrap();
    assert_eq!(plan.steps.len(), 2);
    assert_eq!(
        ecosystem.purl(&installed[0], &debian(), &amd64()).unwrap(),
        "pkg:pypi/requests@2.25.0"
    );
}

/// A version in any of PEP 440's shapes and spellings.
fn python_version(generator: &mut Generator) -> String {
    let mut version = generator.pick(&["v", "", "", ""]).to_string();
    version.push_str(generator.pick(&["", "", "", "", "1!", "2!"]));
    version.push_str(generator.pick(&["1", "0", "2", "10", "01"]));
    for _ in 0..(generator.next() % 3) {
        version.push('.');
        version.push_str(generator.pick(&["0", "1", "2", "13"]));
    }
    version
        .push_str(generator.pick(&["", "", "a1", "b2", "rc1", "c1", ".alpha", "-beta.3", "pre2"]));
    version.push_str(generator.pick(&["", "", ".post1", "-1", ".post", "post2", ".rev3"]));
    version.push_str(generator.pick(&["", "", "", ".dev0", ".dev5", "dev"]));
    version.push_str(generator.pick(&["", "", "", "", "+ubuntu1", "+abc.5", "+5", "+local.7.x"]));
    version
}

/// `packaging`'s answers for many pairs at once: an order, or `None` where it calls either
/// version invalid.
fn packaging_orders(pairs: &[(String, String)]) -> Vec<Option<Ordering>> {
    let script = r#"
import sys
from packaging.version import InvalidVersion, Version
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    try:
        x, y = Version(a), Version(b)
    except InvalidVersion:
        print("invalid")
        continue
    print(-1 if x < y else (1 if x > y else 0))
"#;
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("Debian's python3 with python3-packaging");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| line.parse::<i8>().ok().map(|order| order.cmp(&0)))
        .collect()
}

#[test]
fn the_order_agrees_with_packaging_on_thousands_of_pairs() {
    let plugin = pip();
    let ecosystem = plugin.as_ecosystem().unwrap();
    let mut generator = Generator(0x9e440);
    let pairs: Vec<(String, String)> = (0..3000)
        .map(|_| {
            (
                python_version(&mut generator),
                python_version(&mut generator),
            )
        })
        .collect();
    let expected = packaging_orders(&pairs);
    assert_eq!(expected.len(), pairs.len());
    let mut invalid = 0;
    for ((a, b), expected) in pairs.iter().zip(expected) {
        let ours = ecosystem.compare_versions(a, b);
        match expected {
            Some(expected) => assert_eq!(ours.unwrap(), expected, "{a} vs {b}"),
            None => {
                assert!(
                    ours.is_err(),
                    "packaging calls {a} or {b} invalid, salve accepted it"
                );
                invalid += 1;
            }
        }
    }
    assert!(
        invalid < 300,
        "{invalid} of the generated pairs are invalid"
    );
}

#[test]
fn the_host_fetches_a_package_index_in_the_form_a_plugin_accepts_and_opens_its_wheels() {
    use salve::engine::native::package::{self, Downloaded, Format};
    use salve::engine::native::repository::Repositories;
    use salve::plugin::native::{PackageCheck, PackageDownload, RepositoryFile};
    let store = tempfile::tempdir().unwrap();
    let repositories = Repositories::new(store.path(), &salve::mirror::Mirrors::default()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let index = |accept: Option<&str>| {
        let file = RepositoryFile {
            url: "https://pypi.org/simple/six/".into(),
            sha256: None,
            size: None,
            signature: None,
            accept: accept.map(String::from),
            decompress: false,
            optional: false,
        };
        let fetched = runtime.block_on(repositories.fetch(&file, &[])).unwrap();
        String::from_utf8(fetched.content.unwrap()).unwrap()
    };
    // PEP 691's JSON form, with PEP 700's sizes, when asked for; HTML otherwise.
    let json: serde_json::Value =
        serde_json::from_str(&index(Some("application/vnd.pypi.simple.v1+json"))).unwrap();
    assert!(index(None).contains("<a href="));
    let wheel = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|file| file["filename"] == "six-1.16.0-py2.py3-none-any.whl")
        .expect("six 1.16.0's wheel is on PyPI");
    let download = PackageDownload {
        name: "six".into(),
        version: "1.16.0".into(),
        architecture: "any".into(),
        url: wheel["url"].as_str().unwrap().into(),
        check: PackageCheck::Wheel(wheel["hashes"]["sha256"].as_str().unwrap().into()),
        size: wheel["size"].as_u64().unwrap(),
        replaces: None,
    };
    let downloaded: Downloaded = runtime.block_on(repositories.download(&download)).unwrap();
    assert_eq!(downloaded.format, Format::Wheel);
    let listing = package::list(&downloaded).unwrap();
    let record = &listing
        .control
        .iter()
        .find(|(name, _)| name == "RECORD")
        .expect("a wheel's RECORD is a control member")
        .1;
    // Each file's SHA-256 is the one the wheel's own RECORD lists (urlsafe base64 there).
    let six = listing
        .entries
        .iter()
        .find(|entry| entry.path == "/six.py")
        .unwrap();
    let line = String::from_utf8_lossy(record)
        .lines()
        .find(|line| line.starts_with("six.py,"))
        .unwrap()
        .to_string();
    let recorded = line
        .split(',')
        .nth(1)
        .unwrap()
        .strip_prefix("sha256=")
        .unwrap();
    use base64::Engine as _;
    let recorded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(recorded)
        .unwrap();
    assert_eq!(six.digest.as_deref(), Some(hex::encode(recorded).as_str()));
    // A wheel whose bytes are not the index's SHA-256 is refused before it is stored.
    let changed = PackageDownload {
        check: PackageCheck::Wheel("00".repeat(32)),
        ..download
    };
    let error = runtime
        .block_on(repositories.download(&changed))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("is not what the repository's signed index says"),
        "{error}"
    );
}
