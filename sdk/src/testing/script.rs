//! Runs one of a plugin's constant shell scripts as a plan step runs it (`sh -c SCRIPT NAME
//! ARGS...`), with stand-in programs first on `PATH`, so that the script's own logic (what it
//! prints, when it fails) is checked without an image.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// How long a script may run before it counts as hung: `timeout` then ends it with code 124.
const HANG_SECONDS: &str = "20";

/// A stand-in for a program the script runs: its name and the shell commands it runs.
pub struct StandIn<'a> {
    /// The program's name, as the script calls it.
    pub name: &'a str,
    /// Its body, a POSIX shell script.
    pub body: String,
}

impl<'a> StandIn<'a> {
    /// A program that prints `output` (exactly, with a newline) and exits with `status`.
    pub fn printing(name: &'a str, output: &str, status: i32) -> StandIn<'a> {
        StandIn {
            name,
            body: format!("cat <<'SALVE_OUTPUT_END'\n{output}\nSALVE_OUTPUT_END\nexit {status}\n"),
        }
    }
}

/// What a script run did: its exit code (124 when it did not end in time) and everything it
/// printed, standard output then standard error.
pub struct ScriptRun {
    /// The exit code.
    pub code: i32,
    /// What it printed.
    pub printed: String,
}

/// Runs `script` as `sh -c SCRIPT NAME ARGS...` with `stand_ins` first on `PATH`. Output goes to
/// files, not pipes, so a process the script leaves behind does not keep the run from ending.
pub fn run_script(script: &str, name: &str, args: &[&str], stand_ins: &[StandIn]) -> ScriptRun {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let folder: PathBuf = std::env::temp_dir().join(format!(
        "salve-script-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let bin = folder.join("bin");
    std::fs::create_dir_all(&bin).expect("a temporary folder");
    for stand_in in stand_ins {
        let program = bin.join(stand_in.name);
        std::fs::write(&program, format!("#!/bin/sh\n{}", stand_in.body)).expect("a stand-in");
        let made = Command::new("chmod")
            .arg("+x")
            .arg(&program)
            .status()
            .expect("running chmod");
        assert!(made.success(), "chmod +x {}", program.display());
    }
    let (stdout, stderr) = (folder.join("stdout"), folder.join("stderr"));
    let status = Command::new("timeout")
        .args([HANG_SECONDS, "sh", "-c", script, name])
        .args(args)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).expect("an output file"))
        .stderr(std::fs::File::create(&stderr).expect("an output file"))
        .status()
        .expect("running timeout and sh");
    let printed = std::fs::read_to_string(&stdout).unwrap_or_default()
        + &std::fs::read_to_string(&stderr).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&folder);
    ScriptRun {
        code: status.code().unwrap_or(-1),
        printed,
    }
}
