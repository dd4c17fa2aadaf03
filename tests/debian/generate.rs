//! `salve generate`: the build context it writes, built by a real Docker engine, makes the image
//! `salve patch` makes from the same report.

use super::*;
use crate::support::dockerd::Dockerd;
use std::collections::BTreeMap;

/// A layer's entries that are not folders, whiteouts apart: path → description.
fn files_of(blob: &Path) -> BTreeMap<String, String> {
    layer_entries(blob)
        .into_iter()
        .filter(|(path, described)| {
            !described.starts_with("Directory")
                && !path.rsplit('/').next().unwrap().starts_with(".wh.")
        })
        .collect()
}

/// The paths a layer whites out (opaque folders by their folder).
fn removals_of(blob: &Path) -> Vec<String> {
    let mut removed: Vec<String> = layer_entries(blob)
        .into_keys()
        .filter_map(|path| {
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", &path));
            match name {
                ".wh..wh..opq" => Some(parent.to_string()),
                _ => name
                    .strip_prefix(".wh.")
                    .map(|hidden| format!("{parent}/{hidden}")),
            }
        })
        .collect();
    removed.sort();
    removed
}

#[test]
fn a_generated_context_builds_with_docker_into_what_salve_patch_writes() {
    let case = report_case("generate", 3);
    let cache = case.cache.path();
    let (base, report, chosen, work) = (&case.base, &case.report, &case.chosen, &case.work);

    let (ok, _, stderr) = salve(
        &Engine::Local,
        &[
            "patch",
            "-i",
            base,
            "-r",
            report.to_str().unwrap(),
            "--push",
        ],
        cache,
    );
    assert!(ok, "{stderr}");
    let patched = read_back(&format!("{base}-patched"), cache);
    let patch_layer = patched.layers.last().unwrap();

    let context = work.path().join("context.tar");
    let (ok, _, stderr) = salve(
        &Engine::Local,
        &[
            "generate",
            "-i",
            base,
            "-r",
            report.to_str().unwrap(),
            "-o",
            context.to_str().unwrap(),
        ],
        cache,
    );
    assert!(ok, "{stderr}");

    let docker = Dockerd::start();
    let build = Command::new("docker")
        .env("DOCKER_HOST", docker.host())
        .args(["build", "--network", "host", "-t", "salve/generated:1", "-"])
        .stdin(std::fs::File::open(&context).unwrap())
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "docker build: {}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    let built = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = salve_in(
        cache,
        &[
            "copy",
            "docker-daemon:salve/generated:1",
            &format!("oci:{}:x", built.path().display()),
        ],
        &[("DOCKER_HOST", docker.host().as_str())],
    );
    assert!(ok, "{stderr}");
    let built_layers = crate::support::patching::image_layers(built.path(), "x");

    // The base's layers, then what the Dockerfile added: exactly the context's patch.tar, and
    // the same removals as its patch layer.
    assert_eq!(
        built_layers.len() - case.original.layers.len(),
        if removals_of(patch_layer).is_empty() {
            1
        } else {
            2
        },
    );
    let shipped = work.path().join("patch.tar");
    let mut archive = tar::Archive::new(std::fs::File::open(&context).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some("patch.tar") {
            entry.unpack(&shipped).unwrap();
        }
    }
    let added = files_of(built_layers.last().unwrap());
    assert_eq!(added, files_of(&shipped));
    if built_layers.len() - case.original.layers.len() == 2 {
        let removing = &built_layers[built_layers.len() - 2];
        assert_eq!(removals_of(removing), removals_of(patch_layer));
    }

    // The same files, kinds, modes and owners as `salve patch`'s layer; contents too, but for
    // the logs and caches each run writes anew.
    let patched_files = files_of(patch_layer);
    assert_eq!(
        added.keys().collect::<Vec<_>>(),
        patched_files.keys().collect::<Vec<_>>()
    );
    for (path, described) in &added {
        let (kind, content) = described.rsplit_once(' ').unwrap();
        let (patched_kind, patched_content) = patched_files[path].rsplit_once(' ').unwrap();
        assert_eq!(kind, patched_kind, "{path}");
        let per_run = path.starts_with("var/log/") || path.starts_with("var/cache/");
        assert!(content == patched_content || per_run, "{path} differs");
    }
    assert_all_fixed(&status_of(&built_layers), chosen);
}
