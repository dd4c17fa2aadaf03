//! The limits every plugin call runs under, their defaults, and how a broken one is named.

use crate::quantity::{format_bytes, format_duration};
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
