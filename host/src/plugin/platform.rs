//! How salve writes a platform: `os/architecture[/variant]`, as `--platform` takes it and OCI
//! indexes name it. Both platform types salve has (the contract's, and an index entry's, which
//! keeps fields salve does not interpret so the index is rewritten as it was) print through here.

use super::types::Platform;
use std::fmt;

/// Writes `os/architecture[/variant]`.
pub fn write_platform(
    f: &mut fmt::Formatter<'_>,
    os: &str,
    architecture: &str,
    variant: Option<&str>,
) -> fmt::Result {
    write!(f, "{os}/{architecture}")?;
    match variant {
        Some(variant) => write!(f, "/{variant}"),
        None => Ok(()),
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_platform(f, &self.os, &self.architecture, self.variant.as_deref())
    }
}
