//! Reading files from real layer blobs, built by Python's `tarfile` and compressed by `gzip` and
//! `zstd`: the merged view (whiteouts, opaque directories, links) and hostile layers.

use salve::image::{
    Compression, KEPT_FILE_BYTES, ReadError, UnpackError, UnpackOptions, read_paths,
    read_paths_indexed, read_paths_within, read_tree_paths_within, squash, unpack_layers,
};
use salve::plugin::types::{FileKind, ImageFile};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One tar member, as the Python builder takes it.
enum Member<'a> {
    /// A regular file and its text.
    File(&'a str, &'a str),
    /// A directory.
    Dir(&'a str),
    /// A symbolic link and its target.
    Symlink(&'a str, &'a str),
    /// A hard link and the path it links to.
    HardLink(&'a str, &'a str),
    /// A file whose header claims a size but whose data is missing.
    Claims(&'a str, u64),
    /// A named pipe.
    Fifo(&'a str),
}

/// Builds a layer blob in `dir` from `members` with Python's tarfile, then compresses it with
/// the given command (`gzip`, `zstd`) or not at all.
fn layer(dir: &Path, name: &str, members: &[Member<'_>], compress: Option<&str>) -> PathBuf {
    let mut spec = String::new();
    for member in members {
        let line = match member {
            Member::File(path, text) => format!("F\t{path}\t{}\n", text.replace('\n', "\\n")),
            Member::Dir(path) => format!("D\t{path}\t\n"),
            Member::Symlink(path, target) => format!("L\t{path}\t{target}\n"),
            Member::HardLink(path, target) => format!("H\t{path}\t{target}\n"),
            Member::Claims(path, size) => format!("Z\t{path}\t{size}\n"),
            Member::Fifo(path) => format!("P\t{path}\t\n"),
        };
        spec.push_str(&line);
    }
    let script = r#"
import io, sys, tarfile
out = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
for line in sys.stdin.read().splitlines():
    kind, name, value = line.split("\t", 2)
    info = tarfile.TarInfo(name)
    info.mtime = 0
    if kind == "F":
        data = value.replace("\\n", "\n").encode()
        info.size = len(data)
        out.addfile(info, io.BytesIO(data))
    elif kind == "D":
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        out.addfile(info)
    elif kind == "H":
        info.type = tarfile.LNKTYPE
        info.linkname = value
        out.addfile(info)
    elif kind == "P":
        info.type = tarfile.FIFOTYPE
        out.addfile(info)
    elif kind == "Z":
        info.size = int(value)
        out.fileobj.write(info.tobuf(out.format, out.encoding, out.errors))
    else:
        info.type = tarfile.SYMTYPE
        info.linkname = value
        out.addfile(info)
out.close()
"#;
    let tar_path = dir.join(format!("{name}.tar"));
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(&tar_path)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    match compress {
        None => tar_path,
        Some(tool) => {
            let status = Command::new(tool)
                .args(["-q", "-f"])
                .arg(&tar_path)
                .status()
                .unwrap();
            assert!(status.success());
            let suffix = if tool == "gzip" { "gz" } else { "zst" };
            let compressed = dir.join(format!("{name}.tar.{suffix}"));
            assert!(compressed.exists());
            compressed
        }
    }
}

/// The answer for one path.
fn get<'a>(files: &'a [ImageFile], path: &str) -> &'a ImageFile {
    files
        .iter()
        .find(|file| file.path == path)
        .unwrap_or_else(|| panic!("{path} not answered: {files:?}"))
}

fn text(file: &ImageFile) -> &str {
    std::str::from_utf8(file.content.as_deref().expect("content")).unwrap()
}

/// Three layers: a base, an upgrade (with whiteouts and an opaque folder), and a small top one.
fn image(dir: &Path) -> Vec<PathBuf> {
    use Member::*;
    let base = layer(
        dir,
        "base",
        &[
            Dir("etc"),
            Symlink("etc/os-release", "../usr/lib/os-release"),
            File("usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
            Symlink("lib", "usr/lib"),
            File("usr/lib/apk/db/installed", "P:musl\nV:1.2.4-r2\n"),
            File(
                "var/lib/dpkg/status",
                "Package: libssl3\nVersion: 3.0.11-1\n",
            ),
            File("var/lib/dpkg/status.d/tzdata", "Package: tzdata\n"),
            File("var/lib/dpkg/status.d/base", "Package: base-files\n"),
            File("opt/old/file", "old"),
            File(
                "usr/lib/python3.11/site-packages/requests-2.25.0.dist-info/METADATA",
                "Name: requests\nVersion: 2.25.0\n",
            ),
            File(
                "usr/lib/python3.11/site-packages/idna-3.3.dist-info/METADATA",
                "Name: idna\nVersion: 3.3\n",
            ),
        ],
        Some("gzip"),
    );
    let upgrade = layer(
        dir,
        "upgrade",
        &[
            File(
                "var/lib/dpkg/status",
                "Package: libssl3\nVersion: 3.0.13-1\n",
            ),
            File("var/lib/dpkg/status.d/.wh.tzdata", ""),
            File("opt/.wh..wh..opq", ""),
            File("opt/new/file", "new"),
            File(
                "usr/lib/python3.11/site-packages/.wh.requests-2.25.0.dist-info",
                "",
            ),
            File(
                "usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
                "Name: requests\nVersion: 2.31.0\n",
            ),
        ],
        Some("zstd"),
    );
    let top = layer(dir, "top", &[File("app/config", "x")], None);
    vec![base, upgrade, top]
}

#[test]
fn the_merged_view_of_three_layers() {
    let dir = tempfile::tempdir().unwrap();
    let layers = image(dir.path());
    let patterns: Vec<String> = [
        "/etc/os-release",
        "/var/lib/dpkg/status",
        "/var/lib/dpkg/status.d/*",
        "/opt/old/file",
        "/opt/new/file",
        "/usr/lib/python3*/site-packages/*.dist-info/METADATA",
        "/lib/apk/db/installed",
        "/usr/bin/apt-get",
        "/etc",
    ]
    .map(String::from)
    .to_vec();
    let files = read_paths(&layers, &patterns, 1 << 20).unwrap();

    let os_release = get(&files, "/etc/os-release");
    assert_eq!(
        os_release.kind,
        FileKind::File,
        "followed to the file it links to"
    );
    assert!(text(os_release).starts_with("ID=debian"));
    assert_eq!(
        os_release.link_target.as_deref(),
        Some("../usr/lib/os-release")
    );

    assert!(
        text(get(&files, "/var/lib/dpkg/status")).contains("3.0.13-1"),
        "the upper layer wins"
    );
    let status_d: Vec<&str> = files
        .iter()
        .filter(|file| file.path.starts_with("/var/lib/dpkg/status.d/"))
        .map(|file| file.path.as_str())
        .collect();
    assert_eq!(
        status_d,
        ["/var/lib/dpkg/status.d/base"],
        "tzdata was whited out"
    );
    assert_eq!(
        get(&files, "/opt/old/file").kind,
        FileKind::Missing,
        "hidden by the opaque folder"
    );
    assert_eq!(text(get(&files, "/opt/new/file")), "new");

    let metadata: Vec<&str> = files
        .iter()
        .filter(|file| file.path.ends_with("/METADATA"))
        .map(|file| file.path.as_str())
        .collect();
    assert_eq!(
        metadata,
        [
            "/usr/lib/python3.11/site-packages/idna-3.3.dist-info/METADATA",
            "/usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
        ]
    );
    assert!(
        text(get(&files, "/lib/apk/db/installed")).contains("musl"),
        "found through the /lib -> usr/lib link"
    );
    assert_eq!(get(&files, "/usr/bin/apt-get").kind, FileKind::Missing);
    assert_eq!(get(&files, "/etc").kind, FileKind::Directory);
}

#[test]
fn an_unpacked_image_answers_as_its_layers_do() {
    use Member::*;
    let dir = tempfile::tempdir().unwrap();
    let mut layers = image(dir.path());
    layers.push(layer(
        dir.path(),
        "links",
        &[
            Symlink("etc/alternatives-loop/a", "b"),
            Symlink("etc/alternatives-loop/b", "a"),
            Symlink("up", "../../../../etc"),
            Symlink("abs", "/usr/lib"),
            Symlink("dangling", "/no/such/file"),
            Symlink("srv", "etc"),
            HardLink("etc/hard", "usr/lib/os-release"),
            Fifo("var/lib/dpkg/status.d/pipe"),
            File(
                "home/app/.venv/lib/python3.12/site-packages/a-1.dist-info/METADATA",
                "a",
            ),
            Symlink("var/lib/dpkg/status.d/linked", "../status"),
        ],
        Some("gzip"),
    ));
    let patterns: Vec<String> = [
        "/etc/os-release",
        "/usr/lib/os-release",
        "/var/lib/dpkg/status",
        "/var/lib/dpkg/status.d/*",
        "/opt/old/file",
        "/opt/new/file",
        "/usr/lib/python3*/site-packages/*.dist-info/METADATA",
        "/**/lib/python3*/site-packages/*.dist-info/METADATA",
        "/lib/apk/db/installed",
        "/usr/bin/apt-get",
        "/etc",
        "/etc/alternatives-loop/a",
        "/up/os-release",
        "/abs/os-release",
        "/dangling",
        "/srv/os-release",
        "/srv",
        "/etc/hard",
        "/app/config/below-a-file",
        "/etc/os-release",
    ]
    .map(String::from)
    .to_vec();
    let from_layers = read_paths_within(&layers, &patterns, 1 << 20, 1 << 20).unwrap();
    let root = tempfile::tempdir().unwrap();
    unpack_layers(&layers, root.path(), UnpackOptions::default()).unwrap();
    let from_tree = read_tree_paths_within(root.path(), &patterns, 1 << 20, 1 << 20).unwrap();
    let described = |files: &[ImageFile]| -> Vec<String> {
        files.iter().map(|file| format!("{file:?}")).collect()
    };
    assert_eq!(described(&from_tree), described(&from_layers));
    assert_eq!(
        get(&from_tree, "/var/lib/dpkg/status.d/pipe").kind,
        FileKind::File
    );
    assert_eq!(get(&from_tree, "/srv").kind, FileKind::Directory);
    assert!(text(get(&from_tree, "/srv/os-release")).starts_with("ID=debian"));
    assert_eq!(
        get(&from_tree, "/dangling").link_target.as_deref(),
        Some("/no/such/file")
    );

    let over = read_tree_paths_within(root.path(), &patterns, 1 << 20, 8);
    assert!(over.is_err(), "the total cap holds: {over:?}");
}

#[test]
fn the_index_keeps_the_small_configuration_files_as_the_top_layer_has_them() {
    use Member::*;
    let dir = tempfile::tempdir().unwrap();
    let big = "x".repeat(KEPT_FILE_BYTES as usize + 1);
    let base = layer(
        dir.path(),
        "base",
        &[
            Dir("etc"),
            File("etc/pam.conf", "old"),
            File("etc/gone.conf", "removed above"),
            File("etc/big.conf", &big),
            File("usr/share/doc/README", "not configuration"),
        ],
        Some("gzip"),
    );
    let upper = layer(
        dir.path(),
        "upper",
        &[
            File("etc/pam.conf", "new"),
            File("etc/.wh.gone.conf", ""),
            HardLink("etc/linked.conf", "etc/pam.conf"),
        ],
        Some("zstd"),
    );
    let (files, index) =
        read_paths_indexed(&[base, upper], &["/etc/pam.conf".into()], 1 << 20, 1 << 20).unwrap();
    assert_eq!(text(get(&files, "/etc/pam.conf")), "new");
    assert_eq!(index.kept("/etc/pam.conf"), Some(&b"new"[..]));
    assert_eq!(index.kept("/etc/gone.conf"), None, "whited out");
    assert_eq!(index.kind("/etc/big.conf"), FileKind::File);
    assert_eq!(index.kept("/etc/big.conf"), None, "over the size kept");
    assert_eq!(
        index.kept("/etc/linked.conf"),
        None,
        "a hard link is not a regular file"
    );
    assert_eq!(index.kept("/usr/share/doc/README"), None, "not under /etc");
}

#[test]
fn reading_stops_at_the_first_layer_that_decides() {
    let dir = tempfile::tempdir().unwrap();
    let mut layers = image(dir.path());
    // A bottom "layer" that is not a tar at all: reading must not get that far for a path the
    // upper layers decide.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"not a tar archive, and not compressed").unwrap();
    layers.insert(0, junk);
    let files = read_paths(&layers, &["/var/lib/dpkg/status".to_string()], 1 << 20).unwrap();
    assert!(text(get(&files, "/var/lib/dpkg/status")).contains("3.0.13-1"));
    let error = read_paths(&layers, &["/not/in/any/layer".to_string()], 1 << 20).unwrap_err();
    assert!(matches!(error, ReadError::Layer { .. }), "{error}");
}

#[test]
fn hostile_layers_cannot_answer_for_paths_outside_the_image() {
    use Member::*;
    let dir = tempfile::tempdir().unwrap();
    let hostile = layer(
        dir.path(),
        "hostile",
        &[
            File("../etc/passwd", "escaped"),
            File("./a/../../etc/shadow", "escaped"),
            Symlink("loop/a", "b"),
            Symlink("loop/b", "a"),
            Symlink("up", "../../../../etc"),
            File("etc/hostname", "inside"),
        ],
        Some("gzip"),
    );
    let patterns: Vec<String> = ["/etc/passwd", "/etc/shadow", "/loop/a", "/up/hostname"]
        .map(String::from)
        .to_vec();
    let files = read_paths(&[hostile], &patterns, 1 << 20).unwrap();
    assert_eq!(get(&files, "/etc/passwd").kind, FileKind::Missing);
    assert_eq!(get(&files, "/etc/shadow").kind, FileKind::Missing);
    assert_eq!(
        get(&files, "/loop/a").kind,
        FileKind::Missing,
        "a link loop ends"
    );
    assert_eq!(
        text(get(&files, "/up/hostname")),
        "inside",
        "a link climbing above the root stops at the root"
    );
}

#[test]
fn files_over_the_cap_and_truncated_layers_are_clear_errors() {
    use Member::*;
    let dir = tempfile::tempdir().unwrap();
    let big = "x".repeat(4096);
    let layer_path = layer(
        dir.path(),
        "big",
        &[File("var/lib/dpkg/status", &big)],
        Some("gzip"),
    );
    let error = read_paths(
        std::slice::from_ref(&layer_path),
        &["/var/lib/dpkg/status".into()],
        1024,
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("4096 bytes, more than the 1024 bytes"),
        "{error}"
    );

    let bytes = std::fs::read(&layer_path).unwrap();
    let cut = dir.path().join("cut.tar.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let error = read_paths(&[cut], &["/nothing".into()], 1 << 20).unwrap_err();
    assert!(matches!(error, ReadError::Layer { .. }), "{error}");
}

#[test]
fn unpacking_stacks_layers_with_their_whiteouts() {
    let dir = tempfile::tempdir().unwrap();
    let layers = image(dir.path());
    let root = tempfile::tempdir().unwrap();
    let report = unpack_layers(&layers, root.path(), UnpackOptions::default()).unwrap();
    assert!(report.entries > 10);
    let path = |p: &str| root.path().join(p);
    assert_eq!(
        std::fs::read_link(path("etc/os-release")).unwrap(),
        Path::new("../usr/lib/os-release")
    );
    assert!(
        std::fs::read_to_string(path("etc/os-release"))
            .unwrap()
            .contains("debian")
    );
    assert!(
        std::fs::read_to_string(path("var/lib/dpkg/status"))
            .unwrap()
            .contains("3.0.13-1")
    );
    assert!(!path("var/lib/dpkg/status.d/tzdata").exists(), "whited out");
    assert!(path("var/lib/dpkg/status.d/base").exists());
    assert!(!path("opt/old").exists(), "cleared by the opaque marker");
    assert_eq!(
        std::fs::read_to_string(path("opt/new/file")).unwrap(),
        "new"
    );
    let site = "usr/lib/python3.11/site-packages";
    assert!(!path(&format!("{site}/requests-2.25.0.dist-info")).exists());
    assert!(path(&format!("{site}/requests-2.31.0.dist-info/METADATA")).exists());
    assert!(path("app/config").exists());
}

#[test]
fn hostile_layers_write_nothing_outside_the_target() {
    use Member::*;
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let outside_path = outside.path().to_str().unwrap().to_string();

    // `..` in a name.
    let climbing = layer(
        dir.path(),
        "climbing",
        &[File("../escaped", "x")],
        Some("gzip"),
    );
    // An absolute link to a folder outside, then a file written through it.
    let planted = layer(
        dir.path(),
        "planted",
        &[Symlink("evil", &outside_path)],
        Some("gzip"),
    );
    let through = layer(
        dir.path(),
        "through",
        &[File("evil/pwned", "x")],
        Some("gzip"),
    );
    // A relative link climbing out, then a write through it.
    let relative = layer(
        dir.path(),
        "relative",
        &[Symlink("up", "../../../../../../..")],
        None,
    );
    let via_up = layer(
        dir.path(),
        "via-up",
        &[File(&format!("up{outside_path}/pwned2"), "x")],
        None,
    );
    // A hard link to a file outside.
    let hard = layer(
        dir.path(),
        "hard",
        &[HardLink("passwd", "/etc/passwd")],
        None,
    );

    for (name, layers) in [
        ("climbing", vec![climbing]),
        ("through a planted link", vec![planted.clone(), through]),
        ("through a climbing link", vec![relative, via_up]),
        ("a hard link out", vec![hard]),
    ] {
        let root = dir.path().join(format!("root-{}", name.replace(' ', "-")));
        std::fs::create_dir(&root).unwrap();
        let error = unpack_layers(&layers, &root, UnpackOptions::default())
            .expect_err(&format!("{name} must be refused"));
        let message = error.to_string();
        assert!(message.contains("layer "), "{name}: {message}");
        if name == "climbing" {
            assert!(matches!(error, UnpackError::Escape { .. }), "{message}");
        }
        if name == "through a planted link" {
            assert!(message.contains("is not a folder"), "{message}");
        }
        assert!(!dir.path().join("escaped").exists(), "{name}");
        assert!(!root.join("passwd").exists() || name != "a hard link out");
    }
    let leftovers: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert!(
        leftovers.is_empty(),
        "nothing was written outside: {leftovers:?}"
    );
}

#[test]
fn a_sparse_bomb_header_and_an_oversized_layer_stop_with_an_error() {
    use Member::*;
    let dir = tempfile::tempdir().unwrap();
    let bomb = layer(dir.path(), "bomb", &[Claims("big", 10 << 30)], Some("gzip"));
    let root = tempfile::tempdir().unwrap();
    let error = unpack_layers(&[bomb], root.path(), UnpackOptions::default()).unwrap_err();
    assert!(matches!(error, UnpackError::Io { .. }), "{error}");
    let written = std::fs::metadata(root.path().join("big")).map_or(0, |m| m.len());
    assert!(
        written < 1 << 20,
        "the claimed 10 GiB were not written: {written}"
    );

    let large = "x".repeat(2 << 20);
    let big = layer(dir.path(), "large", &[File("large", &large)], Some("gzip"));
    let root = tempfile::tempdir().unwrap();
    let error =
        unpack_layers(&[big], root.path(), UnpackOptions { max_bytes: 1 << 20 }).unwrap_err();
    assert!(matches!(error, UnpackError::TooLarge { .. }), "{error}");
    assert!(
        error.to_string().contains("more than 1048576 bytes"),
        "{error}"
    );
}

/// Every path under `root` with what it is: file content, link target, or a folder.
fn tree(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().display().to_string();
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            let what = if metadata.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&path).unwrap().display())
            } else if metadata.is_dir() {
                stack.push(path);
                "dir".to_string()
            } else {
                std::fs::read_to_string(&path).unwrap()
            };
            out.push((relative, what));
        }
    }
    out.sort();
    out
}

#[test]
fn a_squashed_patch_means_what_the_two_patches_meant() {
    use Member::*;
    let dir = tempfile::tempdir().unwrap();
    let base = layer(
        dir.path(),
        "base",
        &[
            File("usr/lib/libssl.so.3", "3.0.11"),
            File("usr/lib/libcrypto.so.3", "3.0.11"),
            File("etc/app/a.conf", "base a"),
            File("etc/app/b.conf", "base b"),
            File("var/lib/dpkg/status", "v1"),
            File("usr/share/doc/old/README", "old docs"),
        ],
        Some("gzip"),
    );
    let first = layer(
        dir.path(),
        "first-patch",
        &[
            File("usr/lib/libssl.so.3", "3.0.13"),
            File("usr/lib/libcrypto.so.3", "3.0.13"),
            File("var/lib/dpkg/status", "v2"),
            File("usr/share/doc/.wh.old", ""),
            File("usr/lib/new-helper", "helper"),
            File("etc/app/.wh..wh..opq", ""),
            File("etc/app/c.conf", "first c"),
        ],
        Some("gzip"),
    );
    let second = layer(
        dir.path(),
        "second-patch",
        &[
            File("usr/lib/libssl.so.3", "3.0.15"),
            File("var/lib/dpkg/status", "v3"),
            File("usr/share/doc/old/README", "docs are back"),
            File("usr/lib/.wh.new-helper", ""),
            Symlink("usr/lib/libcrypto.so", "libcrypto.so.3"),
        ],
        Some("zstd"),
    );
    let squashed = dir.path().join("squashed.tar.gz");
    let written = squash(
        &[&first, &second],
        &|_| false,
        std::fs::File::create(&squashed).unwrap(),
        Compression::Gzip,
        2,
    )
    .unwrap();
    assert!(written.entries > 0);

    let stacked = tempfile::tempdir().unwrap();
    unpack_layers(
        &[base.clone(), first, second],
        stacked.path(),
        UnpackOptions::default(),
    )
    .unwrap();
    let merged = tempfile::tempdir().unwrap();
    unpack_layers(
        &[base, squashed.clone()],
        merged.path(),
        UnpackOptions::default(),
    )
    .unwrap();
    assert_eq!(tree(merged.path()), tree(stacked.path()));

    let files = read_paths(&[squashed], &["/usr/lib/libcrypto.so.3".into()], 1 << 20).unwrap();
    assert_eq!(
        text(get(&files, "/usr/lib/libcrypto.so.3")),
        "3.0.13",
        "the first patch's files the second left alone are kept"
    );
}
