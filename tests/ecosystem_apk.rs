//! The built-in `apk` ecosystem plugin through the host, one component call per WIT function.
//! (No apk-tools is reachable here to compare against; the plugin's own tests hold the order's
//! cases.)

use crate::support::{amd64, file};
use salve::plugin::types::{OsInfo, PlanRequest, RequestedUpdate};
use std::cmp::Ordering;

fn alpine() -> OsInfo {
    crate::support::os("alpine", "3.22.1")
}

#[test]
fn every_function_answers_through_the_sandbox() {
    let plugin = crate::support::built_in("apk");
    let ecosystem = plugin.as_ecosystem().unwrap();
    assert!(
        ecosystem
            .probe_paths()
            .unwrap()
            .contains(&"/lib/apk/db/installed".to_string())
    );
    let database = file(
        "/lib/apk/db/installed",
        "P:musl\nV:1.2.5-r9\nA:x86_64\n\nP:busybox\nV:1.37.0-r12\nA:x86_64\n",
    );
    let target = ecosystem
        .detect(&alpine(), &[database.clone(), file("/sbin/apk", "")])
        .unwrap()
        .unwrap();
    assert!(!target.distroless);
    let installed = ecosystem.installed(&[database]).unwrap();
    assert_eq!(installed.len(), 2);
    assert_eq!(
        ecosystem.compare_versions("1.2.5-r9", "1.2.5-r10").unwrap(),
        Ordering::Less
    );
    assert!(ecosystem.compare_versions("1.2.5-1", "1.0").is_err());
    assert_eq!(
        ecosystem
            .tooling_image(&alpine(), &amd64(), &target, false)
            .unwrap(),
        None
    );
    let plan = ecosystem
        .plan(&PlanRequest {
            os: alpine(),
            platform: amd64(),
            target,
            updates: vec![RequestedUpdate {
                package: "musl".into(),
                fixed_version: "1.2.5-r10".into(),
                path: None,
            }],
            tooling_image: None,
        })
        .unwrap();
    assert_eq!(plan.steps[0].argv, ["apk", "upgrade", "--no-cache", "musl"]);
    assert_eq!(
        ecosystem.purl(&installed[0], &alpine(), &amd64()).unwrap(),
        "pkg:apk/alpine/musl@1.2.5-r9?arch=x86_64&distro=3.22.1"
    );
}

/// busybox's applet tables read from real binaries (Debian's two configurations, for amd64 and
/// for arm64) give what the binaries print for `busybox --list-full`, in its order.
#[test]
fn busybox_applets_are_read_from_real_binaries_as_they_list_them() {
    let folder = std::path::PathBuf::from(crate::support::patching::fixture_script(
        "fixtures/busybox/fetch.sh",
        &[],
    ));
    for package in ["busybox", "busybox-static"] {
        let listed: Vec<String> = std::fs::read_to_string(folder.join(format!("{package}.list")))
            .unwrap()
            .lines()
            .map(|line| format!("/{line}"))
            .collect();
        assert!(
            listed.len() > 200,
            "{package} lists {} applets",
            listed.len()
        );
        for arch in ["amd64", "arm64"] {
            let binary = std::fs::read(folder.join(format!("{package}-{arch}/busybox"))).unwrap();
            let read: Vec<String> = salve_plugin_apk::native::busybox::applets(&binary)
                .unwrap_or_else(|error| panic!("{package} {arch}: {error}"))
                .into_iter()
                .map(|applet| applet.path)
                .collect();
            assert_eq!(read, listed, "{package} for {arch}");
        }
    }
}
