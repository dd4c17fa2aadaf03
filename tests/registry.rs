//! Pulling from and pushing to a real registry (Debian's `docker-registry`, started on loopback by
//! the test): images go both ways between salve and skopeo byte for byte, through every
//! transport; multi-platform indexes; password-protected registries; and a fault-injecting proxy
//! in front of the registry.

use crate::support::fault_proxy::{Fault, FaultProxy, Rule};
use crate::support::registry::Registry;
use crate::support::{insert_file, run, umoci_image};
use salve::image::OciLayout;
use salve::image::manifest::{Descriptor, Index, Manifest, OCI_INDEX, Platform};
use salve::transport::{
    ImageReference, PlatformChoice, RegistryClient, RegistryOptions, RetryPolicy,
};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// An image reference the test wrote.
fn image(text: &str) -> ImageReference {
    text.parse().unwrap()
}

#[test]
fn an_image_pushed_by_skopeo_is_pulled_back_exactly() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let source = umoci_image(dir.path());
    let reference = format!("{}/app:base", registry.address);
    run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{source}:base"),
            &format!("docker://{reference}"),
        ],
    );
    let inspect: Value = serde_json::from_str(&run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ],
    ))
    .unwrap();

    let target_dir = dir.path().join("pulled");
    let layout = OciLayout::open_or_create(&target_dir).unwrap();
    let client = RegistryClient::new(&[&image(&reference)], &RegistryOptions::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let descriptor = runtime
        .block_on(client.pull(&image(&reference), &amd64(), &layout, "pulled"))
        .unwrap();
    assert_eq!(descriptor.digest, inspect["Digest"].as_str().unwrap());
    for layer in inspect["Layers"].as_array().unwrap() {
        assert!(layout.blob_path(layer.as_str().unwrap()).unwrap().exists());
    }
    let local: Value = serde_json::from_str(&run(
        "skopeo",
        &["inspect", &format!("oci:{}:pulled", target_dir.display())],
    ))
    .unwrap();
    assert_eq!(local["Layers"], inspect["Layers"]);

    let missing = format!("{}/app:nope", registry.address);
    let error = runtime
        .block_on(client.pull(&image(&missing), &amd64(), &layout, "x"))
        .unwrap_err();
    assert!(error.to_string().contains(&registry.address), "{error}");
}

#[test]
fn an_image_pushed_by_salve_is_read_by_skopeo() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let source = umoci_image(dir.path());
    let layout = OciLayout::open(std::path::Path::new(&source)).unwrap();
    let expected = layout.resolve(Some("base")).unwrap().digest;
    let reference = format!("{}/pushed:v1", registry.address);
    let client = RegistryClient::new(&[&image(&reference)], &RegistryOptions::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let digest = runtime
        .block_on(client.push(&layout, "base", &image(&reference), None))
        .unwrap();
    assert_eq!(digest, expected);
    // Pushing again finds every blob there and only writes the manifest.
    let again = runtime
        .block_on(client.push(&layout, "base", &image(&reference), None))
        .unwrap();
    assert_eq!(again, expected);

    let inspect: Value = serde_json::from_str(&run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ],
    ))
    .unwrap();
    assert_eq!(inspect["Digest"], expected.as_str());
    let copy = dir.path().join("copy");
    run(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{reference}"),
            &format!("oci:{}:v1", copy.display()),
        ],
    );
    let copied = OciLayout::open(&copy).unwrap();
    assert_eq!(copied.resolve(Some("v1")).unwrap().digest, expected);
}

/// The amd64 platform choice.
fn amd64() -> PlatformChoice {
    PlatformChoice::One("linux/amd64".into())
}

/// A current-thread runtime for the client's futures.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `salve` with arguments; its exit success, stdout and stderr.
fn salve(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_salve"))
        .args(args)
        .env("HOME", "/nonexistent")
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `salve copy`, which must succeed; the digest it printed.
fn copy(source: &str, target: &str, extra: &[&str]) -> String {
    let mut args = vec!["copy", source, target];
    args.extend_from_slice(extra);
    let (ok, stdout, stderr) = salve(&args, &[]);
    assert!(ok, "salve copy {source} {target}: {stderr}");
    stdout.trim().to_string()
}

/// The diff ids skopeo reads from an image.
fn diff_ids(image: &str) -> Value {
    let config: Value = serde_json::from_str(&run(
        "skopeo",
        &["inspect", "--tls-verify=false", "--config", image],
    ))
    .unwrap();
    config["rootfs"]["diff_ids"].clone()
}

#[test]
fn every_file_transport_round_trips_and_skopeo_reads_each() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let source = format!("oci:{}:base", umoci_image(dir.path()));
    let expected = diff_ids(&source);
    let d = dir.path().display();
    let pushed = format!("docker://{}/round/trip:v1", registry.address);
    let steps = [
        source.clone(),
        pushed.clone(),
        format!("oci-archive:{d}/image.oci.tar:v1"),
        format!("docker-archive:{d}/image.docker.tar:round/trip:v1"),
        format!("oci:{d}/layout-out:v2"),
        format!("docker://{}/round/again:v2", registry.address),
    ];
    for pair in steps.windows(2) {
        copy(&pair[0], &pair[1], &[]);
        assert_eq!(diff_ids(&pair[1]), expected, "after copying to {}", pair[1]);
    }
    // The registry holds the manifest salve copied from the layout, byte for byte.
    let raw_source = run("skopeo", &["inspect", "--raw", &source]);
    let raw_pushed = run(
        "skopeo",
        &["inspect", "--raw", "--tls-verify=false", &pushed],
    );
    assert_eq!(raw_source, raw_pushed);
    // An archive skopeo wrote is read by salve.
    let skopeo_archive = format!("docker-archive:{d}/by-skopeo.tar");
    run(
        "skopeo",
        &["copy", &source, &format!("{skopeo_archive}:app:1")],
    );
    copy(&skopeo_archive, &format!("oci:{d}/from-skopeo:x"), &[]);
    assert_eq!(diff_ids(&format!("oci:{d}/from-skopeo:x")), expected);
    // A missing file is named.
    let (ok, _, stderr) = salve(
        &["copy", &format!("oci-archive:{d}/none.tar"), "oci:/tmp/x"],
        &[],
    );
    assert!(!ok && stderr.contains("none.tar"), "{stderr}");
}

/// An OCI layout tagged `multi` holding an index of the umoci image for amd64 and a copy
/// relabelled arm64. Returns the layout folder and the index's entries.
fn multi_platform_image(dir: &Path) -> (String, Vec<Descriptor>) {
    let source = umoci_image(dir);
    let layout = OciLayout::open(Path::new(&source)).unwrap();
    let amd64 = layout.resolve(Some("base")).unwrap();
    let manifest: Manifest =
        serde_json::from_slice(&layout.read_blob(&amd64.digest).unwrap()).unwrap();
    let mut config: Value =
        serde_json::from_slice(&layout.read_blob(&manifest.config.digest).unwrap()).unwrap();
    config["architecture"] = "arm64".into();
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_descriptor = layout
        .put_blob(&manifest.config.media_type, &config_bytes)
        .unwrap();
    let mut arm_manifest = manifest.clone();
    arm_manifest.config = config_descriptor;
    let arm64 = layout
        .put_blob(
            &amd64.media_type,
            &serde_json::to_vec(&arm_manifest).unwrap(),
        )
        .unwrap();
    let with_platform = |descriptor: &Descriptor, architecture: &str| {
        let mut entry =
            Descriptor::new(&descriptor.media_type, &descriptor.digest, descriptor.size);
        entry.platform = Some(Platform {
            architecture: architecture.into(),
            os: "linux".into(),
            variant: None,
            other: Default::default(),
        });
        entry
    };
    let index = Index {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        manifests: vec![
            with_platform(&amd64, "amd64"),
            with_platform(&arm64, "arm64"),
        ],
        other: Default::default(),
    };
    let entries = index.manifests.clone();
    let index_descriptor = layout
        .put_blob(OCI_INDEX, &serde_json::to_vec(&index).unwrap())
        .unwrap();
    layout.tag("multi", &index_descriptor).unwrap();
    (source, entries)
}

#[test]
fn a_multi_platform_index_round_trips_and_one_platform_can_be_chosen() {
    let registry = Registry::start();
    let other = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (source, entries) = multi_platform_image(dir.path());
    let first = format!("docker://{}/multi:v1", registry.address);
    run(
        "skopeo",
        &[
            "copy",
            "--all",
            "--dest-tls-verify=false",
            &format!("oci:{source}:multi"),
            &first,
        ],
    );
    let second = format!("docker://{}/multi:v1", other.address);
    copy(&first, &second, &[]);
    let raw = |image: &str| run("skopeo", &["inspect", "--raw", "--tls-verify=false", image]);
    assert_eq!(
        raw(&first),
        raw(&second),
        "the index is copied byte for byte"
    );
    for entry in &entries {
        let by_digest = format!("docker://{}/multi@{}", other.address, entry.digest);
        let manifest: Value = serde_json::from_str(&raw(&by_digest)).unwrap();
        assert_eq!(manifest["schemaVersion"], 2);
    }
    let chosen = format!("oci:{}/arm:x", dir.path().display());
    let digest = copy(&second, &chosen, &["--platform", "linux/arm64"]);
    assert_eq!(digest, entries[1].digest);
    let (ok, _, stderr) = salve(
        &["copy", &second, &chosen, "--platform", "linux/s390x"],
        &[],
    );
    assert!(
        !ok && stderr.contains("linux/amd64, linux/arm64"),
        "{stderr}"
    );
}

#[test]
fn a_password_protected_registry_takes_credentials_from_the_auth_file() {
    let registry = Registry::with_password("salve", "s3cret");
    let dir = tempfile::tempdir().unwrap();
    let source = format!("oci:{}:base", umoci_image(dir.path()));
    let target = format!("docker://{}/private:v1", registry.address);

    let (ok, _, stderr) = salve(&["copy", &source, &target], &[]);
    assert!(!ok, "an anonymous push must be refused");
    assert!(stderr.contains("docker login"), "{stderr}");

    let auth_file = dir.path().join("auth.json");
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
    copy(&source, &target, &["--authfile", auth]);
    let back = format!("oci:{}/back:v1", dir.path().display());
    copy(&target, &back, &["--authfile", auth]);
    assert_eq!(diff_ids(&back), diff_ids(&source));
    // The same file found through DOCKER_CONFIG, as docker login leaves it.
    let docker_config = dir.path().join("docker");
    std::fs::create_dir(&docker_config).unwrap();
    std::fs::copy(&auth_file, docker_config.join("config.json")).unwrap();
    let (ok, _, stderr) = salve(
        &[
            "copy",
            &target,
            &format!("oci:{}/again:v1", dir.path().display()),
        ],
        &[("DOCKER_CONFIG", docker_config.to_str().unwrap())],
    );
    assert!(ok, "{stderr}");
}

/// A client with quick retries for the fault tests.
fn quick_client(reference: &str, attempts: u32) -> RegistryClient {
    let options = RegistryOptions {
        retry: RetryPolicy {
            attempts,
            first_delay: Duration::from_millis(20),
        },
        stall_timeout: Duration::from_secs(1),
        ..RegistryOptions::default()
    };
    RegistryClient::new(&[&image(reference)], &options).unwrap()
}

#[test]
fn pulls_through_faults_are_retried_or_fail_clearly() {
    let registry = Registry::start();
    let proxy = FaultProxy::start(&registry.address);
    let dir = tempfile::tempdir().unwrap();
    let source = umoci_image(dir.path());
    let direct = format!("{}/faulty:v1", registry.address);
    run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{source}:base"),
            &format!("docker://{direct}"),
        ],
    );
    let through_proxy = format!("{}/faulty:v1", proxy.address);
    let runtime = runtime();
    for fault in [
        Fault::ServerError,
        Fault::ResetMidBody,
        Fault::Truncate,
        Fault::CorruptByte,
        Fault::Stall,
    ] {
        // Once: retried, and the pull succeeds.
        proxy.set_rules(vec![Rule {
            method: "GET",
            path_contains: "/blobs/".into(),
            fault,
            times: 1,
        }]);
        let before = proxy.injected();
        let layout =
            OciLayout::open_or_create(&dir.path().join(format!("{fault:?}-once"))).unwrap();
        let client = quick_client(&through_proxy, 4);
        runtime
            .block_on(client.pull(&image(&through_proxy), &amd64(), &layout, "v1"))
            .unwrap_or_else(|error| panic!("{fault:?} once: {error}"));
        assert_eq!(proxy.injected(), before + 1, "{fault:?} was injected");
        // Always: a clear error naming the registry and the blob, and no tag written.
        proxy.set_rules(vec![Rule {
            method: "GET",
            path_contains: "/blobs/".into(),
            fault,
            times: u32::MAX,
        }]);
        let layout =
            OciLayout::open_or_create(&dir.path().join(format!("{fault:?}-always"))).unwrap();
        let error = runtime
            .block_on(client.pull(&image(&through_proxy), &amd64(), &layout, "v1"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&proxy.address)
                && error.contains("blob sha256:")
                && error.contains("4 attempts"),
            "{fault:?}: {error}"
        );
        assert!(
            layout.resolve(Some("v1")).is_err(),
            "{fault:?}: no tag after a failure"
        );
        if fault == Fault::Stall {
            assert!(
                error.contains("sent no data for 1s") && error.contains("--registry-stall-timeout"),
                "{error}"
            );
        }
    }
}

#[test]
fn a_failed_push_leaves_the_tag_as_it_was() {
    let registry = Registry::start();
    let proxy = FaultProxy::start(&registry.address);
    let dir = tempfile::tempdir().unwrap();
    let source = umoci_image(dir.path());
    let layout = OciLayout::open(Path::new(&source)).unwrap();
    let original = layout.resolve(Some("base")).unwrap().digest;
    let reference = format!("{}/app:stable", proxy.address);
    let runtime = runtime();
    let client = quick_client(&reference, 3);
    runtime
        .block_on(client.push(&layout, "base", &image(&reference), None))
        .unwrap();

    // A second image: the umoci image with one more file.
    let file = dir.path().join("motd");
    std::fs::write(&file, "v2\n").unwrap();
    insert_file(&format!("{source}:base"), &file, "/etc/motd");
    let updated = layout.resolve(Some("base")).unwrap().digest;
    assert_ne!(updated, original);

    // Blob uploads failing once are retried; a manifest that always fails stops the push.
    proxy.set_rules(vec![
        Rule {
            method: "PUT",
            path_contains: "/blobs/uploads/".into(),
            fault: Fault::ServerError,
            times: 1,
        },
        Rule {
            method: "PUT",
            path_contains: "/manifests/".into(),
            fault: Fault::ServerError,
            times: u32::MAX,
        },
    ]);
    let error = runtime
        .block_on(client.push(&layout, "base", &image(&reference), None))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("pushing the manifest") && error.contains("3 attempts"),
        "{error}"
    );
    let inspect: Value = serde_json::from_str(&run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{}/app:stable", registry.address),
        ],
    ))
    .unwrap();
    assert_eq!(
        inspect["Digest"],
        original.as_str(),
        "the tag still names the old image"
    );

    // With the registry healthy again the same push completes.
    proxy.set_rules(Vec::new());
    let digest = runtime
        .block_on(client.push(&layout, "base", &image(&reference), None))
        .unwrap();
    assert_eq!(digest, updated);
}

#[test]
fn images_go_into_and_out_of_a_docker_daemon() {
    images_go_into_and_out_of(crate::support::dockerd::Flavor::Installed);
}

#[test]
fn images_go_into_and_out_of_a_newer_docker_daemon_with_the_containerd_image_store() {
    // Its `docker save` writes an OCI layout with `manifest.json` beside it.
    images_go_into_and_out_of(crate::support::dockerd::Flavor::Newer);
}

/// The test on one Docker engine.
fn images_go_into_and_out_of(flavor: crate::support::dockerd::Flavor) {
    let daemon = crate::support::dockerd::Dockerd::start_flavor(flavor);
    let host = daemon.host();
    let env = [("DOCKER_HOST", host.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let source = format!("oci:{}:base", umoci_image(dir.path()));
    let expected = diff_ids(&source);
    let daemon_copy = |from: &str, to: &str| {
        let (ok, _, stderr) = salve(&["copy", from, to], &env);
        assert!(ok, "salve copy {from} {to}: {stderr}");
    };
    daemon_copy(&source, "docker-daemon:salve/test:v1");
    let listed = Command::new("docker")
        .env("DOCKER_HOST", &host)
        .args([
            "image",
            "inspect",
            "--format",
            "{{json .RootFS.Layers}}",
            "salve/test:v1",
        ])
        .output()
        .unwrap();
    let layers: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(layers, expected, "docker holds the image salve loaded");
    daemon_copy("docker-daemon:salve/test:v1", &format!("oci:{d}/out:v1"));
    assert_eq!(diff_ids(&format!("oci:{d}/out:v1")), expected);

    // An archive written by `docker save` is read by salve.
    let saved = dir.path().join("saved.tar");
    let status = Command::new("docker")
        .env("DOCKER_HOST", &host)
        .args(["save", "-o", saved.to_str().unwrap(), "salve/test:v1"])
        .status()
        .unwrap();
    assert!(status.success());
    daemon_copy(
        &format!("docker-archive:{}", saved.display()),
        &format!("oci:{d}/saved:v1"),
    );
    assert_eq!(diff_ids(&format!("oci:{d}/saved:v1")), expected);

    let (ok, _, stderr) = salve(&["copy", "docker-daemon:salve/none:v1", "oci:/tmp/x"], &env);
    assert!(!ok && stderr.contains("salve/none"), "{stderr}");
    drop(daemon);
    let (ok, _, stderr) = salve(&["copy", "docker-daemon:salve/test:v1", "oci:/tmp/x"], &env);
    assert!(
        !ok && stderr.contains("cannot talk to the docker daemon"),
        "{stderr}"
    );
}
