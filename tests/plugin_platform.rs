//! The plugin platform as a third-party author uses it, with the real binary, a real registry
//! (`docker-registry`) and a real wasm toolchain: `plugins new` makes a crate that passes its own
//! tests, `plugins build` makes a component, `plugins push` publishes it, `plugins add` installs it
//! by tag and by digest into other data folders with lock files, and `salve report` uses it. What
//! a registry may do wrong (a changed blob, an artifact of another kind, a component that breaks
//! the sandbox rules) is refused before anything is stored.

use crate::support::patching::{fixture_script, image_layers};
use crate::support::registry::Registry;
use crate::support::umoci_image;
use salve::image::read_paths;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One user's machine: data folders to switch between, one cache folder, and a target folder
/// for the generated crates shared by this test's builds.
struct Machine {
    /// Holds everything.
    dir: tempfile::TempDir,
}

impl Machine {
    fn new() -> Machine {
        Machine {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `salve` with `args`, the data folder `data` (`$XDG_DATA_HOME`), run in `cwd`.
    fn salve(&self, data: &str, cwd: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_salve"))
            .args(args)
            .current_dir(cwd)
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join(data))
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env("CARGO_TARGET_DIR", generated_target_dir())
            .env_remove("SALVE_PLUGIN_PATH")
            .env_remove("SALVE_CACHE_DIR")
            .output()
            .unwrap()
    }

    /// Like [`Machine::salve`], failing the test when salve fails; returns stdout.
    fn ok(&self, data: &str, cwd: &Path, args: &[&str]) -> String {
        let output = self.salve(data, cwd, args);
        assert!(
            output.status.success(),
            "salve {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Like [`Machine::salve`], expecting a failure; returns stderr.
    fn refused(&self, data: &str, args: &[&str]) -> String {
        let output = self.salve(data, self.dir.path(), args);
        assert!(!output.status.success(), "salve {args:?} succeeded");
        String::from_utf8(output.stderr).unwrap()
    }

    /// The plugin folder of data folder `data`.
    fn plugins(&self, data: &str) -> PathBuf {
        self.dir.path().join(data).join("salve/plugins")
    }

    /// The lock file of data folder `data`, parsed.
    fn lock(&self, data: &str) -> Value {
        read_json(&self.dir.path().join(data).join("salve/plugins.lock"))
    }
}

/// Cargo's target folder for generated crates: beside the test build's when there is one (so a
/// second run reuses the compiled dependencies), else a temporary one.
fn generated_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| PathBuf::from(dir).join("generated-plugins"))
        .unwrap_or_else(|| std::env::temp_dir().join("salve-generated-plugins"))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `cargo test` in a generated crate; fails the test when the crate's own tests fail.
fn cargo_test(dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .arg("test")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", generated_target_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo test in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The blob file `docker-registry` stores for `digest` under its storage folder.
fn stored_blob(storage: &Path, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").unwrap();
    storage.join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ))
}

#[test]
fn a_new_plugin_is_built_published_pinned_installed_elsewhere_and_used() {
    let machine = Machine::new();
    let registry = Registry::start();
    let work = machine.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();

    // new: both kinds build and pass their own tests as they are.
    machine.ok("author", &work, &["plugins", "new", "scanner", "lines"]);
    machine.ok(
        "author",
        &work,
        &["plugins", "new", "ecosystem", "toy", "--dir", "toy-plugin"],
    );
    let crate_dir = work.join("lines");
    cargo_test(&crate_dir);
    cargo_test(&work.join("toy-plugin"));

    // build: a checked component, where the command says.
    let built = machine.ok("author", &crate_dir, &["plugins", "build"]);
    let component = crate_dir.join(built.trim());
    assert_eq!(component, crate_dir.join("./target/salve/lines.wasm"));
    let bytes = std::fs::read(&component).unwrap();
    assert!(bytes.starts_with(b"\0asm"));

    // push, signed with a key made by openssl: the manifest digest on stdout.
    let (private_key, public_key) = key_pair(&work, "author");
    let (_, stranger_key) = key_pair(&work, "stranger");
    let tag = format!("oci://{}/plugins/lines:0.1.0", registry.address);
    let component_str = component.to_str().unwrap();
    let pushed = machine.ok(
        "author",
        &work,
        &[
            "plugins",
            "push",
            component_str,
            &tag,
            "--sign-key",
            &private_key,
        ],
    );
    let manifest_digest = pushed.trim().to_string();
    assert!(manifest_digest.starts_with("sha256:"), "{pushed}");

    // add by tag, pinned in the data folder's lock and a project's.
    let project_lock = work.join("salve-plugins.lock");
    let project_lock_str = project_lock.to_str().unwrap();
    machine.ok(
        "user",
        &work,
        &[
            "plugins",
            "add",
            &tag,
            "--lock",
            project_lock_str,
            "--key",
            &public_key,
        ],
    );
    let installed = machine.plugins("user").join("lines.wasm");
    assert_eq!(std::fs::read(&installed).unwrap(), bytes);
    let entry = &machine.lock("user")["plugins"]["lines"];
    assert_eq!(entry["source"], tag);
    assert_eq!(entry["manifest"], manifest_digest);
    assert_eq!(entry["kind"], "scanner");
    assert!(entry["signedBy"].as_str().unwrap().starts_with("sha256:"));
    let component_digest = entry["component"].as_str().unwrap().to_string();
    assert_eq!(read_json(&project_lock)["plugins"]["lines"], *entry);
    let list = machine.ok("user", &work, &["plugins", "list", "--format", "json"]);
    let list: Value = serde_json::from_str(&list).unwrap();
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "lines")
        .unwrap();
    assert_eq!(listed["lock"]["component"], component_digest.as_str());

    // add by digest into a second data folder; and what the project's lock pins into a third.
    let by_digest = format!("oci://{}/plugins/lines@{manifest_digest}", registry.address);
    machine.ok("second", &work, &["plugins", "add", &by_digest]);
    assert_eq!(
        std::fs::read(machine.plugins("second").join("lines.wasm")).unwrap(),
        bytes
    );
    machine.ok(
        "third",
        &work,
        &["plugins", "add", "--lock", project_lock_str],
    );
    assert_eq!(
        machine.lock("third")["plugins"]["lines"]["component"],
        component_digest.as_str()
    );

    // salve report picks the installed plugin for its format.
    let report = machine.ok("second", &crate_dir, &["report", "sample-report.txt"]);
    assert!(report.contains("scanner   lines"), "{report}");
    assert!(report.contains("3.0.15-1~deb12u1"), "{report}");

    // The ecosystem template's toy distribution, patched for real: an image of its `image/`
    // folder with a static busybox as /bin/sh, a report in the scanner's format, the local engine.
    let toy_dir = work.join("toy-plugin");
    let toy_built = machine.ok("author", &toy_dir, &["plugins", "build"]);
    let toy = toy_dir.join(toy_built.trim());
    let image = toy_image(
        &machine.dir.path().join("toy-image"),
        &toy_dir.join("image"),
    );
    let report = work.join("toy-report.txt");
    std::fs::write(&report, "# os: toy 1\nhello 1.0.2 1.1 TOY-2026-1\n").unwrap();
    let patched = machine.dir.path().join("toy-patched");
    let vex = machine.dir.path().join("toy.vex.json");
    let toy_str = toy.to_str().unwrap();
    machine.ok(
        "author",
        &work,
        &[
            "patch",
            "-i",
            &format!("oci:{image}:base"),
            "-r",
            report.to_str().unwrap(),
            "--plugin",
            toy_str,
            "--plugin",
            component_str,
            "--engine",
            "local",
            "--oci-dir",
            patched.to_str().unwrap(),
            "-t",
            "patched",
            "-o",
            vex.to_str().unwrap(),
        ],
    );
    let layers = image_layers(&patched, "patched");
    let database =
        read_paths(&layers, &["/var/lib/toypkg/installed".to_string()], 1 << 20).unwrap();
    let database = String::from_utf8(database[0].content.clone().unwrap()).unwrap();
    assert_eq!(database, "hello 1.1\nlibtoy 2.3\n");
    let vex = read_json(&vex);
    let statement = &vex["statements"][0];
    assert_eq!(statement["vulnerability"]["name"], "TOY-2026-1");
    assert_eq!(statement["status"], "fixed");
    let subcomponent = &statement["products"][0]["subcomponents"][0]["@id"];
    assert_eq!(subcomponent, "pkg:generic/hello@1.1?distro=toy-1");

    // An installed plugin changed on disk is refused by name, not run.
    std::fs::write(
        machine.plugins("second").join("lines.wasm"),
        b"\0asm changed",
    )
    .unwrap();
    let error = machine.refused(
        "second",
        &[
            "report",
            "--scanner",
            "lines",
            crate_dir.join("sample-report.txt").to_str().unwrap(),
        ],
    );
    assert!(error.contains("was changed since it was added"), "{error}");
    machine.ok("second", &work, &["plugins", "remove", "lines"]);
    assert!(!machine.plugins("second").join("lines.wasm").exists());

    // --key: a signature by another key, or none at all, is refused before anything is stored.
    let error = machine.refused("fourth", &["plugins", "add", &tag, "--key", &stranger_key]);
    assert!(error.contains("none by key"), "{error}");
    let unsigned = format!("oci://{}/plugins/trivy:1", registry.address);
    let trivy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist/trivy.wasm");
    machine.ok(
        "author",
        &work,
        &["plugins", "push", trivy.to_str().unwrap(), &unsigned],
    );
    let error = machine.refused(
        "fourth",
        &["plugins", "add", &unsigned, "--key", &public_key],
    );
    assert!(
        error.contains("none could be fetched from tag sha256-"),
        "{error}"
    );
    assert!(!machine.plugins("fourth").exists());

    // A blob changed in the registry's storage: refused, nothing stored.
    let storage = registry.storage();
    let blob = stored_blob(&storage, &component_digest);
    let mut tampered = std::fs::read(&blob).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    std::fs::write(&blob, &tampered).unwrap();
    let error = machine.refused("fourth", &["plugins", "add", &tag]);
    assert!(error.contains(&component_digest), "{error}");
    assert!(!machine.plugins("fourth").join("lines.wasm").exists());

    // A container image is not a plugin.
    let image_dir = machine.dir.path().join("image");
    std::fs::create_dir_all(&image_dir).unwrap();
    let layout = umoci_image(&image_dir);
    let image_ref = format!("{}/plugins/image:1", registry.address);
    machine.ok(
        "author",
        &work,
        &[
            "copy",
            &format!("oci:{layout}:base"),
            &format!("docker://{image_ref}"),
        ],
    );
    let error = machine.refused("fourth", &["plugins", "add", &format!("oci://{image_ref}")]);
    assert!(
        error.contains("is not a salve plugin: its config has media type"),
        "{error}"
    );

    // A component that imports WASI, published by a tool that does not check: refused at add.
    let hostile =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/plugins/dist/wasi-import.wasm");
    let hostile_ref = format!("oci://{}/plugins/hostile:1", registry.address);
    let error = machine.refused(
        "author",
        &["plugins", "push", hostile.to_str().unwrap(), &hostile_ref],
    );
    assert!(error.contains("import"), "{error}");
    publish_unchecked(&hostile, &hostile_ref);
    let error = machine.refused("fourth", &["plugins", "add", &hostile_ref]);
    assert!(error.contains("import"), "{error}");
    assert!(!machine.plugins("fourth").exists());
}

/// An OCI layout (tag `base`) of the toy distribution: the template's `image/` files and a
/// static busybox as `/bin/sh`, built with umoci. Returns the layout's folder.
fn toy_image(dir: &Path, files: &Path) -> String {
    let busybox = PathBuf::from(fixture_script("fixtures/busybox/fetch.sh", &[]));
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    crate::support::run(
        "cp",
        &[
            "-R",
            &format!("{}/.", files.display()),
            rootfs.to_str().unwrap(),
        ],
    );
    std::fs::copy(
        busybox.join("busybox-static-amd64/busybox"),
        rootfs.join("bin/busybox"),
    )
    .unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    let layout = dir.join("layout");
    let layout_str = layout.to_str().unwrap();
    crate::support::run("umoci", &["init", "--layout", layout_str]);
    let image = format!("{layout_str}:base");
    crate::support::run("umoci", &["new", "--image", &image]);
    crate::support::run(
        "umoci",
        &["insert", "--image", &image, rootfs.to_str().unwrap(), "/"],
    );
    layout_str.to_string()
}

/// A P-256 key pair made by openssl in `dir`: the private and the public key's paths.
fn key_pair(dir: &Path, name: &str) -> (String, String) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub"));
    let private_str = private.to_str().unwrap();
    let curve = "ec_paramgen_curve:P-256";
    let generate = [
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        curve,
        "-out",
        private_str,
    ];
    crate::support::run("openssl", &generate);
    let public_str = public.to_str().unwrap();
    crate::support::run(
        "openssl",
        &["pkey", "-in", private_str, "-pubout", "-out", public_str],
    );
    (private_str.to_string(), public_str.to_string())
}

/// Publishes a component as a plugin artifact without salve's checks, as another tool could.
fn publish_unchecked(component: &Path, reference: &str) {
    let bytes = std::fs::read(component).unwrap();
    let facts = salve::plugin_store::artifact::ArtifactFacts {
        name: "wasi-import".into(),
        version: "0.1.0".into(),
        summary: "imports WASI".into(),
        export: "salve:plugin/scanner@0.4.0".into(),
        created: "2026-12-01T00:00:00Z".into(),
    };
    let reference = salve::plugin_store::parse_oci_reference(reference).unwrap();
    let work = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(salve::plugin_store::registry::publish(
            &bytes,
            &facts,
            &reference,
            None,
            &salve::transport::RegistryOptions::default(),
            work.path(),
        ))
        .unwrap();
}
