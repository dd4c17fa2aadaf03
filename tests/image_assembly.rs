//! Assembling patched images in an OCI layout made by umoci, read back with skopeo and umoci:
//! labels and history, squashing a previous salve or copa patch into one layer, and indexes
//! with one platform replaced.

use crate::support::{run, umoci_image};
use salve::image::assemble::{
    LABEL_BASE_DIGEST, LABEL_BASE_IMAGE, LABEL_PATCH_LAYER, PatchInput, assemble, replace_in_index,
};
use salve::image::layout::OciLayout;
use salve::image::manifest::{Descriptor, Index, Manifest, OCI_INDEX, Platform};
use salve::image::{Compression, LayerOptions, PlatformImage, WrittenLayer, write_layer};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A patch layer holding the given files, written next to `dir`.
fn patch_layer(dir: &Path, name: &str, files: &[(&str, &str)]) -> (PathBuf, WrittenLayer) {
    let upper = dir.join(format!("{name}-upper"));
    for (path, content) in files {
        let target = upper.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, content).unwrap();
    }
    let blob = dir.join(format!("{name}.blob"));
    let written = write_layer(
        &upper,
        std::fs::File::create(&blob).unwrap(),
        &LayerOptions::default(),
    )
    .unwrap();
    (blob, written)
}

/// Adds a patch to the image tagged `from`, tagging the result `to`.
fn patch(layout: &OciLayout, from: &str, to: &str, blob: &Path, layer: &WrittenLayer) -> bool {
    let base = layout.resolve(Some(from)).unwrap();
    let patched = assemble(&PatchInput {
        layout,
        base: &PlatformImage::read(layout, &base).unwrap(),
        base_name: "example.test/app:1",
        layer_file: blob,
        layer,
        created: "2026-11-27T10:00:00Z",
        compression: Compression::Gzip,
        threads: 2,
    })
    .unwrap();
    layout.tag(to, &patched.manifest).unwrap();
    patched.squashed
}

/// What umoci unpacks from an image: the path of its root file system.
fn unpack(dir: &Path, image: &str, name: &str) -> PathBuf {
    let bundle = dir.join(name);
    let mut args = vec!["unpack", "--image", image];
    if !rustix::process::geteuid().is_root() {
        args.push("--rootless");
    }
    args.push(bundle.to_str().unwrap());
    run("umoci", &args);
    bundle.join("rootfs")
}

#[test]
fn a_second_patch_is_squashed_into_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let source = umoci_image(dir.path());
    let layout = OciLayout::open(Path::new(&source)).unwrap();
    let original = layout.resolve(Some("base")).unwrap().digest;

    let (blob, first) = patch_layer(
        dir.path(),
        "first",
        &[("etc/first", "1\n"), ("etc/hostname", "one\n")],
    );
    assert!(!patch(&layout, "base", "p1", &blob, &first));
    let inspect: Value =
        serde_json::from_str(&run("skopeo", &["inspect", &format!("oci:{source}:p1")])).unwrap();
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2);
    assert_eq!(
        inspect["Labels"][LABEL_PATCH_LAYER],
        first.tar.digest.as_str()
    );
    assert_eq!(inspect["Labels"][LABEL_BASE_DIGEST], original.as_str());
    assert_eq!(inspect["Labels"][LABEL_BASE_IMAGE], "example.test/app:1");

    let (blob, second) = patch_layer(
        dir.path(),
        "second",
        &[("etc/second", "2\n"), ("etc/hostname", "two\n")],
    );
    assert!(
        patch(&layout, "p1", "p2", &blob, &second),
        "the first patch is squashed"
    );
    let inspect: Value =
        serde_json::from_str(&run("skopeo", &["inspect", &format!("oci:{source}:p2")])).unwrap();
    assert_eq!(
        inspect["Layers"].as_array().unwrap().len(),
        2,
        "still one patch layer"
    );
    assert_eq!(
        inspect["Labels"][LABEL_BASE_DIGEST],
        original.as_str(),
        "the first base is kept"
    );
    let config: Value = serde_json::from_str(&run(
        "skopeo",
        &["inspect", "--config", &format!("oci:{source}:p2")],
    ))
    .unwrap();
    let history = config["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[1]["created_by"], "salve patch");
    assert_eq!(
        config["rootfs"]["diff_ids"][1], inspect["Labels"][LABEL_PATCH_LAYER],
        "the label names the merged layer"
    );

    let rootfs = unpack(dir.path(), &format!("{source}:p2"), "p2");
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/first")).unwrap(),
        "1\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/second")).unwrap(),
        "2\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/hostname")).unwrap(),
        "two\n"
    );
}

#[test]
fn an_image_copa_patched_has_its_patch_layer_merged() {
    let dir = tempfile::tempdir().unwrap();
    let source = umoci_image(dir.path());
    // umoci's inserted layer stands for copa's patch layer; copa labels the image BaseImage.
    run(
        "umoci",
        &[
            "config",
            "--image",
            &format!("{source}:base"),
            "--config.label",
            "BaseImage=docker.io/library/nginx:1.21.6",
        ],
    );
    let layout = OciLayout::open(Path::new(&source)).unwrap();
    let (blob, layer) = patch_layer(dir.path(), "salve", &[("etc/salve", "yes\n")]);
    assert!(patch(&layout, "base", "patched", &blob, &layer));
    let inspect: Value = serde_json::from_str(&run(
        "skopeo",
        &["inspect", &format!("oci:{source}:patched")],
    ))
    .unwrap();
    assert_eq!(
        inspect["Layers"].as_array().unwrap().len(),
        1,
        "copa's layer and salve's are one"
    );
    assert_eq!(
        inspect["Labels"][LABEL_BASE_IMAGE],
        "docker.io/library/nginx:1.21.6"
    );
    let rootfs = unpack(dir.path(), &format!("{source}:patched"), "patched");
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/hostname")).unwrap(),
        "from-umoci\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/salve")).unwrap(),
        "yes\n"
    );
}

#[test]
fn an_index_gets_only_the_patched_platform_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let source = umoci_image(dir.path());
    let layout = OciLayout::open(Path::new(&source)).unwrap();
    let base = layout.resolve(Some("base")).unwrap();
    let entry = |descriptor: &Descriptor, architecture: &str| {
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
    // The arm64 entry names the same manifest: what matters is that it is left alone.
    let mut other = entry(&base, "arm64");
    other.digest = {
        let manifest: Manifest =
            serde_json::from_slice(&layout.read_blob(&base.digest).unwrap()).unwrap();
        layout
            .put_blob(
                &base.media_type,
                &serde_json::to_vec_pretty(&manifest).unwrap(),
            )
            .unwrap()
            .digest
    };
    let index = Index {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        manifests: vec![entry(&base, "amd64"), other.clone()],
        other: Default::default(),
    };
    let index = layout
        .put_blob(OCI_INDEX, &serde_json::to_vec(&index).unwrap())
        .unwrap();

    let (blob, layer) = patch_layer(dir.path(), "p", &[("etc/p", "p\n")]);
    let patched = assemble(&PatchInput {
        layout: &layout,
        base: &PlatformImage::read(&layout, &base).unwrap(),
        base_name: "app",
        layer_file: &blob,
        layer: &layer,
        created: "2026-11-27T10:00:00Z",
        compression: Compression::Gzip,
        threads: 1,
    })
    .unwrap();
    let new_index = replace_in_index(
        &layout,
        &index,
        &[(base.digest.clone(), patched.manifest.clone())],
    )
    .unwrap();
    layout.tag("multi", &new_index).unwrap();
    let written: Index =
        serde_json::from_slice(&layout.read_blob(&new_index.digest).unwrap()).unwrap();
    assert_eq!(written.manifests[0].digest, patched.manifest.digest);
    assert_eq!(
        written.manifests[0].platform.as_ref().unwrap().architecture,
        "amd64"
    );
    assert_eq!(
        written.manifests[1], other,
        "the other platform is untouched"
    );
    let raw: Value = serde_json::from_str(&run(
        "skopeo",
        &["inspect", "--raw", &format!("oci:{source}:multi")],
    ))
    .unwrap();
    assert_eq!(
        raw["manifests"][0]["digest"],
        patched.manifest.digest.as_str()
    );
}
