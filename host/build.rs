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
    write_byte_table(
        "built_in_plugins.rs",
        "BUILT_IN_PLUGINS",
        "The built-in plugins: name and component bytes.",
        &plugins,
    );
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
    write_byte_table(
        "sdk_files.rs",
        "SDK_FILES",
        "The plugin SDK's files: path in the crate and bytes.",
        &files,
    );
}

/// Writes `OUT_DIR/file`: a static slice `name` of (key, file bytes) pairs, the bytes included
/// from each path (and the build rerun when one changes).
fn write_byte_table(file: &str, name: &str, doc: &str, entries: &[(String, PathBuf)]) {
    let mut code = format!("/// {doc}\npub static {name}: &[(&str, &[u8])] = &[\n");
    for (key, path) in entries {
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            code,
            "    ({key:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join(file);
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
