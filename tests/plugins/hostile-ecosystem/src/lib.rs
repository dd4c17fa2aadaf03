//! An ecosystem plugin that tries to make the host do harm on its behalf, so that salve's tests
//! can show that the host takes nothing a plugin (or a step) hands back on trust.
//!
//! It recognises images whose `/etc/os-release` says `ID=hostile`. What it does is chosen by the
//! image's `VERSION_ID` (for `detect` and `tooling-image`) and by the first package the report
//! asks it to update (for `plan`), whose fixed version may carry an argument:
//! - `escape-dotdot`: a database path `/salve-results/../../..` towards the host's files;
//! - `escape-link`: a step links `/salve-results/db` to the host path given as the fixed
//!   version, written with `~` for `/` (which a version may not hold), and the plan reads it
//!   back;
//! - `sparse`: a step makes a sparse 1 GiB database file, and the plan reads it back;
//! - `spin`: planning never ends (stopped by the plugin deadline or the run's `--timeout`);
//! - `escapes`: planning fails with a message full of terminal escapes;
//! - anything else: one harmless step.
//!
//! With `VERSION_ID=distroless` the image is said to have no package manager, and the tooling
//! image named is a folder of the host (`oci:/etc`). Native installation resolves nothing and
//! installs, by `VERSION_ID`: `native-dotdot` a file at `/etc/../../../tmp/escaped`,
//! `native-whiteout` a whiteout's name (`/etc/.wh.passwd`), `native-link` a link at
//! `/usr/../../escaped`. Every `detect` warns with terminal escapes
//! and a forged line. `installed` reports the files it was given, so a test sees what the host
//! read back.

use salve_plugin_sdk::{
    Ecosystem, EcosystemInfo, FileKind, ImageFile, InstallRequest, InstallStep, InstalledPackage,
    NativeError, NativeRequest, OsInfo, PackageClass, PlanRequest, Platform, Resolution, Selection,
    Step, SymbolicLink, Target, UpdatePlan, WrittenFile,
};

/// The hostile ecosystem.
pub struct HostileEcosystem;

/// A warning that would clear the screen and forge a line of salve's own output.
const FORGED_WARNING: &str = "hostile image\x1b[2J\x1b[1;1H\nerror: forged line\u{202e}txt.exe\x07";

/// A step with no environment and no network.
fn step(argv: &[&str]) -> Step {
    Step {
        argv: argv.iter().map(|arg| arg.to_string()).collect(),
        env: Vec::new(),
        network: false,
        on_failure: None,
    }
}

/// A plan of `steps` that reads `database_paths` back.
fn plan_of(steps: Vec<Step>, database_paths: &[&str]) -> UpdatePlan {
    UpdatePlan {
        steps,
        exclude_paths: Vec::new(),
        database_paths: database_paths.iter().map(|path| path.to_string()).collect(),
        warnings: Vec::new(),
    }
}

/// Loops forever without allocating.
fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

impl Ecosystem for HostileEcosystem {
    fn describe() -> EcosystemInfo {
        EcosystemInfo {
            name: "hostile-ecosystem".into(),
            version: "0.1.0".into(),
            summary: "hands the host hostile paths, images and text (test plugin)".into(),
            purl_type: "deb".into(),
            class: PackageClass::Os,
            os_ids: vec!["hostile".into()],
        }
    }

    fn probe_paths() -> Vec<String> {
        vec!["/var/lib/hostile/db".into()]
    }

    fn detect(os: OsInfo, _files: Vec<ImageFile>) -> Option<Target> {
        (os.id == "hostile").then(|| Target {
            manager: "hostile".into(),
            distroless: os.version_id == "distroless",
            held: Vec::new(),
            runtime: None,
            warnings: vec![FORGED_WARNING.into()],
        })
    }

    fn compare_versions(a: &str, b: &str) -> Result<std::cmp::Ordering, String> {
        Ok(a.cmp(b))
    }

    fn tooling_image(
        _os: OsInfo,
        _platform: Platform,
        _target: Target,
        _update_all: bool,
    ) -> Option<String> {
        Some("oci:/etc".into())
    }

    fn plan(request: PlanRequest) -> Result<UpdatePlan, String> {
        let (mode, argument) = request
            .updates
            .first()
            .map(|update| (update.package.as_str(), update.fixed_version.as_str()))
            .unwrap_or(("", ""));
        match mode {
            "escape-dotdot" => Ok(plan_of(
                vec![step(&["true"])],
                &["/salve-results/../../../../../../../../etc/hostname"],
            )),
            "escape-link" => Ok(plan_of(
                vec![step(&[
                    "ln",
                    "-s",
                    &format!("/{}", argument.replace('~', "/")),
                    "/salve-results/db",
                ])],
                &["/salve-results/db"],
            )),
            "sparse" => Ok(plan_of(
                vec![
                    step(&["mkdir", "-p", "/var/lib/hostile"]),
                    step(&["truncate", "-s", "1G", "/var/lib/hostile/db"]),
                ],
                &["/var/lib/hostile/db"],
            )),
            "spin" => spin(),
            "escapes" => Err("cannot plan \x1b[31mred\x1b[0m\nerror: forged line".into()),
            _ => Ok(plan_of(vec![step(&["true"])], &[])),
        }
    }

    fn installed(files: Vec<ImageFile>) -> Result<Vec<InstalledPackage>, String> {
        // The probe hands every plugin's probe files; only the plan's own are of interest.
        let own = |file: &&ImageFile| {
            file.kind != FileKind::Missing
                && (file.path.starts_with("/salve-results/")
                    || file.path.starts_with("/var/lib/hostile/"))
        };
        if !files.iter().any(|file| own(&file)) {
            return Ok(Vec::new());
        }
        let read: Vec<String> = files
            .iter()
            .filter(own)
            .map(|file| {
                let content = file.content.as_deref().unwrap_or_default();
                let head = &content[..content.len().min(64)];
                format!(
                    "{} ({} bytes: {:?})",
                    file.path,
                    content.len(),
                    String::from_utf8_lossy(head)
                )
            })
            .collect();
        Err(format!("the host read back: {}", read.join("; ")))
    }

    fn native_paths() -> Vec<String> {
        vec!["/etc/hostname".into()]
    }

    fn native_resolve(_request: NativeRequest) -> Result<Resolution, NativeError> {
        Ok(Resolution::Install(Selection {
            packages: Vec::new(),
            warnings: Vec::new(),
        }))
    }

    fn native_install(request: InstallRequest) -> Result<InstallStep, NativeError> {
        let file = |path: &str| WrittenFile {
            path: path.into(),
            content: b"written by a hostile plugin\n".to_vec(),
            mode: 0o644,
        };
        let mut installation = salve_plugin_sdk::no_installation();
        match request.os.version_id.as_str() {
            "native-dotdot" => installation.files.push(file("/etc/../../../tmp/escaped")),
            "native-whiteout" => installation.files.push(file("/etc/.wh.passwd")),
            "native-link" => installation.links.push(SymbolicLink {
                path: "/usr/../../escaped".into(),
                target: "/etc/shadow".into(),
            }),
            _ => {}
        }
        Ok(InstallStep::Done(installation))
    }

    fn purl(pkg: InstalledPackage, _os: OsInfo, _platform: Platform) -> String {
        format!("pkg:deb/hostile/{}@{}", pkg.name, pkg.version)
    }
}

salve_plugin_sdk::export_ecosystem!(HostileEcosystem);
