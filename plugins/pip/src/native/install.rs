//! Installing wheels as `pip install --no-deps` does, as file operations, into each
//! environment a report names: the old distribution's files removed by its `RECORD`; the
//! wheel's files placed (its root and `.data/purelib`, `platlib` in site-packages, `scripts` in
//! the environment's `bin` with `#!python` made the environment's interpreter, `headers` and
//! `data` under its prefix); console and GUI entry points written as pip writes them; a new
//! `RECORD` (paths relative to site-packages, SHA-256 in URL-safe base64, sizes), `INSTALLER`
//! (`salve`) and `REQUESTED` when the old one had it. No bytecode is written. The new version's
//! requirements must already hold in the environment: pip, which installs with dependencies
//! there, would otherwise change other distributions, and native installation says so.

use super::requirement::{self, MarkerEnvironment};
use super::{content, python_minor, tags};
use crate::environment::{interpreter, site_packages};
use crate::metadata::{name_and_version, normalise};
use crate::plan::{Placed, placed};
use crate::version;
use base64::Engine as _;
use salve_plugin_sdk::{
    FileKind, FileReads, ImageFile, InstallRequest, InstallStep, Installation, NativeError,
    UnpackedPackage, WrittenFile,
};
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// What `INSTALLER` says installed a distribution.
const INSTALLER: &str = "salve\n";

/// One wheel going into one environment.
struct Job<'a> {
    /// The environment (site-packages) folder.
    folder: String,
    /// The old version's `*.dist-info` folder.
    old_dist_info: String,
    /// The wheel.
    package: &'a UnpackedPackage,
    /// The wheel's `.dist-info` folder name (`six-1.16.0.dist-info`).
    dist_info: String,
}

/// One round of installation: the old `RECORD`s and the wheels' scripts first, then the old
/// scripts' interpreter lines, then the operations.
pub fn install(request: &InstallRequest) -> Result<InstallStep, NativeError> {
    let jobs = jobs(request)?;
    check_requirements(request, &jobs)?;
    let Some(read) = &request.read else {
        let mut reads = FileReads {
            image: jobs
                .iter()
                .map(|job| format!("{}/RECORD", job.old_dist_info))
                .collect(),
            packaged: Vec::new(),
            statuses: Vec::new(),
        };
        for job in &jobs {
            let scripts = format!("/{}/scripts/", data_folder(&job.dist_info));
            reads.packaged.extend(
                job.package
                    .entries
                    .iter()
                    .filter(|entry| {
                        entry.kind == FileKind::File && entry.path.starts_with(&scripts)
                    })
                    .map(|entry| entry.path.clone()),
            );
        }
        return Ok(InstallStep::Read(reads));
    };
    // The interpreter lines the old scripts have: pip wrote them, and writes them again.
    let mut old_scripts = Vec::new();
    for job in &jobs {
        if let Some(script) = old_records(read, job)?
            .into_iter()
            .map(|(path, _)| path)
            .find(|path| path.starts_with(&format!("{}/", bin_folder(&job.folder))))
        {
            old_scripts.push(script);
        }
    }
    let unread: Vec<String> = old_scripts
        .iter()
        .filter(|path| !read.iter().any(|file| file.path == **path))
        .cloned()
        .collect();
    if !unread.is_empty() {
        return Ok(InstallStep::Read(FileReads {
            image: unread,
            packaged: Vec::new(),
            statuses: Vec::new(),
        }));
    }
    let mut installation = salve_plugin_sdk::no_installation();
    let mut installed_paths: BTreeSet<String> = BTreeSet::new();
    let mut removable: BTreeSet<String> = BTreeSet::new();
    for job in &jobs {
        let interpreter = old_interpreter(read, job)?.unwrap_or_else(|| {
            interpreter(&job.folder)
                .filter(|path| path.starts_with('/'))
                .unwrap_or_else(|| {
                    format!(
                        "/usr/bin/python3.{}",
                        python_minor(&job.folder).unwrap_or_default()
                    )
                })
        });
        let placed = place(request, job, &interpreter, &mut installation)?;
        for (path, _, _) in &placed {
            installed_paths.insert(path.clone());
        }
        let old = old_records(read, job)?;
        let requested = old
            .iter()
            .any(|(path, _)| *path == format!("{}/REQUESTED", job.old_dist_info));
        removable.extend(old.into_iter().map(|(path, _)| path));
        if job.old_dist_info != format!("{}/{}", job.folder, job.dist_info) {
            installation.removed_folders.push(job.old_dist_info.clone());
        }
        write_metadata(job, placed, requested, &mut installation);
    }
    for file in &installation.files {
        installed_paths.insert(file.path.clone());
    }
    installation.removed = removable
        .into_iter()
        .filter(|path| !installed_paths.contains(path))
        .filter(|path| {
            !installation
                .removed_folders
                .iter()
                .any(|folder| path.starts_with(&format!("{folder}/")))
        })
        .collect();
    installation.warnings.push(
        "no bytecode was written for the new Python files: the first import compiles it (where \
         the environment is writable)"
            .into(),
    );
    Ok(InstallStep::Done(installation))
}

/// Each update's environment and wheel.
fn jobs(request: &InstallRequest) -> Result<Vec<Job<'_>>, NativeError> {
    let mut jobs = Vec::new();
    for update in &request.updates {
        let Placed { folder, dist_info } = placed(update).map_err(NativeError::Failed)?;
        let package = request
            .packages
            .iter()
            .find(|package| {
                normalise(&package.download.name) == normalise(&update.package)
                    && version::compare_text(&package.download.version, &update.fixed_version).ok()
                        == Some(Ordering::Equal)
            })
            .ok_or_else(|| {
                NativeError::Failed(format!(
                    "no wheel of {} {} was downloaded",
                    update.package, update.fixed_version
                ))
            })?;
        let wheel_dist_info = package
            .entries
            .iter()
            .filter_map(|entry| entry.path.trim_start_matches('/').split_once('/'))
            .map(|(top, _)| top)
            .find(|top| top.ends_with(".dist-info"))
            .ok_or_else(|| {
                NativeError::Failed(format!("{} has no .dist-info folder", package.download.url))
            })?
            .to_string();
        if jobs
            .iter()
            .any(|job: &Job| job.folder == folder && job.dist_info == wheel_dist_info)
        {
            continue;
        }
        jobs.push(Job {
            folder,
            old_dist_info: dist_info,
            package,
            dist_info: wheel_dist_info,
        });
    }
    Ok(jobs)
}

/// Refuses a wheel whose requirements the environment, with this run's new versions, does not
/// meet: pip would install or change other distributions.
fn check_requirements(request: &InstallRequest, jobs: &[Job]) -> Result<(), NativeError> {
    let machine = tags::architecture(
        &request.platform.architecture,
        request.platform.variant.as_deref(),
    )
    .unwrap_or("x86_64");
    for job in jobs {
        let mut present: BTreeMap<String, String> = BTreeMap::new();
        for file in &request.files {
            if site_packages(&file.path) != Some(job.folder.as_str()) {
                continue;
            }
            if let Some(text) = file.content.as_deref().map(String::from_utf8_lossy)
                && let Ok((name, version)) = name_and_version(&text)
            {
                present.insert(normalise(&name), version);
            }
        }
        for other in jobs.iter().filter(|other| other.folder == job.folder) {
            present.insert(
                normalise(&other.package.download.name),
                other.package.download.version.clone(),
            );
        }
        let metadata = control(job.package, "METADATA").unwrap_or_default();
        let requirements = requirement::requires_dist(&String::from_utf8_lossy(metadata))
            .map_err(NativeError::Unsupported)?;
        let environment = MarkerEnvironment {
            python_version: format!("3.{}", python_minor(&job.folder).unwrap_or_default()),
            machine: machine.to_string(),
        };
        for requirement in requirements {
            if !requirement
                .applies(&environment)
                .map_err(NativeError::Unsupported)?
            {
                continue;
            }
            let met = match present.get(&requirement.name) {
                Some(version) => requirement.allows(version).unwrap_or(false),
                None => false,
            };
            if !met {
                return Err(NativeError::Unsupported(format!(
                    "{} {} requires {:?}, which {} {}: pip would change other distributions \
                     there, which native installation does not",
                    job.package.download.name,
                    job.package.download.version,
                    requirement.text,
                    job.folder,
                    match present.get(&requirement.name) {
                        Some(version) => format!("has at {version}"),
                        None => "does not have".to_string(),
                    }
                )));
            }
        }
    }
    Ok(())
}

/// A control member (a file of the wheel's `.dist-info` folder) of a wheel.
fn control<'a>(package: &'a UnpackedPackage, name: &str) -> Option<&'a [u8]> {
    package
        .control
        .iter()
        .find(|member| member.path == name)
        .and_then(|member| member.content.as_deref())
}

/// The `.data` folder of a wheel whose `.dist-info` folder is `dist_info`.
fn data_folder(dist_info: &str) -> String {
    format!("{}.data", dist_info.trim_end_matches(".dist-info"))
}

/// The prefix an environment's scripts, headers and data go under: `<prefix>` of
/// `<prefix>/lib/python3.X/site-packages` (or `dist-packages`), `/usr` for Debian's
/// `/usr/lib/python3/dist-packages`, the folder itself for a `--target` folder.
fn prefix(folder: &str) -> String {
    if folder == "/usr/lib/python3/dist-packages" {
        return "/usr".into();
    }
    let parts: Vec<&str> = folder.rsplitn(3, '/').collect();
    match parts.as_slice() {
        [packages, python, rest]
            if matches!(*packages, "site-packages" | "dist-packages")
                && python.starts_with("python3")
                && rest.ends_with("/lib") =>
        {
            rest.trim_end_matches("/lib").to_string()
        }
        _ => folder.to_string(),
    }
}

/// Where an environment's scripts go.
fn bin_folder(folder: &str) -> String {
    format!("{}/bin", prefix(folder))
}

/// `path` relative to `folder` (both absolute and clean), as `RECORD` writes it.
fn relative(path: &str, folder: &str) -> String {
    let from: Vec<&str> = folder.split('/').filter(|part| !part.is_empty()).collect();
    let to: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

/// `path` (relative to `folder`, as a `RECORD` lists it) made absolute and clean; `None` when
/// it leaves the image's root.
fn absolute_in(folder: &str, path: &str) -> Option<String> {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{folder}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    (!parts.is_empty()).then(|| format!("/{}", parts.join("/")))
}

/// The files the old distribution's `RECORD` lists (absolute), with their recorded hashes.
fn old_records(read: &[ImageFile], job: &Job) -> Result<Vec<(String, String)>, NativeError> {
    let path = format!("{}/RECORD", job.old_dist_info);
    let Some(record) = content(read, &path) else {
        return Err(NativeError::Unsupported(format!(
            "{path} is missing, so the old version's files are not known (pip would fail \
             to uninstall it too)"
        )));
    };
    Ok(String::from_utf8_lossy(record)
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ',');
            let file = fields.next()?.trim_matches('"');
            let hash = fields.next().unwrap_or_default();
            Some((absolute_in(&job.folder, file)?, hash.to_string()))
        })
        .collect())
}

/// The interpreter line of an old script of the distribution, when it has one.
fn old_interpreter(read: &[ImageFile], job: &Job) -> Result<Option<String>, NativeError> {
    let bin = format!("{}/", bin_folder(&job.folder));
    for (path, _) in old_records(read, job)? {
        if !path.starts_with(&bin) {
            continue;
        }
        if let Some(bytes) = content(read, &path)
            && let Some(line) = bytes.split(|byte| *byte == b'\n').next()
            && let Some(interpreter) = line.strip_prefix(b"#!")
        {
            let interpreter = String::from_utf8_lossy(interpreter).trim().to_string();
            if interpreter.starts_with('/') && !interpreter.contains(' ') {
                return Ok(Some(interpreter));
            }
        }
    }
    Ok(None)
}

/// Places a wheel's entries and writes its scripts; every installed file (absolute path,
/// SHA-256 hex, size).
fn place(
    request: &InstallRequest,
    job: &Job,
    interpreter: &str,
    installation: &mut Installation,
) -> Result<Vec<(String, String, u64)>, NativeError> {
    let data = format!("/{}/", data_folder(&job.dist_info));
    let own = format!("/{}/", job.dist_info);
    let prefix = prefix(&job.folder);
    let bin = bin_folder(&job.folder);
    let name = job.dist_info.split('-').next().unwrap_or_default();
    let python = format!("python3.{}", python_minor(&job.folder).unwrap_or_default());
    let mut placed = Vec::new();
    for entry in &job.package.entries {
        if entry.kind != FileKind::File {
            installation.kept.push(entry.path.clone());
            continue;
        }
        let sha256 = entry.sha256.clone().unwrap_or_default();
        if let Some(rest) = entry.path.strip_prefix(&data) {
            let (scheme, rest) = rest.split_once('/').unwrap_or((rest, ""));
            let target = match scheme {
                "purelib" | "platlib" => format!("{}/{rest}", job.folder),
                "headers" => format!("{prefix}/include/site/{python}/{name}/{rest}"),
                "data" => format!("{prefix}/{rest}"),
                "scripts" => {
                    let script = request
                        .packaged
                        .iter()
                        .find(|file| file.path == entry.path)
                        .and_then(|file| file.content.clone())
                        .ok_or_else(|| {
                            NativeError::Failed(format!("{} was not read", entry.path))
                        })?;
                    let script = with_interpreter(script, interpreter);
                    write(
                        installation,
                        &mut placed,
                        format!("{bin}/{rest}"),
                        script,
                        0o755,
                    );
                    installation.kept.push(entry.path.clone());
                    continue;
                }
                other => {
                    return Err(NativeError::Unsupported(format!(
                        "{} has a .data/{other} folder, which pip does not install either",
                        job.package.download.url
                    )));
                }
            };
            installation
                .diverted
                .push((entry.path.clone(), target.clone()));
            placed.push((target, sha256, entry.size));
            continue;
        }
        if entry.path == format!("{own}RECORD") || entry.path == format!("{own}INSTALLER") {
            installation.kept.push(entry.path.clone());
            continue;
        }
        let target = format!("{}{}", job.folder, entry.path);
        installation
            .diverted
            .push((entry.path.clone(), target.clone()));
        placed.push((target, sha256, entry.size));
    }
    for (script, content) in entry_point_scripts(job.package, interpreter)? {
        write(
            installation,
            &mut placed,
            format!("{bin}/{script}"),
            content,
            0o755,
        );
    }
    Ok(placed)
}

/// Writes a file whole and records it among the installed files (path, SHA-256, size).
fn write(
    installation: &mut Installation,
    placed: &mut Vec<(String, String, u64)>,
    path: String,
    content: Vec<u8>,
    mode: u32,
) {
    placed.push((
        path.clone(),
        hex(&Sha256::digest(&content)),
        content.len() as u64,
    ));
    installation.files.push(WrittenFile {
        path,
        content,
        mode,
    });
}

/// A wheel script whose first line starts with `#!python` with that line made the
/// interpreter's, as pip does (`fix_script`); other scripts as they are.
fn with_interpreter(script: Vec<u8>, interpreter: &str) -> Vec<u8> {
    if !script.starts_with(b"#!python") {
        return script;
    }
    let rest = script
        .iter()
        .position(|byte| *byte == b'\n')
        .map_or(&[][..], |end| &script[end + 1..]);
    let mut rewritten = format!("#!{interpreter}\n").into_bytes();
    rewritten.extend_from_slice(rest);
    rewritten
}

/// The console and GUI entry points of a wheel, as the scripts pip writes for them.
fn entry_point_scripts(
    package: &UnpackedPackage,
    interpreter: &str,
) -> Result<Vec<(String, Vec<u8>)>, NativeError> {
    let Some(text) = control(package, "entry_points.txt") else {
        return Ok(Vec::new());
    };
    let mut scripts = Vec::new();
    let mut section = String::new();
    for line in String::from_utf8_lossy(text).lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            section = name.trim().to_string();
            continue;
        }
        if section != "console_scripts" && section != "gui_scripts" {
            continue;
        }
        let Some((name, target)) = line.split_once('=') else {
            continue;
        };
        let (name, target) = (name.trim(), target.trim());
        let target = target.split('[').next().unwrap_or(target).trim();
        let (module, attribute) = target.split_once(':').ok_or_else(|| {
            NativeError::Unsupported(format!(
                "the entry point {name} = {target} names no function, which pip refuses too"
            ))
        })?;
        let (module, attribute) = (module.trim(), attribute.trim());
        let valid = |text: &str| {
            !text.is_empty()
                && text.split('.').all(|part| {
                    !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_')
                })
        };
        if name.contains('/') || name.starts_with('.') || !valid(module) || !valid(attribute) {
            return Err(NativeError::Unsupported(format!(
                "the entry point {name:?} = {target:?} is not one pip writes a script for"
            )));
        }
        let import = attribute.split('.').next().unwrap_or(attribute);
        let script = format!(
            "#!{interpreter}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {import}\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit({attribute}())\n"
        );
        scripts.push((name.to_string(), script.into_bytes()));
    }
    Ok(scripts)
}

/// Writes the new `INSTALLER`, `REQUESTED` (when the old version had it) and `RECORD`.
fn write_metadata(
    job: &Job,
    mut placed: Vec<(String, String, u64)>,
    requested: bool,
    installation: &mut Installation,
) {
    let dist_info = format!("{}/{}", job.folder, job.dist_info);
    let mut extra = vec![(
        format!("{dist_info}/INSTALLER"),
        INSTALLER.as_bytes().to_vec(),
    )];
    if requested {
        extra.push((format!("{dist_info}/REQUESTED"), Vec::new()));
    }
    for (path, content) in extra {
        write(installation, &mut placed, path, content, 0o644);
    }
    let record_path = format!("{dist_info}/RECORD");
    let mut rows: Vec<String> = placed
        .into_iter()
        .map(|(path, sha256, size)| {
            let digest = decode_hex(&sha256);
            format!(
                "{},sha256={},{size}",
                csv_field(&relative(&path, &job.folder)),
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
            )
        })
        .collect();
    rows.push(format!(
        "{},,",
        csv_field(&relative(&record_path, &job.folder))
    ));
    rows.sort();
    let mut record = rows.join("\n");
    record.push('\n');
    installation.files.push(WrittenFile {
        path: record_path,
        content: record.into_bytes(),
        mode: 0o644,
    });
}

/// A `RECORD` field, quoted when it holds a comma or a quote (Python's `csv`).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Lower-case hex of bytes.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The bytes of lower-case hex.
fn decode_hex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|at| u8::from_str_radix(&text[at * 2..at * 2 + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{download, file, unpacked};

    #[test]
    fn environments_place_scripts_and_records_where_pip_does() {
        assert_eq!(
            bin_folder("/opt/app/lib/python3.11/site-packages"),
            "/opt/app/bin"
        );
        assert_eq!(
            bin_folder("/usr/local/lib/python3.11/dist-packages"),
            "/usr/local/bin"
        );
        assert_eq!(bin_folder("/usr/lib/python3/dist-packages"), "/usr/bin");
        assert_eq!(bin_folder("/srv/deps"), "/srv/deps/bin");
        let venv = "/opt/app/lib/python3.11/site-packages";
        assert_eq!(relative("/opt/app/bin/demo", venv), "../../../bin/demo");
        assert_eq!(
            relative(&format!("{venv}/demo/__init__.py"), venv),
            "demo/__init__.py"
        );
        assert_eq!(
            absolute_in(venv, "../../../bin/demo").as_deref(),
            Some("/opt/app/bin/demo")
        );
        assert_eq!(absolute_in("/a", "../../../../etc/passwd"), None);
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }

    #[test]
    fn scripts_get_the_interpreter_and_entry_points_pips_template() {
        let script = with_interpreter(b"#!python\nprint(1)\n".to_vec(), "/opt/app/bin/python3");
        assert_eq!(script, b"#!/opt/app/bin/python3\nprint(1)\n");
        let shell = b"#!/bin/sh\necho\n".to_vec();
        assert_eq!(with_interpreter(shell.clone(), "/x"), shell);
        let mut package = unpacked(download("demo", "2", Some("1")));
        package.control.push(file(
            "entry_points.txt",
            "[console_scripts]\ndemo = demo.cli:main.run [extra]\n[other]\nx = y:z\n",
        ));
        let scripts = entry_point_scripts(&package, "/usr/bin/python3.11").unwrap();
        assert_eq!(scripts.len(), 1);
        let text = String::from_utf8(scripts[0].1.clone()).unwrap();
        assert!(text.starts_with("#!/usr/bin/python3.11\n"), "{text}");
        assert!(text.contains("from demo.cli import main\n"), "{text}");
        assert!(text.contains("sys.exit(main.run())"), "{text}");
        package.control[0] = file("entry_points.txt", "[console_scripts]\n../evil = a:b\n");
        assert!(entry_point_scripts(&package, "/x").is_err());
    }
}
