//! `salve --version`, `salve plugins list` and `salve plugins inspect`, run as a user would: the
//! real binary, real components, a private home for the data and cache folders.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A private home for one test: its own data folder, cache folder and plugin path.
struct Home {
    /// Holds `data/` and `cache/`.
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The user's plugin folder (`$XDG_DATA_HOME/salve/plugins`), created.
    fn plugin_dir(&self) -> PathBuf {
        let dir = self.dir.path().join("data/salve/plugins");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The cache folder (`$XDG_CACHE_HOME/salve`).
    fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache/salve")
    }

    /// `salve` with these arguments, in this home.
    fn salve(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_salve"));
        command
            .args(args)
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env_remove("SALVE_PLUGIN_PATH")
            .env_remove("SALVE_CACHE_DIR")
            .env_remove("SALVE_PLUGIN_TIMEOUT");
        command
    }

    /// Runs `salve` and returns its output.
    fn run(&self, args: &[&str]) -> Output {
        self.salve(args).output().unwrap()
    }
}

/// A component built from `tests/plugins/<name>/`.
fn test_plugin(name: &str) -> PathBuf {
    repo().join(format!("tests/plugins/dist/{name}.wasm"))
}

/// The repository's top folder.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The JSON list of plugins.
fn list_json(home: &Home, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["plugins", "list", "--format", "json"];
    args.extend_from_slice(extra);
    let output = home.run(&args);
    serde_json::from_slice::<Value>(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}{}", stdout(&output), stderr(&output)))
        .as_array()
        .unwrap()
        .clone()
}

fn find<'a>(plugins: &'a [Value], name: &str) -> &'a Value {
    plugins
        .iter()
        .find(|plugin| plugin["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not listed: {plugins:?}"))
}

#[test]
fn version_names_the_plugin_abi() {
    let output = Home::new().run(&["--version"]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(
        text.starts_with(&format!("salve {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("salve:plugin@0.4.0"), "{text}");
}

#[test]
fn the_built_in_trivy_plugin_is_listed() {
    let home = Home::new();
    let output = home.run(&["plugins", "list"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    let header = table.lines().next().unwrap();
    for column in ["NAME", "KIND", "VERSION", "SOURCE", "SHA256"] {
        assert!(header.contains(column), "{table}");
    }
    let trivy = table
        .lines()
        .find(|line| line.starts_with("trivy "))
        .unwrap();
    assert!(
        trivy.contains("scanner") && trivy.contains("built-in"),
        "{table}"
    );

    let plugins = list_json(&home, &[]);
    let trivy = find(&plugins, "trivy");
    assert_eq!(trivy["kind"], "scanner");
    assert_eq!(trivy["source"]["kind"], "built-in");
    assert_eq!(trivy["wit_version"], "0.4.0");
    let sha256 = trivy["sha256"].as_str().unwrap();
    let expected = sha256_hex(&std::fs::read(repo().join("plugins/dist/trivy.wasm")).unwrap());
    assert_eq!(sha256, expected);
}

#[test]
fn later_sources_override_earlier_ones_and_the_list_says_which_won() {
    let home = Home::new();
    // The hostile test plugin, installed under its own name in the data folder, then again on
    // $SALVE_PLUGIN_PATH and with --plugin: the command line wins over both.
    std::fs::copy(
        test_plugin("hostile"),
        home.plugin_dir().join("hostile.wasm"),
    )
    .unwrap();
    let env_dir = tempfile::tempdir().unwrap();
    std::fs::copy(test_plugin("hostile"), env_dir.path().join("hostile.wasm")).unwrap();

    let plugins = list_json(&home, &[]);
    assert_eq!(find(&plugins, "hostile")["source"]["kind"], "data-dir");

    let output = home
        .salve(&["plugins", "list", "--format", "json"])
        .env("SALVE_PLUGIN_PATH", env_dir.path())
        .output()
        .unwrap();
    let plugins: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let hostile = find(&plugins, "hostile");
    assert_eq!(hostile["source"]["kind"], "env-path");
    assert_eq!(hostile["overrides"][0]["kind"], "data-dir");

    let hostile_path = test_plugin("hostile");
    let plugins = list_json(&home, &["--plugin", hostile_path.to_str().unwrap()]);
    let hostile = find(&plugins, "hostile");
    assert_eq!(hostile["source"]["kind"], "command-line");
    assert_eq!(hostile["source"]["path"], hostile_path.to_str().unwrap());

    // A plugin named like a built-in one replaces it, and the table says so.
    let built_in = repo().join("plugins/dist/trivy.wasm");
    std::fs::copy(&built_in, home.plugin_dir().join("trivy.wasm")).unwrap();
    let output = home.run(&["plugins", "list"]);
    let table = stdout(&output);
    let trivy = table
        .lines()
        .find(|line| line.starts_with("trivy "))
        .unwrap();
    assert!(
        trivy.contains("data-dir") && trivy.contains("overrides built-in"),
        "{table}"
    );
}

#[test]
fn a_broken_plugin_is_reported_and_the_others_still_listed() {
    let home = Home::new();
    let wasi = test_plugin("wasi-import");
    let output = home.run(&["plugins", "list", "--plugin", wasi.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(
        stdout(&output)
            .lines()
            .any(|line| line.starts_with("trivy "))
    );
    let errors = stderr(&output);
    assert!(errors.contains("wasi-import"), "{errors}");
    assert!(
        errors.contains("wasi:filesystem/preopens@0.2.0"),
        "{errors}"
    );
}

#[test]
fn inspect_shows_interface_functions_and_limits() {
    let home = Home::new();
    let output = home.run(&["plugins", "inspect", "trivy", "--plugin-timeout", "5s"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "salve:plugin/scanner@0.4.0",
        "salve:plugin/scanner-plugin",
        "0.4.0 (this salve loads 0.1.x, 0.2.x, 0.3.x, 0.4.x)",
        "parse: func(report: list<u8>) -> result<",
        "deadline  5s",
        "memory    1 GiB",
        "--plugin-max-output",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    let output = home.run(&["plugins", "inspect", "trivy", "--format", "json"]);
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["export"], "salve:plugin/scanner@0.4.0");
    assert_eq!(value["limits"]["memory_bytes"], 1u64 << 30);
    assert_eq!(value["functions"].as_array().unwrap().len(), 3);
}

#[test]
fn inspect_takes_a_path_and_explains_why_a_plugin_cannot_load() {
    let home = Home::new();
    let hostile = test_plugin("hostile");
    let output = home.run(&["plugins", "inspect", hostile.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("misbehaves on request"));

    let future = test_plugin("future-abi");
    let output = home.run(&["plugins", "inspect", future.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("salve:plugin@0.1.x, 0.2.x, 0.3.x"),
        "{}",
        stderr(&output)
    );

    let output = home.run(&["plugins", "inspect", "no-such-plugin"]);
    assert!(!output.status.success());
    let errors = stderr(&output);
    assert!(
        errors.contains("no plugin named \"no-such-plugin\""),
        "{errors}"
    );
    assert!(
        errors.contains(
            "known plugins: apk, copa-manifest, cyclonedx, dpkg, grype, osv, pacman, pip, rpm, trivy"
        ),
        "{errors}"
    );
}

#[test]
fn compiled_code_is_cached_and_a_tampered_entry_is_compiled_again() {
    let home = Home::new();
    let inspect = |home: &Home| {
        let output = home.run(&["plugins", "inspect", "trivy", "--format", "json"]);
        assert!(output.status.success(), "{}", stderr(&output));
        let value: Value = serde_json::from_slice(&output.stdout).unwrap();
        (
            value["compiled_code"].as_str().unwrap().to_string(),
            stderr(&output),
        )
    };
    assert_eq!(inspect(&home).0, "compiled");
    assert_eq!(inspect(&home).0, "hit");

    let compiled = home.cache_dir().join("compiled");
    let entry = std::fs::read_dir(&compiled)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
        .expect("a cache entry");
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&entry, bytes).unwrap();

    let (outcome, warnings) = inspect(&home);
    assert_eq!(outcome, "compiled");
    assert!(
        warnings.contains("was not written by this salve"),
        "{warnings}"
    );
    assert_eq!(inspect(&home).0, "hit");

    let output = home.run(&[
        "plugins",
        "inspect",
        "trivy",
        "--format",
        "json",
        "--no-cache",
    ]);
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["compiled_code"], "uncached");
}

/// The sha256 of some bytes, in hex, computed by coreutils' `sha256sum` as an outside check.
fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8(output.stdout).unwrap()[..64].to_string()
}
