//! What tzdata's `config` and `postinst` do on an upgrade, as file operations. The `config`
//! script takes the zone from `/etc/localtime` (a link into `/usr/share/zoneinfo`) or else from
//! the first word of `/etc/timezone`, renames deprecated zones, and keeps it when the new
//! package ships it; the `postinst` then points `/etc/localtime` at that zone and writes it to
//! `/etc/timezone`. Reproduced here when the zone is current and `/etc/localtime` already points
//! at it: `/etc/timezone` is rewritten when it says something else. Anything else (a renamed
//! zone, a zone the package no longer ships, a link to move, no zone at all, where the script
//! would fall back to debconf's answers) is refused.

use super::scripts::{self, Scene};
use salve_plugin_sdk::{FileKind, WrittenFile};

/// The link that names the image's zone.
pub const LOCALTIME: &str = "/etc/localtime";

/// The file that names it in words.
pub const TIMEZONE: &str = "/etc/timezone";

/// Where tzdata ships its zones.
const ZONEINFO: &str = "/usr/share/zoneinfo/";

/// The names tzdata's `config` script (of the versions [`super::reviewed`] lists) renames:
/// an image whose zone is one of these gets a new `/etc/localtime`, which is refused.
const RENAMED: &[&str] = &[
    "Africa/Asmera",
    "America/Buenos_Aires",
    "America/Argentina/ComodRivadavia",
    "America/Catamarca",
    "America/Cordoba",
    "America/Rosario",
    "America/Fort_Wayne",
    "America/Indianapolis",
    "EST",
    "SystemV/EST5",
    "US/East-Indiana",
    "America/Jujuy",
    "America/Knox_IN",
    "America/Louisville",
    "America/Mendoza",
    "Antarctica/South_Pole",
    "Asia/Ashkhabad",
    "Asia/Calcutta",
    "Asia/Chungking",
    "Asia/Dacca",
    "Asia/Katmandu",
    "Asia/Macao",
    "Asia/Rangoon",
    "Asia/Riyadh87",
    "Asia/Riyadh88",
    "Asia/Riyadh89",
    "Mideast/Riyadh87",
    "Mideast/Riyadh88",
    "Mideast/Riyadh89",
    "Asia/Saigon",
    "Asia/Thimbu",
    "Asia/Ujung_Pandang",
    "Asia/Ulan_Bator",
    "Atlantic/Faeroe",
    "Australia/ACT",
    "Australia/NSW",
    "Australia/LHI",
    "Australia/North",
    "Australia/Queensland",
    "Australia/South",
    "Australia/Tasmania",
    "Australia/Victoria",
    "Australia/West",
    "Brazil/Acre",
    "Brazil/DeNoronha",
    "Brazil/East",
    "Brazil/West",
    "Canada/Atlantic",
    "SystemV/AST4ADT",
    "Canada/Central",
    "Canada/Eastern",
    "Canada/East-Saskatchewan",
    "Canada/Saskatchewan",
    "SystemV/CST6",
    "Canada/Mountain",
    "Canada/Newfoundland",
    "Canada/Pacific",
    "Canada/Yukon",
    "CET",
    "MET",
    "Chile/Continental",
    "Chile/EasterIsland",
    "CST6CDT",
    "SystemV/CST6CDT",
    "Cuba",
    "EET",
    "Egypt",
    "Eire",
    "EST5EDT",
    "SystemV/EST5EDT",
    "Europe/Kiev",
    "Europe/Uzhgorod",
    "Europe/Zaporozhye",
    "GB",
    "GB-Eire",
    "GMT",
    "GMT0",
    "GMT-0",
    "GMT+0",
    "Greenwich",
    "Hongkong",
    "HST",
    "SystemV/HST10",
    "Iceland",
    "Iran",
    "Israel",
    "Jamaica",
    "Japan",
    "Kwajalein",
    "Libya",
    "Mexico/BajaNorte",
    "Mexico/BajaSur",
    "Mexico/General",
    "MST",
    "SystemV/MST7",
    "MST7MDT",
    "Navajo",
    "SystemV/MST7MDT",
    "NZ",
    "Pacific/Enderbury",
    "Pacific/Ponape",
    "Pacific/Truk",
    "NZ-CHAT",
    "Poland",
    "Portugal",
    "WET",
    "PRC",
    "PST8PDT",
    "SystemV/PST8PDT",
    "ROC",
    "ROK",
    "Singapore",
    "SystemV/AST4",
    "SystemV/PST8",
    "SystemV/YST9",
    "SystemV/YST9YDT",
    "Turkey",
    "UCT",
    "Universal",
    "UTC",
    "Zulu",
    "W-SU",
];

/// The file tzdata's scripts leave on this upgrade (`/etc/timezone` when it changes), or why
/// they cannot be reproduced.
pub fn reproduce(scene: &Scene) -> Result<Option<WrittenFile>, String> {
    let localtime = scene.file(LOCALTIME);
    let link = localtime.and_then(|file| file.link_target.as_deref());
    let zone = match link {
        Some(target) => {
            let path = if target.starts_with('/') {
                scripts::lexical(target)
            } else {
                scripts::lexical(&format!("/etc/{target}"))
            };
            path.strip_prefix(ZONEINFO).unwrap_or(&path).to_string()
        }
        None => {
            let text = scene
                .file(TIMEZONE)
                .filter(|file| file.kind == FileKind::File)
                .and_then(|file| file.content.as_deref())
                .map(String::from_utf8_lossy)
                .ok_or_else(|| {
                    format!(
                        "tzdata's scripts would take the zone from debconf's answers: \
                         {LOCALTIME} is not a link and {TIMEZONE} is missing"
                    )
                })?;
            let first = text.lines().next().unwrap_or_default();
            let word = first.split(' ').next().unwrap_or_default();
            let word = word.strip_prefix('/').unwrap_or(word);
            word.strip_suffix('/').unwrap_or(word).to_string()
        }
    };
    let mut current = zone.as_str();
    while let Some(rest) = current
        .strip_prefix("right/")
        .or_else(|| current.strip_prefix("posix/"))
    {
        current = rest;
    }
    if RENAMED.contains(&current) || current != zone {
        return Err(format!(
            "tzdata's scripts would point {LOCALTIME} at another name for the zone {zone:?}"
        ));
    }
    if !current.contains('/') {
        return Err(format!(
            "tzdata's scripts would read the zone {zone:?} as an area and a zone it is not"
        ));
    }
    let shipped = format!("{ZONEINFO}{zone}");
    let ships = scene.package.entries.iter().any(|entry| {
        entry.path == shipped && matches!(entry.kind, FileKind::File | FileKind::Symlink)
    });
    if !ships {
        return Err(format!(
            "tzdata's new version does not ship {shipped}: its scripts would fall back to \
             debconf's answers"
        ));
    }
    if link.is_none() {
        return Err(format!(
            "tzdata's postinst would replace {LOCALTIME} by a link to {shipped}"
        ));
    }
    let wanted = format!("{zone}\n");
    let unchanged = scene
        .file(TIMEZONE)
        .and_then(|file| file.content.as_deref())
        .is_some_and(|content| content == wanted.as_bytes());
    Ok((!unchanged).then(|| WrittenFile {
        path: TIMEZONE.to_string(),
        content: wanted.into_bytes(),
        mode: 0o644,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::scripts::by_path;
    use salve_plugin_sdk::testing::{download, entry, file, unpacked};
    use salve_plugin_sdk::{ImageFile, UnpackedPackage};

    fn tzdata(zones: &[&str]) -> UnpackedPackage {
        UnpackedPackage {
            entries: zones
                .iter()
                .map(|zone| entry(&format!("{ZONEINFO}{zone}"), FileKind::File))
                .collect(),
            ..unpacked(download(
                "tzdata",
                "2026f-0+deb12u1",
                Some("2025b-0+deb12u1"),
            ))
        }
    }

    fn link(path: &str, target: &str) -> ImageFile {
        ImageFile {
            path: path.into(),
            kind: FileKind::File,
            content: Some(b"TZif".to_vec()),
            link_target: Some(target.into()),
        }
    }

    fn outcome(files: &[ImageFile], package: &UnpackedPackage) -> Result<Option<String>, String> {
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
        reproduce(&scene)
            .map(|written| written.map(|file| String::from_utf8(file.content).unwrap()))
    }

    #[test]
    fn the_zone_of_the_link_is_written_to_etc_timezone_when_it_says_otherwise() {
        let package = tzdata(&["Etc/UTC", "Europe/Paris", "America/Argentina/Cordoba"]);
        let utc = link(LOCALTIME, "/usr/share/zoneinfo/Etc/UTC");
        assert_eq!(
            outcome(&[utc.clone(), file(TIMEZONE, "Etc/UTC\n")], &package),
            Ok(None)
        );
        assert_eq!(
            outcome(&[utc, file(TIMEZONE, "Europe/Paris\n")], &package),
            Ok(Some("Etc/UTC\n".into()))
        );
        let relative = link(
            LOCALTIME,
            "../usr/share/zoneinfo/./America/Argentina//Cordoba",
        );
        assert_eq!(
            outcome(&[relative], &package),
            Ok(Some("America/Argentina/Cordoba\n".into()))
        );
    }

    #[test]
    fn renamed_missing_and_unlinked_zones_are_refused() {
        let package = tzdata(&["Etc/UTC", "Europe/Kyiv", "Europe/Kiev"]);
        let refused = |files: &[ImageFile]| outcome(files, &package).unwrap_err();
        assert!(
            refused(&[link(LOCALTIME, "/usr/share/zoneinfo/Europe/Kiev")]).contains("another name")
        );
        assert!(
            refused(&[link(LOCALTIME, "/usr/share/zoneinfo/posix/Etc/UTC")])
                .contains("another name")
        );
        assert!(
            refused(&[link(LOCALTIME, "/usr/share/zoneinfo/Mars/Olympus")])
                .contains("does not ship")
        );
        assert!(
            refused(&[file(LOCALTIME, "TZif"), file(TIMEZONE, "Etc/UTC\n")]).contains("by a link")
        );
        assert!(refused(&[]).contains("debconf"));
    }
}
