//! The built-in `rpm` ecosystem plugin through the host, one component call per WIT function,
//! and its version order checked against rpm itself (`rpm.vercmp` in rpm's Lua) on thousands of
//! generated pairs.

mod support;

use salve::plugin::Plugin;
use salve::plugin::types::{OsInfo, PlanRequest, RequestedUpdate};
use std::cmp::Ordering;
use std::process::Command;
use support::{Generator, amd64, file};

/// The built-in rpm plugin.
fn rpm() -> Plugin {
    support::built_in("rpm")
}

fn azure_linux() -> OsInfo {
    support::os("azurelinux", "3.0")
}

const MANIFEST_2: &str = "openssl\t3.3.2-1.azl3\t1748892790\t1735838940\tMicrosoft Corporation\t(none)\t1830213\tx86_64\t0\topenssl-3.3.2-1.azl3.src.rpm
ca-certificates-base\t3.0.0-8.azl3\t1748892790\t1735838940\tMicrosoft Corporation\t(none)\t130628\tnoarch\t1\tca-certificates-3.0.0-8.azl3.src.rpm
";

#[test]
fn every_function_answers_through_the_sandbox() {
    let plugin = rpm();
    let ecosystem = plugin.as_ecosystem().unwrap();
    let probes = ecosystem.probe_paths().unwrap();
    assert!(probes.contains(&"/var/lib/rpmmanifest/container-manifest-2".to_string()));

    let manifest = file("/var/lib/rpmmanifest/container-manifest-2", MANIFEST_2);
    let target = ecosystem
        .detect(&azure_linux(), std::slice::from_ref(&manifest))
        .unwrap()
        .expect("a distroless Azure Linux image is the rpm plugin's");
    assert!(target.distroless);

    let installed = ecosystem.installed(&[manifest]).unwrap();
    assert_eq!(installed.len(), 2);
    assert_eq!(installed[1].version, "1:3.0.0-8.azl3");

    assert_eq!(
        ecosystem.compare_versions("1:1.0-1", "2.0-1").unwrap(),
        Ordering::Greater
    );
    assert_eq!(
        ecosystem
            .tooling_image(&azure_linux(), &amd64(), &target, false)
            .unwrap()
            .as_deref(),
        Some("mcr.microsoft.com/azurelinux/base/core:3.0")
    );
    let plan = ecosystem
        .plan(&PlanRequest {
            os: azure_linux(),
            platform: amd64(),
            target,
            updates: vec![RequestedUpdate {
                package: "openssl".into(),
                fixed_version: "3.3.3-1.azl3".into(),
                path: None,
            }],
            tooling_image: Some("mcr.microsoft.com/azurelinux/base/core:3.0".into()),
        })
        .unwrap();
    assert_eq!(plan.steps.len(), 2);
    assert_eq!(
        plan.database_paths,
        ["/var/lib/rpmmanifest/container-manifest-2"]
    );
    let purl = ecosystem
        .purl(&installed[1], &azure_linux(), &amd64())
        .unwrap();
    assert_eq!(
        purl,
        "pkg:rpm/azurelinux/ca-certificates-base@3.0.0-8.azl3?arch=noarch&epoch=1&distro=azurelinux-3.0"
    );
}

/// A version shaped like real RPM ones, with rpm's odd corners: `~`, `^`, letters, separators,
/// leading zeros, and epochs.
fn rpm_version(generator: &mut Generator) -> String {
    let epoch = generator.pick(&["", "", "", "1:", "2:", "0:"]);
    let mut version = generator
        .pick(&["1", "2", "0", "10", "007", "5"])
        .to_string();
    for _ in 0..(generator.next() % 4) {
        version.push_str(generator.pick(&[".", ".", "_", "+", "~", "^", ""]));
        version.push_str(generator.pick(&[
            "0",
            "1",
            "2",
            "13",
            "a",
            "rc1",
            "git20240101",
            "p1",
            "b",
        ]));
    }
    let release = generator.pick(&[
        "", "-1", "-2.el8", "-1.el8_7", "-12.cm2", "-1.azl3", "-0.1.rc1",
    ]);
    format!("{epoch}{version}{release}")
}

/// rpm's answers for many pairs at once, from one run of rpm's Lua `rpm.vercmp` over a script
/// file (the pairs are too many for one command-line argument).
fn rpm_orders(pairs: &[(String, String)]) -> Vec<Ordering> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("pairs.lua");
    let mut lua = String::new();
    for (a, b) in pairs {
        lua.push_str(&format!("print(rpm.vercmp([[{a}]], [[{b}]]) .. \"\\n\")\n"));
    }
    std::fs::write(&script, lua).unwrap();
    let output = Command::new("rpm")
        .arg("--eval")
        .arg(format!("%{{lua: dofile([[{}]])}}", script.display()))
        .output()
        .expect("rpm is installed");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| line.trim().parse::<i64>().unwrap().cmp(&0))
        .collect()
}

#[test]
fn the_order_agrees_with_rpm_on_thousands_of_pairs() {
    let plugin = rpm();
    let ecosystem = plugin.as_ecosystem().unwrap();
    let mut generator = Generator(0x7e57);
    let pairs: Vec<(String, String)> = (0..3000)
        .map(|_| (rpm_version(&mut generator), rpm_version(&mut generator)))
        .collect();
    let expected = rpm_orders(&pairs);
    assert_eq!(expected.len(), pairs.len());
    let mut differing = 0;
    for ((a, b), expected) in pairs.iter().zip(expected) {
        let ours = ecosystem.compare_versions(a, b).unwrap();
        assert_eq!(ours, expected, "{a} vs {b}");
        differing += usize::from(expected != Ordering::Equal);
    }
    assert!(
        differing > 2000,
        "the pairs must mostly differ: {differing}"
    );
}
