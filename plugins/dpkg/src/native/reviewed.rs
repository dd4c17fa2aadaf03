//! Maintainer scripts read line by line and vouched for: the parts of a script outside
//! debhelper's sections, identified by their SHA-256, with what must hold of the image for the
//! script to do nothing on an upgrade (or only what [`Effect`] reproduces). A script whose own
//! code is not listed here is refused; a new version of a listed package that changes its
//! script is refused until it is read and listed too.

use super::certificates;
use super::install::{ALTERNATIVES, hex};
use super::scripts::{Scene, Verdict};
use super::timezone;
use crate::version;
use md5::{Digest, Md5};
use salve_plugin_sdk::FileKind;

/// A script read and vouched for.
struct Reviewed {
    /// The package it belongs to.
    package: &'static str,
    /// `preinst`, `postinst`, `prerm`, `postrm` or `config`.
    script: &'static str,
    /// SHA-256 of the script's lines outside debhelper's sections.
    sha256: &'static str,
    /// What must hold for the script to do nothing but [`Reviewed::effect`] on this upgrade.
    needs: &'static [Need],
    /// What the script leaves that installation writes.
    effect: Effect,
}

/// A condition on the upgrade or the image.
enum Need {
    /// An upgrade from this version or a later one (the script's work is for older ones).
    FromAtLeast(&'static str),
    /// An upgrade from a version later than this one.
    FromAfter(&'static str),
    /// The image's `/etc/passwd` has this user (the script would add it).
    User(&'static str),
    /// The image registers no alternatives under this name (the script would remove them).
    NoAlternative(&'static str),
    /// The packages of this run ship the PAM profiles the image has, unchanged, and each is
    /// recorded as seen (`pam-auth-update --package` then rewrites what is there).
    PamProfilesAsTheyAre,
}

/// What a script leaves that installation reproduces.
#[derive(Clone, Copy)]
enum Effect {
    /// Nothing.
    Nothing,
    /// tzdata's `/etc/timezone` ([`timezone::reproduce`]).
    Timezone,
    /// ca-certificates' configuration, links and bundle ([`certificates::reproduce`]).
    Certificates,
}

/// PAM's profiles, one file per profile.
pub const PAM_CONFIGS: &str = "/usr/share/pam-configs";

/// The profiles `pam-auth-update` has offered (one name per line).
pub const PAM_SEEN: &str = "/var/lib/pam/seen";

/// The image's users.
pub const PASSWD: &str = "/etc/passwd";

/// The scripts of Debian 12's packages read so far: those an update of a minimal system runs.
const REVIEWED: &[Reviewed] = &[
    // Adds the `_apt` user when missing; removes a file left by versions up to 2.4.5~.
    Reviewed {
        package: "apt",
        script: "postinst",
        sha256: "63fb9caf67c514203d52088bf46623f53c870211d3221423839aa6d985124ffd",
        needs: &[Need::User("_apt"), Need::FromAfter("2.4.5~")],
        effect: Effect::Nothing,
    },
    // Removes apt's caches and state on purge only.
    Reviewed {
        package: "apt",
        script: "postrm",
        sha256: "e5b137d74303ab79624e04f1748d16b382a4b5b6928d766a6c91729b902252fa",
        needs: &[],
        effect: Effect::Nothing,
    },
    // debconf's answers: which certificates are available and enabled (reproduced with the
    // postinst, which reads them).
    Reviewed {
        package: "ca-certificates",
        script: "config",
        sha256: "6d34a25b8f7e6ff679a768db581ae5e436faee193aece201c6a4501e36b2ec37",
        needs: &[],
        effect: Effect::Nothing,
    },
    // /etc/ca-certificates.conf from debconf's answers, then update-ca-certificates (with
    // `--fresh` from before 20111025) and its trigger (see `certificates`).
    Reviewed {
        package: "ca-certificates",
        script: "postinst",
        sha256: "bbad2df5d3c5e3d787789275830bc5b597fe6e9218a99516947a079dcae9e262",
        needs: &[Need::FromAtLeast("20111025")],
        effect: Effect::Certificates,
    },
    // Removes dangling links on removal, the configuration and bundle on purge.
    Reviewed {
        package: "ca-certificates",
        script: "postrm",
        sha256: "df6b014dfc49380007a13f89320a110bd8bf852ab01856ae2c4bf42ba4566f0e",
        needs: &[],
        effect: Effect::Nothing,
    },
    // Asks about screen savers when upgrading from before 1.4.0-5; defines a function it does
    // not call.
    Reviewed {
        package: "libpam-modules",
        script: "preinst",
        sha256: "87c5a9bcde481ad65bb699df2693b69756622e6d0a6592b2f2d5d881b97e0580",
        needs: &[Need::FromAtLeast("1.4.0-5")],
        effect: Effect::Nothing,
    },
    // Creates /etc/security/opasswd and /etc/environment for versions before 0.99.9.0-1.
    Reviewed {
        package: "libpam-modules",
        script: "postinst",
        sha256: "35c3c5ed8aa0db4849cde8bb585a6a86736e4894ef2983002dbd037408c13c44",
        needs: &[Need::FromAtLeast("0.99.9.0-1")],
        effect: Effect::Nothing,
    },
    // `pam-auth-update --package`: the common-* files again from the profiles (forced for
    // versions before 1.0.1-11).
    Reviewed {
        package: "libpam-runtime",
        script: "postinst",
        sha256: "df5d1ba9ea9787e230eee0a0a8feaee02265cc30485b6bd9f6828bbedb4eb401",
        needs: &[Need::FromAtLeast("1.0.1-11"), Need::PamProfilesAsTheyAre],
        effect: Effect::Nothing,
    },
    // Removes the PAM configuration on purge only.
    Reviewed {
        package: "libpam-runtime",
        script: "postrm",
        sha256: "8e997e419229eefbd3525d07599e9ca8a90a3c19857b2a64aab7b8f081a3d0a6",
        needs: &[],
        effect: Effect::Nothing,
    },
    // Restarts services when upgrading from before 1.4.0-2; otherwise defines functions.
    Reviewed {
        package: "libpam0g",
        script: "postinst",
        sha256: "115eb8d446552fa63d3dff297ab1c69c065c44a50f7dd69c34284c8991b589c6",
        needs: &[Need::FromAtLeast("1.4.0-2")],
        effect: Effect::Nothing,
    },
    // Removes the `rename` alternative; triggers perl-major-upgrade from before 5.36.0~.
    Reviewed {
        package: "perl",
        script: "postinst",
        sha256: "b696d796fd30d88247803fa265e886fa97c8e8bb87c026be7a30546c01981c01",
        needs: &[Need::NoAlternative("rename"), Need::FromAtLeast("5.36.0~")],
        effect: Effect::Nothing,
    },
    // The zone from /etc/localtime or /etc/timezone into debconf (see `timezone`).
    Reviewed {
        package: "tzdata",
        script: "config",
        sha256: "069bf2cebd2b76fadb5689b46e10378abe7b7793105de5a7084b975ef724474b",
        needs: &[],
        effect: Effect::Timezone,
    },
    // /etc/localtime and /etc/timezone from debconf's zone (see `timezone`).
    Reviewed {
        package: "tzdata",
        script: "postinst",
        sha256: "3c6845e67461f5853d8b250aa3c7014b85fc3df0a94d01108c49b6a12817d9cd",
        needs: &[],
        effect: Effect::Timezone,
    },
    // Removes /etc/localtime and /etc/timezone on purge only.
    Reviewed {
        package: "tzdata",
        script: "postrm",
        sha256: "3bf737132b7c8495f4e2206403c9f113613070a2b81f067e0e273952df30067d",
        needs: &[],
        effect: Effect::Nothing,
    },
];

/// Why a script is not among the reviewed ones.
#[derive(Debug, PartialEq, Eq)]
pub enum Unreviewed {
    /// No script of this package with this content was read.
    Unknown,
    /// It was, and this image or upgrade is not one where it does nothing.
    Needs(String),
}

/// Vouches for `package`'s `script` whose own code (lines outside debhelper's sections) has
/// SHA-256 `sha256`, on the upgrade `scene` describes: what its effect leaves goes into
/// `verdict`.
pub fn vouch(
    package: &str,
    script: &str,
    sha256: &str,
    scene: &Scene,
    verdict: &mut Verdict,
) -> Result<(), Unreviewed> {
    let reviewed = REVIEWED
        .iter()
        .find(|reviewed| {
            reviewed.package == package && reviewed.script == script && reviewed.sha256 == sha256
        })
        .ok_or(Unreviewed::Unknown)?;
    for need in reviewed.needs {
        holds(need, scene).map_err(Unreviewed::Needs)?;
    }
    match reviewed.effect {
        Effect::Nothing => {}
        Effect::Timezone => {
            if let Some(file) = timezone::reproduce(scene).map_err(Unreviewed::Needs)? {
                verdict.write(&file.path, file.content, file.mode);
            }
        }
        Effect::Certificates => {
            certificates::reproduce(scene, verdict).map_err(Unreviewed::Needs)?;
        }
    }
    Ok(())
}

/// Whether `need` holds, or what does not.
fn holds(need: &Need, scene: &Scene) -> Result<(), String> {
    let from = scene.from.unwrap_or_default();
    let from_order = |version: &str| {
        scene
            .from
            .and_then(|from| version::compare_text(from, version).ok())
    };
    match need {
        Need::FromAtLeast(version) => match from_order(version) {
            Some(order) if order.is_ge() => Ok(()),
            _ => Err(format!(
                "it does more when upgrading from {from:?}, before version {version}"
            )),
        },
        Need::FromAfter(version) => match from_order(version) {
            Some(order) if order.is_gt() => Ok(()),
            _ => Err(format!(
                "it does more when upgrading from {from:?}, up to version {version}"
            )),
        },
        Need::User(user) => {
            let passwd = scene.text(PASSWD).unwrap_or_default();
            if passwd
                .lines()
                .any(|line| line.split(':').next() == Some(user))
            {
                Ok(())
            } else {
                Err(format!("it adds the user {user}, which the image lacks"))
            }
        }
        Need::NoAlternative(name) => match scene.text(&format!("{ALTERNATIVES}/{name}")) {
            Some(_) => Err(format!(
                "it removes the alternatives for {name}, which the image has"
            )),
            None => Ok(()),
        },
        Need::PamProfilesAsTheyAre => pam_profiles_as_they_are(scene),
    }
}

/// [`Need::PamProfilesAsTheyAre`].
fn pam_profiles_as_they_are(scene: &Scene) -> Result<(), String> {
    let seen = scene.text(PAM_SEEN).unwrap_or_default();
    let prefix = format!("{PAM_CONFIGS}/");
    for (path, file) in scene.files.range(prefix.as_str()..) {
        let Some(name) = path.strip_prefix(&prefix) else {
            break;
        };
        if file.kind == FileKind::File && !seen.lines().any(|line| line == name) {
            return Err(format!(
                "pam-auth-update would enable the PAM profile {name}, which it has not offered \
                 before"
            ));
        }
    }
    for package in scene.packages {
        for entry in package
            .entries
            .iter()
            .filter(|entry| entry.path.starts_with(&prefix))
        {
            if entry.kind != FileKind::File {
                continue;
            }
            let current = scene
                .file(&entry.path)
                .filter(|file| file.kind == FileKind::File)
                .and_then(|file| file.content.as_deref())
                .map(|content| hex(&Md5::digest(content)));
            if current.is_none() || current != entry.md5 {
                return Err(format!(
                    "{} changes the PAM profile {}, and pam-auth-update would write the \
                     configuration again",
                    package.download.name, entry.path
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::scripts::by_path;
    use salve_plugin_sdk::testing::{download, entry, file, unpacked};
    use salve_plugin_sdk::{ImageFile, PackageEntry, UnpackedPackage};

    const UNIX: &str = "Name: Unix authentication\nDefault: yes\n";

    fn libpam_runtime(profile: &str) -> UnpackedPackage {
        UnpackedPackage {
            entries: vec![PackageEntry {
                md5: Some(hex(&Md5::digest(profile.as_bytes()))),
                ..entry(&format!("{PAM_CONFIGS}/unix"), FileKind::File)
            }],
            ..unpacked(download(
                "libpam-runtime",
                "1.5.2-6+deb12u3",
                Some("1.5.2-6+deb12u2"),
            ))
        }
    }

    fn pam_check(files: &[ImageFile], package: &UnpackedPackage) -> Result<(), String> {
        let files = by_path(files);
        let scene = Scene {
            from: package.download.replaces.as_deref(),
            files: &files,
            package,
            packages: std::slice::from_ref(package),
            installed_md5sums: None,
            packaged: &std::collections::BTreeMap::new(),
            statuses: &[],
        };
        holds(&Need::PamProfilesAsTheyAre, &scene)
    }

    #[test]
    fn pam_auth_update_is_found_unnecessary_only_when_nothing_it_reads_changes() {
        let unix = file(&format!("{PAM_CONFIGS}/unix"), UNIX);
        let seen = file(PAM_SEEN, "unix\n");
        pam_check(&[unix.clone(), seen.clone()], &libpam_runtime(UNIX)).unwrap();
        let changed = pam_check(
            &[unix.clone(), seen.clone()],
            &libpam_runtime("Name: new\n"),
        )
        .unwrap_err();
        assert!(changed.contains("changes the PAM profile"), "{changed}");
        let unseen = file(&format!("{PAM_CONFIGS}/mkhomedir"), "Default: no\n");
        let error = pam_check(&[unix, seen, unseen], &libpam_runtime(UNIX)).unwrap_err();
        assert!(error.contains("mkhomedir"), "{error}");
    }

    #[test]
    fn every_reviewed_script_names_a_known_script_and_a_sha256() {
        for reviewed in REVIEWED {
            assert!(
                ["preinst", "postinst", "prerm", "postrm", "config"].contains(&reviewed.script),
                "{}",
                reviewed.package
            );
            assert!(
                reviewed.sha256.len() == 64
                    && reviewed
                        .sha256
                        .bytes()
                        .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)),
                "{}",
                reviewed.package
            );
        }
    }
}
