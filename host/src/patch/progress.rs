//! What `salve patch` tells the user as it goes: plain lines on stderr, or with
//! `--progress json` one JSON object per line on stdout (`{"event": …}`).

use serde_json::{Value, json};
use std::io::Write;

/// How progress is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Progress {
    /// One line per stage on stderr (terminals and CI alike).
    #[default]
    Plain,
    /// JSON events on stdout, for programs.
    Json,
}

impl Progress {
    /// A stage begins.
    pub fn stage(self, stage: &str, message: &str) {
        self.emit(
            json!({"event": "stage", "stage": stage, "message": message}),
            message,
        );
    }

    /// A warning.
    pub fn warn(self, message: &str) {
        self.emit(
            json!({"event": "warning", "message": message}),
            &format!("warning: {message}"),
        );
    }

    /// Any other event, with its plain-text form.
    pub fn event(self, event: Value, plain: &str) {
        self.emit(event, plain);
    }

    /// Writes one event.
    fn emit(self, event: Value, plain: &str) {
        match self {
            Progress::Plain => eprintln!("{plain}"),
            Progress::Json => {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{event}");
                let _ = stdout.flush();
            }
        }
    }
}
