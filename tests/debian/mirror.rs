//! `--mirror`: an image whose sources name hosts that do not exist is patched on every engine
//! from a caching mirror on loopback (of this machine's Debian mirrors), and keeps its sources.

use super::*;
use crate::support::mirror::Mirror;
use crate::support::patching::{image_layers, layer_file_paths};

/// The sources the test image names: hosts under `.invalid`, which never resolve.
const UNREACHABLE_SOURCES: &str = "\
deb http://archive.salve-mirror.invalid/debian bookworm main
deb http://security.salve-mirror.invalid/debian-security bookworm-security main
";

/// The URI of the `deb` line for `suite` in a sources.list.
fn uri_of(sources: &str, suite: &str) -> String {
    sources
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|words| words.len() >= 3 && words[0] == "deb" && words[2] == suite)
        .map(|words| words[1].to_string())
        .unwrap_or_else(|| panic!("no {suite} source in:\n{sources}"))
}

/// The sources.list an image's layers hold.
fn sources_of(layers: &[PathBuf]) -> String {
    let files = read_paths(layers, &["/etc/apt/sources.list".to_string()], 1 << 20).unwrap();
    String::from_utf8(files[0].content.clone().unwrap()).unwrap()
}

#[test]
fn packages_come_through_mirrors_on_every_engine_and_the_image_keeps_its_sources() {
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let fixture = debian_fixture("minbase");
    run("cp", &["-a", &fixture, layout.to_str().unwrap()]);
    let base = image_layers(&layout, "minbase");
    let machine_sources = sources_of(&base);
    let mirror = Mirror::start(&[
        ("archive", &uri_of(&machine_sources, "bookworm")),
        ("security", &uri_of(&machine_sources, "bookworm-security")),
    ]);
    let sources = work.path().join("sources.list");
    std::fs::write(&sources, UNREACHABLE_SOURCES).unwrap();
    insert_file(
        &format!("{}:minbase", layout.display()),
        &sources,
        "/etc/apt/sources.list",
    );
    let updates = security_updates(&status_of(&base));
    let report = work.path().join("trivy.json");
    trivy_report(&report, &updates[..1]);
    let image = format!("oci:{}:minbase", layout.display());
    let out = work.path().join("out");
    // One origin as a URL prefix with its scheme, one without (either scheme).
    let archive_mirror = format!(
        "http://archive.salve-mirror.invalid/debian={}",
        mirror.route("archive")
    );
    let security_mirror = format!(
        "security.salve-mirror.invalid/debian-security={}/",
        mirror.route("security")
    );

    let patch_on = |engine: &Engine, tag: &str, extra: &[&str]| {
        let cache = tempfile::tempdir().unwrap();
        let output = format!("oci:{}:{tag}", out.display());
        let mut args = vec![
            "patch",
            "-i",
            &image,
            "-r",
            report.to_str().unwrap(),
            "--output-image",
            &output,
            "--mirror",
            &archive_mirror,
            "--mirror",
            &security_mirror,
        ];
        args.extend_from_slice(extra);
        let asked_before = mirror.asked().len();
        let (ok, _, stderr) = salve_in(cache.path(), &strs(&engine.host_network_args(&args)), &[]);
        assert!(ok, "{tag}: {stderr}");
        let asked = mirror.asked()[asked_before..].to_vec();
        assert!(
            asked.contains(&"/archive/dists/bookworm/InRelease".to_string()),
            "{tag}: the archive's index came through the mirror: {asked:?}"
        );
        assert!(
            asked
                .iter()
                .any(|path| path.starts_with("/security/pool/") && path.ends_with(".deb")),
            "{tag}: the fixed package came through the mirror: {asked:?}"
        );
        let layers = image_layers(&out, tag);
        assert_all_fixed(&status_of(&layers), &updates[..1]);
        assert_eq!(
            sources_of(&layers),
            UNREACHABLE_SOURCES,
            "{tag}: the image keeps its sources"
        );
        let top = layer_file_paths(layers.last().unwrap());
        assert!(
            !top.iter().any(|path| path.contains("etc/apt/sources.list")),
            "{tag}: the mirrored copy is not in the patch layer: {top:?}"
        );
        stderr
    };

    let stderr = patch_on(&Engine::Local, "local", &[]);
    assert!(
        stderr.contains("the steps see mirrored copies of /etc/apt/sources.list"),
        "{stderr}"
    );
    let stderr = patch_on(
        &Engine::Native,
        "native",
        &["--mirror", "alpine=http://127.0.0.1:9/alpine"],
    );
    assert!(
        stderr.contains(
            "--mirror alpine: no package source of the image starts with it, so its mirror is not \
             used"
        ),
        "an origin nothing names is warned about: {stderr}"
    );
    patch_on(&Engine::buildkit(), "buildkit", &[]);
}
