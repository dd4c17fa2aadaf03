//! Choosing one fixed version when a scanner lists several (Trivy's `"1.2.3, 1.3.1"`, Grype's
//! `fix.versions`).
//!
//! Scanners list one fixed version per release branch. salve asks for the fix on the installed
//! version's own branch, so a patch never jumps a major or minor version when a fix exists on
//! the branch in use:
//! 1. candidates newer than the installed version that share its longest leading run of
//!    numeric components win, the lowest of them first;
//! 2. otherwise the lowest candidate newer than the installed version;
//! 3. otherwise (no candidate compares newer than the installed version) the highest.
//!
//! The comparison is a simple one on dot-separated numeric components, enough to order the
//! branch fixes that scanners list; the host compares the result exactly with the ecosystem's
//! own rules.

use std::cmp::Ordering;

/// Picks the fixed version to ask for among a scanner's candidates, by the rules above.
pub fn choose<'a>(installed: &str, candidates: &[&'a str]) -> Option<&'a str> {
    match candidates {
        [] => None,
        [only] => Some(only),
        _ => {
            let newer: Vec<&str> = candidates
                .iter()
                .copied()
                .filter(|candidate| compare(candidate, installed) == Ordering::Greater)
                .collect();
            let best_shared = newer
                .iter()
                .map(|candidate| shared_prefix(candidate, installed))
                .max()
                .unwrap_or(0);
            newer
                .iter()
                .copied()
                .filter(|candidate| shared_prefix(candidate, installed) == best_shared)
                .min_by(|a, b| compare(a, b))
                .or_else(|| candidates.iter().copied().max_by(|a, b| compare(a, b)))
        }
    }
}

/// The numeric components at the start of a version: `"1.2.3-r1"` gives `[1, 2, 3]`.
fn numeric_components(version: &str) -> Vec<u64> {
    let version = version.split_once(':').map_or(version, |(_, rest)| rest);
    version
        .split(['.', '-', '+', '~', '_'])
        .map_while(|part| part.parse().ok())
        .collect()
}

/// How many leading numeric components two versions share.
fn shared_prefix(a: &str, b: &str) -> usize {
    numeric_components(a)
        .iter()
        .zip(numeric_components(b).iter())
        .take_while(|(x, y)| x == y)
        .count()
}

/// Orders versions by their numeric components, then as text.
fn compare(a: &str, b: &str) -> Ordering {
    numeric_components(a)
        .cmp(&numeric_components(b))
        .then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_the_fix_on_the_installed_branch() {
        assert_eq!(choose("1.2.0", &["1.2.3", "1.3.1"]), Some("1.2.3"));
        assert_eq!(choose("1.3.0", &["1.2.3", "1.3.1"]), Some("1.3.1"));
        assert_eq!(choose("6.0.1", &["6.0.5", "7.0.2", "8.0.1"]), Some("6.0.5"));
    }

    #[test]
    fn falls_back_on_the_lowest_newer_then_the_highest() {
        assert_eq!(choose("2.0.0", &["3.1.0", "4.0.0"]), Some("3.1.0"));
        assert_eq!(choose("9.0", &["1.0", "2.0"]), Some("2.0"));
        assert_eq!(choose("", &["1.0", "2.0"]), Some("1.0"));
        assert_eq!(choose("1.0", &[]), None);
    }
}
