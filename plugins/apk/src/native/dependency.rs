//! apk dependencies as indexes and `/etc/apk/world` write them: `[!]name[@tag][op version]`,
//! where `op` is `<`, `<=`, `=`, `>=`, `>` or `~` (the version's prefix), and `!` makes the
//! dependency a conflict. Provides are `name[=version]`.

use crate::version;
use std::cmp::Ordering;

/// A dependency (or conflict) on a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// True for `!name`: nothing of that name may be installed.
    pub conflict: bool,
    /// The package or provided name (`so:libc.musl-x86_64.so.1`, `cmd:sh`, `busybox`).
    pub name: String,
    /// The repository tag it is pinned to (`@edge`), in `/etc/apk/world`.
    pub tag: Option<String>,
    /// The version it asks for.
    pub constraint: Option<Constraint>,
}

/// A version a dependency asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    /// Which orders of the candidate against `version` satisfy it.
    pub accepts: Vec<Ordering>,
    /// Whether `~`: the candidate's version starts with `version`.
    pub fuzzy: bool,
    /// The version.
    pub version: String,
}

/// Something a package provides: its own name and version, or a `p:` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provide {
    /// The name provided.
    pub name: String,
    /// Its version, when it has one (a provide without a version satisfies only dependencies
    /// without a version).
    pub version: Option<String>,
}

/// The dependencies of a space-separated list.
pub fn parse_list(text: &str) -> Result<Vec<Dependency>, String> {
    text.split_whitespace().map(parse).collect()
}

/// One dependency.
pub fn parse(token: &str) -> Result<Dependency, String> {
    let (conflict, rest) = match token.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let operator_at = rest.find(['<', '>', '=', '~']);
    let (name_and_tag, constraint) = match operator_at {
        None => (rest, None),
        Some(at) => {
            let operator_end = rest[at..]
                .find(|c: char| !matches!(c, '<' | '>' | '=' | '~'))
                .map_or(rest.len(), |end| at + end);
            let (operator, version) = (&rest[at..operator_end], &rest[operator_end..]);
            version::validate(version).map_err(|error| format!("dependency {token:?}: {error}"))?;
            let accepts = match operator.trim_start_matches('~') {
                "<" => vec![Ordering::Less],
                "<=" => vec![Ordering::Less, Ordering::Equal],
                "=" | "" => vec![Ordering::Equal],
                ">=" => vec![Ordering::Greater, Ordering::Equal],
                ">" => vec![Ordering::Greater],
                _ => {
                    return Err(format!(
                        "dependency {token:?} has an operator apk does not read"
                    ));
                }
            };
            let constraint = Constraint {
                accepts,
                fuzzy: operator.starts_with('~'),
                version: version.to_string(),
            };
            (&rest[..at], Some(constraint))
        }
    };
    let (name, tag) = match name_and_tag.split_once('@') {
        Some((name, tag)) => (name, Some(tag.to_string())),
        None => (name_and_tag, None),
    };
    if name.is_empty() {
        return Err(format!("dependency {token:?} names nothing"));
    }
    Ok(Dependency {
        conflict,
        name: name.to_string(),
        tag,
        constraint,
    })
}

/// The provides of a space-separated list.
pub fn parse_provides(text: &str) -> Vec<Provide> {
    text.split_whitespace()
        .map(|token| match token.split_once('=') {
            Some((name, version)) => Provide {
                name: name.to_string(),
                version: Some(version.to_string()),
            },
            None => Provide {
                name: token.to_string(),
                version: None,
            },
        })
        .collect()
}

impl Constraint {
    /// Whether `candidate` satisfies it.
    pub fn allows(&self, candidate: &str) -> bool {
        if self.fuzzy {
            return candidate == self.version
                || candidate
                    .strip_prefix(self.version.as_str())
                    .is_some_and(|rest| rest.starts_with(['.', '-', '_']));
        }
        self.accepts
            .contains(&version::compare(candidate, &self.version))
    }
}

impl Dependency {
    /// Whether a package named `name` at `version` providing `provides` satisfies the name and
    /// version this asks for (ignoring whether it is a conflict).
    pub fn matches(&self, name: &str, version: &str, provides: &[Provide]) -> bool {
        let allows = |version: Option<&str>| match (&self.constraint, version) {
            (None, _) => true,
            (Some(constraint), Some(version)) => constraint.allows(version),
            (Some(_), None) => false,
        };
        (name == self.name && allows(Some(version)))
            || provides
                .iter()
                .any(|provide| provide.name == self.name && allows(provide.version.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tags_operators_and_conflicts_are_read() {
        let parsed =
            parse_list("so:libc.musl-x86_64.so.1 busybox>=1.36 !foo curl@edge a~1.2 b<2").unwrap();
        assert_eq!(parsed[0].name, "so:libc.musl-x86_64.so.1");
        assert_eq!(parsed[1].constraint.as_ref().unwrap().version, "1.36");
        assert!(parsed[2].conflict);
        assert_eq!(parsed[3].tag.as_deref(), Some("edge"));
        let fuzzy = parsed[4].constraint.as_ref().unwrap();
        assert!(fuzzy.allows("1.2.3-r0") && fuzzy.allows("1.2") && !fuzzy.allows("1.20"));
        let below = parsed[5].constraint.as_ref().unwrap();
        assert!(below.allows("1.9-r3") && !below.allows("2") && !below.allows("2.0.1"));
        assert!(parse("a>=not-a-version").is_err());
        assert!(parse("!").is_err());
    }

    #[test]
    fn provides_satisfy_by_name_and_version() {
        let provides = parse_provides("so:libz.so.1=1.3.1 cmd:gzip");
        let dependency = parse("so:libz.so.1").unwrap();
        assert!(dependency.matches("zlib", "1.3.1-r2", &provides));
        assert!(
            parse("so:libz.so.1>=1.3")
                .unwrap()
                .matches("zlib", "1", &provides)
        );
        assert!(
            !parse("cmd:gzip>=1")
                .unwrap()
                .matches("zlib", "1", &provides)
        );
        assert!(parse("zlib<1.4").unwrap().matches("zlib", "1.3.1-r2", &[]));
        assert!(!parse("zlib<1.3").unwrap().matches("zlib", "1.3.1-r2", &[]));
    }
}
