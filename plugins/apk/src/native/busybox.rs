//! busybox's applets, read from its binary without running it: the names (`applet_names`, the
//! sorted, NUL-separated table `busybox --list` prints) and where `busybox --install` links
//! each (`applet_install_loc`, one 4-bit folder number per applet, two to a byte). The binary is
//! the image's or a package's, for any architecture: the tables are found by their shape, and
//! the folder table is accepted only where applets whose folder no build moves (`ash` and `ls`
//! in `/bin`, `awk` in `/usr/bin`, ...) sit in their folders and no other place in the binary
//! also fits.

/// The folders `busybox --install` links applets in, by their number in the folder table.
const INSTALL_FOLDERS: [&str; 5] = ["", "/bin", "/sbin", "/usr/bin", "/usr/sbin"];

/// Applets and the folder every busybox build installs them in (its number in
/// [`INSTALL_FOLDERS`]).
const ANCHORS: [(&str, u8); 13] = [
    ("ash", 1),
    ("cat", 1),
    ("cp", 1),
    ("ls", 1),
    ("mkdir", 1),
    ("mount", 1),
    ("rm", 1),
    ("sh", 1),
    ("ifconfig", 2),
    ("[", 3),
    ("awk", 3),
    ("env", 3),
    ("chroot", 4),
];

/// How many [`ANCHORS`] a binary's applets must include for its folder table to be trusted.
const MIN_ANCHORS: usize = 6;

/// The fewest applets a name table is taken to have (no busybox build worth linking has fewer).
const MIN_APPLETS: usize = 32;

/// What `busybox --install` accepts as its first argument, present only when the installer is
/// built in.
const INSTALL_OPTION: &[u8] = b"--install\0";

/// One applet: its name and the path `--install` links it at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applet {
    /// The applet's name (`ls`).
    pub name: String,
    /// Where `busybox --install` links it (`/bin/ls`).
    pub path: String,
}

/// The applets of a busybox binary in the order `busybox --list` gives them; an error says
/// why the tables cannot be read with confidence.
pub fn applets(binary: &[u8]) -> Result<Vec<Applet>, String> {
    if !contains(binary, INSTALL_OPTION) {
        return Err("it is built without --install".into());
    }
    let names = name_table(binary)?;
    let folders = folder_table(binary, &names)?;
    Ok(names
        .into_iter()
        .zip(folders)
        .map(|(name, folder)| Applet {
            path: format!("{}/{name}", INSTALL_FOLDERS[usize::from(folder)]),
            name,
        })
        .collect())
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// A byte an applet name may hold.
fn name_byte(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"[-_.".contains(&byte)
}

/// The applet names: the one run in the binary of at least [`MIN_APPLETS`] names, each
/// NUL-terminated and sorted strictly after the one before, ending in an empty name. The run
/// starts with `[` (the `test` applet, first in byte order): bytes before a table may look like
/// a name's, so a table whose first name is another cannot be told from its neighbour.
fn name_table(binary: &[u8]) -> Result<Vec<String>, String> {
    let mut found: Vec<Vec<String>> = Vec::new();
    let mut at = 0;
    while let Some(offset) = binary[at..].windows(2).position(|pair| pair == b"[\0") {
        let start = at + offset;
        let (names, end) = sorted_names(binary, start);
        if names.len() >= MIN_APPLETS && binary.get(end) == Some(&0) {
            found.push(names);
        }
        at = end.max(start + 1);
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err("no applet name table starting with `[` was found".into()),
        count => Err(format!("{count} places look like its applet name table")),
    }
}

/// The sorted NUL-terminated names from `start`, and where the run stops.
fn sorted_names(binary: &[u8], start: usize) -> (Vec<String>, usize) {
    let mut names: Vec<String> = Vec::new();
    let mut at = start;
    loop {
        let length = binary[at..]
            .iter()
            .take_while(|byte| name_byte(**byte))
            .count();
        let end = at + length;
        if length == 0 || binary.get(end) != Some(&0) {
            return (names, at);
        }
        let name = String::from_utf8_lossy(&binary[at..end]).into_owned();
        if names
            .last()
            .is_some_and(|last| last.as_str() >= name.as_str())
        {
            return (names, at);
        }
        names.push(name);
        at = end + 1;
    }
}

/// The folder of each applet: the one run of `(applets + 1) / 2` bytes whose 4-bit numbers all
/// name folders and put every anchor applet in its folder.
fn folder_table(binary: &[u8], names: &[String]) -> Result<Vec<u8>, String> {
    let anchors: Vec<(usize, u8)> = ANCHORS
        .iter()
        .filter_map(|(name, folder)| {
            names
                .iter()
                .position(|candidate| candidate == name)
                .map(|at| (at, *folder))
        })
        .collect();
    if anchors.len() < MIN_ANCHORS {
        return Err(format!(
            "it has {} of the applets whose folders identify its folder table, fewer than {MIN_ANCHORS}",
            anchors.len()
        ));
    }
    let length = names.len().div_ceil(2);
    let folder = |table: &[u8], applet: usize| {
        let byte = table[applet / 2];
        if applet.is_multiple_of(2) {
            byte & 0x0f
        } else {
            byte >> 4
        }
    };
    let fits = |table: &[u8]| {
        anchors
            .iter()
            .all(|(applet, expected)| folder(table, *applet) == *expected)
            && (0..names.len())
                .all(|applet| usize::from(folder(table, applet)) < INSTALL_FOLDERS.len())
            && (names.len().is_multiple_of(2) || table[length - 1] >> 4 == 0)
    };
    let mut found: Vec<Vec<u8>> = Vec::new();
    for table in binary.windows(length) {
        if fits(table) && !found.iter().any(|other| other.as_slice() == table) {
            found.push(table.to_vec());
        }
    }
    match found.len() {
        1 => Ok((0..names.len())
            .map(|applet| folder(&found[0], applet))
            .collect()),
        0 => Err("no applet folder table was found".into()),
        count => Err(format!(
            "{count} different places look like its applet folder table"
        )),
    }
}

/// busybox-like binaries for tests.
#[cfg(test)]
pub mod testing {
    /// A binary as the linker lays busybox out: the folder table (`applets`' folder numbers),
    /// other tables, then the names, between unrelated bytes (strings, zeros). `applets` are
    /// sorted by name.
    pub fn binary(applets: &[(&str, u8)]) -> Vec<u8> {
        let mut bytes = b"\x7fELF\0\0\0\0usage: --install [-s] [DIR]\0--install\0".to_vec();
        bytes.extend([0u8; 64]);
        for pair in applets.chunks(2) {
            let high = pair.get(1).map_or(0, |(_, folder)| folder << 4);
            bytes.push(pair[0].1 | high);
        }
        bytes.extend([0x11u8; 4]);
        for (name, _) in applets {
            bytes.extend(name.as_bytes());
            bytes.push(0);
        }
        bytes.push(0);
        bytes.extend(b"abc\0abd\0\0 trailing strings\0");
        bytes
    }

    /// The applets every build has in the folders [`super::applets`] checks, and `extra`.
    pub fn with_anchors(extra: &[(&str, u8)]) -> Vec<(String, u8)> {
        let mut applets: Vec<(String, u8)> = [
            ("[", 3),
            ("[[", 3),
            ("ash", 1),
            ("awk", 3),
            ("cat", 1),
            ("chroot", 4),
            ("cp", 1),
            ("env", 3),
            ("ifconfig", 2),
            ("ls", 1),
            ("mkdir", 1),
            ("mount", 1),
            ("rm", 1),
            ("sh", 1),
        ]
        .iter()
        .chain(extra)
        .map(|(name, folder)| (name.to_string(), *folder))
        .collect();
        applets.extend((0..30).map(|number| (format!("x{number:02}"), 3)));
        applets.sort();
        applets
    }

    /// [`binary`] of owned names.
    pub fn binary_of(applets: &[(String, u8)]) -> Vec<u8> {
        let borrowed: Vec<(&str, u8)> = applets
            .iter()
            .map(|(name, folder)| (name.as_str(), *folder))
            .collect();
        binary(&borrowed)
    }

    /// [`binary`] of [`with_anchors`].
    pub fn busybox(extra: &[(&str, u8)]) -> Vec<u8> {
        binary_of(&with_anchors(extra))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::binary_of;
    use super::*;

    /// The anchors, a root applet, a `/usr/sbin` one and filler names.
    fn many() -> Vec<(String, u8)> {
        super::testing::with_anchors(&[("linuxrc", 0), ("zcip", 4)])
    }

    #[test]
    fn the_names_and_folders_are_read_as_busybox_lists_them() {
        let table = many();
        let read = applets_of(&binary_of(&table));
        assert_eq!(read.len(), table.len());
        assert_eq!(read[0].path, "/usr/bin/[");
        let path = |name: &str| {
            read.iter()
                .find(|applet| applet.name == name)
                .map(|applet| applet.path.clone())
        };
        assert_eq!(path("linuxrc").as_deref(), Some("/linuxrc"));
        assert_eq!(path("chroot").as_deref(), Some("/usr/sbin/chroot"));
        assert_eq!(path("ifconfig").as_deref(), Some("/sbin/ifconfig"));
        assert_eq!(path("zcip").as_deref(), Some("/usr/sbin/zcip"));
        assert_eq!(path("x29").as_deref(), Some("/usr/bin/x29"));
    }

    fn applets_of(binary: &[u8]) -> Vec<Applet> {
        applets(binary).unwrap()
    }

    #[test]
    fn an_odd_count_reads_the_last_applet_from_a_low_half_byte() {
        let mut table = many();
        table.pop();
        assert_eq!(table.len() % 2, 1);
        let read = applets_of(&binary_of(&table));
        assert_eq!(read.len(), table.len());
        assert_eq!(read.last().unwrap().name, table.last().unwrap().0);
    }

    #[test]
    fn doubtful_binaries_are_refused_with_the_reason() {
        let table = many();
        let good = binary_of(&table);

        let without_installer: Vec<u8> = String::from_utf8_lossy(&good)
            .replace("--install\0", "--instell\0")
            .into_bytes();
        assert!(
            applets(&without_installer)
                .unwrap_err()
                .contains("without --install")
        );

        let mut twice = good.clone();
        twice.extend(&good);
        assert!(applets(&twice).unwrap_err().contains("2 places"));

        // The folder table moved `ls` to /usr/bin: no table fits the anchors.
        let moved: Vec<(String, u8)> = table
            .iter()
            .map(|(name, folder)| (name.clone(), if name == "ls" { 3 } else { *folder }))
            .collect();
        assert!(
            applets(&binary_of(&moved))
                .unwrap_err()
                .contains("no applet folder table")
        );

        let few: Vec<(String, u8)> = table
            .iter()
            .filter(|(name, _)| {
                !["ash", "cat", "cp", "ls", "mkdir", "mount", "rm", "sh"].contains(&name.as_str())
            })
            .cloned()
            .collect();
        assert!(
            applets(&binary_of(&few))
                .unwrap_err()
                .contains("fewer than")
        );

        assert!(
            applets(b"--install\0a\0b\0\0[\0only\0\0")
                .unwrap_err()
                .contains("no applet name table starting with `[`")
        );
    }
}
