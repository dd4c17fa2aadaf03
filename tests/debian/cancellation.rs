//! Stopping a run: `--timeout` and Ctrl-C end it on either engine, and nothing is written or
//! left behind (no output, no working folders, no mounts, no build still running).

use super::*;

#[test]
fn a_timeout_and_ctrl_c_stop_the_run_and_leave_nothing_behind() {
    use std::io::{BufRead, BufReader};
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

    let mut child = Command::new(env!("CARGO_BIN_EXE_salve"))
        .args([
            "patch",
            "-i",
            &image,
            "--oci-dir",
            out.to_str().unwrap(),
            "--cache-dir",
        ])
        .arg(cache)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("running") {
            break;
        }
    }
    assert!(seen.iter().any(|line| line.contains("running")), "{seen:?}");
    run("kill", &["-INT", &child.id().to_string()]);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        rest.iter().any(|line| line.contains("interrupted")),
        "{rest:?}"
    );
    assert!(!out.exists());
    assert_eq!(leftovers(cache), Vec::<String>::new());
    assert!(no_mounts_under(cache));
}

#[test]
fn a_timeout_and_ctrl_c_cancel_the_build_on_buildkit_and_write_nothing() {
    use std::io::{BufRead, BufReader};
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

    let mut child = Command::new(env!("CARGO_BIN_EXE_salve"))
        .args(&args)
        .arg("--cache-dir")
        .arg(cache.path())
        .args(["--progress", "plain"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
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
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("on BuildKit") {
            break;
        }
    }
    assert!(
        seen.iter().any(|line| line.contains("on BuildKit")),
        "{seen:?}"
    );
    // Ctrl-C while a step runs on the daemon.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while build_processes().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no step started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    run("kill", &["-INT", &child.id().to_string()]);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        rest.iter().any(|line| line.contains("interrupted")),
        "{rest:?}"
    );
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
