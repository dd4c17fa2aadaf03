//! The Debian flow on the local engine: a report patch then an update-all repatch leave one
//! patch layer; unreachable repositories and versions are reported with what to do; a distroless
//! image is patched through a tooling image from the source policy. The BuildKit runs of the same
//! tests are in [`super::buildkit`].

use super::*;

#[test]
fn a_report_patch_then_an_update_all_repatch_leave_one_patch_layer() {
    a_report_patch_then_an_update_all_repatch_leave_one_patch_layer_on(&Engine::Local);
}

/// The test on one engine.
pub(super) fn a_report_patch_then_an_update_all_repatch_leave_one_patch_layer_on(engine: &Engine) {
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

/// The test on one engine.
pub(super) fn unreachable_repositories_and_unreachable_versions_are_reported_on(engine: &Engine) {
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
    let port = crate::support::registry::free_port();
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

#[test]
fn a_distroless_image_is_patched_through_a_tooling_image_from_the_source_policy() {
    a_distroless_image_is_patched_through_a_tooling_image_from_the_source_policy_on(&Engine::Local);
}

/// The test on one engine.
pub(super) fn a_distroless_image_is_patched_through_a_tooling_image_from_the_source_policy_on(
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
