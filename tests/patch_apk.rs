//! `salve patch` of Alpine images by the native engine, end to end: `fixtures/alpine/build.sh`
//! makes signed apk repositories (x86_64 and aarch64) and Alpine-layout images without apk-tools
//! holding the old versions; the test serves the repositories on loopback and points the
//! images' `/etc/apk/repositories` at them. What the patched database must say is worked out
//! here from the repository's own files (the index's fields, the package archives' entries),
//! independently of the plugin; what native installation refuses (a script apk would run, a
//! changed package or index, an index signed by a key the image does not trust) leaves nothing
//! written.

use crate::support::fault_proxy::{Fault, FaultProxy, Rule};
use crate::support::insert_file;
use crate::support::patching::{fixture_script, image_layers, layer_file_paths, salve_in};
use crate::support::served::Served;
use base64::Engine as _;
use salve::image::read_paths;
use salve::plugin::types::FileKind;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Alpine fixtures' folder (`repo/`, `keys/`, `layout/`).
fn alpine_fixtures() -> PathBuf {
    PathBuf::from(fixture_script("fixtures/alpine/build.sh", &[]))
}

/// apk's `Q1` checksum of bytes.
fn q1(bytes: &[u8]) -> String {
    format!(
        "Q1{}",
        base64::engine::general_purpose::STANDARD.encode(Sha1::digest(bytes))
    )
}

/// The tar entries of an apk file or index (its gzip streams read as one archive), each with
/// its bytes: (path, entry type, mode, uid, gid, bytes or link target).
fn tar_entries(file: &Path) -> Vec<(String, tar::EntryType, u32, u64, u64, Vec<u8>)> {
    let reader = flate2::read::MultiGzDecoder::new(std::fs::File::open(file).unwrap());
    let mut archive = tar::Archive::new(reader);
    let mut entries = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        let path = String::from_utf8_lossy(&entry.path_bytes())
            .trim_end_matches('/')
            .to_string();
        let bytes = if header.entry_type().is_symlink() {
            entry.link_name_bytes().unwrap().into_owned()
        } else {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            bytes
        };
        entries.push((
            path,
            header.entry_type(),
            header.mode().unwrap() & 0o7777,
            header.uid().unwrap(),
            header.gid().unwrap(),
            bytes,
        ));
    }
    entries
}

/// The stanza of `name` `version` in a repository folder's signed index, as text.
fn index_stanza(folder: &Path, name: &str, version: &str) -> String {
    let (_, _, _, _, _, index) = tar_entries(&folder.join("APKINDEX.tar.gz"))
        .into_iter()
        .find(|entry| entry.0 == "APKINDEX")
        .expect("the index holds APKINDEX");
    String::from_utf8(index)
        .unwrap()
        .split("\n\n")
        .find(|stanza| {
            stanza.contains(&format!("\nP:{name}\n"))
                && stanza.contains(&format!("\nV:{version}\n"))
        })
        .unwrap_or_else(|| panic!("{name} {version} is not in {}", folder.display()))
        .to_string()
}

/// What `/lib/apk/db/installed` says of a package installed from `folder`: its index stanza,
/// then its folders and files as its archive has them (`F:`, `M:` for a folder not root's
/// 0755; `R:`, `a:` for a file not root's 0644, `Z:` its bytes' or link target's SHA-1).
fn expected_block(folder: &Path, name: &str, version: &str) -> String {
    let mut block = index_stanza(folder, name, version);
    block.push('\n');
    let mut folders: Vec<(String, Vec<String>)> = Vec::new();
    let apk = folder.join(format!("{name}-{version}.apk"));
    for (path, kind, mode, uid, gid, bytes) in tar_entries(&apk) {
        if path.starts_with('.') {
            continue;
        }
        let acl = |default: u32| {
            (mode != default || uid != 0 || gid != 0).then(|| format!("{uid}:{gid}:{mode:o}"))
        };
        if kind.is_dir() {
            let mut lines = Vec::new();
            if let Some(acl) = acl(0o755) {
                lines.push(format!("M:{acl}"));
            }
            folders.push((path, lines));
            continue;
        }
        let (parent, file) = path.rsplit_once('/').unwrap_or(("", &path));
        let at = folders
            .iter()
            .position(|(name, _)| name == parent)
            .expect("the archive names a file's folder first");
        folders[at].1.push(format!("R:{file}"));
        if let Some(acl) = acl(0o644) {
            folders[at].1.push(format!("a:{acl}"));
        }
        folders[at].1.push(format!("Z:{}", q1(&bytes)));
    }
    for (name, lines) in folders {
        block.push_str(&format!("F:{name}\n"));
        for line in lines {
            block.push_str(&line);
            block.push('\n');
        }
    }
    block
}

/// A file of the image, as bytes (none when the image lacks it).
fn bytes(layers: &[PathBuf], path: &str) -> Option<Vec<u8>> {
    let file = read_paths(layers, &[path.to_string()], 64 << 20)
        .unwrap()
        .remove(0);
    (file.kind == FileKind::File).then(|| file.content.unwrap())
}

/// The blocks of an installed database, by package name.
fn installed_blocks(layers: &[PathBuf]) -> Vec<(String, String)> {
    let text = String::from_utf8(bytes(layers, "/lib/apk/db/installed").unwrap()).unwrap();
    assert!(
        text.ends_with("\n\n"),
        "the database ends with a blank line"
    );
    text.split("\n\n")
        .filter(|block| !block.is_empty())
        .map(|block| {
            let name = block
                .lines()
                .find_map(|line| line.strip_prefix("P:"))
                .unwrap()
                .to_string();
            (name, format!("{block}\n"))
        })
        .collect()
}

/// A copy of the fixture image `arch` in `work`, its `/etc/apk/repositories` these lines; its
/// `oci:` reference.
fn image(work: &Path, fixtures: &Path, arch: &str, repositories: &[String]) -> String {
    let layout = work.join(format!("layout-{arch}"));
    if !layout.exists() {
        run_ok(
            "cp",
            &[
                "-r",
                fixtures.join("layout").to_str().unwrap(),
                layout.to_str().unwrap(),
            ],
        );
    }
    let file = work.join("repositories");
    std::fs::write(&file, repositories.join("\n") + "\n").unwrap();
    let image = format!("{}:{arch}", layout.display());
    insert_file(&image, &file, "/etc/apk/repositories");
    format!("oci:{image}")
}

fn run_ok(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).status().unwrap();
    assert!(status.success(), "{program} {args:?}");
}

/// The fixture's repository lines for a server at `base` (`http://127.0.0.1:PORT`).
fn repositories(base: &str, scripted: bool) -> Vec<String> {
    let mut lines = vec![
        "# the fixture's repositories".to_string(),
        format!("{base}/v3.22/main"),
        format!("@edge {base}/edge/main"),
    ];
    if scripted {
        lines.push(format!("{base}/extra/scripted"));
    }
    lines
}

/// A Trivy report of the Alpine image: each (package, fixed version) with its own id.
fn trivy_report(path: &Path, findings: &[(&str, &str)]) {
    let vulnerabilities: Vec<Value> = findings
        .iter()
        .enumerate()
        .map(|(at, (name, fixed))| {
            json!({"VulnerabilityID": format!("CVE-2099-6000{at}"), "PkgName": name,
                   "InstalledVersion": "1.0-r0", "FixedVersion": fixed})
        })
        .collect();
    let report = json!({
        "SchemaVersion": 2,
        "ArtifactName": "alpine-app",
        "Metadata": {"OS": {"Family": "alpine", "Name": "3.22.2"},
                     "ImageConfig": {"architecture": "amd64", "os": "linux"}},
        "Results": [{"Target": "alpine-app (alpine 3.22.2)", "Class": "os-pkgs",
                     "Type": "alpine", "Vulnerabilities": vulnerabilities}],
    });
    std::fs::write(path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
}

#[test]
fn alpine_images_of_both_architectures_are_patched_natively_as_apk_upgrade_would() {
    let fixtures = alpine_fixtures();
    let served = Served::start(&fixtures.join("repo"));
    let base_url = format!("http://127.0.0.1:{}", served.port);
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    for arch in ["x86_64", "aarch64"] {
        let main = fixtures.join("repo/v3.22/main").join(arch);
        let input = image(
            work.path(),
            &fixtures,
            arch,
            &repositories(&base_url, false),
        );
        let layout = work.path().join(format!("layout-{arch}"));
        let base = image_layers(&layout, arch);
        // The fixture's image holds the 1.0 packages as apk records them: the same blocks this
        // test works out from the repository.
        let before = installed_blocks(&base);
        for (name, block) in &before {
            assert_eq!(
                *block,
                expected_block(&main, name, "1.0-r0"),
                "{arch} {name}"
            );
        }

        let out = work.path().join(format!("out-{arch}"));
        let (ok, _, stderr) = salve_in(
            &cache,
            &[
                "patch",
                "-i",
                &input,
                "--engine",
                "native",
                "-t",
                "patched",
                "--oci-dir",
                out.to_str().unwrap(),
            ],
            &[],
        );
        assert!(ok, "{stderr}");
        for change in [
            "salve-demo-app 1.0-r0 -> 1.1-r0",
            "salve-demo-data (new) -> 1.1-r0",
            "salve-demo-lib 1.0-r0 -> 1.1-r0",
            "salve-demo-scripted 1.0-r0 -> 1.1-r0",
        ] {
            assert!(stderr.contains(change), "{change} in {stderr}");
        }
        let patched = image_layers(&out, "patched");
        assert_eq!(patched.len(), base.len() + 1, "one patch layer");

        // The database, block by block: sorted by name, lib from main (1.1), not the tagged
        // @edge repository's 2.0, which no pin allows.
        let after = installed_blocks(&patched);
        let names: Vec<&str> = after.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "salve-demo-app",
                "salve-demo-data",
                "salve-demo-lib",
                "salve-demo-scripted"
            ]
        );
        for (name, block) in &after {
            assert_eq!(
                *block,
                expected_block(&main, name, "1.1-r0"),
                "{arch} {name}"
            );
        }

        // The files: the architecture's library, the new package's file, the link, the old
        // version's file that 1.1 no longer ships removed.
        assert_eq!(
            bytes(&patched, "/usr/lib/libsalvedemo.so.1").unwrap(),
            format!("library 1.1-r0 for {arch}\n").into_bytes()
        );
        assert_eq!(
            bytes(&patched, "/usr/share/salve-demo/data.txt").unwrap(),
            b"data 1.1\n"
        );
        assert!(bytes(&patched, "/usr/share/salve-demo/NOTICE").is_none());
        let link = read_paths(&patched, &["/usr/bin/sdemo".to_string()], 1 << 20).unwrap();
        assert_eq!(link[0].link_target.as_deref(), Some("salve-demo"));

        // The scripts database: salve-demo-scripted 1.1's scripts (which apk does not run on an
        // upgrade) in place of 1.0's, named by the new identity, as apk-tools writes them.
        let scripted = main.join("salve-demo-scripted-1.1-r0.apk");
        let identity = expected_block(&main, "salve-demo-scripted", "1.1-r0")
            .lines()
            .find_map(|line| line.strip_prefix("C:"))
            .unwrap()
            .to_string();
        let scripts = tar_entries_of(&bytes(&patched, "/lib/apk/db/scripts.tar").unwrap());
        let script_bytes = |script: &str| {
            tar_entries(&scripted)
                .into_iter()
                .find(|entry| entry.0 == format!(".{script}"))
                .unwrap()
                .5
        };
        assert_eq!(
            scripts,
            [
                (
                    format!("salve-demo-scripted-1.1-r0.{identity}.post-install"),
                    script_bytes("post-install")
                ),
                (
                    format!("salve-demo-scripted-1.1-r0.{identity}.pre-deinstall"),
                    script_bytes("pre-deinstall")
                ),
            ]
        );
        for path in layer_file_paths(patched.last().unwrap()) {
            let allowed = path.starts_with("usr/")
                || path == "etc/salve-demo.conf"
                || ["installed", "scripts.tar"]
                    .iter()
                    .any(|name| path == format!("lib/apk/db/{name}"));
            assert!(allowed, "{path} is in the patch layer");
        }

        // Patched again: nothing to do.
        let again = work.path().join(format!("again-{arch}"));
        let (ok, _, stderr) = salve_in(
            &cache,
            &[
                "patch",
                "-i",
                &format!("oci:{}:patched", out.display()),
                "--engine",
                "native",
                "--oci-dir",
                again.to_str().unwrap(),
            ],
            &[],
        );
        assert!(
            ok && stderr.contains("image is already up to date"),
            "{stderr}"
        );
        assert!(!again.exists(), "nothing written");
    }

    // No apk in the image: the local engine cannot, and says that the native engine can.
    let input = image(
        work.path(),
        &fixtures,
        "x86_64",
        &repositories(&base_url, false),
    );
    let (ok, _, stderr) = salve_in(
        &cache,
        &[
            "patch",
            "-i",
            &input,
            "--engine",
            "local",
            "--oci-dir",
            "/nonexistent/out",
        ],
        &[],
    );
    assert!(!ok);
    assert!(stderr.contains("--engine native can"), "{stderr}");
}

/// The regular files of a tar archive held in memory: (name, bytes).
fn tar_entries_of(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(archive);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (name, bytes)
        })
        .collect()
}

#[test]
fn a_report_upgrades_what_it_names_keeps_a_changed_configuration_file_and_writes_vex() {
    let fixtures = alpine_fixtures();
    let served = Served::start(&fixtures.join("repo"));
    let work = tempfile::tempdir().unwrap();
    let main = fixtures.join("repo/v3.22/main/x86_64");
    let input = image(
        work.path(),
        &fixtures,
        "x86_64",
        &repositories(&format!("http://127.0.0.1:{}", served.port), false),
    );
    let changed = work.path().join("salve-demo.conf");
    std::fs::write(&changed, "greeting = mine\n").unwrap();
    insert_file(
        input.trim_start_matches("oci:"),
        &changed,
        "/etc/salve-demo.conf",
    );
    let layout = work.path().join("layout-x86_64");
    let base = image_layers(&layout, "x86_64");
    let report = work.path().join("trivy.json");
    trivy_report(
        &report,
        &[("salve-demo-lib", "1.1-r0"), ("salve-demo-app", "1.1-r0")],
    );
    let vex = work.path().join("vex.json");
    let out = work.path().join("out");
    let (ok, _, stderr) = salve_in(
        &work.path().join("cache"),
        &[
            "patch",
            "-i",
            &input,
            "-r",
            report.to_str().unwrap(),
            "-t",
            "patched",
            "--oci-dir",
            out.to_str().unwrap(),
            "-o",
            vex.to_str().unwrap(),
            "--engine",
            "auto",
        ],
        &[],
    );
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("/etc/salve-demo.conf was changed in the image"),
        "{stderr}"
    );
    let patched = image_layers(&out, "patched");
    let before = installed_blocks(&base);
    let after = installed_blocks(&patched);
    for (name, block) in &after {
        let expected = match name.as_str() {
            // Not named, and nothing named needs a newer one.
            "salve-demo-scripted" => before
                .iter()
                .find(|(old, _)| old == name)
                .unwrap()
                .1
                .clone(),
            _ => expected_block(&main, name, "1.1-r0"),
        };
        assert_eq!(*block, expected, "{name}");
    }
    // The image's own configuration stays; the package's is beside it.
    assert_eq!(
        bytes(&patched, "/etc/salve-demo.conf").unwrap(),
        b"greeting = mine\n"
    );
    assert_eq!(
        bytes(&patched, "/etc/salve-demo.conf.apk-new").unwrap(),
        b"greeting = hello\n"
    );
    // The scripts database is left as it was: no package with scripts changed.
    assert!(
        !layer_file_paths(patched.last().unwrap()).contains(&"lib/apk/db/scripts.tar".to_string())
    );
    let document: Value = serde_json::from_slice(&std::fs::read(&vex).unwrap()).unwrap();
    let statements = crate::support::vex::check_openvex(&document);
    let fixed: Vec<(String, String)> = statements
        .iter()
        .map(|statement| {
            (
                statement["vulnerability"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                statement["products"][0]["subcomponents"][0]["@id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert!(
        fixed.contains(&(
            "CVE-2099-60000".into(),
            "pkg:apk/alpine/salve-demo-lib@1.1-r0?arch=x86_64&distro=3.22.2".into()
        )),
        "{fixed:?}"
    );
    assert!(
        fixed.contains(&(
            "CVE-2099-60001".into(),
            "pkg:apk/alpine/salve-demo-app@1.1-r0?arch=x86_64&distro=3.22.2".into()
        )),
        "{fixed:?}"
    );
}

#[test]
fn native_apk_installation_refuses_scripts_it_would_run_changed_files_and_untrusted_indexes() {
    let fixtures = alpine_fixtures();
    let served = Served::start(&fixtures.join("repo"));
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let report = work.path().join("trivy.json");
    let out = work.path().join("out");
    let patch = |input: &str, cache: &Path, engine: &str| {
        let (ok, _, stderr) = salve_in(
            cache,
            &[
                "patch",
                "-i",
                input,
                "-r",
                report.to_str().unwrap(),
                "--engine",
                engine,
                "--oci-dir",
                out.to_str().unwrap(),
            ],
            &[],
        );
        assert!(!ok, "the patch must fail: {stderr}");
        assert!(!out.exists(), "nothing written: {stderr}");
        stderr
    };

    // The fixture's index signature is what OpenSSL itself verifies.
    let index = fixtures.join("repo/v3.22/main/x86_64/APKINDEX.tar.gz");
    let raw = std::fs::read(&index).unwrap();
    let mut first = flate2::bufread::GzDecoder::new(&raw[..]);
    let mut signature_tar = Vec::new();
    first.read_to_end(&mut signature_tar).unwrap();
    let rest = first.into_inner();
    let signed = work.path().join("signed");
    std::fs::write(&signed, rest).unwrap();
    let signature_file = work.path().join("signature");
    let (name, signature) = tar_entries_of(&signature_tar).remove(0);
    let key_name = name
        .strip_prefix(".SIGN.RSA.")
        .expect("an RSA/SHA-1 signature");
    std::fs::write(&signature_file, signature).unwrap();
    let key = fixtures.join("keys").join(key_name);
    run_ok(
        "openssl",
        &[
            "dgst",
            "-sha1",
            "-verify",
            key.to_str().unwrap(),
            "-signature",
            signature_file.to_str().unwrap(),
            signed.to_str().unwrap(),
        ],
    );

    // A package whose upgrade runs a script.
    let base_url = format!("http://127.0.0.1:{}", served.port);
    let input = image(
        work.path(),
        &fixtures,
        "x86_64",
        &repositories(&base_url, true),
    );
    trivy_report(&report, &[("salve-demo-scripted", "1.2-r0")]);
    let stderr = patch(&input, &cache, "native");
    assert!(
        stderr.contains("salve-demo-scripted 1.2-r0 has a .post-upgrade script"),
        "{stderr}"
    );
    // auto has no engine to fall back on: the image has no apk.
    let stderr = patch(&input, &cache, "auto");
    assert!(stderr.contains("no other engine can"), "{stderr}");

    // Through a proxy that changes a byte of a package, then of an index.
    let proxy = FaultProxy::start(&format!("127.0.0.1:{}", served.port));
    let input = image(
        work.path(),
        &fixtures,
        "x86_64",
        &repositories(&format!("http://{}", proxy.address), false),
    );
    trivy_report(&report, &[("salve-demo-lib", "1.1-r0")]);
    for (piece, says) in [
        (".apk", "is not what the repository's signed index says"),
        ("APKINDEX", "APKINDEX.tar.gz"),
    ] {
        proxy.set_rules(vec![Rule {
            method: "GET",
            path_contains: piece.to_string(),
            fault: Fault::CorruptByte,
            times: u32::MAX,
        }]);
        let _ = std::fs::remove_dir_all(cache.join("packages"));
        let stderr = patch(&input, &cache, "native");
        assert!(stderr.contains(says), "{piece}: {stderr}");
    }
    proxy.set_rules(Vec::new());

    // An index signed by a key the image does not trust under that name.
    let other = work.path().join("other.rsa");
    run_ok(
        "openssl",
        &["genrsa", "-out", other.to_str().unwrap(), "2048"],
    );
    let other_public = work.path().join("other.rsa.pub");
    run_ok(
        "openssl",
        &[
            "rsa",
            "-in",
            other.to_str().unwrap(),
            "-pubout",
            "-out",
            other_public.to_str().unwrap(),
        ],
    );
    insert_file(
        input.trim_start_matches("oci:"),
        &other_public,
        &format!("/etc/apk/keys/{key_name}"),
    );
    let stderr = patch(&input, &cache, "native");
    assert!(
        stderr.contains("is not signed by a key the image trusts"),
        "{stderr}"
    );
}
