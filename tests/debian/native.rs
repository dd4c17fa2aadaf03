//! The native engine end to end: updates installed by file operations from the live Debian
//! repositories, by an ordinary user, checked by dpkg itself and against the local engine's
//! layer; what it refuses (scripts it cannot vouch for) and what it never accepts (a changed
//! index or package between the mirror and salve).

use super::*;
use crate::support::fault_proxy::{Fault, FaultProxy, Rule};
use crate::support::patching::{fixture_script, image_layers, layer_file_paths};
use salve::image::manifest::{Descriptor, Index, OCI_INDEX, Platform};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

/// The maintainer scripts dpkg keeps per package.
const SCRIPTS: [&str; 4] = ["preinst", "postinst", "prerm", "postrm"];

/// The updates split by whether their source package has an installed binary with a maintainer
/// script (the packages of one source move together): the script-free ones native installation
/// makes on this fixture, the others it may refuse.
fn updates_by_scripts(layers: &[PathBuf], status: &[u8]) -> (Vec<Update>, Vec<Update>) {
    let patterns: Vec<String> = SCRIPTS
        .iter()
        .map(|script| format!("/var/lib/dpkg/info/*.{script}"))
        .collect();
    let scripted: BTreeSet<String> = read_paths(layers, &patterns, 64 << 20)
        .unwrap()
        .into_iter()
        .filter_map(|file| {
            let name = file
                .path
                .rsplit('/')
                .next()?
                .rsplit_once('.')?
                .0
                .to_string();
            Some(name.split(':').next()?.to_string())
        })
        .collect();
    let mut source_of: BTreeMap<String, String> = BTreeMap::new();
    for stanza in String::from_utf8_lossy(status).split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{name}: ")))
                .map(|value| {
                    value
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string()
                })
        };
        if let Some(package) = field("Package") {
            let source = field("Source").unwrap_or_else(|| package.clone());
            source_of.insert(package, source);
        }
    }
    let scripted_sources: BTreeSet<&String> = scripted
        .iter()
        .filter_map(|package| source_of.get(package))
        .collect();
    security_updates(status)
        .into_iter()
        .partition(|update| !scripted_sources.contains(&source_of[&update.package]))
}

/// Unpacks an image's layers into a fresh folder.
fn unpacked(layers: &[PathBuf]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    salve::image::unpack::unpack_layers(layers, root.path(), Default::default()).unwrap();
    root
}

/// What dpkg says about a root filesystem: `--audit`, and `--verify` of `packages`.
fn dpkg_checks(root: &Path, packages: &[&str]) -> String {
    let root_arg = format!("--root={}", root.display());
    let audit = Command::new("dpkg")
        .args([&root_arg, "--audit"])
        .output()
        .unwrap();
    let mut verify = Command::new("dpkg");
    verify.args([&root_arg, "--verify"]).args(packages);
    let verify = verify.output().unwrap();
    format!(
        "{}{}{}",
        String::from_utf8_lossy(&audit.stdout),
        String::from_utf8_lossy(&verify.stdout),
        if audit.status.success() && verify.status.success() {
            ""
        } else {
            "(dpkg failed)"
        }
    )
}

/// Paths only the package managers' own bookkeeping writes (locks, logs, caches, the previous
/// status), which a run of apt and dpkg leaves and the native engine does not.
fn bookkeeping(path: &str) -> bool {
    path.starts_with("var/log/")
        || path.starts_with("var/cache/")
        || path == "etc/ld.so.cache"
        || path == "var/lib/apt/extended_states"
        || ["lock", "lock-frontend", "status-old", "triggers/Lock"]
            .iter()
            .any(|name| path == format!("var/lib/dpkg/{name}"))
}

/// The files and links of a layer (folders left out: engines differ in which parents they
/// record), bookkeeping left out.
fn comparable(blob: &Path) -> BTreeMap<String, String> {
    layer_entries(blob)
        .into_iter()
        .filter(|(path, described)| !described.starts_with("Directory") && !bookkeeping(path))
        .collect()
}

/// Runs salve as `nobody`, with `cache` given to it.
fn salve_as_nobody(args: &[&str], cache: &Path) -> (bool, String) {
    run("chown", &["-R", "65534:65534", cache.to_str().unwrap()]);
    let output = Command::new(env!("CARGO_BIN_EXE_salve"))
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .uid(65534)
        .gid(65534)
        .env("HOME", cache)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The packages whose version differs between two status files.
fn changed_packages(before: &[u8], after: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(after)
        .split("\n\n")
        .filter_map(|stanza| {
            stanza
                .lines()
                .find_map(|line| line.strip_prefix("Package: "))
        })
        .filter(|name| installed_version(before, name) != installed_version(after, name))
        .map(String::from)
        .collect()
}

/// Every entry of an image's layers, the top layer's where several have a path, described as
/// [`layer_entries`] describes them.
fn image_entries(layers: &[PathBuf]) -> BTreeMap<String, String> {
    let mut entries = BTreeMap::new();
    for layer in layers {
        entries.extend(layer_entries(layer));
    }
    entries
}

/// How two engines' patch layers of one image differ in what they change of it (files and
/// links whose path, kind, mode, owners or content differs from the base's), one line per path.
fn changes_differ(base: &[PathBuf], native: &Path, local: &Path) -> Vec<String> {
    let before = image_entries(base);
    let changes = |blob: &Path| {
        let mut entries = comparable(blob);
        entries.retain(|path, described| before.get(path) != Some(described));
        entries
    };
    let native_layer = changes(native);
    let local_layer = changes(local);
    native_layer
        .keys()
        .chain(local_layer.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|path| native_layer.get(*path) != local_layer.get(*path))
        .map(|path| {
            format!(
                "{path}\n  native: {:?}\n  local:  {:?}",
                native_layer.get(path),
                local_layer.get(path)
            )
        })
        .collect()
}

#[test]
fn a_native_update_of_everything_by_an_ordinary_user_is_what_dpkg_would_leave_and_what_the_local_engine_writes()
 {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let native_base = push_minbase(&registry, "native", &[], cache.path());
    let local_base = push_minbase(&registry, "local", &[], cache.path());
    let original = read_back(&native_base, cache.path());
    let original_status = status_of(&original.layers);
    let updates = security_updates(&original_status);
    let (_, scripted) = updates_by_scripts(&original.layers, &original_status);
    assert!(
        !scripted.is_empty(),
        "bookworm-security has no update of a package with maintainer scripts for the fixture; \
         the test needs one"
    );

    // Native, as nobody: no root, no namespaces, no daemon; every update the repositories have,
    // maintainer scripts and all.
    let native_cache = tempfile::tempdir().unwrap();
    let (ok, stderr) = salve_as_nobody(
        &["patch", "-i", &native_base, "--engine", "native", "--push"],
        native_cache.path(),
    );
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("maintainer scripts salve has read were not run"),
        "{stderr}"
    );
    let native = read_back(&format!("{native_base}-patched"), cache.path());
    assert_eq!(
        native.digests.len(),
        original.digests.len() + 1,
        "exactly one new layer"
    );
    assert_eq!(
        native.digests[..original.digests.len()],
        original.digests[..]
    );
    let native_status = status_of(&native.layers);
    assert_all_fixed(&native_status, &updates);

    // dpkg finds its database consistent and every updated file as the package has it.
    let root = unpacked(&native.layers);
    let changed = changed_packages(&original_status, &native_status);
    assert!(changed.len() >= updates.len(), "{changed:?}");
    let names: Vec<&str> = changed.iter().map(String::as_str).collect();
    assert_eq!(dpkg_checks(root.path(), &names), "");
    // The patched image runs: its command (bash) runs apt and perl, which load the updated
    // libraries and modules.
    let cmd = native.config["config"]["Cmd"][0]
        .as_str()
        .unwrap()
        .to_string();
    let ran = Command::new("chroot")
        .arg(root.path())
        .args([
            cmd.as_str(),
            "-c",
            "apt-get --version && apt-cache policy >/dev/null && perl -MPOSIX -e 'print strftime(q(%Z), localtime)'",
        ])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).lines().last(),
        Some("UTC")
    );
    assert!(
        root.path().join("lib").is_symlink(),
        "merged /usr kept: packages shipping /lib files must not turn the /lib link into a folder"
    );

    // A second run, with the store filled by the first: stored files are checked again and
    // used.
    let (ok, stderr) = salve_as_nobody(
        &[
            "patch",
            "-i",
            &native_base,
            "--engine",
            "native",
            "--output-image",
            &format!("docker://{native_base}-again"),
            "--progress",
            "json",
        ],
        native_cache.path(),
    );
    assert!(ok, "{stderr}");

    // The local engine, running the same scripts, changes the same files and links, to the same
    // modes, owners and contents (both engines rewrite files as they were, the local engine
    // more: pam-auth-update's files, /etc/timezone).
    let (ok, _, stderr) = salve(
        &Engine::Local,
        &["patch", "-i", &local_base, "--push"],
        cache.path(),
    );
    assert!(ok, "{stderr}");
    let local = read_back(&format!("{local_base}-patched"), cache.path());
    assert_eq!(
        changed_packages(&original_status, &status_of(&local.layers)),
        changed
    );
    let differences = changes_differ(
        &original.layers,
        native.layers.last().unwrap(),
        local.layers.last().unwrap(),
    );
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn ca_certificates_is_upgraded_natively_as_its_scripts_and_update_ca_certificates_leave_it() {
    let layout = debian_fixture("python");
    let base = image_layers(Path::new(&layout), "python");
    let status = status_of(&base);
    let updates: Vec<Update> = security_updates(&status)
        .into_iter()
        .filter(|update| update.package == "ca-certificates")
        .collect();
    assert_eq!(
        updates.len(),
        1,
        "bookworm-security has no ca-certificates update for the fixture; the test needs one"
    );
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("report.json");
    trivy_report(&report, &updates);
    let image = format!("oci:{layout}:python");
    let out = work.path().join("out");
    let cache = tempfile::tempdir().unwrap();
    // Patches on `engine`, written to the output layout as `tag`; its layers.
    let patch = |engine: &Engine, tag: &str| {
        let output = format!("oci:{}:{tag}", out.display());
        let report = report.to_str().unwrap();
        let (ok, _, stderr) = salve(
            engine,
            &[
                "patch",
                "-i",
                &image,
                "-r",
                report,
                "--output-image",
                &output,
            ],
            cache.path(),
        );
        assert!(ok, "{stderr}");
        (image_layers(&out, tag), stderr)
    };

    // Native: the certificates' links, bundle and configuration written by salve.
    let (native, stderr) = patch(&Engine::Native, "native");
    assert!(
        stderr.contains("salve wrote what update-ca-certificates and openssl rehash leave"),
        "{stderr}"
    );
    assert_all_fixed(&status_of(&native), &updates);

    // The local engine runs the scripts; both change the same files and links of the image.
    let (local, _) = patch(&Engine::Local, "local");
    let native_top = native.last().unwrap();
    let changed = comparable(native_top);
    for written in [
        "etc/ssl/certs/ca-certificates.crt",
        "etc/ca-certificates.conf",
    ] {
        assert!(
            changed.contains_key(written),
            "{written} not written natively"
        );
    }
    let differences = changes_differ(&base, native_top, local.last().unwrap());
    assert!(differences.is_empty(), "{}", differences.join("\n"));

    // The image's own update-ca-certificates finds nothing left to do.
    let root = unpacked(&native);
    let bundle = root.path().join("etc/ssl/certs/ca-certificates.crt");
    let written = std::fs::read(&bundle).unwrap();
    let ran = Command::new("chroot")
        .arg(root.path())
        .args(["update-ca-certificates"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(said.contains("0 added, 0 removed"), "{said}");
    assert_eq!(std::fs::read(&bundle).unwrap(), written);
}

#[test]
fn native_installation_refuses_scripts_it_cannot_vouch_for_and_changed_files_and_writes_nothing() {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let base = push_minbase(&registry, "refused", &[], cache.path());
    let original = read_back(&base, cache.path());
    let status = status_of(&original.layers);
    let (script_free, _) = updates_by_scripts(&original.layers, &status);
    assert!(!script_free.is_empty(), "{status:?}");

    // The image's installed version of a package gets a postrm salve has not read, which an
    // upgrade runs: native says which and writes nothing; auto says why and makes the update on
    // the local engine, which runs it.
    let victim = &script_free[0];
    let layout = work.path().join("layout");
    let tagged = format!("{}:x", layout.display());
    let (ok, _, stderr) = salve(
        &Engine::Local,
        &["copy", &base, &format!("oci:{tagged}")],
        cache.path(),
    );
    assert!(ok, "{stderr}");
    let info = ["", ":amd64"]
        .iter()
        .map(|suffix| format!("/var/lib/dpkg/info/{}{suffix}", victim.package))
        .find(|info| has_file(&original.layers, &format!("{info}.list")))
        .unwrap();
    let postrm = work.path().join("postrm");
    std::fs::write(
        &postrm,
        "#!/bin/sh\nset -e\necho \"$1\" > /etc/salve-postrm-ran\n",
    )
    .unwrap();
    std::fs::set_permissions(&postrm, std::fs::Permissions::from_mode(0o755)).unwrap();
    insert_file(&tagged, &postrm, &format!("{info}.postrm"));
    let scripted = format!("{base}-scripted");
    let (ok, _, stderr) = salve(
        &Engine::Local,
        &["copy", &format!("oci:{tagged}"), &scripted],
        cache.path(),
    );
    assert!(ok, "{stderr}");
    let absent = |image: &str| {
        let (ok, _, _) = salve(
            &Engine::Local,
            &[
                "copy",
                image,
                &format!("oci:{}/out:x", work.path().display()),
            ],
            cache.path(),
        );
        !ok
    };
    let scripted_report = work.path().join("scripted.json");
    trivy_report(&scripted_report, std::slice::from_ref(victim));
    let patch = |engine: &str| {
        salve(
            &Engine::Local,
            &[
                "patch",
                "-i",
                &scripted,
                "-r",
                scripted_report.to_str().unwrap(),
                "--engine",
                engine,
                "--push",
            ],
            cache.path(),
        )
    };
    let (ok, _, stderr) = patch("native");
    assert!(!ok);
    let says = format!("the old postrm script of {}", victim.package);
    assert!(
        stderr.contains("cannot install natively")
            && stderr.contains(&says)
            && stderr.contains("is not among the scripts salve has read"),
        "{stderr}"
    );
    assert!(absent(&format!("{scripted}-patched")), "nothing was pushed");
    let (ok, _, stderr) = patch("auto");
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("the local engine makes this update: the native engine cannot (")
            && stderr.contains(&says),
        "{stderr}"
    );
    let patched = read_back(&format!("{scripted}-patched"), cache.path());
    assert_all_fixed(&status_of(&patched.layers), std::slice::from_ref(victim));
    assert!(
        layer_file_paths(patched.layers.last().unwrap())
            .contains(&"etc/salve-postrm-ran".to_string()),
        "the local engine ran the script"
    );

    // A mirror (or anything between) that changes one byte of a package, then of an index.
    let report = work.path().join("trivy.json");
    trivy_report(&report, &script_free);
    let mirrors = run(
        "python3",
        &[workspace()
            .join("fixtures/images/debian-mirrors.py")
            .to_str()
            .unwrap()],
    );
    let archive = mirrors
        .lines()
        .find_map(|line| line.strip_prefix("archive "))
        .unwrap()
        .trim()
        .to_string();
    let host = archive
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let upstream = if host.contains(':') {
        host
    } else {
        format!("{host}:80")
    };
    let proxy = FaultProxy::start(&upstream);
    let proxied = format!("http://{}", proxy.address);
    // Requests through a proxy name the whole URL, so the pieces are paths the host name lacks.
    for (piece, what, says) in [
        (
            "/pool/",
            "a package",
            "is not what the repository's signed index says",
        ),
        (
            "/Packages",
            "an index",
            "is not what the repository's signed index says",
        ),
        ("/InRelease", "a signed release", "InRelease"),
    ] {
        proxy.set_rules(vec![Rule {
            method: "GET",
            path_contains: piece.to_string(),
            fault: Fault::CorruptByte,
            times: u32::MAX,
        }]);
        // A fresh store each time, so nothing checked before is taken from it.
        let fresh = tempfile::tempdir().unwrap();
        let (ok, _, stderr) = salve_in(
            fresh.path(),
            &[
                "patch",
                "-i",
                &base,
                "-r",
                report.to_str().unwrap(),
                "--engine",
                "native",
                "--push",
            ],
            &[
                ("http_proxy", proxied.as_str()),
                ("HTTP_PROXY", proxied.as_str()),
                ("no_proxy", "127.0.0.1,localhost"),
                ("NO_PROXY", "127.0.0.1,localhost"),
            ],
        );
        assert!(!ok, "{what} changed on the way was accepted");
        assert!(
            absent(&format!("{base}-patched")),
            "{what}: nothing was pushed"
        );
        assert!(stderr.contains(says), "{what}: {stderr}");
    }
    assert!(proxy.injected() >= 3);
}

/// Turns QEMU's aarch64 emulation off while it lives, and on again after: what runs meanwhile
/// cannot execute an arm64 program.
struct NoEmulation;

/// The binfmt_misc entry of QEMU's aarch64 emulation.
const QEMU_AARCH64: &str = "/proc/sys/fs/binfmt_misc/qemu-aarch64";

impl NoEmulation {
    fn start() -> NoEmulation {
        std::fs::write(QEMU_AARCH64, "0").unwrap();
        assert!(
            std::fs::read_to_string(QEMU_AARCH64)
                .unwrap()
                .starts_with("disabled")
        );
        NoEmulation
    }
}

impl Drop for NoEmulation {
    fn drop(&mut self) {
        let _ = std::fs::write(QEMU_AARCH64, "1");
    }
}

/// The ELF machines (183: aarch64, 62: x86-64) of the programs and libraries in a layer.
fn elf_machines(blob: &Path) -> Vec<u16> {
    use std::io::Read;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(blob).unwrap(),
    ));
    let mut machines = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut head = [0u8; 20];
        if entry.header().entry_type().is_file()
            && entry.read_exact(&mut head).is_ok()
            && head.starts_with(b"\x7fELF")
        {
            machines.push(u16::from_le_bytes([head[18], head[19]]));
        }
    }
    machines
}

#[test]
fn a_two_platform_index_is_patched_natively_with_nothing_of_arm64_executed() {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();

    // An index of the amd64 and arm64 fixtures, pushed to the registry.
    let layout_dir = work.path().join("multi");
    let multi = OciLayout::open_or_create(&layout_dir).unwrap();
    let mut entries = Vec::new();
    for (architecture, fixture) in [
        ("amd64", debian_fixture("minbase")),
        (
            "arm64",
            fixture_script("fixtures/images/debian-image.sh", &["minbase", "arm64"]),
        ),
    ] {
        let source = OciLayout::open(Path::new(&fixture)).unwrap();
        let manifest = source.resolve(Some("minbase")).unwrap();
        multi.import(&source, &manifest, architecture).unwrap();
        let mut entry = Descriptor::new(&manifest.media_type, &manifest.digest, manifest.size);
        entry.platform = Some(Platform {
            architecture: architecture.into(),
            os: "linux".into(),
            variant: None,
            other: Default::default(),
        });
        entries.push(entry);
    }
    let index = Index {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        manifests: entries,
        other: Default::default(),
    };
    let index = multi
        .put_blob(OCI_INDEX, &serde_json::to_vec(&index).unwrap())
        .unwrap();
    multi.tag("multi", &index).unwrap();
    let base = format!("{}/debian:multi", registry.address);
    let (ok, _, stderr) = salve(
        &Engine::Local,
        &[
            "copy",
            &format!("oci:{}:multi", layout_dir.display()),
            &base,
        ],
        cache.path(),
    );
    assert!(ok, "{stderr}");

    let amd64 = OciLayout::open(Path::new(&debian_fixture("minbase"))).unwrap();
    let amd64_layers =
        salve::image::PlatformImage::read(&amd64, &amd64.resolve(Some("minbase")).unwrap())
            .unwrap()
            .layers
            .blobs;
    let (updates, _) = updates_by_scripts(&amd64_layers, &status_of(&amd64_layers));
    let report = work.path().join("trivy.json");
    trivy_report(&report, &updates);
    let vex = work.path().join("vex.json");

    // Both platforms at once, QEMU off: nothing of the arm64 image can run.
    let (ok, _, stderr) = {
        let _off = NoEmulation::start();
        salve(
            &Engine::Local,
            &[
                "patch",
                "-i",
                &base,
                "-r",
                report.to_str().unwrap(),
                "--engine",
                "native",
                "--push",
                "-o",
                vex.to_str().unwrap(),
            ],
            cache.path(),
        )
    };
    assert!(ok, "{stderr}");

    // The index written back: both platforms patched, each with its own architecture's files.
    let out = work.path().join("out");
    let (ok, _, stderr) = salve(
        &Engine::Local,
        &[
            "copy",
            &format!("{base}-patched"),
            &format!("oci:{}:x", out.display()),
        ],
        cache.path(),
    );
    assert!(ok, "{stderr}");
    let layout = OciLayout::open(&out).unwrap();
    let written: Index = serde_json::from_slice(
        &layout
            .read_blob(&layout.resolve(Some("x")).unwrap().digest)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(written.manifests.len(), 2);
    for entry in &written.manifests {
        let architecture = entry.platform.as_ref().unwrap().architecture.clone();
        let image = salve::image::PlatformImage::read(&layout, entry).unwrap();
        assert_eq!(
            image.layers.blobs.len(),
            2,
            "{architecture}: one patch layer"
        );
        assert_all_fixed(&status_of(&image.layers.blobs), &updates);
        let root = unpacked(&image.layers.blobs);
        let expected = if architecture == "arm64" { 183 } else { 62 };
        let machines = elf_machines(image.layers.blobs.last().unwrap());
        assert!(
            !machines.is_empty(),
            "{architecture}: the patch layer has programs or libraries"
        );
        assert!(
            machines.iter().all(|machine| *machine == expected),
            "{architecture}: {machines:?}"
        );
        if architecture == "amd64" {
            let names: Vec<&str> = updates
                .iter()
                .map(|update| update.package.as_str())
                .collect();
            assert_eq!(dpkg_checks(root.path(), &names), "");
        }
    }

    // The VEX document names the fixed packages of both platforms.
    let document: Value = serde_json::from_slice(&std::fs::read(&vex).unwrap()).unwrap();
    let text = document.to_string();
    assert!(
        text.contains("arch=amd64") && text.contains("arch=arm64"),
        "{text}"
    );
}

#[test]
fn a_distroless_image_is_patched_natively_with_the_tooling_images_sources_and_keyrings() {
    super::flow::a_distroless_image_is_patched_through_a_tooling_image_from_the_source_policy_on(
        &Engine::Native,
    );
}
