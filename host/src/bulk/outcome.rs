//! What one job's `salve patch` reported: its JSON progress events read into a result line.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;

/// How a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The patched image was written.
    Patched,
    /// The image had nothing to update; nothing was written.
    UpToDate,
    /// Nothing could be patched and `--ignore-errors` let the run end without writing.
    NotPatched,
    /// The patch failed (or its tags could not be listed).
    Failed,
    /// The run was stopped (Ctrl-C, a signal) before the job ended or began.
    Cancelled,
}

impl Status {
    /// The word the table shows.
    pub fn word(self) -> &'static str {
        match self {
            Status::Patched => "patched",
            Status::UpToDate => "up-to-date",
            Status::NotPatched => "not-patched",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// True when the job did what was asked of it.
    pub fn succeeded(self) -> bool {
        matches!(
            self,
            Status::Patched | Status::UpToDate | Status::NotPatched
        )
    }
}

/// One job's result.
#[derive(Clone, Debug, Serialize)]
pub struct JobResult {
    /// The configuration entry's name.
    pub name: String,
    /// The image patched (`repository:tag`; the repository alone when its tags were unknown).
    pub image: String,
    /// Where the patched image was to be written.
    pub target: Option<String>,
    /// How it ended.
    pub status: Status,
    /// The digest written.
    pub digest: Option<String>,
    /// Packages changed, over every platform.
    pub packages: usize,
    /// Vulnerabilities fixed (distinct ids).
    pub vulnerabilities: usize,
    /// Findings left out under `--ignore-errors`.
    pub shortfalls: usize,
    /// Wall time, in seconds.
    pub seconds: f64,
    /// The BuildKit daemon it ran on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daemon: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The run's warnings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl JobResult {
    /// A failed result with nothing filled in but the names (what a job starts from, and what
    /// an entry without jobs ends as).
    pub fn failed(name: &str, image: &str, target: Option<String>, error: Option<String>) -> Self {
        JobResult {
            name: name.to_string(),
            image: image.to_string(),
            target,
            status: Status::Failed,
            digest: None,
            packages: 0,
            vulnerabilities: 0,
            shortfalls: 0,
            seconds: 0.0,
            daemon: None,
            error,
            warnings: Vec::new(),
        }
    }
}

/// What a job's events said, read line by line as they arrive.
#[derive(Debug, Default)]
pub struct Events {
    /// Packages changed, by platform and name.
    packages: BTreeSet<(String, String)>,
    /// The digest of the `done` event.
    digest: Option<String>,
    /// Vulnerability ids the `done` event lists as fixed.
    vulnerabilities: BTreeSet<String>,
    /// Findings left out.
    shortfalls: usize,
    /// The image was up to date.
    up_to_date: bool,
    /// Nothing could be patched.
    not_patched: bool,
    /// Warnings.
    warnings: Vec<String>,
}

impl Events {
    /// Reads one line of the job's stdout; lines that are not events are ignored.
    pub fn read_line(&mut self, line: &str) {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            return;
        };
        let text = |field: &str| event[field].as_str().map(str::to_string);
        match event["event"].as_str() {
            Some("package") => {
                if let (Some(platform), Some(package)) = (text("platform"), text("package")) {
                    self.packages.insert((platform, package));
                }
            }
            Some("done") => {
                self.digest = text("digest");
                self.shortfalls = event["shortfalls"].as_array().map_or(0, Vec::len);
                self.vulnerabilities = event["vulnerabilities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|id| id.as_str().map(str::to_string))
                    .collect();
            }
            Some("up-to-date") => self.up_to_date = true,
            Some("not-patched") => {
                self.not_patched = true;
                self.shortfalls = event["shortfalls"].as_array().map_or(0, Vec::len);
            }
            Some("warning") => self.warnings.extend(text("message")),
            _ => {}
        }
    }

    /// The status these events give a run that ended with success.
    pub fn status(&self) -> Status {
        if self.digest.is_some() {
            Status::Patched
        } else if self.not_patched {
            Status::NotPatched
        } else {
            Status::UpToDate
        }
    }

    /// Fills a result's counts, digest and warnings from these events.
    pub fn fill(self, result: &mut JobResult) {
        result.packages = self.packages.len();
        result.vulnerabilities = self.vulnerabilities.len();
        result.shortfalls = self.shortfalls;
        result.digest = self.digest;
        result.warnings = self.warnings;
    }
}

/// The error a failed `salve patch` printed: from its last `error: ` line to the end of its
/// stderr, or what ended it when it printed none.
pub fn error_of(stderr: &str, ended: &str) -> String {
    let start = if stderr.starts_with("error: ") {
        Some(0)
    } else {
        stderr.rfind("\nerror: ").map(|at| at + 1)
    };
    match start {
        Some(start) => stderr[start + "error: ".len()..].trim_end().to_string(),
        None => {
            let tail = stderr.trim_end();
            if tail.is_empty() {
                ended.to_string()
            } else {
                format!("{ended}: {}", tail.lines().last().unwrap_or(tail))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patched_run_is_read_from_its_events() {
        let mut events = Events::default();
        for line in [
            r#"{"event":"stage","stage":"fetch","message":"x"}"#,
            r#"{"event":"package","platform":"linux/amd64","package":"libc6","from":"1","to":"2"}"#,
            r#"{"event":"package","platform":"linux/amd64","package":"libc6","from":"1","to":"2"}"#,
            r#"{"event":"package","platform":"linux/arm64","package":"libc6","from":"1","to":"2"}"#,
            "not json",
            r#"{"event":"warning","message":"careful"}"#,
            r#"{"event":"done","image":"x","digest":"sha256:ab","shortfalls":[],"vulnerabilities":["CVE-1","CVE-2","CVE-1"]}"#,
        ] {
            events.read_line(line);
        }
        assert_eq!(events.status(), Status::Patched);
        let mut result = JobResult::failed("a", "r/a:1", None, None);
        events.fill(&mut result);
        assert_eq!(result.packages, 2, "one per platform");
        assert_eq!(result.vulnerabilities, 2, "distinct ids");
        assert_eq!(result.digest.as_deref(), Some("sha256:ab"));
        assert_eq!(result.warnings, ["careful"]);
    }

    #[test]
    fn runs_that_write_nothing_are_told_apart() {
        let mut events = Events::default();
        events.read_line(r#"{"event":"up-to-date"}"#);
        assert_eq!(events.status(), Status::UpToDate);
        let mut events = Events::default();
        events.read_line(r#"{"event":"not-patched","shortfalls":[{},{}]}"#);
        assert_eq!(events.status(), Status::NotPatched);
    }

    #[test]
    fn the_error_is_the_last_error_line_onwards() {
        assert_eq!(
            error_of("warning: x\nerror: fetching a:\n  refused\n", "exit code 1"),
            "fetching a:\n  refused"
        );
        assert_eq!(error_of("error: boom\n", "exit code 1"), "boom");
        assert_eq!(error_of("", "killed by signal 9"), "killed by signal 9");
        assert_eq!(
            error_of("thread panicked\n", "exit code 101"),
            "exit code 101: thread panicked"
        );
    }
}
