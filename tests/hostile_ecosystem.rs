//! What the host takes back from an ecosystem plugin and from the steps it plans, against a
//! plugin built to abuse it (`tests/plugins/hostile-ecosystem`, built by `cargo xtask plugins`)
//! on the minbase fixture with an os-release that only that plugin recognises. The report's one
//! finding tells the plugin what to try; each test says what salve did before it was stopped.

use crate::support::patching::{debian_fixture, salve_in, workspace};
use crate::support::{insert_file, run};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The image layout: the minbase fixture tagged `hostile` (an image with a package manager, as
/// the plugin sees it), `distroless` (one without), and one tag per hostile native
/// installation (`native-dotdot`, `native-whiteout`, `native-link`).
fn layout() -> &'static Path {
    static LAYOUT: OnceLock<PathBuf> = OnceLock::new();
    LAYOUT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let layout = dir.join("layout");
        run(
            "cp",
            &["-a", &debian_fixture("minbase"), layout.to_str().unwrap()],
        );
        let layout_text = layout.to_str().unwrap();
        for (tag, version) in [
            ("hostile", "1"),
            ("distroless", "distroless"),
            ("native-dotdot", "native-dotdot"),
            ("native-whiteout", "native-whiteout"),
            ("native-link", "native-link"),
        ] {
            run(
                "umoci",
                &["tag", "--image", &format!("{layout_text}:minbase"), tag],
            );
            let os_release = dir.join(format!("os-release-{tag}"));
            std::fs::write(
                &os_release,
                format!("ID=hostile\nVERSION_ID={version}\nPRETTY_NAME=\"hostile\"\n"),
            )
            .unwrap();
            insert_file(
                &format!("{layout_text}:{tag}"),
                &os_release,
                "/etc/os-release",
            );
        }
        layout
    })
}

/// The cache every run of this file shares (unpacked images, compiled plugins), so that a run
/// under a short `--timeout` does not spend it compiling.
fn cache() -> &'static Path {
    static CACHE: OnceLock<PathBuf> = OnceLock::new();
    CACHE.get_or_init(|| tempfile::tempdir().unwrap().keep())
}

/// The hostile ecosystem plugin's component.
fn hostile_plugin() -> PathBuf {
    workspace().join("tests/plugins/dist/hostile-ecosystem.wasm")
}

/// A Trivy report asking to update `package` to `fixed`: the plugin's instructions.
fn report(dir: &Path, package: &str, fixed: &str) -> PathBuf {
    let path = dir.join("report.json");
    let report = json!({
        "SchemaVersion": 2,
        "ArtifactName": "hostile",
        "ArtifactType": "container_image",
        "Results": [{"Target": "hostile", "Class": "os-pkgs", "Type": "debian",
                     "Vulnerabilities": [{"VulnerabilityID": "CVE-2099-0001", "PkgName": package,
                                          "InstalledVersion": "1", "FixedVersion": fixed}]}],
    });
    std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
    path
}

/// Runs `salve patch` on the image tagged `tag` with the hostile plugin asked to try `package`
/// (with `fixed` as its argument); its success, stdout and stderr.
fn patch(tag: &str, package: &str, fixed: &str, extra: &[&str]) -> (bool, String, String) {
    let work = tempfile::tempdir().unwrap();
    let report = report(work.path(), package, fixed);
    let image = format!("oci:{}:{tag}", layout().display());
    let out = work.path().join("out");
    let mut args = vec![
        "patch",
        "-i",
        &image,
        "-r",
        report.to_str().unwrap(),
        "--oci-dir",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let plugin = hostile_plugin();
    args.extend(["--plugin", plugin.to_str().unwrap()]);
    salve_in(cache(), &args, &[])
}

#[test]
fn a_plan_path_with_dotdot_is_refused() {
    // Before: `/salve-results/../../..` was joined to the results folder on the host and the
    // host file read and handed to the plugin.
    let (ok, _, stderr) = patch("hostile", "escape-dotdot", "1", &[]);
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("has `..`"), "{stderr}");
    assert!(!stderr.contains("the host read back"), "{stderr}");
}

#[test]
fn native_installation_paths_that_leave_their_place_or_name_whiteouts_are_refused() {
    for tag in ["native-dotdot", "native-whiteout", "native-link"] {
        let (ok, _, stderr) = patch(tag, "anything", "1", &["--engine", "native"]);
        assert!(!ok, "{tag}: {stderr}");
        assert!(
            stderr.contains("which is not a clean absolute path it may write"),
            "{tag}: {stderr}"
        );
        assert!(
            !stderr.contains("writing the patch layer"),
            "{tag}: {stderr}"
        );
    }
}

#[test]
fn a_link_a_step_plants_in_the_results_folder_stays_inside_it() {
    // A host file only this test knows; the step links `/salve-results/db` to its host path.
    let bait = tempfile::tempdir().unwrap();
    let secret = format!("secret-{}", std::process::id());
    let secret_file = bait.path().join("secret");
    std::fs::write(&secret_file, &secret).unwrap();
    // Before: the link was followed on the host and the secret handed to the plugin, which
    // printed it in its error.
    let argument = secret_file.to_str().unwrap()[1..].replace('/', "~");
    let (ok, _, stderr) = patch("hostile", "escape-link", &argument, &[]);
    assert!(!ok, "{stderr}");
    assert!(
        !stderr.contains(&secret),
        "the host file was read: {stderr}"
    );
    // The step ran, and its link resolved inside the results folder, where there is no such
    // file: the plugin was told so, and the update counts as not made.
    assert!(stderr.contains("running 1 step(s)"), "{stderr}");
    assert!(
        stderr.contains("package escape-link is not installed after the update"),
        "{stderr}"
    );
}

#[test]
fn a_sparse_gigabyte_database_is_refused_before_it_is_read() {
    // Before: the whole file was copied out of the image and read into memory, and only then
    // refused by the plugin input cap.
    let (ok, _, stderr) = patch("hostile", "sparse", "1", &["--plugin-max-input", "16MiB"]);
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("/var/lib/hostile/db"), "{stderr}");
    assert!(stderr.contains("(1 GiB)"), "{stderr}");
    assert!(stderr.contains("input cap of 16 MiB"), "{stderr}");
    assert!(
        stderr.contains("copying the package databases out"),
        "{stderr}"
    );
    assert!(!stderr.contains("the host read back"), "{stderr}");
}

#[test]
fn a_tooling_image_a_plugin_names_must_be_in_a_registry() {
    // Before: `oci:/etc` was opened as an OCI layout on the host, as the plugin asked.
    let (ok, _, stderr) = patch("distroless", "anything", "1", &[]);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("names the tooling image \"oci:/etc\", which is not in a registry"),
        "{stderr}"
    );
    assert!(stderr.contains("--tooling-image"), "{stderr}");
}

#[test]
fn text_from_a_plugin_reaches_the_terminal_escaped_and_json_exact() {
    // Before: the warning cleared the screen and printed a line of its own, and the plan's
    // error coloured the terminal red and forged an `error:` line.
    let (ok, _, stderr) = patch("hostile", "escapes", "1", &[]);
    assert!(!ok, "{stderr}");
    for raw in ['\x1b', '\x07', '\u{202e}'] {
        assert!(
            !stderr.contains(raw),
            "{raw:?} reached the terminal: {stderr}"
        );
    }
    assert!(
        stderr.contains("warning: hostile image\\x1b[2J\\x1b[1;1H\\x0aerror: forged line"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cannot plan \\x1b[31mred\\x1b[0m\\x0aerror: forged line"),
        "{stderr}"
    );
    assert!(
        !stderr
            .lines()
            .any(|line| line.starts_with("error: forged line")),
        "{stderr}"
    );
    // The plugin loaded from outside the binary is named.
    assert!(
        stderr.contains("note: plugin hostile-ecosystem is loaded from --plugin ("),
        "{stderr}"
    );

    // JSON progress keeps the text exact, for programs.
    let (ok, stdout, _) = patch("hostile", "escapes", "1", &["--progress", "json"]);
    assert!(!ok);
    let events: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(
        events.iter().any(|event| event["event"] == "warning"
            && event["message"]
                == "hostile image\x1b[2J\x1b[1;1H\nerror: forged line\u{202e}txt.exe\x07"),
        "{stdout}"
    );
    assert!(
        events
            .iter()
            .any(|event| event["event"] == "plugin" && event["name"] == "hostile-ecosystem"),
        "{stdout}"
    );
}

#[test]
fn the_run_timeout_ends_a_plugin_call() {
    // Before: each call ran to its own deadline (`--plugin-timeout`, here 10 minutes, with fuel
    // for as long) whatever was left of the run's `--timeout`.
    // Plugins compiled first, so that the run's few seconds go to the call.
    let plugin = hostile_plugin();
    let (ok, _, stderr) = salve_in(
        cache(),
        &["plugins", "list", "--plugin", plugin.to_str().unwrap()],
        &[],
    );
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = patch(
        "hostile",
        "spin",
        "1",
        &[
            "--timeout",
            "20s",
            "--plugin-timeout",
            "10m",
            "--plugin-fuel",
            "1000000000000000",
        ],
    );
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("stopped in `plan`: it exceeded the time allowed for the whole run"),
        "{stderr}"
    );
    assert!(stderr.contains("raise it with --timeout"), "{stderr}");
}

#[test]
fn a_plugin_that_replaces_a_built_in_is_named_and_can_be_refused() {
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("data/salve/plugins");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(
        workspace().join("plugins/dist/trivy.wasm"),
        folder.join("trivy.wasm"),
    )
    .unwrap();
    let report = report(work.path(), "libssl3", "3.0.15");
    let report = report.to_str().unwrap();
    let cache = work.path().join("cache");
    let data_home = work.path().join("data");
    let data_home = data_home.to_str().unwrap();

    // Before: the replacement was used with no word outside `salve plugins list`.
    let (ok, stdout, stderr) =
        salve_in(&cache, &["report", report], &[("XDG_DATA_HOME", data_home)]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("libssl3"), "{stdout}");
    let notice = format!(
        "note: plugin trivy is loaded from data-dir ({}) and replaces the built-in one",
        folder.join("trivy.wasm").display()
    );
    assert!(stderr.contains(&notice), "{stderr}");

    for (args, env) in [
        (vec!["report", report, "--no-plugin-override"], vec![]),
        (
            vec!["report", report],
            vec![("SALVE_NO_PLUGIN_OVERRIDE", "true")],
        ),
    ] {
        let mut env = env;
        env.push(("XDG_DATA_HOME", data_home));
        let (ok, _, stderr) = salve_in(&cache, &args, &env);
        assert!(!ok, "the override must be refused: {stderr}");
        assert!(stderr.contains("replaces the built-in one"), "{stderr}");
        assert!(
            stderr.contains("--no-plugin-override (SALVE_NO_PLUGIN_OVERRIDE) refuses that"),
            "{stderr}"
        );
    }
}
