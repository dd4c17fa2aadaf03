//! The commands that apply updates to a dpkg image.
//!
//! Every step is an argv list. Where a step needs a shell (a loop over downloaded files), the
//! script is a constant of this module and package names reach it only as positional arguments
//! (`"$@"`), after `validate` has checked them; nothing from a report is ever spliced into a
//! script.

use crate::detect::{CHISEL, STATUS, STATUS_D};
use crate::{eol, version};
use salve_plugin_sdk::{OsInfo, PlanRequest, RequestedUpdate, Step, UpdatePlan};

/// Options that keep dpkg from asking about changed configuration files, and from syncing each
/// file it writes: the changes become a layer written (and synced) once, by the engine.
const DPKG_OPTIONS: [&str; 6] = [
    "-o",
    "Dpkg::Options::=--force-confdef",
    "-o",
    "Dpkg::Options::=--force-confold",
    "-o",
    "Dpkg::Options::=--force-unsafe-io",
];

/// Paths apt writes that must not end up in the patch layer.
const APT_CACHES: [&str; 3] = ["/var/lib/apt/lists", "/var/cache/apt", "/var/log/apt"];

/// Downloads the named packages' candidate versions into `/tmp/salve-debs` (tooling image).
const DOWNLOAD_NAMED: &str = r#"set -eu
mkdir -p /tmp/salve-debs
cd /tmp/salve-debs
apt-get download "$@"
"#;

/// Downloads every package of the target whose candidate version is newer (tooling image).
const DOWNLOAD_UPGRADABLE: &str = r#"set -eu
mkdir -p /tmp/salve-debs
cd /tmp/salve-debs
installed() {
  if [ -f /target/var/lib/dpkg/status ]; then
    dpkg-query --admindir=/target/var/lib/dpkg -W -f='${Package} ${Version}\n'
  else
    for control in /target/var/lib/dpkg/status.d/*; do
      case "$control" in *.md5sums) continue ;; esac
      name=$(sed -n 's/^Package: //p' "$control" | head -n 1)
      version=$(sed -n 's/^Version: //p' "$control" | head -n 1)
      printf '%s %s\n' "$name" "$version"
    done
  fi
}
installed | while read -r name version; do
  candidate=$(apt-cache policy "$name" | sed -n 's/^ *Candidate: //p')
  case "$candidate" in ""|"(none)") continue ;; esac
  if dpkg --compare-versions "$candidate" gt "$version"; then
    apt-get download "$name"
  fi
done
"#;

/// Installs the downloaded packages into `/target`: with dpkg when the target has a `status`
/// database, by unpacking and writing `status.d` entries when it is distroless.
const INSTALL_DOWNLOADED: &str = r#"set -eu
set -- /tmp/salve-debs/*.deb
[ -e "$1" ] || exit 0
if [ -f /target/var/lib/dpkg/status ]; then
  dpkg --root=/target --force-depends --force-unsafe-io --install "$@"
else
  mkdir -p /target/var/lib/dpkg/status.d
  for deb in "$@"; do
    name=$(dpkg-deb --field "$deb" Package)
    dpkg-deb --extract "$deb" /target
    dpkg-deb --field "$deb" > "/target/var/lib/dpkg/status.d/$name"
    if ! dpkg-deb --info "$deb" md5sums > "/target/var/lib/dpkg/status.d/$name.md5sums" 2>/dev/null; then
      rm -f "/target/var/lib/dpkg/status.d/$name.md5sums"
    fi
  done
fi
"#;

/// Plans the updates for the image described by `request`.
pub fn plan(request: &PlanRequest) -> Result<UpdatePlan, String> {
    if request.target.manager == CHISEL {
        return Err(
            "a Chiseled image holds only slices of its packages, which apt and dpkg would \
             install whole: it is patched natively (--engine native or auto), which writes the \
             sliced paths alone and updates Chisel's manifest"
                .into(),
        );
    }
    validate(&request.updates)?;
    refuse_ubuntu_pro_fixes(&request.updates)?;
    let held = &request.target.held;
    let (names, warnings) = requested_names(&request.updates, held);
    let update_all = request.updates.is_empty();
    if !update_all && names.is_empty() {
        return Ok(UpdatePlan {
            steps: Vec::new(),
            exclude_paths: Vec::new(),
            database_paths: database_paths(),
            warnings,
        });
    }
    let steps = if request.target.distroless {
        if request.tooling_image.is_none() {
            return Err("the image has no apt: a tooling image is needed to patch it".into());
        }
        let download = if update_all {
            script(DOWNLOAD_UPGRADABLE, "salve-download", &[], true)
        } else {
            script(DOWNLOAD_NAMED, "salve-download", &names, true)
        };
        vec![
            apt_update(&request.os),
            download,
            script(INSTALL_DOWNLOADED, "salve-install", &[], false),
        ]
    } else {
        let mut install = if update_all {
            vec!["upgrade", "-y"]
        } else {
            vec!["install", "-y", "--no-install-recommends", "--only-upgrade"]
        };
        install.extend(DPKG_OPTIONS);
        install.extend(names.iter().map(String::as_str));
        vec![apt_update(&request.os), apt(&install, true)]
    };
    Ok(UpdatePlan {
        steps,
        exclude_paths: if request.target.distroless {
            Vec::new()
        } else {
            APT_CACHES.iter().map(|path| path.to_string()).collect()
        },
        database_paths: database_paths(),
        warnings,
    })
}

/// The files to read back after the steps.
fn database_paths() -> Vec<String> {
    vec![STATUS.into(), format!("{STATUS_D}/*")]
}

/// The names to install, one each, without held packages (each of which gets a warning).
fn requested_names(updates: &[RequestedUpdate], held: &[String]) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = Vec::new();
    let mut warnings = Vec::new();
    for update in updates {
        if names.contains(&update.package) {
            continue;
        }
        if held.contains(&update.package) {
            warnings.push(format!(
                "{} is held in the image, so it is not updated (wanted {})",
                update.package, update.fixed_version
            ));
            continue;
        }
        names.push(update.package.clone());
    }
    (names, warnings)
}

/// Checks every requested name and version before it can reach a command line.
fn validate(updates: &[RequestedUpdate]) -> Result<(), String> {
    for update in updates {
        if !is_package_name(&update.package) {
            return Err(format!(
                "{:?} is not a Debian package name (lower-case letters, digits and `+-.`, \
                 starting with a letter or digit)",
                update.package
            ));
        }
        version::parse(&update.fixed_version)
            .map_err(|error| format!("package {}: {error}", update.package))?;
    }
    Ok(())
}

/// Refuses fixes that only Ubuntu Pro publishes: Ubuntu's Expanded Security Maintenance
/// versions carry `+esm` (`2.9.13+dfsg-1ubuntu0.3+esm1`) and live only in esm.ubuntu.com's
/// repositories, which answer only to machines attached to a Pro subscription.
fn refuse_ubuntu_pro_fixes(updates: &[RequestedUpdate]) -> Result<(), String> {
    let pro: Vec<String> = updates
        .iter()
        .filter(|update| update.fixed_version.contains("+esm"))
        .map(|update| format!("{} {}", update.package, update.fixed_version))
        .collect();
    if pro.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the report asks for Ubuntu Pro (ESM) versions, published only in esm.ubuntu.com's \
         repositories for machines attached to an Ubuntu Pro subscription: {}; salve carries no \
         subscription credentials into images: patch the image's build with `pro attach`, or \
         upgrade to a release with standard support",
        pro.join(", ")
    ))
}

/// Debian's rule for package names: at least two characters of `[a-z0-9+.-]`, starting with a
/// letter or digit.
pub fn is_package_name(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

/// `apt-get update`, with advice for repositories that are gone when its output shows that
/// they are (see [`eol::APT_UPDATE`]).
fn apt_update(os: &OsInfo) -> Step {
    script(
        eol::APT_UPDATE,
        "apt-get-update",
        &[os.id.clone(), os.version_id.clone()],
        true,
    )
}

/// An `apt-get` step, non-interactive.
fn apt(args: &[&str], network: bool) -> Step {
    let mut argv = vec!["apt-get".to_string()];
    argv.extend(args.iter().map(|arg| arg.to_string()));
    Step {
        argv,
        env: noninteractive(),
        network,
        on_failure: None,
    }
}

/// A constant shell script run with `sh -c`, its `$0` set to `name` and arguments after it.
fn script(text: &str, name: &str, args: &[String], network: bool) -> Step {
    let mut argv = vec!["sh".into(), "-c".into(), text.into(), name.into()];
    argv.extend(args.iter().cloned());
    Step {
        argv,
        env: noninteractive(),
        network,
        on_failure: None,
    }
}

/// The environment that keeps debconf from asking questions.
fn noninteractive() -> Vec<(String, String)> {
    vec![("DEBIAN_FRONTEND".into(), "noninteractive".into())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{os, plan_request, target, update};
    use salve_plugin_sdk::{OsInfo, Target};

    fn request(updates: &[(&str, &str)], distroless: bool, held: &[&str]) -> PlanRequest {
        let os = OsInfo {
            codename: Some("bookworm".into()),
            ..os("debian", "12")
        };
        let target = Target {
            distroless,
            held: held.iter().map(|name| name.to_string()).collect(),
            ..target(if distroless { "dpkg" } else { "apt" })
        };
        let updates = updates
            .iter()
            .map(|(package, fixed)| update(package, fixed))
            .collect();
        PlanRequest {
            tooling_image: distroless.then(|| "docker.io/library/debian:12-slim".into()),
            ..plan_request(os, target, updates)
        }
    }

    #[test]
    fn report_mode_installs_the_named_packages_once_each() {
        let plan = plan(&request(
            &[
                ("libssl3", "3.0.13-1~deb12u1"),
                ("openssl", "3.0.13-1~deb12u1"),
                ("libssl3", "3.0.14-1"),
            ],
            false,
            &[],
        ))
        .unwrap();
        assert_eq!(plan.steps.len(), 2);
        assert_eq!(plan.steps[0].argv[2], eol::APT_UPDATE);
        assert_eq!(&plan.steps[0].argv[3..], ["apt-get-update", "debian", "12"]);
        assert!(plan.steps[0].network);
        let install = &plan.steps[1].argv;
        assert_eq!(
            &install[..5],
            [
                "apt-get",
                "install",
                "-y",
                "--no-install-recommends",
                "--only-upgrade"
            ]
        );
        assert_eq!(&install[install.len() - 2..], ["libssl3", "openssl"]);
        assert!(
            plan.exclude_paths
                .contains(&"/var/lib/apt/lists".to_string())
        );
        assert_eq!(plan.database_paths[0], STATUS);
    }

    /// A request for an Ubuntu 24.04 image.
    fn ubuntu(updates: &[(&str, &str)], distroless: bool) -> PlanRequest {
        let mut request = request(updates, distroless, &[]);
        request.os = OsInfo {
            codename: Some("noble".into()),
            ..os("ubuntu", "24.04")
        };
        if distroless {
            request.tooling_image = Some("docker.io/library/ubuntu:24.04".into());
        }
        request
    }

    #[test]
    fn ubuntu_images_are_planned_as_debians_are() {
        let fixes = [
            ("libssl3t64", "3.0.13-0ubuntu3.5"),
            ("openssl", "3.0.13-0ubuntu3.5"),
        ];
        let plan = plan(&ubuntu(&fixes, false)).unwrap();
        assert_eq!(
            &plan.steps[0].argv[3..],
            ["apt-get-update", "ubuntu", "24.04"]
        );
        let install = &plan.steps[1].argv;
        assert_eq!(&install[install.len() - 2..], ["libssl3t64", "openssl"]);
        let distroless = super::plan(&ubuntu(&fixes, true)).unwrap();
        assert_eq!(distroless.steps[1].argv[2], DOWNLOAD_NAMED);
        assert_eq!(distroless.steps[2].argv[2], INSTALL_DOWNLOADED);
    }

    #[test]
    fn ubuntu_pro_fixes_are_refused_before_any_step() {
        let error = plan(&ubuntu(
            &[
                ("libxml2", "2.9.13+dfsg-1ubuntu0.3+esm1"),
                ("openssl", "3.0.2-0ubuntu1.18"),
            ],
            false,
        ))
        .unwrap_err();
        assert!(error.contains("Ubuntu Pro (ESM)"), "{error}");
        assert!(
            error.contains("libxml2 2.9.13+dfsg-1ubuntu0.3+esm1"),
            "{error}"
        );
        assert!(
            !error.contains("openssl"),
            "only the ESM fix is named: {error}"
        );
    }

    #[test]
    fn update_all_upgrades_everything() {
        let plan = plan(&request(&[], false, &[])).unwrap();
        assert_eq!(&plan.steps[1].argv[..3], ["apt-get", "upgrade", "-y"]);
    }

    #[test]
    fn held_packages_are_reported_and_left_alone() {
        let plan = plan(&request(
            &[("bash", "5.2.15-2+b3"), ("zlib1g", "1:1.3")],
            false,
            &["bash"],
        ))
        .unwrap();
        assert!(!plan.steps[1].argv.contains(&"bash".to_string()));
        assert!(plan.warnings[0].contains("bash is held"));
        let only_held =
            super::plan(&request(&[("bash", "5.2.15-2+b3")], false, &["bash"])).unwrap();
        assert!(only_held.steps.is_empty());
    }

    #[test]
    fn distroless_images_are_patched_from_the_tooling_image() {
        let plan = plan(&request(&[("libssl3", "3.0.13-1~deb12u1")], true, &[])).unwrap();
        assert_eq!(plan.steps.len(), 3);
        assert_eq!(&plan.steps[1].argv[..2], ["sh", "-c"]);
        assert_eq!(plan.steps[1].argv[2], DOWNLOAD_NAMED);
        assert_eq!(&plan.steps[1].argv[3..], ["salve-download", "libssl3"]);
        assert!(plan.steps[1].network);
        assert_eq!(plan.steps[2].argv[2], INSTALL_DOWNLOADED);
        assert!(!plan.steps[2].network);
        assert!(plan.exclude_paths.is_empty());

        let all = super::plan(&request(&[], true, &[])).unwrap();
        assert_eq!(all.steps[1].argv[2], DOWNLOAD_UPGRADABLE);
        assert_eq!(all.steps[1].argv.len(), 4);

        let mut without_tooling = request(&[("libssl3", "3.0.13-1")], true, &[]);
        without_tooling.tooling_image = None;
        assert!(
            super::plan(&without_tooling)
                .unwrap_err()
                .contains("tooling image")
        );
    }

    #[test]
    fn names_and_versions_are_checked_before_any_step() {
        for (name, version, why) in [
            ("curl;reboot", "1.0", "not a Debian package name"),
            ("-o", "1.0", "not a Debian package name"),
            ("Curl", "1.0", "not a Debian package name"),
            ("curl", "1.0 && reboot", "embedded spaces"),
            ("curl", "1.$(id)", "invalid character"),
        ] {
            let error = plan(&request(&[(name, version)], false, &[])).unwrap_err();
            assert!(error.contains(why), "{name} {version}: {error}");
        }
    }

    #[test]
    fn scripts_are_valid_posix_shell() {
        for script in [DOWNLOAD_NAMED, DOWNLOAD_UPGRADABLE, INSTALL_DOWNLOADED] {
            let status = std::process::Command::new("sh")
                .args(["-n", "-c", script])
                .status()
                .expect("running sh -n");
            assert!(status.success(), "sh -n rejects:\n{script}");
        }
    }
}
