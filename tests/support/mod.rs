//! Helpers shared by the end-to-end tests of ecosystem plugins.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

pub mod dockerd;
pub mod engine;
pub mod fault_proxy;
pub mod grpc_proxy;
pub mod mirror;
pub mod patching;
pub mod registry;
pub mod served;
pub mod vex;

use salve::plugin::types::{FileKind, ImageFile, OsInfo, Platform};
use salve::plugin::{Plugin, PluginRuntime, PluginSource, RuntimeOptions};
use std::cmp::Ordering;
use std::path::Path;

/// A built-in plugin from `plugins/dist/`, loaded into a fresh runtime.
pub fn built_in(name: &str) -> Plugin {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/dist")
        .join(format!("{name}.wasm"));
    let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let runtime = PluginRuntime::new(RuntimeOptions::default()).unwrap();
    runtime.load(name, PluginSource::BuiltIn, &bytes).unwrap()
}

/// Checks that an ecosystem plugin orders each pair as the ecosystem's own tool did
/// (`expected`, one answer per pair), and that most pairs differ (equal pairs test little).
pub fn assert_same_order(plugin: &Plugin, pairs: &[(String, String)], expected: &[Ordering]) {
    let ecosystem = plugin.as_ecosystem().unwrap();
    assert_eq!(expected.len(), pairs.len());
    let mut differing = 0;
    for ((a, b), expected) in pairs.iter().zip(expected) {
        let ours = ecosystem.compare_versions(a, b).unwrap();
        assert_eq!(ours, *expected, "{a} vs {b}");
        differing += usize::from(*expected != Ordering::Equal);
    }
    assert!(
        differing > pairs.len() * 2 / 3,
        "the pairs must mostly differ: {differing} of {}",
        pairs.len()
    );
}

/// A small deterministic generator (xorshift), so generated cases are the same on every run.
pub struct Generator(pub u64);

impl Generator {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// `linux/amd64`.
pub fn amd64() -> Platform {
    Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    }
}

/// An OS by its os-release id and version.
pub fn os(id: &str, version_id: &str) -> OsInfo {
    OsInfo {
        id: id.into(),
        version_id: version_id.into(),
        codename: None,
    }
}

/// A regular file of an image, with its text.
pub fn file(path: &str, content: &str) -> ImageFile {
    ImageFile {
        path: path.into(),
        kind: FileKind::File,
        content: Some(content.as_bytes().to_vec()),
        link_target: None,
    }
}

/// Runs a command, which must succeed; its standard output.
pub fn run(program: &str, args: &[&str]) -> String {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Adds the host file `file` to the image `image` (`LAYOUT:TAG`) at `path`, as a new layer
/// (`umoci insert`).
pub fn insert_file(image: &str, file: &Path, path: &str) {
    run(
        "umoci",
        &["insert", "--image", image, file.to_str().unwrap(), path],
    );
}

/// An OCI layout made by umoci in `dir/source`: an empty base with `/etc/hostname` inserted,
/// tagged `base`. Returns the layout's folder.
pub fn umoci_image(dir: &Path) -> String {
    let layout = dir.join("source");
    let layout_str = layout.to_str().unwrap();
    run("umoci", &["init", "--layout", layout_str]);
    run("umoci", &["new", "--image", &format!("{layout_str}:base")]);
    let file = dir.join("hostname");
    std::fs::write(&file, "from-umoci\n").unwrap();
    insert_file(&format!("{layout_str}:base"), &file, "/etc/hostname");
    layout_str.to_string()
}
