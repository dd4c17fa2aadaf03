//! The commands that apply updates to an RPM image.
//!
//! Steps are argv lists. Where a step needs a shell, the script is a constant of this module and
//! data reaches it only as positional arguments (`"$@"`), after `validate` has checked every
//! name and version.

use crate::detect::{CHROOT, MANIFEST_2, MANIFEST_ONLY, SUSE_IDS};
use crate::manifest::MANIFEST_2_FORMAT;
use crate::version;
use salve_plugin_sdk::{PlanRequest, RequestedUpdate, Step, UpdatePlan};

/// Where the results step writes the installed packages (see the WIT's `update-plan`).
pub const RESULTS: &str = "/salve-results/rpm-qa";

/// Package-manager caches, dnf's history database and zypper's logs, which must not end up in
/// the patch layer: the layer holds what changed in the packages, not the manager's bookkeeping.
const CACHES: [&str; 7] = [
    "/var/cache/dnf",
    "/var/cache/yum",
    "/var/cache/tdnf",
    "/var/lib/dnf",
    "/var/cache/zypp",
    "/var/log/zypp",
    "/var/log/zypper.log",
];

/// Writes the installed packages in `container-manifest-2` format to the results folder.
const QUERY: &str = r#"set -eu
rpm -qa --qf "$1" > /salve-results/rpm-qa
"#;

/// Updates the image with its own package manager. `$1` and `$2` are the OS id and release
/// version, `$3` the manager; the rest are package names. zypper's exit codes 102 (reboot
/// needed) and 103 (zypper itself was updated) report a finished update.
const IN_IMAGE_UPDATE: &str = concat!(
    "set -eu\n",
    crate::advised_function!(),
    r#"os_id=$1 os_version=$2 manager=$3
shift 3
if [ "$manager" != zypper ]; then
  advised "$manager" update -y "$@"
  exit 0
fi
status=0
advised zypper --non-interactive update --no-recommends "$@" || status=$?
case $status in
  0|102|103) ;;
  *) exit "$status" ;;
esac
"#
);

/// Updates `/target` from a SUSE tooling image with its zypper, using the target's own
/// repository files, or the tooling image's when the target has none (SLE Micro and BCI micro
/// images ship without). `$1` and `$2` are the OS id and release version.
const ZYPPER_ROOT_UPDATE: &str = concat!(
    "set -eu\n",
    crate::advised_function!(),
    r#"os_id=$1 os_version=$2
shift 2
set -- --non-interactive --root /target update --no-recommends "$@"
if ! ls /target/etc/zypp/repos.d/*.repo >/dev/null 2>&1; then
  set -- --reposd-dir /etc/zypp/repos.d "$@"
fi
if ! command -v zypper >/dev/null 2>&1; then
  echo "the tooling image has no zypper" >&2
  exit 1
fi
status=0
advised zypper "$@" || status=$?
case $status in
  0|102|103) ;;
  *) exit "$status" ;;
esac
"#
);

/// Updates `/target` from the tooling image with whichever of dnf, tdnf or yum it has, using the
/// target's own repository files when it has them. `$1` and `$2` are the OS id and release
/// version. With `--installroot` the manager logs into the target; the log files it creates
/// there are removed (ones the image already had keep what was appended).
const INSTALLROOT_UPDATE: &str = concat!(
    "set -eu\n",
    crate::advised_function!(),
    r#"os_id=$1 os_version=$2
shift 2
set -- --installroot=/target --releasever="$os_version" -y update "$@"
if [ -d /target/etc/yum.repos.d ]; then
  set -- --setopt=reposdir=/target/etc/yum.repos.d "$@"
fi
new_logs=""
for log in dnf.log dnf.librepo.log dnf.rpm.log hawkey.log tdnf.log yum.log; do
  [ -e "/target/var/log/$log" ] || new_logs="$new_logs /target/var/log/$log"
done
for tool in dnf tdnf yum; do
  if command -v "$tool" >/dev/null 2>&1; then
    advised "$tool" "$@"
    rm -f $new_logs
    exit 0
  fi
done
echo "the tooling image has none of dnf, tdnf or yum" >&2
exit 1
"#
);

/// Lists `/target`'s packages into the results folder, and rewrites its distroless manifests
/// from its rpm database when it has them.
const QUERY_ROOT: &str = r#"set -eu
rpm --root /target -qa --qf "$1" > /salve-results/rpm-qa
dir=/target/var/lib/rpmmanifest
if [ -f "$dir/container-manifest-2" ]; then
  cp /salve-results/rpm-qa "$dir/container-manifest-2"
fi
if [ -f "$dir/container-manifest-1" ]; then
  rpm --root /target -qa > "$dir/container-manifest-1"
fi
"#;

/// Downloads packages into `/tmp/salve-rpms` with the tooling image's dnf or tdnf, for the
/// target's release (`$2`: repository files use `$releasever`, which the tooling image's own
/// release would otherwise fill in; `$1` is the OS id); with no more arguments, every package
/// of the target's manifest.
const DOWNLOAD: &str = concat!(
    "set -eu\n",
    crate::advised_function!(),
    r#"os_id=$1 os_version=$2
shift 2
mkdir -p /tmp/salve-rpms
if [ "$#" -eq 0 ]; then
  set -- $(cut -f1 /target/var/lib/rpmmanifest/container-manifest-2)
fi
repos=""
if [ -d /target/etc/yum.repos.d ]; then
  repos=--setopt=reposdir=/target/etc/yum.repos.d
fi
if command -v dnf >/dev/null 2>&1; then
  advised dnf $repos --releasever="$os_version" -y download --destdir /tmp/salve-rpms "$@"
elif command -v tdnf >/dev/null 2>&1; then
  advised tdnf $repos --releasever="$os_version" -y install --downloadonly --downloaddir=/tmp/salve-rpms "$@"
else
  echo "the tooling image has neither dnf nor tdnf" >&2
  exit 1
fi
"#
);

/// Unpacks each downloaded package that differs from the installed one into `/target` and
/// rewrites both distroless manifests in their formats. `$1` is the manifest-2 query format
/// with `@NOW@` for the install time.
const UNPACK: &str = r#"set -eu
format=$1
manifest1=/target/var/lib/rpmmanifest/container-manifest-1
manifest2=/target/var/lib/rpmmanifest/container-manifest-2
now=$(date +%s)
for rpm in /tmp/salve-rpms/*.rpm; do
  [ -e "$rpm" ] || continue
  name=$(rpm -qp --qf '%{NAME}' "$rpm")
  line=$(rpm -qp --qf "$format" "$rpm" | sed "s/@NOW@/$now/")
  old=$(awk -F '\t' -v n="$name" '$1 == n { print $2 }' "$manifest2")
  new=$(printf '%s\n' "$line" | cut -f2)
  if [ "$old" = "$new" ]; then
    continue
  fi
  (cd /target && rpm2cpio "$rpm" | cpio -idmu --quiet)
  awk -F '\t' -v n="$name" '$1 != n' "$manifest2" > "$manifest2.new"
  printf '%s\n' "$line" >> "$manifest2.new"
  mv "$manifest2.new" "$manifest2"
  if [ -f "$manifest1" ]; then
    awk -v n="$name" '{ s = $0; sub(/\.[^.]*$/, "", s); sub(/-[^-]*-[^-]*$/, "", s); if (s != n) print }' "$manifest1" > "$manifest1.new"
    rpm -qp --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n' "$rpm" >> "$manifest1.new"
    mv "$manifest1.new" "$manifest1"
  fi
done
"#;

/// Plans the updates for the image described by `request`.
pub fn plan(request: &PlanRequest) -> Result<UpdatePlan, String> {
    validate(request)?;
    let names = unique_names(&request.updates);
    let manager = request.target.manager.as_str();
    if request.target.distroless && request.tooling_image.is_none() {
        return Err(
            "the image has no package manager: a tooling image is needed to patch it".into(),
        );
    }
    // Every script that reaches repositories starts with the OS id and release.
    let mut args = vec![request.os.id.clone(), request.os.version_id.clone()];
    let (steps, exclude_paths, database_paths) = match manager {
        CHROOT => {
            args.extend(names);
            let update = if SUSE_IDS.contains(&request.os.id.as_str()) {
                script(ZYPPER_ROOT_UPDATE, "salve-update", &args, true)
            } else {
                script(INSTALLROOT_UPDATE, "salve-update", &args, true)
            };
            let query = script(
                QUERY_ROOT,
                "salve-query",
                &[MANIFEST_2_FORMAT.into()],
                false,
            );
            (
                vec![update, query],
                CACHES.iter().map(|path| path.to_string()).collect(),
                vec![RESULTS.to_string()],
            )
        }
        MANIFEST_ONLY => {
            args.extend(names);
            let download = script(DOWNLOAD, "salve-download", &args, true);
            let format = MANIFEST_2_FORMAT.replace("%{INSTALLTIME}", "@NOW@");
            let unpack = script(UNPACK, "salve-unpack", &[format], false);
            (
                vec![download, unpack],
                Vec::new(),
                vec![MANIFEST_2.to_string()],
            )
        }
        "tdnf" | "dnf" | "yum" | "microdnf" | "zypper" => {
            args.push(manager.to_string());
            args.extend(names);
            let update = script(IN_IMAGE_UPDATE, "salve-update", &args, true);
            let query = script(QUERY, "salve-query", &[MANIFEST_2_FORMAT.into()], false);
            (
                vec![update, query],
                CACHES.iter().map(|path| path.to_string()).collect(),
                vec![RESULTS.to_string()],
            )
        }
        other => return Err(format!("unknown RPM package manager {other:?}")),
    };
    Ok(UpdatePlan {
        steps,
        exclude_paths,
        database_paths,
        warnings: Vec::new(),
    })
}

/// Each requested package's name, once.
fn unique_names(updates: &[RequestedUpdate]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for update in updates {
        if !names.contains(&update.package) {
            names.push(update.package.clone());
        }
    }
    names
}

/// Checks every name, version and the release version before they reach a command line.
fn validate(request: &PlanRequest) -> Result<(), String> {
    let release = &request.os.version_id;
    if release.is_empty()
        || !release
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.')
    {
        return Err(format!(
            "{release:?} is not a release version the package manager can take"
        ));
    }
    for update in &request.updates {
        if !is_package_name(&update.package) {
            return Err(format!(
                "{:?} is not an RPM package name (letters, digits and `._+-`, starting with a \
                 letter or digit)",
                update.package
            ));
        }
        version::parse(&update.fixed_version)
            .map_err(|error| format!("package {}: {error}", update.package))?;
    }
    Ok(())
}

/// RPM package names: letters, digits and `._+-`, starting with a letter or digit.
fn is_package_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
}

/// A constant shell script run with `sh -c`, its `$0` set to `name` and arguments after it.
fn script(text: &str, name: &str, args: &[String], network: bool) -> Step {
    let mut argv = vec!["sh".into(), "-c".into(), text.into(), name.into()];
    argv.extend(args.iter().cloned());
    Step {
        argv,
        env: Vec::new(),
        network,
        on_failure: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::Target;
    use salve_plugin_sdk::testing::{os, plan_request, target, update};

    fn request(manager: &str, updates: &[(&str, &str)]) -> PlanRequest {
        let distroless = manager == CHROOT || manager == MANIFEST_ONLY;
        let target = Target {
            distroless,
            ..target(manager)
        };
        let updates = updates
            .iter()
            .map(|(package, fixed)| update(package, fixed))
            .collect();
        PlanRequest {
            tooling_image: distroless.then(|| "mcr.microsoft.com/azurelinux/base/core:3.0".into()),
            ..plan_request(os("azurelinux", "3.0"), target, updates)
        }
    }

    #[test]
    fn each_manager_updates_the_named_packages_then_lists_what_is_installed() {
        for manager in ["tdnf", "dnf", "yum", "microdnf", "zypper"] {
            let plan = plan(&request(
                manager,
                &[
                    ("openssl", "3.3.3-1.azl3"),
                    ("openssl", "3.3.4-1.azl3"),
                    ("curl", "8.11.1-2.azl3"),
                ],
            ))
            .unwrap();
            assert_eq!(plan.steps[0].argv[2], IN_IMAGE_UPDATE);
            assert_eq!(
                &plan.steps[0].argv[3..],
                [
                    "salve-update",
                    "azurelinux",
                    "3.0",
                    manager,
                    "openssl",
                    "curl"
                ]
            );
            assert!(plan.steps[0].network);
            assert_eq!(plan.steps[1].argv[2], QUERY);
            assert_eq!(plan.steps[1].argv[4], MANIFEST_2_FORMAT);
            assert_eq!(plan.database_paths, [RESULTS]);
            assert!(plan.exclude_paths.contains(&"/var/cache/dnf".to_string()));
        }
        let all = plan(&request("dnf", &[])).unwrap();
        assert_eq!(
            &all.steps[0].argv[3..],
            ["salve-update", "azurelinux", "3.0", "dnf"]
        );
    }

    #[test]
    fn a_database_without_a_manager_is_updated_with_installroot() {
        let plan = plan(&request(CHROOT, &[("openssl", "3.3.3-1.azl3")])).unwrap();
        assert_eq!(plan.steps[0].argv[2], INSTALLROOT_UPDATE);
        assert_eq!(
            &plan.steps[0].argv[3..],
            ["salve-update", "azurelinux", "3.0", "openssl"]
        );
        assert_eq!(plan.steps[1].argv[2], QUERY_ROOT);
        for kept_out in ["/var/cache/dnf", "/var/lib/dnf"] {
            assert!(plan.exclude_paths.contains(&kept_out.to_string()));
        }
    }

    #[test]
    fn a_manifest_only_image_is_unpacked_and_its_manifests_rewritten() {
        let plan = plan(&request(MANIFEST_ONLY, &[("openssl", "3.3.3-1.azl3")])).unwrap();
        assert_eq!(
            &plan.steps[0].argv[3..],
            ["salve-download", "azurelinux", "3.0", "openssl"]
        );
        assert_eq!(plan.steps[1].argv[2], UNPACK);
        assert!(plan.steps[1].argv[4].contains("\\t@NOW@\\t"));
        assert_eq!(plan.database_paths, [MANIFEST_2]);
        let all = super::plan(&request(MANIFEST_ONLY, &[])).unwrap();
        assert_eq!(
            all.steps[0].argv.len(),
            6,
            "no names: the script downloads every package"
        );
    }

    #[test]
    fn distroless_needs_a_tooling_image() {
        let mut without = request(MANIFEST_ONLY, &[]);
        without.tooling_image = None;
        assert!(plan(&without).unwrap_err().contains("tooling image"));
    }

    #[test]
    fn names_versions_and_release_are_checked_before_any_step() {
        for (name, version, why) in [
            ("curl;reboot", "1.0-1", "not an RPM package name"),
            ("-y", "1.0-1", "not an RPM package name"),
            ("curl", "1.0-1 2", "contains ' '"),
            ("curl", "%{x}", "contains '%'"),
        ] {
            let error = plan(&request("dnf", &[(name, version)])).unwrap_err();
            assert!(error.contains(why), "{name} {version}: {error}");
        }
        let mut odd_release = request("dnf", &[]);
        odd_release.os.version_id = "3.0; reboot".into();
        assert!(plan(&odd_release).unwrap_err().contains("release version"));
    }

    /// Runs [`IN_IMAGE_UPDATE`] with a `tdnf` that prints `output` and exits with `status`;
    /// the script's exit status and everything it printed.
    fn update_with(output: &str, status: i32) -> (i32, String) {
        let run = salve_plugin_sdk::testing::run_script(
            IN_IMAGE_UPDATE,
            "salve-update",
            &["mariner", "2.0", "tdnf"],
            &[salve_plugin_sdk::testing::StandIn::printing(
                "tdnf", output, status,
            )],
        );
        (run.code, run.printed)
    }

    #[test]
    fn the_archive_advice_follows_from_what_the_manager_says() {
        let (status, printed) = update_with(
            "Error: Failed to download metadata for repo 'base': Status code: 404 for http://x/repomd.xml",
            1,
        );
        assert_eq!(status, 1);
        assert!(printed.contains("Status code: 404"), "{printed}");
        assert!(
            printed.contains("repositories for mariner 2.0 could not be read"),
            "{printed}"
        );
        let (status, printed) = update_with("Error: rpmdb open failed", 1);
        assert_eq!(status, 1);
        assert!(printed.contains("rpmdb open failed"), "{printed}");
        assert!(!printed.contains("archive"), "no advice: {printed}");
        let (status, printed) = update_with("Complete!", 0);
        assert_eq!(status, 0);
        assert!(!printed.contains("archive"), "{printed}");
    }

    /// A stand-in zypper that prints its arguments and exits with `status`.
    fn zypper(status: i32) -> salve_plugin_sdk::testing::StandIn<'static> {
        salve_plugin_sdk::testing::StandIn {
            name: "zypper",
            body: format!("echo \"zypper $*\"\nexit {status}\n"),
        }
    }

    #[test]
    fn zypper_updates_without_recommends_and_its_info_codes_are_success() {
        for (status, expected) in [(0, 0), (102, 0), (103, 0), (104, 104), (4, 4)] {
            let run = salve_plugin_sdk::testing::run_script(
                IN_IMAGE_UPDATE,
                "salve-update",
                &["sles", "15.6", "zypper", "openssl-3", "curl"],
                &[zypper(status)],
            );
            assert_eq!(
                run.code, expected,
                "zypper exiting {status}: {}",
                run.printed
            );
            assert!(
                run.printed
                    .contains("zypper --non-interactive update --no-recommends openssl-3 curl"),
                "{}",
                run.printed
            );
        }
        // A repository gone (an end-of-life release moved to an archive): the advice.
        let run = salve_plugin_sdk::testing::run_script(
            IN_IMAGE_UPDATE,
            "salve-update",
            &["opensuse-leap", "15.4", "zypper"],
            &[salve_plugin_sdk::testing::StandIn::printing(
                "zypper",
                "File './repodata/repomd.xml' not found on medium 'http://x/'",
                4,
            )],
        );
        assert_eq!(run.code, 4);
        assert!(
            run.printed
                .contains("repositories for opensuse-leap 15.4 could not be read"),
            "{}",
            run.printed
        );
    }

    #[test]
    fn a_suse_database_without_zypper_is_updated_from_the_tooling_images_zypper() {
        let mut suse = request(CHROOT, &[("openssl-3", "3.1.4-150600.5.15.1")]);
        suse.os = os("sle-micro", "5.5");
        let plan = plan(&suse).unwrap();
        assert_eq!(plan.steps[0].argv[2], ZYPPER_ROOT_UPDATE);
        assert_eq!(plan.steps[1].argv[2], QUERY_ROOT);
        assert!(plan.exclude_paths.contains(&"/var/log/zypp".to_string()));
        // Without the target's repository files (no /target here), the tooling image's.
        let run = salve_plugin_sdk::testing::run_script(
            ZYPPER_ROOT_UPDATE,
            "salve-update",
            &["sle-micro", "5.5", "openssl-3"],
            &[zypper(0)],
        );
        assert_eq!(run.code, 0, "{}", run.printed);
        assert!(
            run.printed.contains(
                "zypper --reposd-dir /etc/zypp/repos.d --non-interactive --root /target update \
                 --no-recommends openssl-3"
            ),
            "{}",
            run.printed
        );
    }

    #[test]
    fn scripts_are_valid_posix_shell() {
        for script in [
            QUERY,
            IN_IMAGE_UPDATE,
            ZYPPER_ROOT_UPDATE,
            INSTALLROOT_UPDATE,
            QUERY_ROOT,
            DOWNLOAD,
            UNPACK,
        ] {
            let status = std::process::Command::new("sh")
                .args(["-n", "-c", script])
                .status()
                .expect("running sh -n");
            assert!(status.success(), "sh -n rejects:\n{script}");
        }
    }
}
