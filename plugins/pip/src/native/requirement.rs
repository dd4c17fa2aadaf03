//! A distribution's requirements (`Requires-Dist` in its `METADATA`, PEP 508): a name, extras,
//! version specifiers (PEP 440: `==`, `!=`, `<`, `<=`, `>`, `>=`, `~=`, `===`, `.*` prefixes)
//! and an environment marker, evaluated for the image's interpreter as `pip check` does
//! (pre-releases count).

use crate::metadata::normalise;
use crate::version::{self, Version};
use std::cmp::Ordering;

/// One requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The distribution's name, normalised.
    pub name: String,
    /// `(operator, version)` pairs, all of which a version must meet.
    pub specifiers: Vec<(String, String)>,
    /// The environment marker, when there is one.
    pub marker: Option<String>,
    /// The requirement as written.
    pub text: String,
}

/// What markers are evaluated against: the target interpreter and platform.
pub struct MarkerEnvironment {
    /// `3.11`.
    pub python_version: String,
    /// `x86_64`, `aarch64`, ...
    pub machine: String,
}

/// The `Requires-Dist` headers of a `METADATA` text.
pub fn requires_dist(metadata: &str) -> Result<Vec<Requirement>, String> {
    metadata
        .lines()
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.strip_prefix("Requires-Dist:"))
        .map(|value| parse(value.trim()))
        .collect()
}

/// Reads one requirement.
pub fn parse(text: &str) -> Result<Requirement, String> {
    let (requirement, marker) = match text.split_once(';') {
        Some((requirement, marker)) => (requirement.trim(), Some(marker.trim().to_string())),
        None => (text.trim(), None),
    };
    let name_end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(requirement.len());
    let name = &requirement[..name_end];
    if name.is_empty() {
        return Err(format!("the requirement {text:?} names no distribution"));
    }
    let mut rest = requirement[name_end..].trim();
    if let Some(after) = rest.strip_prefix('[') {
        let close = after
            .find(']')
            .ok_or_else(|| format!("the requirement {text:?} does not close its extras"))?;
        rest = after[close + 1..].trim();
    }
    if rest.starts_with('@') {
        return Err(format!(
            "the requirement {text:?} names a URL, which native installation does not follow"
        ));
    }
    let rest = rest.trim_start_matches('(').trim_end_matches(')');
    let mut specifiers = Vec::new();
    for specifier in rest
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let operator_end = specifier
            .find(|c: char| !matches!(c, '=' | '!' | '<' | '>' | '~'))
            .unwrap_or(specifier.len());
        let (operator, version) = specifier.split_at(operator_end);
        if !matches!(
            operator,
            "==" | "!=" | "<" | "<=" | ">" | ">=" | "~=" | "==="
        ) {
            return Err(format!(
                "the requirement {text:?} has an unknown operator {operator:?}"
            ));
        }
        specifiers.push((operator.to_string(), version.trim().to_string()));
    }
    Ok(Requirement {
        name: normalise(name),
        specifiers,
        marker,
        text: text.to_string(),
    })
}

impl Requirement {
    /// Whether the requirement applies in `environment` (no extra is asked for).
    pub fn applies(&self, environment: &MarkerEnvironment) -> Result<bool, String> {
        match &self.marker {
            None => Ok(true),
            Some(marker) => Marker::new(marker, environment)
                .evaluate()
                .map_err(|error| format!("the marker of {:?}: {error}", self.text)),
        }
    }

    /// Whether `installed` meets every specifier.
    pub fn allows(&self, installed: &str) -> Result<bool, String> {
        let candidate = version::parse(installed)?;
        for (operator, wanted) in &self.specifiers {
            if !meets(&candidate, installed, operator, wanted)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Whether `candidate` meets `operator wanted`.
fn meets(candidate: &Version, text: &str, operator: &str, wanted: &str) -> Result<bool, String> {
    if operator == "===" {
        return Ok(text == wanted);
    }
    if let Some(prefix) = wanted.strip_suffix(".*") {
        let prefix = version::parse(prefix)?;
        let matches = candidate.epoch == prefix.epoch
            && candidate.release.len() >= prefix.release.len()
            && padded(&candidate.release, prefix.release.len()) == prefix.release;
        return match operator {
            "==" => Ok(matches),
            "!=" => Ok(!matches),
            _ => Err(format!(
                "{operator}{wanted}: a prefix is only for == and !="
            )),
        };
    }
    let wanted_version = version::parse(wanted)?;
    // Without a local part in the specifier, the candidate's is ignored.
    let mut comparable = candidate.clone();
    if wanted_version.local.is_empty() {
        comparable.local.clear();
    }
    let order = version::compare(&comparable, &wanted_version);
    Ok(match operator {
        "==" => order == Ordering::Equal,
        "!=" => order != Ordering::Equal,
        "<" => order == Ordering::Less,
        "<=" => order != Ordering::Greater,
        ">" => order == Ordering::Greater,
        ">=" => order != Ordering::Less,
        "~=" => {
            let length = wanted_version.release.len().saturating_sub(1).max(1);
            order != Ordering::Less
                && comparable.epoch == wanted_version.epoch
                && padded(&comparable.release, length) == padded(&wanted_version.release, length)
        }
        _ => unreachable!("operators are checked when read"),
    })
}

/// The first `length` release numbers, zeros added where there are fewer.
fn padded(release: &[u64], length: usize) -> Vec<u64> {
    (0..length)
        .map(|at| release.get(at).copied().unwrap_or(0))
        .collect()
}

/// A marker being evaluated: its tokens and where the evaluation is.
struct Marker<'a> {
    tokens: Vec<String>,
    at: usize,
    environment: &'a MarkerEnvironment,
}

impl<'a> Marker<'a> {
    fn new(text: &str, environment: &'a MarkerEnvironment) -> Marker<'a> {
        let mut tokens = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
            } else if c == '(' || c == ')' {
                tokens.push(c.to_string());
                chars.next();
            } else if c == '"' || c == '\'' {
                chars.next();
                let mut quoted = String::from("\"");
                for next in chars.by_ref() {
                    if next == c {
                        break;
                    }
                    quoted.push(next);
                }
                tokens.push(quoted);
            } else if "<>=!~".contains(c) {
                let mut operator = String::new();
                while let Some(&next) = chars.peek() {
                    if !"<>=!~".contains(next) {
                        break;
                    }
                    operator.push(next);
                    chars.next();
                }
                tokens.push(operator);
            } else {
                let mut word = String::new();
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || "()<>=!~\"'".contains(next) {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                tokens.push(word);
            }
        }
        Marker {
            tokens,
            at: 0,
            environment,
        }
    }

    fn evaluate(mut self) -> Result<bool, String> {
        let value = self.or()?;
        if self.at != self.tokens.len() {
            return Err(format!("unexpected {:?}", self.tokens[self.at]));
        }
        Ok(value)
    }

    fn next(&mut self) -> Option<String> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut value = self.and()?;
        while self.peek() == Some("or") {
            self.at += 1;
            value |= self.and()?;
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut value = self.expression()?;
        while self.peek() == Some("and") {
            self.at += 1;
            value &= self.expression()?;
        }
        Ok(value)
    }

    fn expression(&mut self) -> Result<bool, String> {
        if self.peek() == Some("(") {
            self.at += 1;
            let value = self.or()?;
            if self.next().as_deref() != Some(")") {
                return Err("a parenthesis is not closed".into());
            }
            return Ok(value);
        }
        let left = self.next().ok_or("it ends early")?;
        let mut operator = self.next().ok_or("it ends early")?;
        if operator == "not" {
            if self.next().as_deref() != Some("in") {
                return Err("`not` without `in`".into());
            }
            operator = "not in".into();
        }
        let right = self.next().ok_or("it ends early")?;
        let version_like = [&left, &right].iter().any(|side| {
            matches!(
                side.as_str(),
                "python_version" | "python_full_version" | "implementation_version"
            )
        });
        let (left, right) = (self.value(&left)?, self.value(&right)?);
        match operator.as_str() {
            "in" => Ok(right.contains(&left)),
            "not in" => Ok(!right.contains(&left)),
            _ if version_like => {
                let candidate = version::parse(&left)?;
                meets(&candidate, &left, &operator, &right)
            }
            "==" | "===" => Ok(left == right),
            "!=" => Ok(left != right),
            other => Err(format!("{other} compares versions, not {left:?}")),
        }
    }

    /// A quoted string's text or a variable's value.
    fn value(&self, token: &str) -> Result<String, String> {
        if let Some(text) = token.strip_prefix('"') {
            return Ok(text.to_string());
        }
        let environment = self.environment;
        Ok(match token {
            "python_version" => environment.python_version.clone(),
            "python_full_version" | "implementation_version" => {
                format!("{}.0", environment.python_version)
            }
            "os_name" => "posix".into(),
            "sys_platform" => "linux".into(),
            "platform_system" => "Linux".into(),
            "platform_machine" => environment.machine.clone(),
            "platform_python_implementation" => "CPython".into(),
            "implementation_name" => "cpython".into(),
            "platform_release" | "platform_version" | "extra" => String::new(),
            other => return Err(format!("unknown marker variable {other:?}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment() -> MarkerEnvironment {
        MarkerEnvironment {
            python_version: "3.11".into(),
            machine: "x86_64".into(),
        }
    }

    #[test]
    fn requirements_specifiers_and_prefixes() {
        let requirement = parse("urllib3 (<3,>=1.21.1)").unwrap();
        assert_eq!(requirement.name, "urllib3");
        assert!(requirement.allows("1.26.18").unwrap());
        assert!(!requirement.allows("3.0.0").unwrap());
        let compatible = parse("Charset_Normalizer~=2.0.0").unwrap();
        assert_eq!(compatible.name, "charset-normalizer");
        assert!(compatible.allows("2.0.12").unwrap() && !compatible.allows("2.1.0").unwrap());
        let prefix = parse("idna==2.*").unwrap();
        assert!(prefix.allows("2.10").unwrap() && !prefix.allows("3.4").unwrap());
        let excluded = parse("certifi!=2017.*,>=2017.4.17").unwrap();
        assert!(!excluded.allows("2017.7.27").unwrap() && excluded.allows("2024.2.2").unwrap());
        assert!(parse("pkg @ https://example.com/pkg.whl").is_err());
        assert!(parse("pkg=>1").is_err());
    }

    #[test]
    fn markers_are_evaluated_for_the_image_interpreter() {
        let applies = |text: &str| parse(text).unwrap().applies(&environment()).unwrap();
        assert!(applies("importlib-metadata; python_version < \"3.12\""));
        assert!(!applies("typing-extensions; python_version < '3.8'"));
        assert!(!applies("PySocks!=1.5.7,>=1.5.6; extra == \"socks\""));
        assert!(applies(
            "pywin32; sys_platform == \"win32\" or (platform_machine == 'x86_64' and os_name == \"posix\")"
        ));
        assert!(!applies("colorama; platform_system == \"Windows\""));
        assert!(applies("x; 'linux' in sys_platform"));
        assert!(
            parse("x; python_version <")
                .unwrap()
                .applies(&environment())
                .is_err()
        );
        let metadata = "Name: requests\nVersion: 2.31.0\nRequires-Dist: idna (<4,>=2.5)\n\
Requires-Dist: PySocks ; extra == 'socks'\n\nRequires-Dist: not-a-header\n";
        let requirements = requires_dist(metadata).unwrap();
        assert_eq!(requirements.len(), 2);
    }
}
