//! Choosing tags from a repository's list the way copa's strategies do: by pattern (highest
//! versions first, capped) or the single latest version.

use super::config::TagRule;
use std::cmp::Ordering;

/// A tag read as a version: `[v]N(.N)*[-suffix]`. A tag with a suffix (`3.19-slim`,
/// `1.2.3-rc1`) orders below the same numbers without one, as semantic versioning orders
/// pre-releases.
#[derive(Debug, PartialEq, Eq)]
struct TagVersion<'a> {
    /// The numeric parts.
    numbers: Vec<u64>,
    /// What follows the first `-`, if anything.
    suffix: Option<&'a str>,
}

impl<'a> TagVersion<'a> {
    /// Reads a tag as a version; `None` when it is not one.
    fn parse(tag: &'a str) -> Option<TagVersion<'a>> {
        let bare = tag.strip_prefix('v').unwrap_or(tag);
        let (numbers, suffix) = match bare.split_once('-') {
            Some((numbers, suffix)) => (numbers, Some(suffix)),
            None => (bare, None),
        };
        let numbers = numbers
            .split('.')
            .map(|part| {
                (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| part.parse::<u64>().ok())
                    .flatten()
            })
            .collect::<Option<Vec<u64>>>()?;
        Some(TagVersion { numbers, suffix })
    }
}

impl Ord for TagVersion<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        let width = self.numbers.len().max(other.numbers.len());
        let number = |numbers: &[u64], index: usize| numbers.get(index).copied().unwrap_or(0);
        (0..width)
            .map(|index| number(&self.numbers, index).cmp(&number(&other.numbers, index)))
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
            .then_with(|| match (self.suffix, other.suffix) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
            // `1.2` and `1.2.0` are equal as versions; the longer one counts as higher so the
            // order is total and stable.
            .then_with(|| self.numbers.len().cmp(&other.numbers.len()))
    }
}

impl PartialOrd for TagVersion<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Why no tag was chosen.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectError {
    /// A pattern matched none of the repository's tags.
    #[error("no tag matches the pattern {pattern:?} (the repository has {available} tag(s))")]
    NoMatch {
        /// The pattern.
        pattern: String,
        /// How many tags there were.
        available: usize,
    },
    /// No tag reads as a version, so none is the latest.
    #[error(
        "none of the repository's {available} tag(s) reads as a version (like 1.25.3 or v2.1), \
         so none is the latest; use strategy list or pattern"
    )]
    NoVersion {
        /// How many tags there were.
        available: usize,
    },
}

/// Orders tags highest version first; tags that are not versions follow, in reverse lexical
/// order (copa's fallback for names it cannot read as versions).
fn highest_first(tags: &mut [&str]) {
    tags.sort_by(|a, b| match (TagVersion::parse(a), TagVersion::parse(b)) {
        (Some(a), Some(b)) => b.cmp(&a),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => b.cmp(a),
    });
}

/// The tags a pattern or latest rule chooses from `available` (a repository's tags); a list
/// rule's tags as they are.
pub fn select(rule: &TagRule, available: &[String]) -> Result<Vec<String>, SelectError> {
    match rule {
        TagRule::List(tags) => Ok(tags.clone()),
        TagRule::Pattern {
            pattern,
            max,
            exclude,
        } => {
            let mut chosen: Vec<&str> = available
                .iter()
                .map(String::as_str)
                .filter(|tag| pattern.is_match(tag) && !exclude.contains(*tag))
                .collect();
            if chosen.is_empty() {
                return Err(SelectError::NoMatch {
                    pattern: pattern.as_str().to_string(),
                    available: available.len(),
                });
            }
            highest_first(&mut chosen);
            chosen.truncate(max.unwrap_or(usize::MAX));
            Ok(chosen.into_iter().map(str::to_string).collect())
        }
        TagRule::Latest { exclude } => available
            .iter()
            .filter(|tag| !exclude.contains(*tag))
            .filter_map(|tag| TagVersion::parse(tag).map(|version| (version, tag)))
            .max_by(|(a, _), (b, _)| a.cmp(b))
            .map(|(_, tag)| vec![tag.clone()])
            .ok_or(SelectError::NoVersion {
                available: available.len(),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|tag| tag.to_string()).collect()
    }

    #[test]
    fn versions_order_numerically_and_suffixes_below() {
        let mut list = vec![
            "1.9", "1.10", "v1.10.1", "1.10-rc1", "latest", "1.2.0", "1.2",
        ];
        highest_first(&mut list);
        assert_eq!(
            list,
            [
                "v1.10.1", "1.10", "1.10-rc1", "1.9", "1.2.0", "1.2", "latest"
            ]
        );
    }

    #[test]
    fn a_pattern_keeps_the_highest_matches_up_to_the_cap() {
        let rule = TagRule::Pattern {
            pattern: regex::Regex::new(r"^1\.2[0-9]\.[0-9]+$").unwrap(),
            max: Some(2),
            exclude: BTreeSet::from(["1.27.0".to_string()]),
        };
        let available = tags(&[
            "1.25.3",
            "1.27.0",
            "1.26.1",
            "1.26.1-alpine",
            "1.19.0",
            "1.25.10",
        ]);
        assert_eq!(select(&rule, &available).unwrap(), ["1.26.1", "1.25.10"]);
        let none = select(&rule, &tags(&["2.0"])).unwrap_err();
        assert!(none.to_string().contains("no tag matches"), "{none}");
    }

    #[test]
    fn latest_is_the_highest_version_and_never_a_name() {
        let rule = TagRule::Latest {
            exclude: BTreeSet::from(["3.20".to_string()]),
        };
        let available = tags(&["latest", "edge", "3.18", "3.19", "3.20", "3.19-slim"]);
        assert_eq!(select(&rule, &available).unwrap(), ["3.19"]);
        assert_eq!(
            select(&rule, &tags(&["latest", "edge"])).unwrap_err(),
            SelectError::NoVersion { available: 2 }
        );
    }
}
