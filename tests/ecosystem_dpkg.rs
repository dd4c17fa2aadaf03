//! The built-in `dpkg` ecosystem plugin through the host, one component call per WIT function,
//! and its version order checked against dpkg itself on thousands of generated pairs.

use crate::support::{Generator, amd64, file};
use salve::plugin::Plugin;
use salve::plugin::native::{
    InstallRequest, InstallStep, NativeRequest, Resolution, SignatureCheck,
};
use salve::plugin::types::{InstalledPackage, OsInfo, PlanRequest, RequestedUpdate};
use std::cmp::Ordering;
use std::path::Path;
use std::process::Command;

/// The built-in dpkg plugin.
fn dpkg() -> Plugin {
    crate::support::built_in("dpkg")
}

/// The dpkg plugin as the release of contract `version` built it (`tests/contract/`).
fn kept_dpkg(version: &str) -> Plugin {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../tests/contract/dpkg-{version}.wasm"));
    let bytes = std::fs::read(&path).unwrap();
    let runtime = salve::plugin::PluginRuntime::new(Default::default()).unwrap();
    runtime
        .load("dpkg", salve::plugin::PluginSource::BuiltIn, &bytes)
        .unwrap()
}

fn debian() -> OsInfo {
    OsInfo {
        id: "debian".into(),
        version_id: "12".into(),
        codename: Some("bookworm".into()),
    }
}

/// This machine's own dpkg database: a real one.
fn machine_status() -> String {
    std::fs::read_to_string("/var/lib/dpkg/status").expect("a Debian machine has a dpkg database")
}

#[test]
fn every_function_answers_through_the_sandbox() {
    let plugin = dpkg();
    let ecosystem = plugin.as_ecosystem().unwrap();

    let probes = ecosystem.probe_paths().unwrap();
    assert!(probes.contains(&"/var/lib/dpkg/status".to_string()));
    assert!(probes.contains(&"/var/lib/dpkg/status.d/*".to_string()));

    let status = file("/var/lib/dpkg/status", &machine_status());
    let apt = file("/usr/bin/apt-get", "");
    let target = ecosystem
        .detect(&debian(), &[status.clone(), apt])
        .unwrap()
        .expect("a Debian image with apt is the dpkg plugin's");
    assert_eq!(target.manager, "apt");
    assert!(!target.distroless);

    let installed = ecosystem.installed(&[status]).unwrap();
    let dpkg_itself = installed.iter().find(|p| p.name == "dpkg").unwrap();
    let query = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "dpkg"])
        .output()
        .unwrap();
    assert_eq!(
        dpkg_itself.version,
        String::from_utf8(query.stdout).unwrap()
    );

    assert_eq!(
        ecosystem.compare_versions("1:1.0", "2.0").unwrap(),
        Ordering::Greater
    );
    assert_eq!(
        ecosystem
            .tooling_image(&debian(), &amd64(), &target, false)
            .unwrap()
            .as_deref(),
        Some("docker.io/library/debian:12-slim")
    );

    let plan = ecosystem
        .plan(&PlanRequest {
            os: debian(),
            platform: amd64(),
            target,
            updates: vec![RequestedUpdate {
                package: "libssl3".into(),
                fixed_version: "3.0.13-1~deb12u1".into(),
                path: None,
            }],
            tooling_image: None,
        })
        .unwrap();
    assert_eq!(plan.steps.len(), 2);
    assert_eq!(plan.steps[1].argv.last().unwrap(), "libssl3");

    let purl = ecosystem
        .purl(
            &InstalledPackage {
                name: "zlib1g".into(),
                version: "1:1.2.13.dfsg-1".into(),
                architecture: Some("amd64".into()),
                location: None,
            },
            &debian(),
            &amd64(),
        )
        .unwrap();
    assert_eq!(
        purl,
        "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12"
    );
}

#[test]
fn a_bad_version_or_plan_is_the_plugins_error() {
    let plugin = dpkg();
    let ecosystem = plugin.as_ecosystem().unwrap();
    let error = ecosystem
        .compare_versions("1.0", "a:1")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("plugin dpkg rejected the input in `compare-versions`"),
        "{error}"
    );
    assert!(error.contains("epoch in version is not number"), "{error}");
}

/// A version shaped like real Debian ones, sometimes with odd corners (tildes, letters, leading
/// zeros, plus signs, long digit runs), and one in thirty that dpkg calls bad syntax.
fn debian_version(generator: &mut Generator) -> String {
    if generator.next().is_multiple_of(30) {
        return generator
            .pick(&["a1.0", "1_0", "1.0-", "x:1", "1.0-1_2"])
            .to_string();
    }
    let epoch = generator.pick(&["", "", "", "1:", "2:", "0:"]);
    let mut upstream = generator
        .pick(&["1", "2", "0", "10", "3", "007"])
        .to_string();
    for _ in 0..(generator.next() % 4) {
        upstream.push_str(generator.pick(&[".", ".", "+", "~", "-"]));
        upstream.push_str(generator.pick(&[
            "0",
            "1",
            "2",
            "13",
            "9",
            "a",
            "rc1",
            "dfsg",
            "b1",
            "99999999999",
        ]));
    }
    let revision = generator.pick(&[
        "",
        "",
        "-1",
        "-2",
        "-1ubuntu2.18",
        "-0+deb12u1",
        "-1~deb12u1",
        "-1~bpo11+1",
        "-1.1",
        "-10",
    ]);
    format!("{epoch}{upstream}{revision}")
}

/// dpkg's own answer, or `None` when dpkg calls either version bad syntax.
fn dpkg_order(a: &str, b: &str) -> Option<Ordering> {
    let check = |op: &str| {
        let output = Command::new("dpkg")
            .args(["--compare-versions", a, op, b])
            .output()
            .unwrap();
        (output.status.code(), output.stderr.is_empty())
    };
    match check("lt") {
        (Some(0), true) => Some(Ordering::Less),
        (Some(1), true) => match check("eq") {
            (Some(0), _) => Some(Ordering::Equal),
            _ => Some(Ordering::Greater),
        },
        _ => None,
    }
}

#[test]
fn the_order_agrees_with_dpkg_on_thousands_of_pairs() {
    let plugin = dpkg();
    let ecosystem = plugin.as_ecosystem().unwrap();
    let mut pairs = Generator(0x5a17e);
    let (mut compared, mut refused) = (0, 0);
    for _ in 0..2500 {
        let (a, b) = (debian_version(&mut pairs), debian_version(&mut pairs));
        let ours = ecosystem.compare_versions(&a, &b);
        match dpkg_order(&a, &b) {
            Some(expected) => {
                assert_eq!(ours.unwrap(), expected, "{a} vs {b}");
                compared += 1;
            }
            None => {
                assert!(
                    ours.is_err(),
                    "dpkg calls {a} or {b} bad syntax, salve accepted it"
                );
                refused += 1;
            }
        }
    }
    assert!(
        compared > 2000,
        "only {compared} valid pairs ({refused} refused)"
    );
    assert!(refused > 50, "only {refused} pairs with a bad version");
}

/// `salve versions compare ARGS`, with a private cache.
fn salve_compare(args: &[&str]) -> std::process::Output {
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("versions-cli-home");
    Command::new(env!("CARGO_BIN_EXE_salve"))
        .args(["versions", "compare"])
        .args(args)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("SALVE_PLUGIN_PATH")
        .output()
        .unwrap()
}

#[test]
fn versions_compare_prints_the_order_and_refuses_bad_versions() {
    for (a, b, symbol) in [
        ("1.0~rc1", "1.0", "<\n"),
        ("1:0.1", "2.0", ">\n"),
        ("2.0-0", "2.0", "=\n"),
    ] {
        let output = salve_compare(&["--ecosystem", "deb", a, b]);
        assert!(output.status.success());
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            symbol,
            "{a} vs {b}"
        );
    }
    let output = salve_compare(&["-e", "dpkg", "1.0", "-1"]);
    assert_eq!(output.status.code(), Some(1));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains("version \"-1\" has bad syntax"), "{errors}");

    let output = salve_compare(&["-e", "cargo", "1", "2"]);
    assert_eq!(output.status.code(), Some(1));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains("no ecosystem plugin handles \"cargo\"; available: "),
        "{errors}"
    );
    assert!(errors.contains("deb (dpkg)"), "{errors}");
}

#[test]
fn plugins_built_for_contracts_0_2_and_0_3_still_resolve_and_install_natively_through_the_latest_types()
 {
    for version in ["0.2.0", "0.3.0"] {
        resolves_and_installs_natively(version);
    }
}

/// The kept dpkg plugin of contract `version` resolves (asking for an InRelease signed by the
/// keyring the sources name) and installs through the host's latest types.
fn resolves_and_installs_natively(version: &str) {
    let plugin = kept_dpkg(version);
    assert_eq!(plugin.contract().wit_version, version);
    let ecosystem = plugin.as_ecosystem().unwrap();
    let status = file("/var/lib/dpkg/status", &machine_status());
    let sources = file(
        "/etc/apt/sources.list",
        "deb [signed-by=/usr/share/keyrings/test.gpg] http://127.0.0.1:9/debian bookworm main\n",
    );
    let keyring = file("/usr/share/keyrings/test.gpg", "a keyring");
    let target = ecosystem
        .detect(&debian(), &[status.clone(), file("/usr/bin/apt-get", "")])
        .unwrap()
        .expect("the 0.2 plugin recognises a Debian image");
    let files = vec![status, sources, keyring];
    let resolution = ecosystem
        .native_resolve(&NativeRequest {
            os: debian(),
            platform: amd64(),
            target: target.clone(),
            updates: Vec::new(),
            files: files.clone(),
            fetched: Vec::new(),
            now: 0,
        })
        .unwrap();
    let Resolution::Fetch(wanted) = resolution else {
        panic!("a first round of resolution fetches: {resolution:?}");
    };
    assert!(
        wanted[0]
            .url
            .starts_with("http://127.0.0.1:9/debian/dists/bookworm/"),
        "{wanted:?}"
    );
    assert_eq!(
        wanted[0].signature,
        Some(SignatureCheck::Openpgp(vec![
            "/usr/share/keyrings/test.gpg".into()
        ]))
    );

    let mut install = InstallRequest {
        os: debian(),
        platform: amd64(),
        target,
        updates: Vec::new(),
        files,
        read: None,
        packages: Vec::new(),
        packaged: Vec::new(),
        statuses: Vec::new(),
    };
    let InstallStep::Read(reads) = ecosystem.native_install(&install).unwrap() else {
        panic!("a first round of installation reads");
    };
    assert!(reads.image.contains(&"/var/lib/dpkg/info/*".to_string()));
    assert!(reads.packaged.is_empty() && reads.statuses.is_empty());
    install.read = Some(Vec::new());
    let InstallStep::Done(installation) = ecosystem.native_install(&install).unwrap() else {
        panic!("a second round installs");
    };
    assert!(installation.links.is_empty());
    assert!(
        installation
            .files
            .iter()
            .any(|file| file.path == "/var/lib/dpkg/status"),
        "{installation:?}"
    );
}

#[test]
fn a_plugin_built_for_contract_0_1_still_loads_answers_and_installs_nothing_natively() {
    let plugin = kept_dpkg("0.1.0");
    assert_eq!(plugin.contract().wit_version, "0.1.0");
    let ecosystem = plugin.as_ecosystem().unwrap();
    let status = file("/var/lib/dpkg/status", &machine_status());
    let target = ecosystem
        .detect(&debian(), &[status.clone(), file("/usr/bin/apt-get", "")])
        .unwrap()
        .expect("the 0.1 plugin recognises a Debian image");
    assert_eq!(target.manager, "apt");
    assert!(!ecosystem.installed(&[status]).unwrap().is_empty());
    assert_eq!(ecosystem.native_paths().unwrap(), Vec::<String>::new());

    // The plugin of this release speaks 0.4 and installs natively.
    let current = dpkg();
    assert_eq!(current.contract().wit_version, "0.4.0");
    let paths = current.as_ecosystem().unwrap().native_paths().unwrap();
    assert!(
        paths.contains(&"/etc/apt/sources.list".to_string()),
        "{paths:?}"
    );
}
