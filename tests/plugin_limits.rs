//! The plugin runtime against real, deliberately misbehaving components (built from
//! `tests/plugins/` by `cargo xtask plugins`): each misbehaviour is stopped by its own limit with
//! an error naming the plugin, the call and the limit, and good plugins keep working in the same
//! process afterwards.

use salve::cancel::{Cancel, Cancelled};
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
fn reads_past_the_memory_are_traps() {
    let runtime = runtime(Limits::default());
    let hostile = load(&runtime, test_plugin_path("hostile")).unwrap();
    for behaviour in ["beyond", "top"] {
        match provoke(&hostile, behaviour) {
            PluginError::Trap { call, message, .. } => {
                assert_eq!(call, "parse");
                assert!(message.contains("out of bounds memory access"), "{message}");
            }
            other => panic!("{behaviour}: expected a trap, got: {other}"),
        }
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
        Ok(_) => panic!("a plugin for salve:plugin@0.9.0 must not load"),
    };
    let message = error.to_string();
    assert!(matches!(error, PluginError::Version { .. }), "{message}");
    assert!(message.contains("salve:plugin@0.9.0"), "{message}");
    assert!(
        message.contains("salve:plugin@0.1.x, 0.2.x, 0.3.x, 0.4.x"),
        "{message}"
    );
}

#[test]
fn a_function_with_another_signature_is_refused_at_load_naming_it() {
    let runtime = runtime(Limits::default());
    let error = match load(&runtime, test_plugin_path("wrong-signature")) {
        Err(error) => error,
        Ok(_) => panic!("a scanner whose parse takes a string must not load"),
    };
    let message = error.to_string();
    assert!(matches!(error, PluginError::Signatures { .. }), "{message}");
    assert!(
        message.contains("do not have the signatures of salve:plugin/scanner@0.1.0"),
        "{message}"
    );
    assert!(
        message.contains("parse: func(report: string) -> result<string, string>"),
        "{message}"
    );
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

/// The hostile plugin with extra core modules added at its top level, the `instantiated` ones
/// instantiated beside the plugin's own (a component may create any number of core instances,
/// each with its own memories and tables).
fn hostile_with(modules: &[Vec<u8>], instantiated: bool) -> Vec<u8> {
    use wasm_encoder::{ComponentSection, InstanceSection, ModuleArg, RawSection};
    let mut bytes = std::fs::read(test_plugin_path("hostile")).unwrap();
    let first = top_level_modules(&bytes);
    for module in modules {
        RawSection {
            id: wasm_encoder::ComponentSectionId::CoreModule as u8,
            data: module,
        }
        .append_to_component(&mut bytes);
    }
    if instantiated {
        let mut instances = InstanceSection::new();
        for index in 0..modules.len() as u32 {
            instances.instantiate(first + index, Vec::<(&str, ModuleArg)>::new());
        }
        instances.append_to_component(&mut bytes);
    }
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&bytes)
        .expect("the altered component is valid");
    bytes
}

/// How many core modules a component defines at its top level.
fn top_level_modules(component: &[u8]) -> u32 {
    let mut depth = 0u32;
    let mut count = 0;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        match payload.unwrap() {
            wasmparser::Payload::ModuleSection { .. } => {
                if depth == 0 {
                    count += 1;
                }
                depth += 1;
            }
            wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    count
}

/// A core module with one linear memory of `pages` 64 KiB pages.
fn memory_module(pages: u64) -> Vec<u8> {
    let mut module = wasm_encoder::Module::new();
    let mut memories = wasm_encoder::MemorySection::new();
    memories.memory(wasm_encoder::MemoryType {
        minimum: pages,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memories);
    module.finish()
}

/// A core module with one table of `entries` function references.
fn table_module(entries: u64) -> Vec<u8> {
    let mut module = wasm_encoder::Module::new();
    let mut tables = wasm_encoder::TableSection::new();
    tables.table(wasm_encoder::TableType {
        element_type: wasm_encoder::RefType::FUNCREF,
        minimum: entries,
        maximum: None,
        table64: false,
        shared: false,
    });
    module.section(&tables);
    module.finish()
}

/// A core module whose one function nests `depth` blocks, each with a conditional branch: a
/// few dozen KiB that Cranelift takes time quadratic in `depth` to compile (about 7 s for 4000
/// on one core of the test machine).
fn slow_to_compile_module(depth: u32) -> Vec<u8> {
    use wasm_encoder::{BlockType, Instruction, ValType};
    let mut module = wasm_encoder::Module::new();
    let mut types = wasm_encoder::TypeSection::new();
    types.ty().function([ValType::I32], []);
    module.section(&types);
    let mut functions = wasm_encoder::FunctionSection::new();
    functions.function(0);
    module.section(&functions);
    let mut function = wasm_encoder::Function::new([]);
    for _ in 0..depth {
        function.instruction(&Instruction::Block(BlockType::Empty));
        function.instruction(&Instruction::LocalGet(0));
        function.instruction(&Instruction::BrIf(0));
    }
    for _ in 0..=depth {
        function.instruction(&Instruction::End);
    }
    let mut code = wasm_encoder::CodeSection::new();
    code.function(&function);
    module.section(&code);
    module.finish()
}

/// Loads component bytes under the hostile plugin's name.
fn load_bytes(runtime: &PluginRuntime, bytes: &[u8]) -> Result<Plugin, PluginError> {
    runtime.load(
        "hostile",
        PluginSource::CommandLine(test_plugin_path("hostile")),
        bytes,
    )
}

#[test]
fn a_component_with_many_memories_is_refused_at_load() {
    // Twenty instances of a module with a 32 MiB memory: each memory alone was within a 32 MiB
    // cap when the cap applied per memory, and the instances together held 640 MiB.
    let runtime = runtime(Limits {
        memory_bytes: 32 << 20,
        ..Limits::default()
    });
    let memories: Vec<Vec<u8>> = (0..20).map(|_| memory_module(512)).collect();
    let error = match load_bytes(&runtime, &hostile_with(&memories, true)) {
        Err(error) => error.to_string(),
        Ok(_) => panic!("a component with 21 memories must not load"),
    };
    assert!(error.contains("defines 21 linear memories"), "{error}");
    assert!(error.contains("may have 1"), "{error}");
    // The same plugin without them loads and works.
    let hostile = load(&runtime, test_plugin_path("hostile")).unwrap();
    still_works(&runtime, &hostile);
}

#[test]
fn memories_and_tables_count_together_against_the_cap() {
    // A 31.5 MiB table fits the 32 MiB cap on its own, and so does the plugin's memory; the
    // instance holding both does not.
    let table = table_module((63 << 19) / 8);
    let with_table = hostile_with(&[table], true);
    let runtime_32 = runtime(Limits {
        memory_bytes: 32 << 20,
        ..Limits::default()
    });
    match load_bytes(&runtime_32, &with_table) {
        Err(PluginError::Limit { call, limit, .. }) => {
            assert_eq!(call, "describe");
            assert_eq!(limit, LimitKind::Memory(32 << 20));
        }
        Err(other) => panic!("expected the memory cap, got: {other}"),
        Ok(_) => panic!("the table and the memory together exceed the cap"),
    }
    // Negative control: with room for both, the same component loads and answers.
    let runtime_64 = runtime(Limits {
        memory_bytes: 64 << 20,
        ..Limits::default()
    });
    let plugin = load_bytes(&runtime_64, &with_table).unwrap();
    assert!(
        plugin
            .as_scanner()
            .unwrap()
            .parse(b"behave")
            .unwrap()
            .findings
            .is_empty()
    );
}

#[test]
fn a_component_that_compiles_too_long_is_refused_and_remembered() {
    let cache = tempfile::tempdir().unwrap();
    let limits = Limits {
        compile_deadline: Duration::from_millis(500),
        ..Limits::default()
    };
    let cached_runtime = || {
        PluginRuntime::new(RuntimeOptions {
            limits,
            cache_dir: Some(cache.path().to_path_buf()),
        })
        .unwrap()
    };
    let slow = hostile_with(&[slow_to_compile_module(4000)], false);
    match load_bytes(&cached_runtime(), &slow) {
        Err(PluginError::Limit { call, limit, .. }) => {
            assert_eq!(call, "compile");
            assert_eq!(limit, LimitKind::Compile(Duration::from_millis(500)));
        }
        Err(other) => panic!("expected the compilation bound, got: {other}"),
        Ok(_) => panic!("the component cannot compile in 500 ms"),
    }
    // The next run does not spend the time again: the refusal is remembered.
    let error = match load_bytes(&cached_runtime(), &slow) {
        Err(error) => error.to_string(),
        Ok(_) => panic!("a refused component must stay refused"),
    };
    assert!(error.contains("does not compile within 500ms"), "{error}");
    assert!(error.contains("--plugin-compile-timeout"), "{error}");
    // The refusal is kept for that component only: a good plugin compiles into the same cache.
    let raised = PluginRuntime::new(RuntimeOptions {
        limits: Limits::default(),
        cache_dir: Some(cache.path().to_path_buf()),
    })
    .unwrap();
    let trivy = std::fs::read(trivy_path()).unwrap();
    raised.load("trivy", PluginSource::BuiltIn, &trivy).unwrap();
}

#[test]
fn the_run_deadline_ends_a_call_and_every_call_after_it() {
    let runtime = runtime(Limits {
        deadline: Duration::from_secs(600),
        fuel: u64::MAX,
        ..Limits::default()
    });
    let hostile = load(&runtime, test_plugin_path("hostile")).unwrap();
    runtime.set_cancel(Cancel::after(Duration::from_millis(500)));
    // Before: the call ran to its own deadline (here 10 minutes), whatever --timeout said.
    let error = provoke(&hostile, "loop");
    assert_limit(&error, |limit| *limit == LimitKind::Run);
    assert!(error.to_string().contains("--timeout"), "{error}");
    // The run is over: no call starts any more.
    let next = hostile
        .as_scanner()
        .unwrap()
        .parse(b"behave")
        .expect_err("no call starts after the run's deadline");
    assert_limit(&next, |limit| *limit == LimitKind::Run);
}

#[test]
fn ctrl_c_stops_a_call_in_flight_and_every_call_after_it() {
    let runtime = runtime(Limits {
        deadline: Duration::from_secs(600),
        fuel: u64::MAX,
        ..Limits::default()
    });
    let hostile = load(&runtime, test_plugin_path("hostile")).unwrap();
    let cancel = Cancel::after(Duration::from_secs(600));
    runtime.set_cancel(cancel.clone());
    let interrupter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cancel.interrupt();
    });
    // Before: the call ran to its own deadline (here 10 minutes) whatever Ctrl-C did.
    let error = provoke(&hostile, "loop");
    interrupter.join().unwrap();
    assert!(
        matches!(error, PluginError::Interrupted { call: "parse", .. }),
        "{error}"
    );
    assert_eq!(error.cancelled(), Some(Cancelled::Interrupted));
    let next = hostile
        .as_scanner()
        .unwrap()
        .parse(b"behave")
        .expect_err("no call starts after an interruption");
    assert!(matches!(next, PluginError::Interrupted { .. }), "{next}");
}
