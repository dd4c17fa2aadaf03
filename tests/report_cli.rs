//! `salve report` on copa's fixtures, on large generated Trivy, Grype, CycloneDX and OSV-Scanner
//! reports (schema-checked), on report directories, and on hostile reports: each either a
//! manifest or a clear error, never a crash.

use serde_json::Value;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's top folder.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fixture under `fixtures/reports/`.
fn fixture(name: &str) -> PathBuf {
    repo().join("fixtures/reports").join(name)
}

/// `salve` with a private cache and no user plugins.
fn salve(args: &[&str]) -> Output {
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-cli-home");
    Command::new(env!("CARGO_BIN_EXE_salve"))
        .args(args)
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env_remove("SALVE_PLUGIN_PATH")
        .output()
        .unwrap()
}

/// `salve report ARGS --format json`, which must succeed; the list of reports.
fn report_json(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let output = salve(&all);
    assert!(
        output.status.success(),
        "salve {all:?} failed: {}",
        stderr(&output)
    );
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    value["reports"].as_array().unwrap().clone()
}

/// `salve report ARGS`, which must fail cleanly; its error output.
fn report_error(args: &[&str]) -> String {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    let output = salve(&all);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "salve {all:?}: {errors}");
    assert!(!errors.contains("panicked"), "{errors}");
    // Notes (a plugin loaded from outside the binary) come first; then the error.
    let without_notes: String = errors
        .lines()
        .filter(|line| !line.starts_with("note: "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(without_notes.starts_with("error: "), "{errors}");
    errors
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A report made by `fixtures/generate-reports.py`, cached between runs by its arguments and by
/// what it is made from (the script, and this machine's dpkg database, whose packages it names):
/// reports compared with each other must come from the same packages.
fn generated(format: &str, findings: usize) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("generated-reports");
    std::fs::create_dir_all(&dir).unwrap();
    let script = repo().join("fixtures/generate-reports.py");
    let mut hasher = std::hash::DefaultHasher::new();
    std::fs::read(&script).unwrap().hash(&mut hasher);
    std::fs::read("/var/lib/dpkg/status").ok().hash(&mut hasher);
    let stem = format!("{format}-{findings}-");
    let path = dir.join(format!("{stem}{:016x}.json", hasher.finish()));
    if !path.exists() {
        // Reports made from an older script or package list are of no further use.
        for old in std::fs::read_dir(&dir).unwrap().flatten() {
            if old.file_name().to_string_lossy().starts_with(&stem) && old.path() != path {
                let _ = std::fs::remove_file(old.path());
            }
        }
        let partial = dir.join(format!(".{format}-{findings}.{}.json", std::process::id()));
        let status = Command::new("python3")
            .arg(&script)
            .args([
                "--format",
                format,
                "--findings",
                &findings.to_string(),
                "--out",
            ])
            .arg(&partial)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::rename(&partial, &path).unwrap();
    }
    path
}

/// A file in a fresh temporary folder.
fn temp_file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn copa_fixtures_are_read_by_the_right_scanner() {
    let cases = [
        ("report-trivy_valid.json", "trivy", 1, 0),
        ("report-trivy_no_history.json", "trivy", 1, 0),
        ("report-trivy_node_valid.json", "trivy", 1, 2),
        ("report-trivy_dotnet.json", "trivy", 0, 6),
        ("plugin-valid_report.json", "copa-manifest", 1, 0),
        ("frontend-simple-report.json", "copa-manifest", 1, 0),
        ("frontend-complex-report.json", "copa-manifest", 4, 0),
    ];
    for (file, scanner, updates, skipped) in cases {
        let path = fixture(&format!("copa/{file}"));
        let reports = report_json(&[path_str(&path)]);
        let report = &reports[0];
        assert_eq!(report["scanner"], scanner, "{file}");
        assert_eq!(report["counts"]["updates"], updates, "{file}");
        assert_eq!(report["counts"]["skipped"], skipped, "{file}");
    }
    let valid = report_json(&[path_str(&fixture("copa/report-trivy_valid.json"))]);
    assert_eq!(valid[0]["os"]["id"], "alpine");
    assert_eq!(valid[0]["platform"]["architecture"], "amd64");
    let update = &valid[0]["updates"][0];
    assert_eq!(update["package"], "apk-tools");
    assert_eq!(update["fixed_version"], "2.12.6-r0");
    assert_eq!(update["vulnerabilities"][0]["id"], "CVE-2021-36159");
}

#[test]
fn files_that_are_not_reports_name_every_scanner_tried() {
    for file in ["report-invalid.json", "plugin-invalid_report.json"] {
        let errors = report_error(&[path_str(&fixture(&format!("copa/{file}")))]);
        assert!(errors.contains("no scanner plugin recognises"), "{errors}");
        for scanner in ["trivy 0/100", "grype 0/100", "copa-manifest 0/100"] {
            assert!(errors.contains(scanner), "{errors}");
        }
    }
}

#[test]
fn a_named_scanner_is_used_even_when_the_format_is_another() {
    let trivy_report = fixture("copa/report-trivy_valid.json");
    let errors = report_error(&[path_str(&trivy_report), "--scanner", "grype"]);
    assert!(
        errors.contains("plugin grype rejected the input"),
        "{errors}"
    );
    assert!(errors.contains("no \"matches\""), "{errors}");

    let errors = report_error(&[path_str(&trivy_report), "--scanner", "snyk"]);
    assert!(errors.contains("no plugin named \"snyk\""), "{errors}");
}

#[test]
fn equally_sure_scanners_are_an_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let report = temp_file(
        &dir,
        "report.json",
        br#"{"SchemaVersion": 2, "ArtifactName": "hostile-sniff=95", "Results": []}"#,
    );
    let hostile = repo().join("tests/plugins/dist/hostile.wasm");
    let errors = report_error(&[path_str(&report), "--plugin", path_str(&hostile)]);
    assert!(errors.contains("equally sure (95/100)"), "{errors}");
    assert!(
        errors.contains("hostile") && errors.contains("trivy"),
        "{errors}"
    );
    assert!(errors.contains("--scanner"), "{errors}");
}

#[test]
fn a_large_trivy_report_is_read_whole() {
    let path = generated("trivy", 40_000);
    assert!(std::fs::metadata(&path).unwrap().len() > 50_000_000);
    let reports = report_json(&[path_str(&path)]);
    let report = &reports[0];
    assert_eq!(report["scanner"], "trivy");
    // Every tenth generated finding has no fixed version.
    assert_eq!(report["counts"]["findings"], 36_000 + 2_000);
    assert_eq!(report["counts"]["skipped"], 2_000);
    let libraries = report["updates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|update| update["class"] == "library")
        .count();
    assert!(libraries > 0);
}

#[test]
fn a_large_grype_report_is_recognised_and_read_whole() {
    let path = generated("grype", 40_000);
    let reports = report_json(&[path_str(&path)]);
    let report = &reports[0];
    assert_eq!(report["scanner"], "grype");
    assert_eq!(report["counts"]["findings"], 38_000);
    assert_eq!(report["counts"]["skipped"], 2_000);
    assert_eq!(report["os"]["id"], "debian");
}

/// A report's updates in one order (scanners list vulnerabilities in their own orders), each
/// without its package type (each scanner names the types its own way).
fn comparable_updates(report: &Value) -> Vec<Value> {
    let mut updates = report["updates"].as_array().unwrap().clone();
    for update in &mut updates {
        update.as_object_mut().unwrap().remove("package_type");
        update["vulnerabilities"]
            .as_array_mut()
            .unwrap()
            .sort_by_key(|v| v["id"].as_str().unwrap().to_string());
    }
    updates.sort_by_key(|u| (u["package"].to_string(), u["path"].to_string()));
    updates
}

/// A report's skipped findings as sorted (package, vulnerability) pairs.
fn skipped_pairs(report: &Value) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["package"].as_str().unwrap().to_string(),
                s["vulnerability_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

/// Asserts that two forms of one scan read as the same updates, skipped findings and counts.
fn assert_same_scan(first: &Value, second: &Value, what: &str) {
    assert_eq!(first["counts"], second["counts"], "{what}: counts");
    assert_eq!(
        comparable_updates(first),
        comparable_updates(second),
        "{what}: updates"
    );
    assert_eq!(
        skipped_pairs(first),
        skipped_pairs(second),
        "{what}: skipped"
    );
    assert!(first["counts"]["updates"].as_u64().unwrap() > 100, "{what}");
}

#[test]
fn cyclonedx_forms_of_a_scan_read_as_their_json_forms() {
    // The generator writes each scan also as Trivy and Grype write it in CycloneDX (Trivy's fix
    // in the recommendation text, Grype's as `vers:` ranges): the cyclonedx plugin must read
    // the same updates, OS, platform and skipped findings as the JSON form's plugin.
    for scanner in ["trivy", "grype"] {
        let json = report_json(&[path_str(&generated(scanner, 2_000))]).remove(0);
        let cyclonedx_form = generated(&format!("{scanner}-cyclonedx"), 2_000);
        let cyclonedx = report_json(&[path_str(&cyclonedx_form)]).remove(0);
        assert_eq!(json["scanner"], scanner);
        assert_eq!(cyclonedx["scanner"], "cyclonedx");
        for field in ["os", "platform"] {
            assert_eq!(json[field], cyclonedx[field], "{scanner}: {field}");
        }
        assert_same_scan(&json, &cyclonedx, scanner);
    }
}

#[test]
fn osv_scanner_form_of_a_scan_reads_as_its_trivy_form() {
    // OSV-Scanner's form gives each package whole OSV records, keyed by source package and
    // release, with entries for Debian 11 and for other packages beside the package's own: the
    // osv plugin must find each fix in the package's own entry and span, and name the binary
    // package, as Trivy's form does.
    let trivy = report_json(&[path_str(&generated("trivy", 2_000))]).remove(0);
    let osv = report_json(&[path_str(&generated("osv-scanner", 2_000))]).remove(0);
    assert_eq!(osv["scanner"], "osv");
    assert_same_scan(&trivy, &osv, "osv-scanner");
    // OSV names the release (`Debian:12`), Trivy the point release; OSV-Scanner names no
    // architecture.
    assert_eq!(osv["os"]["id"], "debian");
    assert_eq!(osv["os"]["version_id"], "12");
    assert_eq!(trivy["os"]["version_id"], "12.5");
    assert!(osv["platform"].is_null());
}

#[test]
fn generated_reports_match_their_formats_published_schemas() {
    // CycloneDX's own schemas (from its npm library) and the OSV schema (from osv.dev's PyPI
    // library): the generated CycloneDX and OSV-Scanner fixtures must be valid, and the check
    // must catch a document that is not.
    let schemas = Command::new("bash")
        .arg(repo().join("fixtures/schemas.sh"))
        .output()
        .unwrap();
    assert!(schemas.status.success(), "{}", stderr(&schemas));
    let schemas = String::from_utf8(schemas.stdout).unwrap();
    let check = |reports: &[PathBuf]| {
        Command::new("/usr/bin/python3")
            .arg(repo().join("fixtures/check-schema.py"))
            .args(["--schemas", schemas.trim()])
            .args(reports)
            .output()
            .unwrap()
    };
    let reports: Vec<PathBuf> = ["trivy-cyclonedx", "grype-cyclonedx", "osv-scanner"]
        .iter()
        .map(|format| generated(format, 2_000))
        .collect();
    let valid = check(&reports);
    assert!(valid.status.success(), "{}", stderr(&valid));
    assert_eq!(
        String::from_utf8_lossy(&valid.stdout)
            .matches(": valid")
            .count(),
        3
    );

    let dir = tempfile::tempdir().unwrap();
    let mut osv: Value = serde_json::from_slice(&std::fs::read(&reports[2]).unwrap()).unwrap();
    osv["results"][0]["packages"][0]["vulnerabilities"][0]["affected"][0]["ranges"][0]["type"] =
        "BOGUS".into();
    let mut cyclonedx: Value =
        serde_json::from_slice(&std::fs::read(&reports[0]).unwrap()).unwrap();
    cyclonedx["vulnerabilities"][0]["affects"][0]["versions"][0]["status"] = "broken".into();
    let broken = [
        temp_file(&dir, "osv.json", &serde_json::to_vec(&osv).unwrap()),
        temp_file(
            &dir,
            "cyclonedx.json",
            &serde_json::to_vec(&cyclonedx).unwrap(),
        ),
    ];
    let invalid = check(&broken);
    let errors = stderr(&invalid);
    assert_eq!(invalid.status.code(), Some(1), "{errors}");
    assert!(errors.contains("'BOGUS' is not one of"), "{errors}");
    assert!(errors.contains("'broken' is not one of"), "{errors}");
}

#[test]
fn a_truncated_report_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(generated("trivy", 2_000)).unwrap();
    let cut = temp_file(&dir, "cut.json", &full[..full.len() / 2]);
    let errors = report_error(&[path_str(&cut)]);
    assert!(
        errors.contains("plugin trivy rejected the input"),
        "{errors}"
    );
    assert!(errors.contains("truncated"), "{errors}");
}

#[test]
fn a_report_over_the_input_cap_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.json");
    // 300 MB, sparse: salve must refuse it by its size, without reading it.
    std::fs::File::create(&path)
        .unwrap()
        .set_len(300_000_000)
        .unwrap();
    let errors = report_error(&[path_str(&path)]);
    assert!(
        errors.contains("286.1 MiB, more than the plugin input cap of 256 MiB"),
        "{errors}"
    );
    assert!(errors.contains("--plugin-max-input"), "{errors}");
}

#[test]
fn deep_nesting_is_skipped_where_ignored_and_a_clear_error_where_read() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));

    // Trivy: an unknown field nested 10 000 deep is skipped without recursion.
    let report =
        format!(r#"{{"SchemaVersion": 2, "ArtifactName": "x", "Extra": {deep}, "Results": []}}"#);
    let path = temp_file(&dir, "deep-trivy.json", report.as_bytes());
    let reports = report_json(&[path_str(&path)]);
    assert_eq!(reports[0]["counts"]["findings"], 0);

    // Grype: `source.target` is read (it may be an object or a string), so the nesting is
    // parsed, and stopped at the parser's depth limit.
    let report = format!(
        r#"{{"matches": [], "source": {{"type": "image", "target": {deep}}}, "distro": {{}},
        "descriptor": {{}}}}"#
    );
    let path = temp_file(&dir, "deep-grype.json", report.as_bytes());
    let errors = report_error(&[path_str(&path)]);
    assert!(
        errors.contains("plugin grype rejected the input"),
        "{errors}"
    );
    assert!(errors.contains("recursion limit exceeded"), "{errors}");
    assert_eq!(errors.matches("rejected").count(), 1, "said once: {errors}");
}

#[test]
fn invalid_utf8_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = b"{\"SchemaVersion\": 2, \"ArtifactName\": \"x\", \"Results\": [{\"Class\": \"os-pkgs\", \
\"Type\": \"debian\", \"Vulnerabilities\": [{\"VulnerabilityID\": \"CVE-1\", \"PkgName\": \"bash\xff\", \
\"InstalledVersion\": \"1\", \"FixedVersion\": \"2\"}]}]}";
    let path = temp_file(&dir, "utf8.json", bytes);
    let errors = report_error(&[path_str(&path)]);
    assert!(errors.contains("not valid JSON"), "{errors}");
}

#[test]
fn shell_metacharacters_in_package_names_are_refused_naming_the_finding() {
    let dir = tempfile::tempdir().unwrap();
    let report = r#"{"SchemaVersion": 2, "ArtifactName": "x", "Results": [{"Class": "os-pkgs",
        "Type": "debian", "Vulnerabilities": [
        {"VulnerabilityID": "CVE-1", "PkgName": "bash", "InstalledVersion": "1", "FixedVersion": "2"},
        {"VulnerabilityID": "CVE-2", "PkgName": "curl;reboot", "InstalledVersion": "1", "FixedVersion": "2"},
        {"VulnerabilityID": "CVE-3", "PkgName": "zlib1g", "InstalledVersion": "1", "FixedVersion": "$(id)"}]}]}"#;
    let path = temp_file(&dir, "crafted.json", report.as_bytes());
    let errors = report_error(&[path_str(&path)]);
    assert!(errors.contains("read by trivy"), "{errors}");
    assert!(
        errors.contains("finding 2 (package \"curl;reboot\", \"CVE-2\")"),
        "{errors}"
    );
    assert!(
        errors.contains("finding 3 (package \"zlib1g\", \"CVE-3\"): fixed version"),
        "{errors}"
    );
    assert!(!errors.contains("finding 1 "), "{errors}");
}

/// A minimal Trivy report for one platform.
fn trivy_for(architecture: &str, package: &str) -> String {
    format!(
        r#"{{"SchemaVersion": 2, "ArtifactName": "x", "Metadata": {{"OS": {{"Family": "debian",
        "Name": "12.5"}}, "ImageConfig": {{"architecture": "{architecture}"}}}}, "Results": [
        {{"Class": "os-pkgs", "Type": "debian", "Vulnerabilities": [{{"VulnerabilityID": "CVE-1",
        "PkgName": "{package}", "InstalledVersion": "1", "FixedVersion": "2"}}]}}]}}"#
    )
}

#[test]
fn a_directory_holds_one_report_per_platform() {
    let dir = tempfile::tempdir().unwrap();
    temp_file(&dir, "amd64.json", trivy_for("amd64", "libssl3").as_bytes());
    temp_file(&dir, "arm64.json", trivy_for("arm64", "zlib1g").as_bytes());
    temp_file(&dir, ".hidden", b"not a report");
    let reports = report_json(&[path_str(dir.path())]);
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["platform"]["architecture"], "amd64");
    assert_eq!(reports[1]["updates"][0]["package"], "zlib1g");

    temp_file(
        &dir,
        "arm64-again.json",
        trivy_for("arm64", "bash").as_bytes(),
    );
    let errors = report_error(&[path_str(dir.path())]);
    assert!(errors.contains("both for platform linux/arm64"), "{errors}");

    let without = tempfile::tempdir().unwrap();
    temp_file(&without, "a.json", trivy_for("amd64", "bash").as_bytes());
    let copa = std::fs::read(fixture("copa/report-trivy_dotnet.json")).unwrap();
    let copa = String::from_utf8(copa)
        .unwrap()
        .replace(r#""ImageConfig""#, r#""NotImageConfig""#);
    temp_file(&without, "b.json", copa.as_bytes());
    let errors = report_error(&[path_str(without.path())]);
    assert!(errors.contains("names no platform"), "{errors}");

    let empty = tempfile::tempdir().unwrap();
    let errors = report_error(&[path_str(empty.path())]);
    assert!(errors.contains("holds no report files"), "{errors}");
}

#[test]
fn findings_for_one_package_merge_into_one_update() {
    let dir = tempfile::tempdir().unwrap();
    let report = r#"{"SchemaVersion": 2, "ArtifactName": "x", "Results": [{"Class": "os-pkgs",
        "Type": "debian", "Vulnerabilities": [
        {"VulnerabilityID": "CVE-1", "PkgName": "libssl3", "InstalledVersion": "3.0.11-1~deb12u2", "FixedVersion": "3.0.13-1~deb12u1"},
        {"VulnerabilityID": "CVE-2", "PkgName": "libssl3", "InstalledVersion": "3.0.11-1~deb12u2", "FixedVersion": "3.0.15-1~deb12u1"},
        {"VulnerabilityID": "CVE-3", "PkgName": "libssl3", "InstalledVersion": "3.0.11-1~deb12u2", "FixedVersion": "3.0.11-1~deb12u3"}]}]}"#;
    let path = temp_file(&dir, "merge.json", report.as_bytes());
    let reports = report_json(&[path_str(&path)]);
    let updates = reports[0]["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["fixed_version"], "3.0.15-1~deb12u1");
    assert_eq!(updates[0]["vulnerabilities"].as_array().unwrap().len(), 3);
    assert_eq!(reports[0]["counts"]["vulnerabilities"], 3);

    let output = salve(&["report", path_str(&path)]);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("CVE-1, CVE-2, CVE-3"), "{table}");
    assert!(
        table.contains("3 findings: 1 package update fixing 3 vulnerabilities"),
        "{table}"
    );
}

#[test]
fn a_manifest_near_the_output_cap_is_printed_in_a_small_multiple_of_it() {
    // 600 000 findings (about 80 MiB as the plugin hands them over, within the 128 MiB output
    // cap) from the hostile test scanner, printed as JSON (218 MB of it). Before the JSON was
    // written as it is serialised, `salve report --format json` peaked at 2.6 GB; now 450 MB.
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("many.txt");
    std::fs::write(&report, "many").unwrap();
    let out = dir.path().join("out.json");
    let hostile = repo().join("tests/plugins/dist/hostile.wasm");
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-cli-home");
    let salve = [
        "report",
        path_str(&report),
        "--scanner",
        "hostile",
        "--format",
        "json",
        "--plugin",
        path_str(&hostile),
    ];
    let environment = [
        ("HOME", home.clone()),
        ("XDG_DATA_HOME", home.join("data")),
        ("XDG_CACHE_HOME", home.join("cache")),
    ];
    let stdout = std::fs::File::create(&out).unwrap();
    let (status, peak) = salve_with_peak_memory(&salve, &environment, stdout, dir.path());
    assert_eq!(status, 0, "salve report failed");
    let cap = 128u64 << 20;
    assert!(
        peak < 5 * cap,
        "salve report peaked at {} MiB, more than 5 times the output cap",
        peak >> 20
    );
    // Every update was printed: counted without building a tree of 218 MB.
    #[derive(serde::Deserialize)]
    struct Printed {
        reports: Vec<PrintedReport>,
    }
    #[derive(serde::Deserialize)]
    struct PrintedReport {
        updates: Vec<serde::de::IgnoredAny>,
        counts: Value,
    }
    let file = std::io::BufReader::new(std::fs::File::open(&out).unwrap());
    let printed: Printed = serde_json::from_reader(file).unwrap();
    assert_eq!(printed.reports[0].updates.len(), 600_000);
    assert_eq!(printed.reports[0].counts["findings"], 600_000);
}

/// Runs salve with `args` and `environment` (its output into `stdout`) under a small Python
/// process; returns its exit code and its peak resident memory in bytes. Not spawned from this
/// test process directly: Linux carries a process's peak across `exec`, so a child of this
/// process (one test binary for every subject, holding what other tests read) would start
/// from this process's peak rather than its own.
fn salve_with_peak_memory(
    args: &[&str],
    environment: &[(&str, PathBuf)],
    stdout: std::fs::File,
    dir: &Path,
) -> (i32, u64) {
    let figure = dir.join("peak-kib");
    let measure = "import resource, subprocess, sys\n\
                   code = subprocess.run(sys.argv[2:]).returncode\n\
                   peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n\
                   open(sys.argv[1], 'w').write(str(peak))\n\
                   sys.exit(code)\n";
    let status = Command::new("python3")
        .arg("-c")
        .arg(measure)
        .arg(&figure)
        .arg(env!("CARGO_BIN_EXE_salve"))
        .args(args)
        .envs(environment.iter().map(|(key, value)| (key, value)))
        .stdout(stdout)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    let peak_kib: u64 = std::fs::read_to_string(&figure)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (status.code().expect("not killed"), peak_kib * 1024)
}

#[test]
fn a_scanner_built_for_contract_0_1_reads_reports_as_the_newest_one_does() {
    // tests/contract/trivy-0.1.0.wasm is the trivy plugin as salve's first release built it
    // (salve:plugin/scanner@0.1.0); it replaces the built-in one by name through --plugin.
    let dir = tempfile::tempdir().unwrap();
    let frozen = repo().join("tests/contract/trivy-0.1.0.wasm");
    let plugin = temp_file(&dir, "trivy.wasm", &std::fs::read(frozen).unwrap());
    let inspected = salve(&["plugins", "inspect", path_str(&plugin), "--format", "json"]);
    assert!(inspected.status.success(), "{}", stderr(&inspected));
    let inspected: Value = serde_json::from_slice(&inspected.stdout).unwrap();
    assert_eq!(inspected["wit_version"], "0.1.0");
    for file in [
        "report-trivy_valid.json",
        "report-trivy_node_valid.json",
        "report-trivy_dotnet.json",
    ] {
        let report = fixture(&format!("copa/{file}"));
        let newest = report_json(&["--scanner", "trivy", path_str(&report)]);
        let frozen = report_json(&[
            "--plugin",
            path_str(&plugin),
            "--scanner",
            "trivy",
            path_str(&report),
        ]);
        assert_eq!(frozen, newest, "{file}");
    }
}
