//! The installed packages of an image's rpm database, read from the file itself (as Trivy does,
//! without any `rpm` program): the sqlite format of rpm 4.16 and later (`rpmdb.sqlite`), and the
//! Berkeley DB hash format before it (`Packages`). The ndb format (`Packages.db`) is SUSE's, whose
//! images this plugin does not handle.

use crate::detect::{BERKELEY_DATABASE, SQLITE_DATABASES};
use crate::{berkeley, header, sqlite};
use salve_plugin_sdk::{ImageFile, InstalledPackage};

/// The packages of the image's rpm database, from the first database file among `files`;
/// `None` when there is none this plugin reads.
pub fn installed(files: &[ImageFile]) -> Result<Option<Vec<InstalledPackage>>, String> {
    let content = |path: &str| {
        files
            .iter()
            .find(|file| file.path == path)
            .and_then(|file| file.content.as_deref())
    };
    if let Some((path, bytes)) = SQLITE_DATABASES
        .iter()
        .find_map(|path| Some((*path, content(path)?)))
    {
        return from_sqlite(bytes)
            .map(Some)
            .map_err(|error| format!("{path}: {error}"));
    }
    if let Some(bytes) = content(BERKELEY_DATABASE) {
        return from_berkeley(bytes).map_err(|error| format!("{BERKELEY_DATABASE}: {error}"));
    }
    Ok(None)
}

/// The headers of an sqlite database's `Packages` table.
fn from_sqlite(bytes: &[u8]) -> Result<Vec<InstalledPackage>, String> {
    let database = sqlite::Database::open(bytes)?;
    let mut packages = Vec::new();
    for (row, values) in database.table("Packages")? {
        let Some(sqlite::Value::Blob(blob)) = values.get(1) else {
            return Err(format!("row {row} of Packages holds no header"));
        };
        packages.push(header::package(blob).map_err(|error| format!("package {row}: {error}"))?);
    }
    Ok(packages)
}

/// The headers of a Berkeley DB `Packages` database; `None` when the file is not one (a
/// Berkeley DB b-tree, say, which rpm never used for it).
fn from_berkeley(bytes: &[u8]) -> Result<Option<Vec<InstalledPackage>>, String> {
    let Some(database) = berkeley::Database::open(bytes)? else {
        return Ok(None);
    };
    let mut packages = Vec::new();
    for (key, value) in database.records()? {
        // Record 0 holds the number the next package will get, not a package.
        if key.iter().all(|byte| *byte == 0) {
            continue;
        }
        let number = key
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>();
        packages
            .push(header::package(&value).map_err(|error| format!("package {number}: {error}"))?);
    }
    Ok(Some(packages))
}
