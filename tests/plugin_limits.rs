//! The plugin runtime against real, deliberately misbehaving components (built from
//! `tests/plugins/` by `cargo xtask plugins`): each misbehaviour is stopped by its own limit with
//! an error naming the plugin, the call and the limit, and good plugins keep working in the same
//! process afterwards.

use salve::plugin::{
    LimitKind, Limits, Plugin, PluginError, PluginRuntime, PluginSource, RuntimeOptions,
};
use std::path::PathBuf;
use std::time::Duration;

/// A component built from `tests/plugins/<name>/`.
fn test_plugin_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/plugins/dist")
        .join(format!("{name}.wasm"))
}

/// The built-in trivy component.
fn trivy_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist/trivy.wasm")
}

/// A runtime with these limits and no compiled-code cache.
fn runtime(limits: Limits) -> PluginRuntime {
    PluginRuntime::new(RuntimeOptions {
        limits,
        cache_dir: None,
    })
    .unwrap()
}

/// Loads a plugin file under the name of its file.
fn load(runtime: &PluginRuntime, path: PathBuf) -> Result<Plugin, PluginError> {
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(&path).unwrap();
    runtime.load(&name, PluginSource::CommandLine(path), &bytes)
}

/// Asks the hostile plugin to misbehave in the given way.
fn provoke(plugin: &Plugin, behaviour: &str) -> PluginError {
    plugin
        .as_scanner()
        .unwrap()
        .parse(behaviour.as_bytes())
        .expect_err("the hostile plugin must be stopped")
}

/// Checks that the plugin and a good plugin still answer after a failure.
fn still_works(runtime: &PluginRuntime, hostile: &Plugin) {
    let manifest = hostile.as_scanner().unwrap().parse(b"behave").unwrap();
    assert!(manifest.findings.is_empty() && manifest.skipped.is_empty());
    let trivy = load(runtime, trivy_path()).unwrap();
    let report = br#"{"SchemaVersion":2,"ArtifactName":"x","Results":[{"Class":"os-pkgs",
        "Type":"debian","Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"libssl3",
        "InstalledVersion":"1","FixedVersion":"2"}]}]}"#;
    let manifest = trivy.as_scanner().unwrap().parse(report).unwrap();
    assert_eq!(manifest.findings.len(), 1);
}

/// Asserts that `error` is the given limit, broken by the hostile plugin's `parse`.
fn assert_limit(error: &PluginError, expected: fn(&LimitKind) -> bool) {
    match error {
        PluginError::Limit {
            plugin,
            call,
            limit,
        } => {
            assert_eq!(plugin, "hostile");
            assert_eq!(*call, "parse");
            assert!(expected(limit), "unexpected limit: {error}");
        }
        other => panic!("expected a limit error, got: {other}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("hostile") && message.contains("`parse`"),
        "{message}"
    );
}

#[test]
fn an_endless_loop_is_stopped_by_the_deadline() {
    let runtime = runtime(Limits {
        deadline: Duration::from_millis(300),
        fuel: u64::MAX,
        ..Limits::default()
    });
    let hostile = load(&runtime, test_plugin_path("hostile")).unwrap();
    let error = provoke(&hostile, "loop");
    assert_limit(&error, |limit| matches!(limit, LimitKind::Deadline(_)));
    assert!(
        error.to_string().contains("wall-clock deadline of 300ms"),
        "{error}"
    );
    assert!(error.to_string().contains("--plugin-timeout"), "{error}");
    still_works(&runtime, &hostile);
}

#[test]
fn an_endless_loop_is_stopped_by_the_fuel_budget() {
    let runtime = runtime(Limits {
        fuel: 50_000_000,
        deadline: Duration::from_secs(600),
        ..Limits::default()
    });
    let hostile = load(&runtime, test_plugin_path("hostile")).unwrap();
    let error = provoke(&hostile, "loop");
    assert_limit(&error, |limit| *limit == LimitKind::Fuel(50_000_000));
    still_works(&runtime, &hostile);
}

#[test]
fn unbounded_growth_is_stopped_by_the_memory_cap() {
    let runtime = runtime(Limits {
        memory_bytes: 64 << 20,
        ..Limits::default()
    });
    let hostile = load(&runtime, test_plugin_path("hostile")).unwrap();
    let error = provoke(&hostile, "grow");
    assert_limit(&error, |limit| *limit == LimitKind::Memory(64 << 20));
    assert!(
        error.to_string().contains("memory cap of 64 MiB"),
        "{error}"
    );
    still_works(&runtime, &hostile);
}

#[test]
fn a_gigabyte_of_output_is_stopped_by_the_output_cap() {
    // The plugin needs about 1 MiB of memory to ask the host for 1 GiB: every finding's name
    // points at the same bytes. The output cap counts them before they are copied.
    let runtime = runtime(Limits {
        memory_bytes: 32 << 20,
        ..Limits::default()
    });
    let hostile = load(&runtime, test_plugin_path("hostile")).unwrap();
    let error = provoke(&hostile, "flood");
    assert_limit(&error, |limit| {
        *limit == LimitKind::Output(Limits::default().output_bytes)
    });
    assert!(
        error.to_string().contains("output cap of 128 MiB"),
        "{error}"
    );
    still_works(&runtime, &hostile);
}

#[test]
fn a_panic_is_a_trap_naming_the_plugin_and_call() {
    let runtime = runtime(Limits::default());
    let hostile = load(&runtime, test_plugin_path("hostile")).unwrap();
    match provoke(&hostile, "panic") {
        PluginError::Trap {
            plugin,
            call,
            message,
        } => {
            assert_eq!((plugin.as_str(), call), ("hostile", "parse"));
            assert!(message.contains("panicked"), "{message}");
        }
        other => panic!("expected a trap, got: {other}"),
    }
    still_works(&runtime, &hostile);
}

#[test]
fn deep_recursion_is_stopped_by_the_stack_limit() {
    let runtime = runtime(Limits::default());
    let hostile = load(&runtime, test_plugin_path("hostile")).unwrap();
    let error = provoke(&hostile, "recurse");
    assert_limit(&error, |limit| matches!(limit, LimitKind::Stack(_)));
    still_works(&runtime, &hostile);
}

#[test]
fn oversized_input_is_refused_before_the_call() {
    let runtime = runtime(Limits {
        input_bytes: 1024,
        ..Limits::default()
    });
    let hostile = load(&runtime, test_plugin_path("hostile")).unwrap();
    let error = provoke(&hostile, &"x".repeat(1025));
    assert_limit(&error, |limit| {
        *limit
            == LimitKind::Input {
                actual: 1025,
                limit: 1024,
            }
    });
    assert!(error.to_string().contains("input cap of 1 KiB"), "{error}");
}

#[test]
fn a_wasi_import_is_refused_at_load_naming_the_import() {
    let runtime = runtime(Limits::default());
    let error = match load(&runtime, test_plugin_path("wasi-import")) {
        Err(error) => error,
        Ok(_) => panic!("a plugin importing WASI must not load"),
    };
    match &error {
        PluginError::Imports { plugin, imports } => {
            assert_eq!(plugin, "wasi-import");
            assert_eq!(imports, &["wasi:filesystem/preopens@0.2.0"]);
        }
        other => panic!("expected an import error, got: {other}"),
    }
    assert!(error.to_string().contains("wasi:filesystem/preopens@0.2.0"));
}

#[test]
fn a_plugin_for_another_wit_version_is_refused_with_the_supported_versions() {
    let runtime = runtime(Limits::default());
    let error = match load(&runtime, test_plugin_path("future-abi")) {
        Err(error) => error,
        Ok(_) => panic!("a plugin for salve:plugin@0.2.0 must not load"),
    };
    let message = error.to_string();
    assert!(matches!(error, PluginError::Version { .. }), "{message}");
    assert!(message.contains("salve:plugin@0.2.0"), "{message}");
    assert!(message.contains("salve:plugin@0.1.x"), "{message}");
}

#[test]
fn bytes_that_are_not_a_component_are_a_load_error() {
    let runtime = runtime(Limits::default());
    let error = match runtime.load("junk", PluginSource::BuiltIn, b"\0asm not really") {
        Err(error) => error,
        Ok(_) => panic!("junk must not load"),
    };
    assert!(matches!(error, PluginError::Load { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("not a valid WebAssembly component"),
        "{error}"
    );
}

#[test]
fn a_plugin_must_be_named_as_it_describes_itself() {
    let runtime = runtime(Limits::default());
    let bytes = std::fs::read(test_plugin_path("hostile")).unwrap();
    let error = match runtime.load("friendly", PluginSource::BuiltIn, &bytes) {
        Err(error) => error,
        Ok(_) => panic!("a misnamed plugin must not load"),
    };
    assert!(
        error
            .to_string()
            .contains("rename the file to hostile.wasm"),
        "{error}"
    );
}

#[test]
fn failures_in_parallel_calls_stay_in_their_own_call() {
    let runtime = runtime(Limits {
        deadline: Duration::from_millis(500),
        fuel: u64::MAX,
        ..Limits::default()
    });
    let hostile = load(&runtime, test_plugin_path("hostile")).unwrap();
    std::thread::scope(|scope| {
        let looping = scope.spawn(|| provoke(&hostile, "loop"));
        let flooding = scope.spawn(|| provoke(&hostile, "flood"));
        let behaving = scope.spawn(|| hostile.as_scanner().unwrap().parse(b"behave"));
        assert!(matches!(
            looping.join().unwrap(),
            PluginError::Limit {
                limit: LimitKind::Deadline(_),
                ..
            }
        ));
        assert!(matches!(
            flooding.join().unwrap(),
            PluginError::Limit {
                limit: LimitKind::Output(_),
                ..
            }
        ));
        assert!(behaving.join().unwrap().is_ok());
    });
}

#[test]
fn the_output_cap_not_the_memory_cap_is_what_stops_the_flood() {
    // With a cap above 1 GiB the same flood goes through: the plugin's 32 MiB of memory did not
    // bound what the host had to copy.
    let runtime = runtime(Limits {
        memory_bytes: 32 << 20,
        output_bytes: 2 << 30,
        ..Limits::default()
    });
    let hostile = load(&runtime, test_plugin_path("hostile")).unwrap();
    let manifest = hostile.as_scanner().unwrap().parse(b"flood").unwrap();
    let copied: usize = manifest.findings.iter().map(|f| f.package.len()).sum();
    assert_eq!(copied, 1 << 30);
}
