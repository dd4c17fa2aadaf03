//! Embeds the built-in plugins from `plugins/dist/*.wasm` and the plugin SDK's sources (for
//! `salve plugins new`) into the binary, and generates the BuildKit client and session services
//! from `proto/*.proto`.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    embed_plugins();
    embed_sdk();
    generate_buildkit_api();
}

/// Writes `built_in_plugins.rs`: the plugin components as static byte slices.
fn embed_plugins() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let dist = manifest_dir.join("../plugins/dist");
    println!("cargo:rerun-if-changed={}", dist.display());

    let mut plugins: Vec<(String, PathBuf)> = std::fs::read_dir(&dist)
        .unwrap_or_else(|error| panic!("reading {}: {error}", dist.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".wasm")?
                .to_string();
            Some((name, path.canonicalize().ok()?))
        })
        .collect();
    plugins.sort();

    let mut code = String::from("/// The built-in plugins: name and component bytes.\n");
    code.push_str("pub static BUILT_IN_PLUGINS: &[(&str, &[u8])] = &[\n");
    for (name, path) in &plugins {
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            code,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");

    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("built_in_plugins.rs");
    std::fs::write(out, code).unwrap();
}

/// Writes `sdk_files.rs`: every file of the plugin SDK crate (`sdk/`: its manifest, README,
/// sources and WIT folders, through the `wit` link) with its path relative to the crate.
fn embed_sdk() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let sdk = manifest_dir.join("../sdk");
    let mut files = Vec::new();
    for top in ["Cargo.toml", "README.md", "src", "wit"] {
        collect_files(&sdk, &sdk.join(top), &mut files);
    }
    files.sort();
    let mut code = String::from("/// The plugin SDK's files: path in the crate and bytes.\n");
    code.push_str("pub static SDK_FILES: &[(&str, &[u8])] = &[\n");
    for (relative, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            code,
            "    ({relative:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("sdk_files.rs");
    std::fs::write(out, code).unwrap();
}

/// Adds the files at `path` (a file, or a folder walked through links) to `files`, each with its
/// `/`-separated path relative to `root`.
fn collect_files(
    root: &std::path::Path,
    path: &std::path::Path,
    files: &mut Vec<(String, PathBuf)>,
) {
    println!("cargo:rerun-if-changed={}", path.display());
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            collect_files(root, &entry.unwrap().path(), files);
        }
    } else {
        let relative = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        files.push((relative, path.canonicalize().unwrap()));
    }
}

/// Compiles the BuildKit definitions (pure Rust, no `protoc`) and generates their Rust types,
/// the `Control` client, and the session servers.
fn generate_buildkit_api() {
    let protos = [
        "control.proto",
        "ops.proto",
        "filesync.proto",
        "health.proto",
    ];
    for proto in protos {
        println!("cargo:rerun-if-changed=proto/{proto}");
    }
    let files = protox::compile(protos, ["proto"]).expect("proto/*.proto compile");
    tonic_prost_build::configure()
        .build_transport(false)
        // Ordered maps, so an op's bytes (and so its digest, its cache key) are stable.
        .btree_map(".")
        .compile_fds(files)
        .expect("generating the BuildKit API");
}
