//! Stopping a run: `--timeout` and Ctrl-C end it on either engine, and nothing is written or
//! left behind (no output, no working folders, no mounts, no build still running).

use super::*;
use std::io::{BufRead, BufReader};

#[test]
fn a_timeout_and_ctrl_c_stop_the_run_and_leave_nothing_behind() {
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();
    let work = tempfile::tempdir().unwrap();
    let image = format!("oci:{}:minbase", debian_fixture("minbase"));
    let out = work.path().join("out");

    let (ok, _, stderr) = salve(
        &Engine::Local,
        &[
            "patch",
            "-i",
            &image,
            "--oci-dir",
            out.to_str().unwrap(),
            "--timeout",
            "2s",
        ],
        cache,
    );
    assert!(!ok);
    assert!(
        stderr.contains("--timeout") && stderr.contains("nothing was written"),
        "{stderr}"
    );
    assert!(!out.exists());
    assert_eq!(leftovers(cache), Vec::<String>::new());
    assert!(no_mounts_under(cache));

    let mut running = Interruptible::start(
        Command::new(env!("CARGO_BIN_EXE_salve"))
            .args([
                "patch",
                "-i",
                &image,
                "--oci-dir",
                out.to_str().unwrap(),
                "--cache-dir",
            ])
            .arg(cache),
    );
    running.wait_for("running");
    running.interrupt();
    assert!(!out.exists());
    assert_eq!(leftovers(cache), Vec::<String>::new());
    assert!(no_mounts_under(cache));
}

#[test]
fn a_timeout_and_ctrl_c_cancel_the_build_on_buildkit_and_write_nothing() {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let base = push_minbase(&registry, "cancel", &[], cache.path());
    let engine = Engine::buildkit();
    let out = work.path().join("out");
    let args = engine.args(&["patch", "-i", &base, "--oci-dir", out.to_str().unwrap()]);

    // A time limit shorter than the build: it is cancelled, nothing is written. (On a slow
    // machine the limit may pass before the build starts; the message says so either way.)
    let mut limited = strs(&args);
    limited.extend(["--timeout", "8s"]);
    let (ok, _, stderr) = salve(&Engine::Local, &limited, cache.path());
    assert!(!ok);
    assert!(
        stderr.contains("--timeout") && stderr.contains("nothing was written"),
        "{stderr}"
    );
    assert!(!out.exists());

    let mut running = Interruptible::start(
        Command::new(env!("CARGO_BIN_EXE_salve"))
            .args(&args)
            .arg("--cache-dir")
            .arg(cache.path())
            .args(["--progress", "plain"]),
    );
    let Engine::Buildkit(daemon) = &engine else {
        unreachable!("a BuildKit engine")
    };
    // Processes under dockerd that a build runs (not containerd and its shims).
    let build_processes = || -> Vec<String> {
        daemon
            .docker
            .descendants()
            .into_iter()
            .filter(|name| !name.starts_with("containerd") && name != "docker-proxy")
            .collect()
    };
    running.wait_for("on BuildKit");
    // Ctrl-C while a step runs on the daemon.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while build_processes().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no step started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    running.interrupt();
    assert!(!out.exists(), "nothing is written");
    // The daemon stops the build: none of the steps' processes stay.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let left = build_processes();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running under dockerd: {left:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A salve run whose standard error is read line by line, to be interrupted at a chosen point.
struct Interruptible {
    /// The run.
    child: std::process::Child,
    /// Its standard error, read so far up to the point waited for.
    lines: std::io::Lines<BufReader<std::process::ChildStderr>>,
}

impl Interruptible {
    /// Starts `command` with its standard error piped.
    fn start(command: &mut Command) -> Interruptible {
        let mut child = command
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        Interruptible { child, lines }
    }

    /// Reads standard error until a line contains `marker`; fails with what it read if none does.
    fn wait_for(&mut self, marker: &str) {
        let mut seen = Vec::new();
        for line in self.lines.by_ref() {
            let line = line.unwrap();
            let found = line.contains(marker);
            seen.push(line);
            if found {
                return;
            }
        }
        panic!("salve never printed {marker:?}: {seen:?}");
    }

    /// Presses Ctrl-C (SIGINT): the run must fail and say it was interrupted.
    fn interrupt(mut self) {
        run("kill", &["-INT", &self.child.id().to_string()]);
        let rest: Vec<String> = self.lines.map(Result::unwrap).collect();
        let status = self.child.wait().unwrap();
        assert!(!status.success());
        assert!(
            rest.iter().any(|line| line.contains("interrupted")),
            "{rest:?}"
        );
    }
}
