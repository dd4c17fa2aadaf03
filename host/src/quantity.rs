//! Sizes and durations as people write them (`512MiB`, `30s`) and as salve prints them.

use std::time::Duration;
use thiserror::Error;

/// Why a text is not a size or a duration.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum QuantityError {
    /// No number where one belongs.
    #[error("{text:?} is not a {kind}: write a number with a unit, like {example}")]
    NotANumber {
        /// The text.
        text: String,
        /// `size` or `duration`.
        kind: &'static str,
        /// A valid example.
        example: &'static str,
    },
    /// A unit salve does not know.
    #[error("unknown unit {unit:?} in {text:?} (use {known})")]
    UnknownUnit {
        /// The text.
        text: String,
        /// The unit it names.
        unit: String,
        /// The units salve knows.
        known: &'static str,
    },
    /// More than salve can count.
    #[error("{0:?} is too large")]
    TooLarge(String),
    /// A duration of zero, which no deadline can be.
    #[error("{0:?}: a deadline must be longer than zero")]
    Zero(String),
}

/// Writes a byte count the way the limit flags accept it: `64 MiB`, `1 GiB`, `512 B`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (unit, shift) in UNITS {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    for (unit, shift) in UNITS {
        if bytes >= 1 << shift {
            return format!("{:.1} {unit}", bytes as f64 / (1u64 << shift) as f64);
        }
    }
    format!("{bytes} B")
}

/// Writes a byte count for people to read: in the largest unit it reaches, with one decimal
/// (`177.4 MiB`, `4.9 MiB`, `512 B`).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    UNITS
        .iter()
        .find(|(_, shift)| bytes >= 1 << shift)
        .map(|(unit, shift)| format!("{:.1} {unit}", bytes as f64 / (1u64 << shift) as f64))
        .unwrap_or_else(|| format!("{bytes} B"))
}

/// Writes a duration the way the timeout flags accept it: `30s`, `1500ms`, `5m`.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(60_000) && millis > 0 {
        format!("{}m", millis / 60_000)
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// Reads a byte count: a number with an optional unit (`B`, `KB`, `KiB`, `MB`, `MiB`, `GB`, `GiB`,
/// `TB`, `TiB`; case-insensitive, `K`/`M`/`G` meaning the binary units).
pub fn parse_bytes(text: &str) -> Result<u64, QuantityError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .replace('_', "")
        .parse()
        .map_err(|_| QuantityError::NotANumber {
            text: text.to_string(),
            kind: "size",
            example: "512MiB",
        })?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(QuantityError::UnknownUnit {
                text: text.to_string(),
                unit: other.to_string(),
                known: "KiB, MiB, GiB",
            });
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| QuantityError::TooLarge(text.to_string()))
}

/// Reads a duration: a number with a unit `ms`, `s`, `m`, `h` or `d` (`s` when none is given).
pub fn parse_duration(text: &str) -> Result<Duration, QuantityError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| QuantityError::NotANumber {
        text: text.to_string(),
        kind: "duration",
        example: "30s",
    })?;
    let millis = match unit.trim() {
        "ms" => Some(number),
        "" | "s" => number.checked_mul(1000),
        "m" => number.checked_mul(60_000),
        "h" => number.checked_mul(3_600_000),
        "d" => number.checked_mul(86_400_000),
        other => {
            return Err(QuantityError::UnknownUnit {
                text: text.to_string(),
                unit: other.to_string(),
                known: "ms, s, m, h or d",
            });
        }
    };
    let millis = millis.ok_or_else(|| QuantityError::TooLarge(text.to_string()))?;
    if millis == 0 {
        return Err(QuantityError::Zero(text.to_string()));
    }
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_people_use_the_largest_unit() {
        assert_eq!(format_size(186_011_648), "177.4 MiB");
        assert_eq!(format_size(5 << 30), "5.0 GiB");
        assert_eq!(format_size(1023), "1023 B");
    }

    #[test]
    fn sizes_round_trip_through_their_text() {
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("64k"), Ok(64 << 10));
        assert_eq!(parse_bytes("100MB"), Ok(100_000_000));
        assert_eq!(parse_bytes("1_000"), Ok(1000));
        assert!(parse_bytes("lots").is_err());
        assert!(
            parse_bytes("5 parsecs")
                .unwrap_err()
                .to_string()
                .contains("unit")
        );
        assert!(
            parse_bytes("99999999999TiB")
                .unwrap_err()
                .to_string()
                .contains("too large")
        );
        assert_eq!(format_bytes(1 << 30), "1 GiB");
        assert_eq!(format_bytes(3 << 19), "1536 KiB");
        assert_eq!(format_bytes((3 << 19) + 1), "1.5 MiB");
        assert_eq!(format_bytes(100), "100 B");
    }

    #[test]
    fn durations_round_trip_through_their_text() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }
}
