//! The JSON form of the contract's types that salve prints (`salve report --format json`,
//! `salve plugins inspect --format json`): written here, field by field, so the output README
//! documents stays as it is when the WIT contract gains a version.

use super::types::{EcosystemInfo, OsInfo, PackageClass, Platform, ScannerInfo, Skipped};
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// Implements `Serialize` for a generated record as a JSON object of the named fields, each
/// under its Rust name.
macro_rules! serialize_fields {
    ($record:ident { $($field:ident),+ $(,)? }) => {
        impl Serialize for $record {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let fields = [$(stringify!($field)),+].len();
                let mut object = serializer.serialize_struct(stringify!($record), fields)?;
                $(object.serialize_field(stringify!($field), &self.$field)?;)+
                object.end()
            }
        }
    };
}

serialize_fields!(OsInfo {
    id,
    version_id,
    codename
});
serialize_fields!(Platform {
    os,
    architecture,
    variant
});
serialize_fields!(Skipped {
    package,
    vulnerability_id,
    reason
});
serialize_fields!(ScannerInfo {
    name,
    version,
    summary
});
serialize_fields!(EcosystemInfo {
    name,
    version,
    summary,
    purl_type,
    class,
    os_ids
});

impl PackageClass {
    /// The class as the WIT contract and salve's output name it: `os` or `library`.
    pub fn as_str(self) -> &'static str {
        match self {
            PackageClass::Os => "os",
            PackageClass::Library => "library",
        }
    }
}

impl Serialize for PackageClass {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_keep_their_documented_field_names() {
        let info = EcosystemInfo {
            name: "dpkg".into(),
            version: "0.1.0".into(),
            summary: "Debian".into(),
            purl_type: "deb".into(),
            class: PackageClass::Os,
            os_ids: vec!["debian".into()],
        };
        assert_eq!(
            serde_json::to_value(&info).unwrap(),
            json!({"name": "dpkg", "version": "0.1.0", "summary": "Debian", "purl_type": "deb",
                   "class": "os", "os_ids": ["debian"]})
        );
        let os = OsInfo {
            id: "debian".into(),
            version_id: "12".into(),
            codename: None,
        };
        assert_eq!(
            serde_json::to_value(&os).unwrap(),
            json!({"id": "debian", "version_id": "12", "codename": null})
        );
        assert_eq!(
            serde_json::to_value(PackageClass::Library).unwrap(),
            json!("library")
        );
    }
}
