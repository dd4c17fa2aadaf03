//! The plugin contract: the WIT package `salve:plugin`, one module of generated bindings per
//! version this host loads, and the check of a component against it before it is ever
//! instantiated (what it imports, which interface it exports, at which version).
//!
//! A new minor version is a new folder under `wit/`, a new module here, a new [`ContractVersion`]
//! and a conversion of the older version's types into the newer's where they differ; the rest of
//! the host speaks [`latest`] only.

pub mod v0_1;
pub mod v0_2;
mod v0_2_to_v0_3;
pub mod v0_3;
mod v0_3_to_v0_4;
pub mod v0_4;

pub use v0_4 as latest;

use super::error::PluginError;
use serde::Serialize;
use std::fmt;
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::{ComponentItem, Type};

/// The WIT package every plugin exports an interface of.
pub const WIT_PACKAGE: &str = "salve:plugin";

/// A version of the contract this host loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContractVersion {
    /// `salve:plugin@0.1.x`.
    V0_1,
    /// `salve:plugin@0.2.x`: 0.1 and native installation.
    V0_2,
    /// `salve:plugin@0.3.x`: 0.2, and native installation that reads packaged files and
    /// statuses and writes links.
    V0_3,
    /// `salve:plugin@0.4.x`: 0.3, and native installation of apk packages (apk-signed indexes,
    /// packages checked by their streams, entries with owners and SHA-1).
    V0_4,
}

impl ContractVersion {
    /// Every version this host loads, oldest first.
    pub const ALL: &[ContractVersion] = &[
        ContractVersion::V0_1,
        ContractVersion::V0_2,
        ContractVersion::V0_3,
        ContractVersion::V0_4,
    ];

    /// The version this host's types are, and the SDK of the same release builds plugins for.
    pub const LATEST: ContractVersion = ContractVersion::V0_4;

    /// The full WIT package version the bindings were generated from.
    pub fn package_version(self) -> &'static str {
        match self {
            ContractVersion::V0_1 => v0_1::VERSION,
            ContractVersion::V0_2 => v0_2::VERSION,
            ContractVersion::V0_3 => v0_3::VERSION,
            ContractVersion::V0_4 => v0_4::VERSION,
        }
    }

    /// The version a plugin built against `version` runs as: for a `0.x` package the minor
    /// version must match, as semver's rules for pre-1.0 versions say.
    pub fn of(version: &str) -> Option<ContractVersion> {
        ContractVersion::ALL
            .iter()
            .copied()
            .find(|known| major_minor(known.package_version()) == major_minor(version))
    }
}

/// The first two numbers of a version (`0.1` of `0.1.7`), `None` when it has fewer.
fn major_minor(version: &str) -> Option<(&str, &str)> {
    let mut numbers = version.split('.');
    Some((numbers.next()?, numbers.next()?))
}

/// The versions this host loads as people write them: `0.1.x`, or `0.1.x, 0.2.x, 0.3.x, 0.4.x`.
pub fn supported_versions() -> String {
    ContractVersion::ALL
        .iter()
        .filter_map(|version| major_minor(version.package_version()))
        .map(|(major, minor)| format!("{major}.{minor}.x"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a plugin is, by the interface it exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// Exports `salve:plugin/scanner`: reads a scanner's reports.
    Scanner,
    /// Exports `salve:plugin/ecosystem`: knows a package ecosystem.
    Ecosystem,
}

impl PluginKind {
    /// The interface's name inside the WIT package.
    pub fn interface(self) -> &'static str {
        match self {
            PluginKind::Scanner => "scanner",
            PluginKind::Ecosystem => "ecosystem",
        }
    }

    /// The world a plugin of this kind targets.
    pub fn world(self) -> &'static str {
        match self {
            PluginKind::Scanner => "scanner-plugin",
            PluginKind::Ecosystem => "ecosystem-plugin",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.interface())
    }
}

/// What the contract check learned about a component.
#[derive(Clone, Debug)]
pub struct Contract {
    /// Scanner or ecosystem.
    pub kind: PluginKind,
    /// The exported interface's full name, e.g. `salve:plugin/scanner@0.1.0`.
    pub export: String,
    /// The WIT package version the plugin was built against.
    pub wit_version: String,
    /// The contract version it runs as.
    pub version: ContractVersion,
    /// The exported functions with their signatures, in WIT-like notation.
    pub functions: Vec<String>,
    /// Imports that carry only type definitions (`salve:plugin/types`), satisfied by empty
    /// instances; a plugin imports no functions.
    pub type_imports: Vec<String>,
}

/// Checks that `component` imports no functions and exports exactly one compatible salve
/// interface.
pub fn check(
    engine: &Engine,
    plugin: &str,
    component: &Component,
) -> Result<Contract, PluginError> {
    let ty = component.component_type();
    let mut type_imports = Vec::new();
    let mut refused = Vec::new();
    for (name, item) in ty.imports(engine) {
        if is_types_only_import(engine, name, &item.ty) {
            type_imports.push(name.to_string());
        } else {
            refused.push(name.to_string());
        }
    }
    if !refused.is_empty() {
        return Err(PluginError::Imports {
            plugin: plugin.to_string(),
            imports: refused,
        });
    }

    let mut found = Vec::new();
    let mut exports = Vec::new();
    for (name, item) in ty.exports(engine) {
        exports.push(name.to_string());
        let Some((interface, version)) = parse_export_name(name) else {
            continue;
        };
        let kind = match interface {
            "scanner" => PluginKind::Scanner,
            "ecosystem" => PluginKind::Ecosystem,
            _ => continue,
        };
        let Some(contract_version) = ContractVersion::of(version) else {
            return Err(PluginError::Version {
                plugin: plugin.to_string(),
                found: format!("{WIT_PACKAGE}@{version}"),
            });
        };
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        let functions = instance
            .exports(engine)
            .filter_map(|(function, item)| match item.ty {
                ComponentItem::ComponentFunc(func) => {
                    let params: Vec<String> = func
                        .params()
                        .map(|(param, ty)| format!("{param}: {}", type_name(&ty)))
                        .collect();
                    let results: Vec<String> = func.results().map(|ty| type_name(&ty)).collect();
                    let arrow = if results.is_empty() {
                        String::new()
                    } else {
                        format!(" -> {}", results.join(", "))
                    };
                    Some(format!("{function}: func({}){arrow}", params.join(", ")))
                }
                _ => None,
            })
            .collect();
        found.push(Contract {
            kind,
            export: name.to_string(),
            wit_version: version.to_string(),
            version: contract_version,
            functions,
            type_imports: type_imports.clone(),
        });
    }

    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(PluginError::NoInterface {
            plugin: plugin.to_string(),
            exports,
        }),
        _ => Err(PluginError::Load {
            plugin: plugin.to_string(),
            reason: format!(
                "it exports both {} and {}; a plugin is either a scanner or an ecosystem",
                found[0].export, found[1].export
            ),
        }),
    }
}

/// True for an import of a compatible `salve:plugin/types` that defines types and nothing else:
/// exported interfaces that `use` shared types import them this way.
fn is_types_only_import(engine: &Engine, name: &str, item: &ComponentItem) -> bool {
    let Some(("types", version)) = parse_export_name(name) else {
        return false;
    };
    let ComponentItem::ComponentInstance(instance) = item else {
        return false;
    };
    ContractVersion::of(version).is_some()
        && instance
            .exports(engine)
            .all(|(_, export)| matches!(export.ty, ComponentItem::Type(_)))
}

/// Splits `salve:plugin/<interface>@<version>` into interface and version.
fn parse_export_name(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(WIT_PACKAGE)?.strip_prefix('/')?;
    rest.split_once('@')
}

/// A component-model type in WIT-like notation.
fn type_name(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(list) => format!("list<{}>", type_name(&list.ty())),
        Type::Option(option) => format!("option<{}>", type_name(&option.ty())),
        Type::Result(result) => format!(
            "result<{}, {}>",
            result.ok().map_or("_".into(), |ty| type_name(&ty)),
            result.err().map_or("_".into(), |ty| type_name(&ty))
        ),
        Type::Tuple(tuple) => format!(
            "tuple<{}>",
            tuple
                .types()
                .map(|ty| type_name(&ty))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Type::Record(record) => format!(
            "record {{ {} }}",
            record
                .fields()
                .map(|field| field.name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Type::Enum(enumeration) => format!(
            "enum {{ {} }}",
            enumeration.names().collect::<Vec<_>>().join(", ")
        ),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_names_split_into_interface_and_version() {
        assert_eq!(
            parse_export_name("salve:plugin/scanner@0.1.0"),
            Some(("scanner", "0.1.0"))
        );
        assert_eq!(parse_export_name("salve:other/scanner@0.1.0"), None);
        assert_eq!(parse_export_name("salve:plugin/scanner"), None);
    }

    #[test]
    fn pre_one_versions_must_match_major_and_minor() {
        assert_eq!(ContractVersion::of("0.1.0"), Some(ContractVersion::V0_1));
        assert_eq!(ContractVersion::of("0.1.7"), Some(ContractVersion::V0_1));
        assert_eq!(ContractVersion::of("0.2.3"), Some(ContractVersion::V0_2));
        assert_eq!(ContractVersion::of("0.3.0"), Some(ContractVersion::V0_3));
        assert_eq!(ContractVersion::of("0.4.1"), Some(ContractVersion::V0_4));
        assert_eq!(ContractVersion::of("0.5.0"), None);
        assert_eq!(ContractVersion::of("1.1.0"), None);
        assert_eq!(ContractVersion::of("0"), None);
        assert_eq!(supported_versions(), "0.1.x, 0.2.x, 0.3.x, 0.4.x");
    }

    #[test]
    fn each_version_is_the_one_its_wit_folder_and_the_sdk_declare() {
        for (folder, version) in [
            ("v0.1", v0_1::VERSION),
            ("v0.2", v0_2::VERSION),
            ("v0.3", v0_3::VERSION),
            ("v0.4", v0_4::VERSION),
        ] {
            let wit = format!("{}/../wit/{folder}", env!("CARGO_MANIFEST_DIR"));
            let mut declared = Vec::new();
            for file in std::fs::read_dir(&wit).expect("the WIT folder is there") {
                let text = std::fs::read_to_string(file.expect("an entry").path()).expect("WIT");
                declared.extend(
                    text.lines()
                        .filter_map(|line| line.strip_prefix("package "))
                        .map(String::from),
                );
            }
            assert_eq!(declared, [format!("{WIT_PACKAGE}@{version};")], "{wit}");
        }
        assert_eq!(
            salve_plugin_sdk::WIT_VERSION,
            ContractVersion::LATEST.package_version()
        );
    }
}
