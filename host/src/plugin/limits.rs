//! The limits every plugin call runs under, their defaults, and how they are written.

use std::fmt;
use std::time::Duration;

/// Resource limits applied to each call into a plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time one call may take, instantiation included.
    pub deadline: Duration,
    /// WebAssembly fuel one call may burn (about one unit per instruction executed).
    pub fuel: u64,
    /// Memory one plugin instance may hold: all its linear memories and tables (counted in bytes
    /// of their entries) together.
    pub memory_bytes: u64,
    /// Largest input the host passes to one call (a report, the files of an image).
    pub input_bytes: u64,
    /// Largest output the host accepts from one call, counted while it is copied out.
    pub output_bytes: u64,
    /// Wall-clock time compiling one plugin to native code may take.
    pub compile_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(30),
            fuel: 20_000_000_000,
            memory_bytes: 1 << 30,
            input_bytes: 256 << 20,
            output_bytes: 128 << 20,
            compile_deadline: Duration::from_secs(60),
        }
    }
}

/// The wasm stack each call gets; deeper recursion traps. Fixed for the whole engine.
pub const MAX_WASM_STACK: usize = 1 << 20;

/// Which limit a call broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// The wall-clock deadline passed.
    Deadline(Duration),
    /// The fuel budget ran out.
    Fuel(u64),
    /// Linear memory would have grown past the cap.
    Memory(u64),
    /// The input was larger than the cap.
    Input {
        /// The input's size.
        actual: u64,
        /// The cap.
        limit: u64,
    },
    /// The output was larger than the cap.
    Output(u64),
    /// The wasm stack overflowed.
    Stack(usize),
    /// Compiling the plugin took longer than its bound.
    Compile(Duration),
    /// The whole run's time (`--timeout`) ran out.
    Run,
}

impl LimitKind {
    /// The command-line flag (and environment variable) that raises this limit, if there is one.
    pub fn setting(&self) -> Option<&'static str> {
        match self {
            LimitKind::Deadline(_) => Some("--plugin-timeout / SALVE_PLUGIN_TIMEOUT"),
            LimitKind::Fuel(_) => Some("--plugin-fuel / SALVE_PLUGIN_FUEL"),
            LimitKind::Memory(_) => Some("--plugin-memory / SALVE_PLUGIN_MEMORY"),
            LimitKind::Input { .. } => Some("--plugin-max-input / SALVE_PLUGIN_MAX_INPUT"),
            LimitKind::Output(_) => Some("--plugin-max-output / SALVE_PLUGIN_MAX_OUTPUT"),
            LimitKind::Compile(_) => {
                Some("--plugin-compile-timeout / SALVE_PLUGIN_COMPILE_TIMEOUT")
            }
            LimitKind::Run => Some("--timeout"),
            LimitKind::Stack(_) => None,
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitKind::Deadline(limit) => {
                write!(f, "wall-clock deadline of {}", format_duration(*limit))
            }
            LimitKind::Fuel(limit) => write!(f, "fuel budget of {limit} units"),
            LimitKind::Memory(limit) => write!(f, "memory cap of {}", format_bytes(*limit)),
            LimitKind::Input { actual, limit } => write!(
                f,
                "input cap of {} (the input is {})",
                format_bytes(*limit),
                format_bytes(*actual)
            ),
            LimitKind::Output(limit) => write!(f, "output cap of {}", format_bytes(*limit)),
            LimitKind::Stack(limit) => {
                write!(f, "stack limit of {}", format_bytes(*limit as u64))
            }
            LimitKind::Compile(limit) => {
                write!(f, "compilation time bound of {}", format_duration(*limit))
            }
            LimitKind::Run => f.write_str("time allowed for the whole run"),
        }
    }
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
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{text:?} is not a size: write a number with a unit, like 512MiB"))?;
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
            return Err(format!(
                "unknown size unit {other:?} in {text:?} (use KiB, MiB, GiB)"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Reads a duration: a number with a unit `ms`, `s`, `m` or `h` (`s` when none is given).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: write a number with a unit, like 30s"))?;
    let millis = match unit.trim() {
        "ms" => Some(number),
        "" | "s" => number.checked_mul(1000),
        "m" => number.checked_mul(60_000),
        "h" => number.checked_mul(3_600_000),
        other => {
            return Err(format!(
                "unknown duration unit {other:?} in {text:?} (use ms, s, m or h)"
            ));
        }
    };
    let millis = millis.ok_or_else(|| format!("{text:?} is too long"))?;
    if millis == 0 {
        return Err(format!("{text:?}: a deadline must be longer than zero"));
    }
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_trip_through_their_text() {
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("64k"), Ok(64 << 10));
        assert_eq!(parse_bytes("100MB"), Ok(100_000_000));
        assert_eq!(parse_bytes("1_000"), Ok(1000));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("5 parsecs").unwrap_err().contains("unit"));
        assert!(
            parse_bytes("99999999999TiB")
                .unwrap_err()
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
