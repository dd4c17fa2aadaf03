//! Chiseled images (slices of packages and Chisel's manifest, no dpkg, apt or shell): the
//! engines that run a package manager refuse them, naming the native engine, which writes the
//! sliced paths of the new versions alone and a manifest that zstd and the image's own files
//! agree with.

use super::*;
use crate::support::patching::{fixture_script, image_layers, layer_file_paths};
use sha2::Digest;
use std::collections::BTreeSet;
use std::io::Write;
use std::process::Stdio;

/// Chisel's manifest.
const MANIFEST: &str = "/var/lib/chisel/manifest.wall";

/// The manifest's entries (the header checked), decompressed by the zstd program rather than
/// salve's own decoder, its lines checked to be in jsonwall's order.
fn manifest_entries(layers: &[PathBuf]) -> Vec<Value> {
    let files = read_paths(layers, &[MANIFEST.to_string()], 64 << 20).unwrap();
    let compressed = files[0].content.clone().expect("the image has a manifest");
    let mut zstd = Command::new("zstd")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    zstd.stdin.take().unwrap().write_all(&compressed).unwrap();
    let output = zstd.wait_with_output().unwrap();
    assert!(output.status.success(), "zstd could not decompress it");
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let header: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(header["schema"], "1.0");
    assert_eq!(header["count"], lines.len());
    let mut sorted = lines[1..].to_vec();
    sorted.sort();
    assert_eq!(sorted, lines[1..], "lines in jsonwall's order");
    lines[1..]
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The entries of one kind.
fn of_kind<'a>(entries: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    entries.iter().filter(move |entry| entry["kind"] == kind)
}

#[test]
fn a_chiseled_image_is_patched_natively_with_its_slices_alone_and_a_new_manifest() {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();
    let work = tempfile::tempdir().unwrap();
    // The sources and keyrings come from the tooling image the dpkg plugin asks for, served by
    // the local registry through copa's source policy.
    let policy = work.path().join("policy.json");
    tooling_through_policy(
        cache,
        &registry.address,
        "minbase",
        "debian:12-slim",
        "docker.io/library/debian:12-slim",
        &policy,
    );
    let environment = [(
        "EXPERIMENTAL_BUILDKIT_SOURCE_POLICY",
        policy.to_str().unwrap(),
    )];
    let layout = fixture_script("fixtures/images/chisel-image.sh", &[]);
    let image = format!("oci:{layout}:chiseled");
    let base = image_layers(Path::new(&layout), "chiseled");
    let before = manifest_entries(&base);
    let status: String = of_kind(&before, "package")
        .map(|package| {
            format!(
                "Package: {}\nVersion: {}\nArchitecture: {}\nStatus: install ok installed\n\n",
                package["name"].as_str().unwrap(),
                package["version"].as_str().unwrap(),
                package["arch"].as_str().unwrap()
            )
        })
        .collect();
    let updates = security_updates(status.as_bytes());
    assert!(
        !updates.is_empty(),
        "bookworm-security has no update for the fixture's packages; the test needs one"
    );
    let report = work.path().join("trivy.json");
    trivy_report(&report, &updates);
    let out = work.path().join("out");
    let patch = |engine: &Engine| {
        salve_in(
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
            &environment,
        )
    };

    // The local engine would install whole packages with dpkg: refused, naming native.
    let (ok, _, stderr) = patch(&Engine::Local);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("Chiseled image") && stderr.contains("--engine native"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is written");

    let (ok, _, stderr) = patch(&Engine::Native);
    assert!(ok, "{stderr}");
    let layers = image_layers(&out, "chiseled-patched");
    assert_eq!(layers.len(), base.len() + 1);
    let after = manifest_entries(&layers);
    for update in &updates {
        let package = of_kind(&after, "package")
            .find(|package| package["name"] == update.package.as_str())
            .unwrap();
        let version = package["version"].as_str().unwrap();
        assert!(
            at_least(version, &update.fixed),
            "{}: {version}, wanted {}",
            update.package,
            update.fixed
        );
        let old = of_kind(&before, "package")
            .find(|old| old["name"] == update.package.as_str())
            .unwrap();
        assert_ne!(package["sha256"], old["sha256"], "the new .deb's digest");
    }
    // Every file the manifest lists is in the image with the digest and size it records.
    let paths: Vec<String> = of_kind(&after, "path")
        .filter(|path| path["sha256"].is_string())
        .map(|path| path["path"].as_str().unwrap().to_string())
        .collect();
    let files = read_paths(&layers, &paths, 64 << 20).unwrap();
    for (path, file) in of_kind(&after, "path")
        .filter(|path| path["sha256"].is_string())
        .zip(&files)
    {
        let content = file.content.as_deref().unwrap();
        assert_eq!(
            hex::encode(sha2::Sha256::digest(content)),
            path["sha256"].as_str().unwrap(),
            "{}",
            file.path
        );
        assert_eq!(content.len() as u64, path["size"].as_u64().unwrap());
    }
    // The patch layer holds sliced paths and the manifest, nothing else of the packages.
    let sliced: BTreeSet<String> = of_kind(&after, "path")
        .map(|path| {
            path["path"]
                .as_str()
                .unwrap()
                .trim_start_matches('/')
                .to_string()
        })
        .collect();
    let written = layer_file_paths(layers.last().unwrap());
    assert!(
        written.iter().any(|path| format!("/{path}") == MANIFEST),
        "{written:?}"
    );
    for path in &written {
        assert!(sliced.contains(path), "{path} is not a sliced path");
    }
    assert!(
        !has_file(&layers, "/usr/bin/dpkg") && !has_file(&layers, "/bin/sh"),
        "nothing of the tooling image leaked in"
    );
}
