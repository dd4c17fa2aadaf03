//! The BuildKit engine: the Debian flow's tests on BuildKit (Docker's, and a newer daemon on a
//! unix socket), the same patch layer as the local engine from the same plan, and a daemon that
//! cannot be reached, sits behind TLS, or pulls from a private registry.

use super::flow::*;
use super::*;

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

#[test]
fn unreachable_repositories_and_unreachable_versions_are_reported_on_buildkit() {
    unreachable_repositories_and_unreachable_versions_are_reported_on(&Engine::buildkit());
}

#[test]
fn a_distroless_image_is_patched_through_a_tooling_image_from_the_source_policy_on_buildkit() {
    a_distroless_image_is_patched_through_a_tooling_image_from_the_source_policy_on(
        &Engine::buildkit(),
    );
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
    let other = crate::support::grpc_proxy::Certificates::new();
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
