//! Service hooks (debhelper's `dh_installsystemd` sections) on an upgrade: nothing runs in an
//! image, and `deb-systemd-helper` leaves the units as they were when each is the file the
//! installed version shipped and none is masked.

use super::scripts::Scene;
use salve_plugin_sdk::FileKind;

/// Where deb-systemd-helper records the units it masked.
pub const SYSTEMD_MASKED: &str = "/var/lib/systemd/deb-systemd-helper-masked";

/// The unit names quoted on a line of a service section (`'apt-daily.timer'`).
fn quoted_units(line: &str) -> Vec<&str> {
    const KINDS: &[&str] = &[
        ".service", ".socket", ".timer", ".path", ".mount", ".target", ".slice",
    ];
    line.split('\'')
        .skip(1)
        .step_by(2)
        .filter(|word| KINDS.iter().any(|kind| word.ends_with(kind)))
        .collect()
}

/// Whether the units a service section names are as the installed version shipped them and
/// not masked: `deb-systemd-helper enable` then links what it linked before, `update-state`
/// records what it recorded, and `unmask` finds nothing to unmask. A unit file the new version
/// changes may name other targets in its `[Install]` section, which only running the helper
/// would follow.
pub fn units_stay_as_they_are(line: &str, scene: &Scene) -> Result<(), String> {
    for unit in quoted_units(line) {
        if scene
            .file(&format!("{SYSTEMD_MASKED}/{unit}"))
            .is_some_and(|file| file.kind == FileKind::File)
        {
            return Err(format!(
                "the image has {unit} masked, and the upgrade would unmask it"
            ));
        }
        let shipped = |text: &str| -> Option<String> {
            text.lines().find_map(|line| {
                let (md5, path) = line.split_once("  ")?;
                (path.ends_with(&format!("systemd/system/{unit}"))
                    || path.ends_with(&format!("systemd/user/{unit}")))
                .then(|| md5.to_string())
            })
        };
        let new = scene.package.entries.iter().find_map(|entry| {
            (entry.path.ends_with(&format!("systemd/system/{unit}"))
                || entry.path.ends_with(&format!("systemd/user/{unit}")))
            .then(|| entry.md5.clone())
            .flatten()
        });
        let old = scene.installed_md5sums.and_then(shipped);
        if new.is_none() || new != old {
            return Err(format!(
                "{unit} is not the unit file the installed version shipped, and \
                 deb-systemd-helper would enable it again as its [Install] section says now"
            ));
        }
    }
    Ok(())
}
