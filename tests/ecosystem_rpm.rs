//! The built-in `rpm` ecosystem plugin through the host, one component call per WIT function,
//! and its version order checked against rpm itself (`rpm.vercmp` in rpm's Lua) on thousands of
//! generated pairs.

use crate::support::{Generator, amd64, assert_same_order, file, run};
use salve::plugin::Plugin;
use salve::plugin::types::{OsInfo, PlanRequest, RequestedUpdate};
use std::cmp::Ordering;
use std::process::Command;

/// The built-in rpm plugin.
fn rpm() -> Plugin {
    crate::support::built_in("rpm")
}

fn azure_linux() -> OsInfo {
    crate::support::os("azurelinux", "3.0")
}

const MANIFEST_2: &str = "openssl\t3.3.2-1.azl3\t1748892790\t1735838940\tMicrosoft Corporation\t(none)\t1830213\tx86_64\t0\topenssl-3.3.2-1.azl3.src.rpm
ca-certificates-base\t3.0.0-8.azl3\t1748892790\t1735838940\tMicrosoft Corporation\t(none)\t130628\tnoarch\t1\tca-certificates-3.0.0-8.azl3.src.rpm
";

#[test]
fn every_function_answers_through_the_sandbox() {
    let plugin = rpm();
    let ecosystem = plugin.as_ecosystem().unwrap();
    let probes = ecosystem.probe_paths().unwrap();
    assert!(probes.contains(&"/var/lib/rpmmanifest/container-manifest-2".to_string()));

    let manifest = file("/var/lib/rpmmanifest/container-manifest-2", MANIFEST_2);
    let target = ecosystem
        .detect(&azure_linux(), std::slice::from_ref(&manifest))
        .unwrap()
        .expect("a distroless Azure Linux image is the rpm plugin's");
    assert!(target.distroless);

    let installed = ecosystem.installed(&[manifest]).unwrap();
    assert_eq!(installed.len(), 2);
    assert_eq!(installed[1].version, "1:3.0.0-8.azl3");

    assert_eq!(
        ecosystem.compare_versions("1:1.0-1", "2.0-1").unwrap(),
        Ordering::Greater
    );
    assert_eq!(
        ecosystem
            .tooling_image(&azure_linux(), &amd64(), &target, false)
            .unwrap()
            .as_deref(),
        Some("mcr.microsoft.com/azurelinux/base/core:3.0")
    );
    let plan = ecosystem
        .plan(&PlanRequest {
            os: azure_linux(),
            platform: amd64(),
            target,
            updates: vec![RequestedUpdate {
                package: "openssl".into(),
                fixed_version: "3.3.3-1.azl3".into(),
                path: None,
            }],
            tooling_image: Some("mcr.microsoft.com/azurelinux/base/core:3.0".into()),
        })
        .unwrap();
    assert_eq!(plan.steps.len(), 2);
    assert_eq!(
        plan.database_paths,
        ["/var/lib/rpmmanifest/container-manifest-2"]
    );
    let purl = ecosystem
        .purl(&installed[1], &azure_linux(), &amd64())
        .unwrap();
    assert_eq!(
        purl,
        "pkg:rpm/azurelinux/ca-certificates-base@3.0.0-8.azl3?arch=noarch&epoch=1&distro=azurelinux-3.0"
    );
}

/// A version shaped like real RPM ones, with rpm's odd corners: `~`, `^`, letters, separators,
/// leading zeros, and epochs.
fn rpm_version(generator: &mut Generator) -> String {
    let epoch = generator.pick(&["", "", "", "1:", "2:", "0:"]);
    let mut version = generator
        .pick(&["1", "2", "0", "10", "007", "5"])
        .to_string();
    for _ in 0..(generator.next() % 4) {
        version.push_str(generator.pick(&[".", ".", "_", "+", "~", "^", ""]));
        version.push_str(generator.pick(&[
            "0",
            "1",
            "2",
            "13",
            "a",
            "rc1",
            "git20240101",
            "p1",
            "b",
        ]));
    }
    let release = generator.pick(&[
        "", "-1", "-2.el8", "-1.el8_7", "-12.cm2", "-1.azl3", "-0.1.rc1",
    ]);
    format!("{epoch}{version}{release}")
}

/// rpm's answers for many pairs at once, from one run of rpm's Lua `rpm.vercmp` over a script
/// file (the pairs are too many for one command-line argument).
fn rpm_orders(pairs: &[(String, String)]) -> Vec<Ordering> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("pairs.lua");
    let mut lua = String::new();
    for (a, b) in pairs {
        lua.push_str(&format!("print(rpm.vercmp([[{a}]], [[{b}]]) .. \"\\n\")\n"));
    }
    std::fs::write(&script, lua).unwrap();
    let lua = format!("%{{lua: dofile([[{}]])}}", script.display());
    run("rpm", &["--eval", &lua])
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| line.trim().parse::<i64>().unwrap().cmp(&0))
        .collect()
}

#[test]
fn the_order_agrees_with_rpm_on_thousands_of_pairs() {
    let mut generator = Generator(0x7e57);
    let pairs: Vec<(String, String)> = (0..3000)
        .map(|_| (rpm_version(&mut generator), rpm_version(&mut generator)))
        .collect();
    assert_same_order(&rpm(), &pairs, &rpm_orders(&pairs));
}

/// A spec for a package with `file_count` empty files under `/usr/share/salve-wide/` (a header of
/// hundreds of KiB, stored across many overflow pages) and an epoch.
const WIDE_SPEC: &str = r#"Name: salve-wide
Version: 2.5
Release: 3.test
Epoch: 7
Summary: a package with many files
License: MIT
BuildArch: noarch
%description
Many files, so that its header spills over many database pages.
%install
mkdir -p %{buildroot}/usr/share/salve-wide
for i in $(seq 1 %{file_count}); do : > %{buildroot}/usr/share/salve-wide/file-with-a-long-name-$i; done
%files
/usr/share/salve-wide
"#;

#[test]
fn installed_packages_are_read_from_the_rpm_database_file_as_rpm_lists_them() {
    let work = tempfile::tempdir().unwrap();
    let spec = work.path().join("wide.spec");
    std::fs::write(&spec, WIDE_SPEC).unwrap();
    let top = work.path().join("rpmbuild");
    let built = Command::new("rpmbuild")
        .args(["--quiet", "-bb", "--define"])
        .arg(format!("_topdir {}", top.display()))
        .args(["--define", "file_count 3000"])
        .arg(&spec)
        .status()
        .unwrap();
    assert!(built.success());
    let demo = crate::support::patching::fixture_script("fixtures/rpm/build.sh", &[]);
    let mut packages: Vec<std::path::PathBuf> = std::fs::read_dir(format!("{demo}/repo"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains("-1.0-1"))
        .collect();
    packages.push(top.join("RPMS/noarch/salve-wide-2.5-3.test.noarch.rpm"));

    // A real database, written by rpm itself.
    let dbpath = work.path().join("db");
    let rpm_tool = |args: &[&str]| {
        let mut all = vec!["--dbpath", dbpath.to_str().unwrap()];
        all.extend_from_slice(args);
        run("rpm", &all)
    };
    rpm_tool(&["--initdb"]);
    let mut install = vec!["-i", "--justdb", "--nodeps", "--noscripts"];
    install.extend(packages.iter().map(|path| path.to_str().unwrap()));
    rpm_tool(&install);
    let expected = listed_by_rpm(&dbpath, "sqlite");
    assert_eq!(expected.len(), 3, "{expected:?}");

    let plugin = rpm();
    let database = std::fs::read(dbpath.join("rpmdb.sqlite")).unwrap();
    let read = listed_by_plugin(&plugin, "/var/lib/rpm/rpmdb.sqlite", database);
    assert_eq!(read, expected);
    assert!(read.contains(&"salve-wide 7:2.5-3.test noarch".to_string()));

    // The same headers in a Berkeley DB hash database, as rpm before 4.16 kept them, in both
    // byte orders: written by Berkeley DB's own `db5.3_load`, listed by rpm's `bdb_ro` backend.
    for order in ["1234", "4321"] {
        let berkeley = work.path().join(format!("bdb-{order}"));
        std::fs::create_dir(&berkeley).unwrap();
        let dump = work.path().join(format!("dump-{order}"));
        let status = Command::new("python3")
            .args(["-c", BERKELEY_DUMP])
            .arg(dbpath.join("rpmdb.sqlite"))
            .arg(&dump)
            .arg(order)
            .status()
            .unwrap();
        assert!(status.success());
        let loaded = Command::new("db5.3_load")
            .arg("-f")
            .arg(&dump)
            .arg(berkeley.join("Packages"))
            .status()
            .unwrap();
        assert!(loaded.success());
        assert_eq!(
            listed_by_rpm(&berkeley, "bdb_ro"),
            expected,
            "rpm reads the Berkeley database ({order})"
        );
        let packages = std::fs::read(berkeley.join("Packages")).unwrap();
        let read = listed_by_plugin(&plugin, "/var/lib/rpm/Packages", packages);
        assert_eq!(
            read, expected,
            "salve reads the Berkeley database ({order})"
        );
    }

    // A damaged database is an error naming the file, never a wrong list.
    let mut damaged = file("/var/lib/rpm/rpmdb.sqlite", "");
    let mut bytes = std::fs::read(dbpath.join("rpmdb.sqlite")).unwrap();
    bytes.truncate(bytes.len() / 2);
    damaged.content = Some(bytes);
    let error = plugin
        .as_ecosystem()
        .unwrap()
        .installed(&[damaged])
        .unwrap_err()
        .to_string();
    assert!(error.contains("/var/lib/rpm/rpmdb.sqlite"), "{error}");
}

/// The packages `rpm -qa` lists from the database in `dbpath` read with `backend`, as sorted
/// `NAME [EPOCH:]VERSION-RELEASE ARCH` lines.
fn listed_by_rpm(dbpath: &std::path::Path, backend: &str) -> Vec<String> {
    let backend = format!("_db_backend {backend}");
    let mut lines: Vec<String> = run(
        "rpm",
        &[
            "--define",
            &backend,
            "--dbpath",
            dbpath.to_str().unwrap(),
            "-qa",
            "--qf",
            "%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{ARCH}\\n",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect();
    lines.sort();
    lines
}

/// The packages the rpm plugin reads from a database file at `path` in an image, as
/// [`listed_by_rpm`] lists them.
fn listed_by_plugin(plugin: &Plugin, path: &str, database: Vec<u8>) -> Vec<String> {
    let mut image_file = file(path, "");
    image_file.content = Some(database);
    let mut lines: Vec<String> = plugin
        .as_ecosystem()
        .unwrap()
        .installed(&[image_file])
        .unwrap()
        .iter()
        .map(|package| {
            format!(
                "{} {} {}",
                package.name,
                package.version,
                package.architecture.as_deref().unwrap_or_default()
            )
        })
        .collect();
    lines.sort();
    lines
}

/// Turns an sqlite rpm database into a `db5.3_load` dump of the Berkeley DB hash database rpm
/// kept before 4.16: each header under its package number (4 bytes in the file's byte order),
/// and record 0 holding the next package number, as rpm wrote it.
const BERKELEY_DUMP: &str = r#"
import sqlite3, struct, sys
source, dump, order = sys.argv[1], sys.argv[2], sys.argv[3]
endian = "<" if order == "1234" else ">"
rows = list(sqlite3.connect(source).execute("SELECT hnum, blob FROM Packages"))
lines = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096",
         "db_lorder=" + order, "HEADER=END"]
records = [(0, struct.pack(endian + "I", max(h for h, _ in rows) + 1))] + rows
for number, value in records:
    lines += [" " + struct.pack(endian + "I", number).hex(), " " + bytes(value).hex()]
lines.append("DATA=END")
open(dump, "w").write("\n".join(lines) + "\n")
"#;

/// Writes an rpm-style `Packages` table with SQLite itself (Python's `sqlite3`): `count` headers
/// of packages `pkg-N` at version `N.0-1`, every tenth one large enough to spill over pages, so
/// that the table needs interior pages and overflow chains.
const MANY_HEADERS: &str = r#"
import sqlite3, struct, sys
path, count = sys.argv[1], int(sys.argv[2])
def header(entries):
    index, data = b"", b""
    for tag, kind, value in entries:
        index += struct.pack(">IIiI", tag, kind, len(data), 1)
        data += value
    return struct.pack(">II", len(entries), len(data)) + index + data
db = sqlite3.connect(path)
db.execute("CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)")
for n in range(1, count + 1):
    padding = b"x" * (20000 if n % 10 == 0 else 10) + b"\0"
    db.execute("INSERT INTO Packages (blob) VALUES (?)", (header([
        (1000, 6, b"pkg-%d\0" % n), (1001, 6, b"%d.0\0" % n), (1002, 6, b"1\0"),
        (1022, 6, b"x86_64\0"), (1004, 9, padding)]),))
db.commit()
"#;

#[test]
fn a_large_rpm_database_is_read_whole() {
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("rpmdb.sqlite");
    let status = Command::new("python3")
        .args(["-c", MANY_HEADERS, path.to_str().unwrap(), "3000"])
        .status()
        .unwrap();
    assert!(status.success());
    let mut image_file = file("/usr/lib/sysimage/rpm/rpmdb.sqlite", "");
    image_file.content = Some(std::fs::read(&path).unwrap());
    let installed = rpm()
        .as_ecosystem()
        .unwrap()
        .installed(&[image_file])
        .unwrap();
    assert_eq!(installed.len(), 3000);
    for (index, package) in installed.iter().enumerate() {
        let n = index + 1;
        assert_eq!(
            (package.name.as_str(), package.version.as_str()),
            (format!("pkg-{n}").as_str(), format!("{n}.0-1").as_str())
        );
    }
}
