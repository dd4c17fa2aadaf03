//! What `salve patch` tells the user as it goes: on a terminal, one line per stage that ends
//! with the stage's duration when the next begins; elsewhere (CI, pipes) plain lines on stderr;
//! with `--progress json`, one JSON object per line on stdout (`{"event": …}`).

use crate::display_safe::one_line;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

/// How progress is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Progress {
    /// One line per stage on stderr.
    #[default]
    Plain,
    /// Stage lines on a terminal, each finished with its duration.
    Terminal,
    /// JSON events on stdout, for programs.
    Json,
}

/// The terminal stage still open: its message and when it began.
static OPEN_STAGE: Mutex<Option<(String, Instant)>> = Mutex::new(None);

impl Progress {
    /// `Terminal` when stderr is one, else `Plain`.
    pub fn auto() -> Progress {
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            Progress::Terminal
        } else {
            Progress::Plain
        }
    }

    /// A stage begins.
    pub fn stage(self, stage: &str, message: &str) {
        if self == Progress::Terminal {
            close_stage("✓");
            let message = one_line(message);
            eprint!("  … {message}");
            let _ = std::io::stderr().flush();
            *OPEN_STAGE.lock().expect("not poisoned") = Some((message.to_string(), Instant::now()));
            return;
        }
        self.emit(
            json!({"event": "stage", "stage": stage, "message": message}),
            message,
        );
    }

    /// The run failed: ends an open terminal stage line as failed, before the error is printed.
    pub fn failed(self) {
        if self == Progress::Terminal {
            close_stage("✗");
        }
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

    /// Writes one event: in JSON exactly, as text with its control characters escaped (a
    /// warning may quote a plugin, and one event is one line).
    fn emit(self, event: Value, plain: &str) {
        let plain = one_line(plain);
        match self {
            Progress::Plain => eprintln!("{plain}"),
            Progress::Terminal => {
                close_stage("✓");
                eprintln!("{plain}");
            }
            Progress::Json => {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{event}");
                let _ = stdout.flush();
            }
        }
    }
}

/// Rewrites the open terminal stage's line as ended, with a mark and its duration.
fn close_stage(mark: &str) {
    if let Some((message, started)) = OPEN_STAGE.lock().expect("not poisoned").take() {
        eprintln!(
            "\r\x1b[2K  {mark} {message} ({:.1}s)",
            started.elapsed().as_secs_f64()
        );
    }
}
