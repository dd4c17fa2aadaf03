//! Pulling from and pushing to a real registry (Debian's `docker-registry`, started on loopback by
//! the test): images go both ways between salve and skopeo byte for byte.

mod support;

use salve::registry::{OciLayout, RegistryClient, RegistryOptions};
use serde_json::Value;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{run, umoci_image};

/// A registry on a free loopback port, stopped when dropped.
struct Registry {
    /// The registry process.
    child: Child,
    /// `127.0.0.1:<port>`.
    address: String,
    /// Its storage and configuration.
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts `docker-registry` and waits until it accepts connections.
    fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let address = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: {address}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry is installed (cargo xtask test installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&address).is_err() {
            assert!(
                Instant::now() < deadline,
                "the registry did not start on {address}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            child,
            address,
            _dir: dir,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_image_pushed_by_skopeo_is_pulled_back_exactly() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let source = umoci_image(dir.path());
    let reference = format!("{}/app:base", registry.address);
    run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{source}:base"),
            &format!("docker://{reference}"),
        ],
    );
    let inspect: Value = serde_json::from_str(&run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ],
    ))
    .unwrap();

    let target_dir = dir.path().join("pulled");
    let layout = OciLayout::open_or_create(&target_dir).unwrap();
    let client = RegistryClient::new(&[&reference], &RegistryOptions::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let descriptor = runtime
        .block_on(client.pull(&reference, "linux/amd64", &layout, "pulled"))
        .unwrap();
    assert_eq!(descriptor.digest, inspect["Digest"].as_str().unwrap());
    for layer in inspect["Layers"].as_array().unwrap() {
        assert!(layout.blob_path(layer.as_str().unwrap()).unwrap().exists());
    }
    let local: Value = serde_json::from_str(&run(
        "skopeo",
        &["inspect", &format!("oci:{}:pulled", target_dir.display())],
    ))
    .unwrap();
    assert_eq!(local["Layers"], inspect["Layers"]);

    let missing = format!("{}/app:nope", registry.address);
    let error = runtime
        .block_on(client.pull(&missing, "linux/amd64", &layout, "x"))
        .unwrap_err();
    assert!(error.to_string().contains(&registry.address), "{error}");
}

#[test]
fn an_image_pushed_by_salve_is_read_by_skopeo() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let source = umoci_image(dir.path());
    let layout = OciLayout::open(std::path::Path::new(&source)).unwrap();
    let expected = layout.resolve(Some("base")).unwrap().digest;
    let reference = format!("{}/pushed:v1", registry.address);
    let client = RegistryClient::new(&[&reference], &RegistryOptions::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let digest = runtime
        .block_on(client.push(&layout, "base", &reference))
        .unwrap();
    assert_eq!(digest, expected);
    // Pushing again finds every blob there and only writes the manifest.
    let again = runtime
        .block_on(client.push(&layout, "base", &reference))
        .unwrap();
    assert_eq!(again, expected);

    let inspect: Value = serde_json::from_str(&run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ],
    ))
    .unwrap();
    assert_eq!(inspect["Digest"], expected.as_str());
    let copy = dir.path().join("copy");
    run(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{reference}"),
            &format!("oci:{}:v1", copy.display()),
        ],
    );
    let copied = OciLayout::open(&copy).unwrap();
    assert_eq!(copied.resolve(Some("v1")).unwrap().digest, expected);
}
