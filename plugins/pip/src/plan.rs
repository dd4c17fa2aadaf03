//! The commands that update Python packages, per environment (site-packages folder).
//!
//! With pip in the image, each environment's own interpreter runs `pip install name==version`;
//! a user's site (`~/.local`) is updated with `pip install --user` under that user base; a folder
//! no interpreter owns (pip's `--target` folders) gets the new versions with `--target` from the
//! image's `python3`. Without pip, pip in the `python:<X.Y>-slim` tooling image installs the new
//! versions into the target's folder (`--target`, no dependencies). After a `--target` install
//! the old `*.dist-info` folders are removed.

use crate::environment::{
    absolute, dist_info_dir, interpreter, is_system, metadata_path, site_packages, user_base,
};
use crate::version;
use salve_plugin_sdk::{PlanRequest, RequestedUpdate, Step, UpdatePlan};
use std::collections::BTreeMap;

/// pip's cache, kept out of the patch layer.
const PIP_CACHE: &str = "/root/.cache/pip";

/// Options for every pip run.
const PIP_OPTIONS: [&str; 4] = [
    "install",
    "--no-cache-dir",
    "--disable-pip-version-check",
    "--no-input",
];

/// One environment's updates: `name==version` requirements and the old dist-info folders.
#[derive(Default)]
struct Environment {
    /// `name==version`, once per name.
    requirements: Vec<String>,
    /// The `*.dist-info` folders of the versions being replaced.
    old_dist_infos: Vec<String>,
}

/// Plans the updates for the image described by `request`.
pub fn plan(request: &PlanRequest) -> Result<UpdatePlan, String> {
    if request.updates.is_empty() {
        return Ok(UpdatePlan {
            steps: Vec::new(),
            exclude_paths: Vec::new(),
            database_paths: Vec::new(),
            warnings: vec![
                "Python packages are updated only from a report; without one they are left as they are"
                    .into(),
            ],
        });
    }
    let environments = group(&request.updates)?;
    let mut steps = Vec::new();
    for (folder, environment) in &environments {
        if request.target.distroless {
            if request.tooling_image.is_none() {
                return Err(
                    "the image has no pip: a tooling image is needed to patch its Python \
                            packages"
                        .into(),
                );
            }
            let mut argv: Vec<String> = vec!["pip".into()];
            argv.extend(PIP_OPTIONS.map(String::from));
            argv.extend(["--no-deps", "--upgrade", "--target"].map(String::from));
            argv.push(format!("/target{folder}"));
            argv.extend(environment.requirements.iter().cloned());
            steps.push(step(argv, true));
            let mut remove: Vec<String> = ["rm", "-rf", "--"].map(String::from).into();
            remove.extend(
                environment
                    .old_dist_infos
                    .iter()
                    .map(|dir| format!("/target{dir}")),
            );
            steps.push(step(remove, false));
        } else if let Some(python) = interpreter(folder) {
            let mut argv = vec![python, "-m".into(), "pip".into()];
            argv.extend(PIP_OPTIONS.map(String::from));
            let mut install = step(Vec::new(), true);
            if let Some(base) = user_base(folder) {
                argv.push("--user".into());
                install.env.push(("PYTHONUSERBASE".into(), base.into()));
                // Understood by pip from 23.0.1 on, ignored by older ones (which do not know
                // PEP 668 either).
                install
                    .env
                    .push(("PIP_BREAK_SYSTEM_PACKAGES".into(), "1".into()));
            } else if is_system(folder) {
                argv.push("--break-system-packages".into());
            }
            argv.extend(environment.requirements.iter().cloned());
            install.argv = argv;
            steps.push(install);
        } else {
            let mut argv: Vec<String> = ["python3", "-m", "pip"].map(String::from).into();
            argv.extend(PIP_OPTIONS.map(String::from));
            argv.extend(["--no-deps", "--upgrade", "--target"].map(String::from));
            argv.push(folder.clone());
            argv.extend(environment.requirements.iter().cloned());
            steps.push(step(argv, true));
            let mut remove: Vec<String> = ["rm", "-rf", "--"].map(String::from).into();
            remove.extend(environment.old_dist_infos.iter().cloned());
            steps.push(step(remove, false));
        }
    }
    Ok(UpdatePlan {
        steps,
        exclude_paths: vec![PIP_CACHE.into()],
        database_paths: environments
            .keys()
            .map(|folder| format!("{folder}/*.dist-info/METADATA"))
            .collect(),
        warnings: Vec::new(),
    })
}

/// Where an update goes: its environment and the `*.dist-info` folder of the version it
/// replaces.
pub struct Placed {
    /// The environment (site-packages) folder.
    pub folder: String,
    /// The old version's `*.dist-info` folder.
    pub dist_info: String,
}

/// Checks an update's name, version and path, and says where it goes.
pub fn placed(update: &RequestedUpdate) -> Result<Placed, String> {
    if !is_distribution_name(&update.package) {
        return Err(format!(
            "{:?} is not a Python distribution name",
            update.package
        ));
    }
    let fixed = version::parse(&update.fixed_version)
        .map_err(|error| format!("package {}: {error}", update.package))?;
    if !fixed.local.is_empty() {
        return Err(format!(
            "package {}: {:?} is a local version, which no package index serves",
            update.package, update.fixed_version
        ));
    }
    let path = update
        .path
        .as_deref()
        .map(|path| metadata_path(&absolute(path)));
    let path = path.ok_or_else(|| {
        format!(
            "the finding for {} names no path; salve needs the METADATA path to know which \
             Python environment to patch",
            update.package
        )
    })?;
    let (Some(folder), Some(dist_info)) = (site_packages(&path), dist_info_dir(&path)) else {
        return Err(format!(
            "{path:?} (for {}) is not a METADATA file in a site-packages folder",
            update.package
        ));
    };
    Ok(Placed {
        folder: folder.to_string(),
        dist_info: dist_info.to_string(),
    })
}

/// Groups the updates by environment, checking every name, version and path.
fn group(updates: &[RequestedUpdate]) -> Result<BTreeMap<String, Environment>, String> {
    let mut environments: BTreeMap<String, Environment> = BTreeMap::new();
    for update in updates {
        let Placed { folder, dist_info } = placed(update)?;
        let environment = environments.entry(folder).or_default();
        let requirement = format!("{}=={}", update.package, update.fixed_version.trim());
        if !environment
            .requirements
            .iter()
            .any(|known| known.split("==").next() == Some(update.package.as_str()))
        {
            environment.requirements.push(requirement);
        }
        if !environment.old_dist_infos.contains(&dist_info) {
            environment.old_dist_infos.push(dist_info);
        }
    }
    Ok(environments)
}

/// PEP 508 names: letters, digits and `._-`, starting and ending with a letter or digit.
fn is_distribution_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// A plain command step.
fn step(argv: Vec<String>, network: bool) -> Step {
    Step {
        argv,
        env: vec![("PIP_ROOT_USER_ACTION".into(), "ignore".into())],
        network,
        on_failure: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::Target;
    use salve_plugin_sdk::testing::{os, plan_request, target, update};

    fn request(distroless: bool, updates: &[(&str, &str, Option<&str>)]) -> PlanRequest {
        let target = Target {
            distroless,
            runtime: Some("python3.11".into()),
            ..target("pip")
        };
        let updates = updates
            .iter()
            .map(|(package, fixed, path)| RequestedUpdate {
                path: path.map(str::to_string),
                ..update(package, fixed)
            })
            .collect();
        PlanRequest {
            tooling_image: distroless.then(|| "docker.io/library/python:3.11-slim".into()),
            ..plan_request(os("debian", "12"), target, updates)
        }
    }

    const LOCAL: &str = "usr/local/lib/python3.11/site-packages/requests-2.25.0.dist-info/METADATA";
    const VENV: &str = "/opt/venv/lib/python3.11/site-packages/urllib3-1.26.4.dist-info/METADATA";
    const SYSTEM: &str = "/usr/lib/python3/dist-packages/idna-3.3.dist-info/METADATA";

    #[test]
    fn each_environment_is_updated_by_its_own_interpreter() {
        let plan = plan(&request(
            false,
            &[
                ("requests", "2.31.0", Some(LOCAL)),
                ("requests", "2.32.0", Some(LOCAL)),
                ("urllib3", "1.26.18", Some(VENV)),
                ("idna", "3.7", Some(SYSTEM)),
            ],
        ))
        .unwrap();
        assert_eq!(plan.steps.len(), 3);
        let argv: Vec<&Vec<String>> = plan.steps.iter().map(|step| &step.argv).collect();
        assert_eq!(
            argv[0][..4],
            ["/opt/venv/bin/python3.11", "-m", "pip", "install"]
        );
        assert_eq!(argv[0].last().unwrap(), "urllib3==1.26.18");
        assert_eq!(argv[1][0], "/usr/bin/python3");
        assert!(argv[1].contains(&"--break-system-packages".to_string()));
        assert_eq!(argv[2][0], "/usr/local/bin/python3.11");
        assert_eq!(
            argv[2].last().unwrap(),
            "requests==2.31.0",
            "one requirement per name"
        );
        assert_eq!(plan.database_paths.len(), 3);
        assert!(plan.database_paths[2].ends_with("/site-packages/*.dist-info/METADATA"));
    }

    #[test]
    fn without_pip_the_tooling_image_installs_into_the_target_and_removes_old_metadata() {
        let plan = plan(&request(true, &[("requests", "2.31.0", Some(LOCAL))])).unwrap();
        let install = &plan.steps[0].argv;
        assert_eq!(install[0], "pip");
        let target = install.iter().position(|arg| arg == "--target").unwrap();
        assert_eq!(
            install[target + 1],
            "/target/usr/local/lib/python3.11/site-packages"
        );
        assert!(install.contains(&"--no-deps".to_string()));
        assert_eq!(
            plan.steps[1].argv,
            [
                "rm",
                "-rf",
                "--",
                "/target/usr/local/lib/python3.11/site-packages/requests-2.25.0.dist-info"
            ]
        );
    }

    #[test]
    fn users_sites_and_target_folders() {
        let user = "/home/app/.local/lib/python3.11/site-packages/idna-2.10.dist-info/METADATA";
        let target = "/srv/app/deps/idna-2.10.dist-info/METADATA";
        let plan = plan(&request(
            false,
            &[("idna", "3.7", Some(user)), ("idna", "3.7", Some(target))],
        ))
        .unwrap();
        let user_step = &plan.steps[0];
        assert_eq!(user_step.argv[..3], ["python3.11", "-m", "pip"]);
        assert!(user_step.argv.contains(&"--user".to_string()));
        assert!(
            user_step
                .env
                .contains(&("PYTHONUSERBASE".into(), "/home/app/.local".into()))
        );
        let target_step = &plan.steps[1].argv;
        assert_eq!(target_step[..3], ["python3", "-m", "pip"]);
        let at = target_step
            .iter()
            .position(|arg| arg == "--target")
            .unwrap();
        assert_eq!(target_step[at + 1], "/srv/app/deps");
        assert_eq!(
            plan.steps[2].argv,
            ["rm", "-rf", "--", "/srv/app/deps/idna-2.10.dist-info"]
        );
    }

    #[test]
    fn a_report_may_name_any_file_of_the_dist_info_folder() {
        let record = "/venv/lib/python3.11/site-packages/idna-2.10.dist-info/RECORD";
        let metadata = "/venv/lib/python3.11/site-packages/idna-2.10.dist-info/METADATA";
        let from_record = plan(&request(false, &[("idna", "3.7", Some(record))])).unwrap();
        let from_metadata = plan(&request(false, &[("idna", "3.7", Some(metadata))])).unwrap();
        assert_eq!(from_record.steps[0].argv, from_metadata.steps[0].argv);
        assert_eq!(from_record.database_paths, from_metadata.database_paths);
    }

    #[test]
    fn update_all_leaves_python_packages_alone() {
        let plan = plan(&request(false, &[])).unwrap();
        assert!(plan.steps.is_empty());
        assert!(plan.warnings[0].contains("only from a report"));
    }

    #[test]
    fn names_versions_and_paths_are_checked() {
        for (name, version, path, why) in [
            (
                "requests;id",
                "2.31.0",
                Some(LOCAL),
                "not a Python distribution name",
            ),
            (
                "requests",
                "2.31.0 ; id",
                Some(LOCAL),
                "not a valid Python version",
            ),
            ("requests", "2.31.0+local", Some(LOCAL), "local version"),
            ("requests", "2.31.0", None, "names no path"),
            (
                "requests",
                "2.31.0",
                Some("/etc/passwd"),
                "not a METADATA file",
            ),
            (
                "requests",
                "2.31.0",
                Some("/requests-2.25.0.dist-info/METADATA"),
                "not a METADATA file",
            ),
            (
                "requests",
                "2.31.0",
                Some("/usr/lib/python3/dist-packages/../../../etc/x.dist-info/METADATA"),
                "not a METADATA file",
            ),
        ] {
            let error = plan(&request(false, &[(name, version, path)])).unwrap_err();
            assert!(error.contains(why), "{name} {version} {path:?}: {error}");
        }
    }
}
