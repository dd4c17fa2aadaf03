//! Where an installed version falls in an OSV range, as the OSV schema defines ranges: events
//! sorted by version (`introduced: "0"` before every version), a version affected from the
//! last `introduced` at or below it until the next `fixed` (exclusive) or `last_affected`
//! (inclusive).

use crate::ecosystem::Rules;
use crate::model::Event;
use std::cmp::Ordering;

/// What a range says of the installed version.
#[derive(Debug, PartialEq, Eq)]
pub enum Placement {
    /// The version is affected; the fix is the range's next `fixed` version, if it has one.
    Affected {
        /// The first version no longer affected.
        fixed: Option<String>,
    },
    /// The version is outside the range's affected spans.
    Outside,
}

/// One event, read: its kind and version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Introduced,
    Fixed,
    LastAffected,
}

/// Places `installed` in a range's events, comparing by `rules`; an error names a version the
/// rules cannot read.
pub fn place(installed: &str, events: &[Event<'_>], rules: Rules) -> Result<Placement, String> {
    let mut read: Vec<(Kind, &str)> = Vec::with_capacity(events.len());
    for event in events {
        let kinds = [
            (Kind::Introduced, event.introduced.as_deref()),
            (Kind::Fixed, event.fixed.as_deref()),
            (Kind::LastAffected, event.last_affected.as_deref()),
        ];
        read.extend(
            kinds
                .into_iter()
                .filter_map(|(kind, version)| Some((kind, version?.trim()))),
        );
    }
    for (_, version) in &read {
        if *version != "0" {
            rules.check(version)?;
        }
    }
    let order = |a: &str, b: &str| -> Ordering {
        match (a == "0", b == "0") {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => rules.compare(a, b).unwrap_or(Ordering::Equal),
        }
    };
    rules.check(installed)?;
    read.sort_by(|(_, a), (_, b)| order(a, b));
    // The span that holds the installed version starts at the last `introduced` at or below it.
    let Some(start) = read.iter().rposition(|(kind, version)| {
        *kind == Kind::Introduced && order(version, installed).is_le()
    }) else {
        return Ok(Placement::Outside);
    };
    let end = read[start + 1..]
        .iter()
        .find(|(kind, _)| *kind != Kind::Introduced);
    Ok(match end {
        None => Placement::Affected { fixed: None },
        Some((Kind::Fixed, fixed)) if order(installed, fixed).is_lt() => Placement::Affected {
            fixed: Some((*fixed).to_string()),
        },
        Some((Kind::LastAffected, last)) if order(installed, last).is_le() => {
            Placement::Affected { fixed: None }
        }
        Some(_) => Placement::Outside,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::json::Text;
    use std::borrow::Cow;

    fn event(kind: &str, version: &'static str) -> Event<'static> {
        let text = Some(Text(Cow::Borrowed(version)));
        let mut event = Event::default();
        match kind {
            "introduced" => event.introduced = text,
            "fixed" => event.fixed = text,
            _ => event.last_affected = text,
        }
        event
    }

    fn fixed(version: &str) -> Placement {
        Placement::Affected {
            fixed: Some(version.to_string()),
        }
    }

    #[test]
    fn the_span_holding_the_version_gives_its_fix() {
        let events = [
            event("introduced", "0"),
            event("fixed", "1.2.5"),
            event("introduced", "2.0"),
            event("fixed", "2.0.3"),
        ];
        let place_py = |version| place(version, &events, Rules::Python).unwrap();
        assert_eq!(place_py("1.2.0"), fixed("1.2.5"));
        assert_eq!(place_py("2.0.1"), fixed("2.0.3"));
        assert_eq!(place_py("1.5"), Placement::Outside, "between the spans");
        assert_eq!(
            place_py("2.0.3"),
            Placement::Outside,
            "fixed is not affected"
        );
        assert_eq!(place_py("2.0"), fixed("2.0.3"), "introduced is affected");
    }

    #[test]
    fn events_are_ordered_by_the_ecosystems_rules_not_as_written() {
        // Listed out of order; dpkg puts `deb12u10` above `deb12u4`.
        let events = [
            event("fixed", "2.36-9+deb12u10"),
            event("introduced", "2.36-9+deb12u4"),
        ];
        assert_eq!(
            place("2.36-9+deb12u7", &events, Rules::Deb).unwrap(),
            fixed("2.36-9+deb12u10")
        );
        assert_eq!(
            place("2.36-9+deb12u3", &events, Rules::Deb).unwrap(),
            Placement::Outside
        );
    }

    #[test]
    fn open_and_last_affected_spans_have_no_fix() {
        let open = [event("introduced", "0")];
        assert_eq!(
            place("1.0", &open, Rules::Python).unwrap(),
            Placement::Affected { fixed: None }
        );
        let last = [event("introduced", "1.0"), event("last_affected", "1.4")];
        assert_eq!(
            place("1.4", &last, Rules::Python).unwrap(),
            Placement::Affected { fixed: None }
        );
        assert_eq!(
            place("1.5", &last, Rules::Python).unwrap(),
            Placement::Outside
        );
        assert_eq!(
            place("0.9", &last, Rules::Python).unwrap(),
            Placement::Outside
        );
    }

    #[test]
    fn unreadable_versions_are_errors() {
        let events = [event("introduced", "0"), event("fixed", "not a version")];
        assert!(place("1.0", &events, Rules::Deb).is_err());
        assert!(place("", &[event("introduced", "0")], Rules::Deb).is_err());
    }
}
