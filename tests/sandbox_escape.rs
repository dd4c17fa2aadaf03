//! The local engine's sandbox against a hostile image: the minbase fixture with a Perl program
//! at `/usr/local/sbin/apt-get` (ahead of the real one on the steps' `PATH`, so the plan's first
//! step runs it) that tries every way out it knows (`tests/hostile/apt-get.pl`). The test plants
//! bait on the host (a root-only file, a folder to write into, a secret in salve's environment,
//! a listener on 127.0.0.1, a process to kill or trace) and checks afterwards, from the host,
//! that none was reached, that nothing the step started is still running, that no mount was
//! left, that salve's own binary and the kernel's `core_pattern` are unchanged, and that salve
//! reports the step's failure with the program's own account of every attempt. It runs twice:
//! as root, and rootless as an ordinary user with subordinate ids (`salve-rootless`, made by
//! the test), whose own files are then the bait.
//!
//! Before this sandbox the steps ran as the host's root with every capability, in the host's
//! network namespace, behind a `chroot` only: the chroot escape, `/proc/1/environ`,
//! `core_pattern`, `TIOCSTI` on the `/dev/tty` bound in, `setns` into `/proc/1/ns/net` and the
//! host's 127.0.0.1 listener all reached the host (issue 13 reports them), a step log replaced
//! by a link to a host file was printed (issue 14), and `mount`, `mknod`, the namespace and
//! module calls met no check that root does not pass. Each line of the program's output names
//! what it tried, so a regression shows as an `ESCAPED:` line as well as a failed host check.

use crate::support::patching::{
    debian_fixture, image_layers, salve_in, tooling_image_through_policy, workspace,
};
use crate::support::registry::Registry;
use crate::support::{insert_file, run};
use salve::image::read_paths;
use salve::plugin::types::FileKind;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The number of mounts this process sees.
fn mount_count() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .count()
}

/// The command lines of every process on the machine.
fn command_lines() -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
        .collect()
}

/// A random token.
fn token() -> String {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut bytes)
        .unwrap();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// An ordinary user for the rootless run, made once per test process: `salve-rootless`, with
/// subordinate id ranges (as `usermod --add-subuids` gives them), and `/dev/net/tun` usable by
/// users, as Debian's udev leaves it (the machine may have no udev).
fn rootless_user() -> (u32, u32) {
    static USER: OnceLock<(u32, u32)> = OnceLock::new();
    *USER.get_or_init(|| {
        let name = "salve-rootless";
        let exists = std::process::Command::new("id")
            .arg(name)
            .output()
            .unwrap()
            .status
            .success();
        if !exists {
            run(
                "useradd",
                &[
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    name,
                ],
            );
        }
        let listed = |file: &str| {
            std::fs::read_to_string(file)
                .unwrap_or_default()
                .lines()
                .any(|line| line.starts_with(&format!("{name}:")))
        };
        if !listed("/etc/subuid") || !listed("/etc/subgid") {
            for file in ["/etc/subuid", "/etc/subgid"] {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(file)
                    .unwrap();
            }
            run(
                "usermod",
                &[
                    "--add-subuids",
                    "300000-365535",
                    "--add-subgids",
                    "300000-365535",
                    name,
                ],
            );
        }
        std::fs::set_permissions("/dev/net/tun", std::fs::Permissions::from_mode(0o666)).unwrap();
        let id = |flag: &str| run("id", &[flag, name]).trim().parse().unwrap();
        (id("-u"), id("-g"))
    })
}

/// Gives a file or folder (recursively) to the user.
fn give(path: &Path, (uid, gid): (u32, u32)) {
    run(
        "chown",
        &["-R", &format!("{uid}:{gid}"), path.to_str().unwrap()],
    );
}

/// A command run as the user (or as root), with salve's environment kept.
fn command_as(user: Option<(u32, u32)>, program: &str) -> std::process::Command {
    match user {
        None => std::process::Command::new(program),
        Some((uid, gid)) => {
            let mut command = std::process::Command::new("setpriv");
            command.args([
                &format!("--reuid={uid}"),
                &format!("--regid={gid}"),
                "--clear-groups",
                program,
            ]);
            command
        }
    }
}

#[test]
fn a_hostile_image_reaches_nothing_of_the_host_as_root() {
    hostile_image_reaches_nothing(None);
}

#[test]
fn a_hostile_image_reaches_nothing_of_the_host_rootless() {
    hostile_image_reaches_nothing(Some(rootless_user()));
}

/// Runs the hostile image through `salve patch` as root or as `user` and checks the host.
fn hostile_image_reaches_nothing(user: Option<(u32, u32)>) {
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cache = work.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let salve = work.path().join("salve");
    std::fs::copy(env!("CARGO_BIN_EXE_salve"), &salve).unwrap();

    // Bait on the host: a secret only the runner can read (root's, or the user's own, which the
    // image's root would be if it got out), a folder it can write, a secret in salve's
    // environment, a listener on 127.0.0.1 and a process of the runner's.
    let marker = work.path().join("marker");
    std::fs::create_dir(&marker).unwrap();
    let secret = format!("secret-{}", token());
    let secret_file = match user {
        None => Path::new("/root").join(format!("salve-escape-{}", token())),
        Some(_) => work.path().join("secret"),
    };
    std::fs::write(&secret_file, &secret).unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let env_secret = format!("env-{}", token());
    let (port, connections) = counting_listener();
    let run_name = token();
    let mut victim = command_as(user, "bash")
        .args(["-c", "exec -a salve-victim sleep 600"])
        .spawn()
        .unwrap();
    let salve_binary = std::fs::read(&salve).unwrap();
    let core_pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let mounts = mount_count();

    // The hostile image.
    let port_text = port.to_string();
    let victim_text = victim.id().to_string();
    let layout = hostile_minbase(
        work.path(),
        "apt-get.pl",
        "/usr/local/sbin/apt-get",
        &[
            ("@MARKER@", marker.to_str().unwrap()),
            ("@SECRET_FILE@", secret_file.to_str().unwrap()),
            ("@SECRET@", &secret),
            ("@ENV_SECRET@", &env_secret),
            ("@PORT@", &port_text),
            ("@VICTIM@", &victim_text),
            ("@RUN@", &run_name),
        ],
    );
    if let Some(user) = user {
        for path in [&layout, &cache, &marker, &secret_file] {
            give(path, user);
        }
    }

    let out = work.path().join("out");
    let output = command_as(user, salve.to_str().unwrap())
        .args([
            "patch",
            "-i",
            &format!("oci:{}:minbase", layout.display()),
            "--oci-dir",
            out.to_str().unwrap(),
            "--cache-dir",
            cache.to_str().unwrap(),
            "--step-processes",
            "200",
            "--step-memory",
            "512MiB",
        ])
        .env("SALVE_ESCAPE_SECRET", &env_secret)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();

    // salve reports the step's failure with the program's account, and wrote nothing.
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("step 1 of 2 failed (exit code 1)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hostile summary: 0 escaped"),
        "the program reached something: {stderr}"
    );
    assert!(!stderr.contains("ESCAPED"), "{stderr}");
    let blocked = stderr
        .lines()
        .find_map(|line| line.strip_prefix("hostile blocked: "))
        .unwrap_or_else(|| panic!("no list of blocked attempts: {stderr}"));
    let blocked: Vec<&str> = blocked.split("; ").collect();
    for attempt in [
        "chroot escape",
        "/proc/1/root",
        "writing /proc/1/exe",
        "mount tmpfs",
        "mount proc",
        "mknod of the host disk",
        "unshare user",
        "unshare mount",
        "unshare net",
        "setns /proc/1/ns/net",
        "setns /proc/1/ns/mnt",
        "setns /proc/1/ns/user",
        "ptrace of a host process",
        "kill of a host process",
        "init_module",
        "finit_module",
        "kexec_load",
        "keyctl",
        "bpf",
        "perf_event_open",
        "open_by_handle_at",
        "writing /proc/sys/kernel/core_pattern",
        "writing /proc/sysrq-trigger",
        "TIOCSTI on /dev/tty",
        "TIOCSTI on fd 0",
        "TIOCSTI on fd 1",
        "a block device in /dev",
        "salve's environment",
        &format!("connecting to 127.0.0.1:{port}"),
        &format!("connecting to 10.0.2.2:{port}"),
        "connecting to 169.254.169.254:80",
        "fork bomb",
        "memory hog",
    ] {
        assert!(
            blocked.contains(&attempt),
            "{attempt} not blocked: {stderr}"
        );
    }
    assert!(!out.exists(), "a failed patch writes no image");

    // The host, checked from the host.
    assert!(
        std::fs::read_dir(&marker).unwrap().next().is_none(),
        "something was written into the host's folder"
    );
    assert!(
        !stderr.contains(&secret),
        "the secret file was read: {stderr}"
    );
    assert!(
        !stderr.contains(&env_secret),
        "salve's environment was read: {stderr}"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the host's loopback listener was reached"
    );
    assert!(
        victim.try_wait().unwrap().is_none(),
        "the host process was killed"
    );
    assert_eq!(
        std::fs::read(&salve).unwrap(),
        salve_binary,
        "salve's binary changed"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        core_pattern
    );
    assert_eq!(mount_count(), mounts, "a mount was left on the host");
    let daemon = format!("salve-hostile-daemon-{run_name}");
    let left: Vec<String> = command_lines()
        .into_iter()
        .filter(|line| line.contains(&daemon))
        .collect();
    assert!(left.is_empty(), "processes left running: {left:?}");

    victim.kill().unwrap();
    victim.wait().unwrap();
    std::fs::remove_file(&secret_file).unwrap();
}

/// A copy of the minbase fixture in `work/layout` (tagged `minbase`) with the hostile program
/// `tests/hostile/NAME`, its `@...@` values filled in, added at `path`. Returns the layout.
fn hostile_minbase(work: &Path, name: &str, path: &str, values: &[(&str, &str)]) -> PathBuf {
    let layout = work.join("layout");
    run(
        "cp",
        &["-a", &debian_fixture("minbase"), layout.to_str().unwrap()],
    );
    let mut program =
        std::fs::read_to_string(workspace().join("tests/hostile").join(name)).unwrap();
    for (placeholder, value) in values {
        program = program.replace(placeholder, value);
    }
    let file = work.join(name);
    std::fs::write(&file, program).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    insert_file(&format!("{}:minbase", layout.display()), &file, path);
    layout
}

/// A listener on the host's 127.0.0.1 that counts the connections it gets.
fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        loop {
            if listener.accept().is_ok() {
                counted.fetch_add(1, Ordering::SeqCst);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    (port, connections)
}

/// A step without network (a distroless patch's install step, in a tooling image whose
/// `dpkg-deb` is hostile) cannot reach the host's loopback either, and the links it plants among
/// the target's package database files are never read through by salve, which reads the
/// database back and goes on.
#[test]
fn an_offline_step_reaches_no_host_service_and_its_planted_links_are_not_followed() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let secret = format!("secret-{}", token());
    let secret_file = Path::new("/root").join(format!("salve-escape-{}", token()));
    std::fs::write(&secret_file, format!("Package: {secret}\nVersion: 1\n")).unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (port, connections) = counting_listener();

    // The tooling image the dpkg plugin asks for, with the hostile dpkg-deb.
    let layout = hostile_minbase(
        work.path(),
        "dpkg-deb.sh",
        "/usr/local/bin/dpkg-deb",
        &[
            ("@SECRET_FILE@", secret_file.to_str().unwrap()),
            ("@PORT@", &port.to_string()),
        ],
    );
    let policy = work.path().join("policy.json");
    tooling_image_through_policy(
        &cache,
        &registry.address,
        &format!("oci:{}:minbase", layout.display()),
        "debian:12-slim",
        "docker.io/library/debian:12-slim",
        &policy,
    );

    let out = work.path().join("out");
    let (ok, _, stderr) = salve_in(
        &cache,
        &[
            "patch",
            "-i",
            &format!("oci:{}:distroless", debian_fixture("distroless")),
            "--oci-dir",
            out.to_str().unwrap(),
        ],
        &[(
            "EXPERIMENTAL_BUILDKIT_SOURCE_POLICY",
            policy.to_str().unwrap(),
        )],
    );
    assert!(ok, "{stderr}");
    assert!(
        !stderr.contains(&secret),
        "the secret file was read: {stderr}"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the host's loopback listener was reached"
    );

    // The program's account, and its links, are in the patch layer as it left them.
    let layers = image_layers(&out, "distroless-patched");
    let found = read_paths(
        &layers,
        &[
            "/salve-hostile-report".to_string(),
            "/var/lib/dpkg/status.d/zz-host-secret".to_string(),
        ],
        1 << 20,
    )
    .unwrap();
    let report = String::from_utf8(found[0].content.clone().expect("the report")).unwrap();
    assert!(!report.contains("ESCAPED"), "{report}");
    for attempt in [
        format!("blocked: connecting to 127.0.0.1:{port}"),
        format!("blocked: connecting to 10.0.2.2:{port}"),
        format!("blocked: hard link to {}", secret_file.display()),
    ] {
        assert!(report.contains(&attempt), "{attempt}: {report}");
    }
    // A link to a path the image does not have, as the program left it; nothing read through it.
    assert_eq!(found[1].kind, FileKind::Missing, "{:?}", found[1]);
    assert_eq!(
        found[1].link_target.as_deref(),
        secret_file.to_str(),
        "{:?}",
        found[1]
    );
    std::fs::remove_file(&secret_file).unwrap();
}
