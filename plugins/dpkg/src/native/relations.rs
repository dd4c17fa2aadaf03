//! Package relationship fields (`Depends`, `Pre-Depends`, `Breaks`, `Conflicts`, `Provides`):
//! comma-separated clauses of `|`-separated alternatives, each a name with an optional
//! architecture qualifier and version relation. Architecture restrictions (`[amd64]`) and build
//! profiles (`<stage1>`) belong to source packages and are refused in binary ones.

use crate::version;
use std::cmp::Ordering;

/// A version relation: `<<`, `<=`, `=`, `>=`, `>>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// `<<`.
    Earlier,
    /// `<=` (and the obsolete `<`).
    EarlierOrEqual,
    /// `=`.
    Exactly,
    /// `>=` (and the obsolete `>`).
    LaterOrEqual,
    /// `>>`.
    Later,
}

impl Relation {
    /// Whether `order` (a version compared to the relation's version) satisfies the relation.
    pub fn accepts(self, order: Ordering) -> bool {
        match self {
            Relation::Earlier => order == Ordering::Less,
            Relation::EarlierOrEqual => order != Ordering::Greater,
            Relation::Exactly => order == Ordering::Equal,
            Relation::LaterOrEqual => order != Ordering::Less,
            Relation::Later => order == Ordering::Greater,
        }
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Earlier => "<<",
            Relation::EarlierOrEqual => "<=",
            Relation::Exactly => "=",
            Relation::LaterOrEqual => ">=",
            Relation::Later => ">>",
        }
    }
}

/// One alternative: a package name, and the version it must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// The package (or virtual package) name, without an architecture qualifier.
    pub name: String,
    /// The version relation, if any.
    pub version: Option<(Relation, String)>,
}

impl Dependency {
    /// Whether `version` satisfies this alternative's version relation (any version does when
    /// there is none). An unparsable version satisfies nothing.
    pub fn accepts(&self, candidate: &str) -> bool {
        match &self.version {
            None => true,
            Some((relation, wanted)) => version::compare_text(candidate, wanted)
                .map(|order| relation.accepts(order))
                .unwrap_or(false),
        }
    }
}

impl std::fmt::Display for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some((relation, version)) => {
                write!(f, "{} ({} {version})", self.name, relation.as_str())
            }
            None => f.write_str(&self.name),
        }
    }
}

/// Clauses, each a list of alternatives any one of which satisfies it.
pub type Clauses = Vec<Vec<Dependency>>;

/// Parses a relationship field.
pub fn parse(field: &str) -> Result<Clauses, String> {
    let mut clauses = Vec::new();
    for clause in field.split(',') {
        if clause.trim().is_empty() {
            continue;
        }
        let alternatives = clause
            .split('|')
            .map(|alternative| parse_alternative(alternative.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("{error} in {:?}", field.trim()))?;
        clauses.push(alternatives);
    }
    Ok(clauses)
}

/// Parses `name[:arch] [(op version)]`.
fn parse_alternative(text: &str) -> Result<Dependency, String> {
    let before_version = text.split('(').next().unwrap_or_default();
    if text.contains('[') || before_version.contains('<') {
        return Err(format!(
            "{text:?} has an architecture or profile restriction"
        ));
    }
    let (head, version) = match text.split_once('(') {
        Some((head, rest)) => {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("{text:?} has an unclosed version"))?
                .trim();
            let operator_end = inner
                .find(|c: char| !"<=>".contains(c))
                .ok_or_else(|| format!("{text:?} has no version"))?;
            let (operator, wanted) = inner.split_at(operator_end);
            let relation = match operator {
                "<<" => Relation::Earlier,
                "<=" | "<" => Relation::EarlierOrEqual,
                "=" => Relation::Exactly,
                ">=" | ">" => Relation::LaterOrEqual,
                ">>" => Relation::Later,
                other => return Err(format!("{other:?} is not a version relation")),
            };
            (head.trim(), Some((relation, wanted.trim().to_string())))
        }
        None => (text, None),
    };
    let name = head.split_once(':').map_or(head, |(name, _)| name).trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!("{text:?} is not a package name"));
    }
    Ok(Dependency {
        name: name.to_string(),
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_alternatives_qualifiers_and_versions_are_read() {
        let clauses =
            parse("libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, python3:any (<< 3.12)")
                .unwrap();
        assert_eq!(clauses.len(), 3);
        assert_eq!(clauses[0][0].to_string(), "libc6 (>= 2.34)");
        assert_eq!(clauses[1][1].to_string(), "debconf-2.0");
        assert_eq!(clauses[2][0].name, "python3");
        assert!(clauses[0][0].accepts("2.36-9"));
        assert!(!clauses[0][0].accepts("2.31"));
        assert!(clauses[2][0].accepts("3.11.2-1"));
        assert!(!clauses[2][0].accepts("3.12.0"));
    }

    #[test]
    fn exact_and_strict_relations() {
        let exact = &parse("perl-base (= 5.36.0-7+deb12u2)").unwrap()[0][0];
        assert!(exact.accepts("5.36.0-7+deb12u2"));
        assert!(!exact.accepts("5.36.0-7+deb12u3"));
        let earlier = &parse("a (<< 2)").unwrap()[0][0];
        assert!(earlier.accepts("1.9") && !earlier.accepts("2"));
    }

    #[test]
    fn source_only_syntax_is_refused() {
        assert!(parse("foo [amd64]").is_err());
        assert!(parse("foo (>= 1").is_err());
        assert!(parse("foo (~ 1)").is_err());
    }
}
