//! The installed packages of an image's rpm database, read from the file itself (as Trivy does,
//! without any `rpm` program): the sqlite format of rpm 4.16 and later. The Berkeley DB
//! (`Packages`) and ndb (`Packages.db`) formats of older images are not read; for those the host
//! keeps every update of the report and validation checks the result.

use crate::detect::SQLITE_DATABASES;
use crate::{header, sqlite};
use salve_plugin_sdk::{ImageFile, InstalledPackage};

/// The packages of the first sqlite rpm database among `files`; `None` when there is none.
pub fn installed(files: &[ImageFile]) -> Result<Option<Vec<InstalledPackage>>, String> {
    let Some(file) = SQLITE_DATABASES.iter().find_map(|path| {
        files
            .iter()
            .find(|file| file.path == *path && file.content.is_some())
    }) else {
        return Ok(None);
    };
    let bytes = file.content.as_deref().expect("checked above");
    let read = |error: String| format!("{}: {error}", file.path);
    let database = sqlite::Database::open(bytes).map_err(read)?;
    let mut packages = Vec::new();
    for (row, values) in database.table("Packages").map_err(read)? {
        let Some(sqlite::Value::Blob(blob)) = values.get(1) else {
            return Err(read(format!("row {row} of Packages holds no header")));
        };
        let package =
            header::package(blob).map_err(|error| read(format!("package {row}: {error}")))?;
        packages.push(package);
    }
    Ok(Some(packages))
}
