//! The `oci:` transport against real tools: salve reads an image that umoci made, adds a layer
//! written by its own layer writer, tags the result, and skopeo and umoci read it back.

use crate::support::{run, umoci_image};
use salve::image::config::add_layer;
use salve::image::manifest::{Manifest, OCI_MANIFEST};
use salve::image::{LayerOptions, write_layer};
use salve::image::{LayoutError, OciLayout};
use serde_json::Value;
use std::path::Path;

#[test]
fn an_image_made_by_umoci_is_patched_and_read_back_by_skopeo_and_umoci() {
    let dir = tempfile::tempdir().unwrap();
    let source_dir = umoci_image(dir.path());
    let source = OciLayout::open(Path::new(&source_dir)).unwrap();
    let descriptor = source.resolve(Some("base")).unwrap();
    let manifest: Manifest =
        serde_json::from_slice(&source.read_blob(&descriptor.digest).unwrap()).unwrap();
    assert_eq!(
        manifest.layers.len(),
        1,
        "umoci's inserted file is one layer"
    );
    let config = source.read_blob(&manifest.config.digest).unwrap();

    // A patch layer from a folder of changes.
    let upper = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(upper.path().join("etc")).unwrap();
    std::fs::write(upper.path().join("etc/patched"), "by salve\n").unwrap();
    let blob_path = dir.path().join("patch.blob");
    let written = write_layer(
        upper.path(),
        std::fs::File::create(&blob_path).unwrap(),
        &LayerOptions::default(),
    )
    .unwrap();

    let target_dir = dir.path().join("target");
    let target = OciLayout::open_or_create(&target_dir).unwrap();
    for layer in &manifest.layers {
        target
            .put_blob_file(&layer.digest, &source.blob_path(&layer.digest).unwrap())
            .unwrap();
    }
    target
        .put_blob_file(&written.blob.digest, &blob_path)
        .unwrap();
    let new_config = add_layer(
        &config,
        &written.tar.digest,
        "2026-11-27T10:00:00Z",
        "salve patch",
        &[("sh.salve.patch.layer", &written.tar.digest)],
    )
    .unwrap();
    let config_descriptor = target
        .put_blob("application/vnd.oci.image.config.v1+json", &new_config)
        .unwrap();
    let mut patched = manifest.clone();
    patched.config = config_descriptor;
    patched.layers.push(salve::image::manifest::Descriptor::new(
        written.media_type,
        &written.blob.digest,
        written.blob.size,
    ));
    let manifest_bytes = serde_json::to_vec(&patched).unwrap();
    let manifest_descriptor = target.put_blob(OCI_MANIFEST, &manifest_bytes).unwrap();
    target.tag("patched", &manifest_descriptor).unwrap();

    // skopeo reads it.
    let target_str = target_dir.to_str().unwrap();
    let inspect: Value = serde_json::from_str(&run(
        "skopeo",
        &["inspect", &format!("oci:{target_str}:patched")],
    ))
    .unwrap();
    let layers = inspect["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[1], written.blob.digest.as_str());
    assert_eq!(
        inspect["Labels"]["sh.salve.patch.layer"],
        written.tar.digest.as_str()
    );

    // umoci unpacks it, our layer included.
    let bundle = dir.path().join("bundle");
    let mut args = vec!["unpack", "--image"];
    let image = format!("{target_str}:patched");
    args.push(&image);
    if !rustix::process::geteuid().is_root() {
        args.push("--rootless");
    }
    args.push(bundle.to_str().unwrap());
    run("umoci", &args);
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/etc/patched")).unwrap(),
        "by salve\n"
    );
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/etc/hostname")).unwrap(),
        "from-umoci\n"
    );
}

#[test]
fn a_corrupt_blob_and_a_missing_tag_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let source_dir = umoci_image(dir.path());
    let layout = OciLayout::open(Path::new(&source_dir)).unwrap();
    let error = layout.resolve(Some("nope")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no image tagged \"nope\" (tags: base)"),
        "{error}"
    );

    let descriptor = layout.resolve(Some("base")).unwrap();
    let path = layout.blob_path(&descriptor.digest).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let error = layout.read_blob(&descriptor.digest).unwrap_err();
    assert!(
        matches!(error, LayoutError::DigestMismatch { .. }),
        "{error}"
    );

    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, b"not what the digest says").unwrap();
    let error = layout
        .put_blob_file(&format!("sha256:{}", "0".repeat(64)), &wrong)
        .unwrap_err();
    assert!(
        matches!(error, LayoutError::DigestMismatch { .. }),
        "{error}"
    );
    assert!(
        !layout
            .blob_path(&format!("sha256:{}", "0".repeat(64)))
            .unwrap()
            .exists()
    );

    assert!(OciLayout::open(&dir.path().join("not-a-layout")).is_err());
}
