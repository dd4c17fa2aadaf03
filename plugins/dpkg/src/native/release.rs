//! A repository's `Release` (the text an `InRelease` signs): what the suite is, until when it is
//! valid, and the SHA-256 and size of every index file it lists.

use super::control;
use std::collections::BTreeMap;

/// A parsed `Release`.
#[derive(Clone, Debug, Default)]
pub struct Release {
    /// `Origin` (`Debian`).
    pub origin: String,
    /// `Label`.
    pub label: String,
    /// `Suite` (`stable`, `stable-security`).
    pub suite: String,
    /// `Codename` (`bookworm`, `bookworm-security`).
    pub codename: String,
    /// `Architectures`.
    pub architectures: Vec<String>,
    /// True when `No-Support-for-Architecture-all: Packages`: `all` packages are in each
    /// architecture's index.
    pub all_in_each_architecture: bool,
    /// Index path (`main/binary-amd64/Packages.xz`) to (SHA-256, size).
    pub files: BTreeMap<String, (String, u64)>,
}

/// Parses a `Release` and checks it is still valid at `now` (seconds since the epoch).
pub fn parse(text: &str, now: u64, url: &str) -> Result<Release, String> {
    let stanza = control::parse(text)
        .map_err(|error| format!("{url}: {error}"))?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{url} is empty"))?;
    if let Some(until) = stanza.get("Valid-Until") {
        let until = parse_date(until).map_err(|error| format!("{url}: Valid-Until: {error}"))?;
        if until < now {
            return Err(format!(
                "{url} expired (Valid-Until: {}); the mirror is stale or replays an old release",
                stanza.get("Valid-Until").unwrap_or_default()
            ));
        }
    }
    let sha256 = stanza
        .get("SHA256")
        .ok_or_else(|| format!("{url} lists no SHA256 checksums"))?;
    let mut files = BTreeMap::new();
    for line in sha256.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [hash, size, path] = words[..] else {
            if words.is_empty() {
                continue;
            }
            return Err(format!(
                "{url}: SHA256 line {line:?} is not `hash size path`"
            ));
        };
        let size: u64 = size
            .parse()
            .map_err(|_| format!("{url}: SHA256 line {line:?} has a bad size"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{url}: SHA256 line {line:?} has a bad checksum"));
        }
        files.insert(path.to_string(), (hash.to_ascii_lowercase(), size));
    }
    let field = |name: &str| stanza.get(name).unwrap_or_default().to_string();
    Ok(Release {
        origin: field("Origin"),
        label: field("Label"),
        suite: field("Suite"),
        codename: field("Codename"),
        architectures: field("Architectures")
            .split_whitespace()
            .map(String::from)
            .collect(),
        all_in_each_architecture: stanza
            .get("No-Support-for-Architecture-all")
            .is_some_and(|value| value == "Packages"),
        files,
    })
}

/// Seconds since the epoch of an RFC 2822 date in UTC, as Release files write them
/// (`Sat, 29 Nov 2025 08:12:34 UTC`).
fn parse_date(text: &str) -> Result<u64, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let words = match words.first() {
        Some(first) if first.ends_with(',') => &words[1..],
        _ => &words[..],
    };
    let [day, month, year, time, zone] = words else {
        return Err(format!("{text:?} is not a date"));
    };
    if !matches!(*zone, "UTC" | "GMT" | "+0000" | "Z") {
        return Err(format!("{text:?} is not in UTC"));
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS
        .iter()
        .position(|name| name == month)
        .ok_or_else(|| format!("{text:?} has an unknown month"))? as u64
        + 1;
    let number = |value: &str| -> Result<u64, String> {
        value
            .parse::<u64>()
            .map_err(|_| format!("{text:?} is not a date"))
    };
    let (day, year) = (number(day)?, number(year)?);
    let clock: Vec<u64> = time.split(':').map(number).collect::<Result<_, _>>()?;
    let [hours, minutes, seconds] = clock[..] else {
        return Err(format!("{text:?} has a bad time"));
    };
    Ok(days_from_civil(year, month, day) * 86_400 + hours * 3_600 + minutes * 60 + seconds)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (from 1970 on).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &str = "Origin: Debian\nLabel: Debian-Security\nSuite: stable-security\n\
Codename: bookworm-security\nDate: Sat, 29 Nov 2025 08:12:34 UTC\n\
Valid-Until: Sat, 06 Dec 2025 08:12:34 UTC\nArchitectures: amd64 arm64\n\
No-Support-for-Architecture-all: Packages\nSHA256:\n \
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 1234 main/binary-amd64/Packages.xz\n";

    #[test]
    fn dates_are_seconds_since_the_epoch() {
        assert_eq!(parse_date("Thu, 01 Jan 1970 00:00:00 UTC"), Ok(0));
        assert_eq!(
            parse_date("Sat, 29 Nov 2025 08:12:34 UTC"),
            Ok(1_764_403_954)
        );
        assert_eq!(parse_date("29 Feb 2024 00:00:00 GMT"), Ok(1_709_164_800));
        assert!(parse_date("Sat, 29 Nov 2025 08:12:34 +0100").is_err());
    }

    #[test]
    fn a_valid_release_lists_its_files() {
        let release = parse(RELEASE, 1_764_403_954, "u").unwrap();
        assert_eq!(release.codename, "bookworm-security");
        assert!(release.all_in_each_architecture);
        assert_eq!(release.files["main/binary-amd64/Packages.xz"].1, 1234);
    }

    #[test]
    fn an_expired_release_is_refused() {
        let error = parse(RELEASE, 1_800_000_000, "http://x/InRelease").unwrap_err();
        assert!(error.contains("expired"), "{error}");
    }
}
