//! Loading plugins (compile or cache, contract check, pre-instantiation) and calling them under
//! the limits.

use super::cache::CompiledCache;
use super::contract::{self, Contract, PluginKind, WIT_PACKAGE};
use super::error::PluginError;
use super::exports::{Exports, Prepared};
use super::limits::{LimitKind, Limits, MAX_WASM_STACK};
use super::sources::PluginSource;
use super::store::{CallState, MAX_MEMORIES, MAX_TABLES};
use super::types::{EcosystemInfo, ScannerInfo};
use super::vm::{EPOCH_TICK, EpochTicker, build_vm};
use crate::cancel::{Cancel, Cancelled};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

/// How wasmtime words the error when the bytes lifted out of a guest pass the store's
/// "hostcall fuel", which salve sets to the output cap. Wasmtime counts every string and list
/// (`len × element size`) before copying it, so a guest cannot make the host copy the same bytes
/// many times over. The error type is private to wasmtime, hence the match on its text; the
/// output-cap tests fail if the wording changes.
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// How the runtime is set up.
#[derive(Clone, Debug, Default)]
pub struct RuntimeOptions {
    /// Limits for every call.
    pub limits: Limits,
    /// The compiled-code cache's folder; `None` compiles every plugin in memory.
    pub cache_dir: Option<PathBuf>,
}

/// What the runtime shares with every plugin it loaded.
struct Shared {
    /// The engine all plugins run on.
    engine: Engine,
    /// Limits for every call.
    limits: Limits,
    /// The run's cancellation (`--timeout` and Ctrl-C), once the command has set it.
    run: Mutex<Option<Cancel>>,
    /// Keeps the epoch advancing while any plugin may be called.
    _ticker: EpochTicker,
}

/// The plugin runtime: one engine, its limits and its compiled-code cache.
pub struct PluginRuntime {
    /// Shared with loaded plugins.
    shared: Arc<Shared>,
    /// The compiled-code cache, when it could be opened.
    cache: Option<CompiledCache>,
    /// Why the cache is not in use, when one was asked for and could not be opened.
    cache_problem: Option<String>,
}

/// Whether a plugin's native code came from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheOutcome {
    /// Loaded from the compiled-code cache.
    Hit,
    /// Compiled now, and written to the cache.
    Compiled,
    /// Compiled now; no cache in use.
    Uncached,
}

impl PluginRuntime {
    /// Builds the engine, starts the deadline clock and opens the cache.
    pub fn new(options: RuntimeOptions) -> anyhow::Result<PluginRuntime> {
        let engine = build_vm().map_err(|error| anyhow::anyhow!("{error:#}"))?;
        let (cache, cache_problem) = match &options.cache_dir {
            None => (None, None),
            Some(dir) => match CompiledCache::open(dir, &engine) {
                Ok(cache) => (Some(cache), None),
                Err(error) => {
                    let problem = format!(
                        "the compiled-plugin cache in {} is not used: {error}",
                        dir.display()
                    );
                    tracing::warn!("{problem}");
                    (None, Some(problem))
                }
            },
        };
        Ok(PluginRuntime {
            shared: Arc::new(Shared {
                _ticker: EpochTicker::start(&engine),
                engine,
                limits: options.limits,
                run: Mutex::new(None),
            }),
            cache,
            cache_problem,
        })
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> Limits {
        self.shared.limits
    }

    /// Binds every call from now on to the run's cancellation: a call's deadline is the earlier
    /// of its own and the run's, a call in flight stops within an epoch tick of an
    /// interruption, and no call starts once the run is over.
    pub fn set_cancel(&self, cancel: Cancel) {
        *self.shared.run.lock().expect("not poisoned") = Some(cancel);
    }

    /// Why the compiled-code cache is not in use, if it was asked for and failed.
    pub fn cache_problem(&self) -> Option<&str> {
        self.cache_problem.as_deref()
    }

    /// Loads a plugin: compiles it (or takes it from the cache), checks its contract, prepares
    /// instantiation and asks it to describe itself; the name it describes itself by must be
    /// `name` (its file's).
    pub fn load(
        &self,
        name: &str,
        source: PluginSource,
        bytes: &[u8],
    ) -> Result<Plugin, PluginError> {
        self.load_named(name, source, bytes, Naming::File)
    }

    /// Loads a plugin that has no file name yet (one being added or built), named by what it
    /// describes itself as; `label` names it in errors until then.
    pub fn identify(
        &self,
        label: &str,
        source: PluginSource,
        bytes: &[u8],
    ) -> Result<Plugin, PluginError> {
        self.load_named(label, source, bytes, Naming::Described)
    }

    /// [`PluginRuntime::load`] and [`PluginRuntime::identify`].
    fn load_named(
        &self,
        name: &str,
        source: PluginSource,
        bytes: &[u8],
        naming: Naming,
    ) -> Result<Plugin, PluginError> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let (component, cache) = self.compile(name, bytes, &sha256)?;
        check_resources(name, &component)?;
        let contract = contract::check(&self.shared.engine, name, &component)?;
        let load_error = |reason: String| PluginError::Load {
            plugin: name.to_string(),
            reason,
        };
        let mut linker = Linker::new(&self.shared.engine);
        for import in &contract.type_imports {
            linker
                .instance(import)
                .map_err(|error| load_error(format!("{error:#}")))?;
        }
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|error| load_error(format!("{error:#}")))?;
        let exports = Exports::prepare(contract.kind, contract.version, pre).map_err(|error| {
            load_error(format!(
                "{} does not implement the {WIT_PACKAGE}/{} world of version {}: {error:#}",
                contract.export,
                contract.kind.world(),
                contract.version.package_version()
            ))
        })?;
        let mut caller = Caller {
            plugin: name.to_string(),
            export: contract.export.clone(),
            functions: contract.functions.clone(),
            shared: Arc::clone(&self.shared),
        };
        let info = describe(&caller, &exports)?;
        match naming {
            Naming::File if info.name() != name => {
                return Err(load_error(format!(
                    "it describes itself as {:?}; salve names plugins by their file name, so \
                     rename the file to {}.wasm",
                    info.name(),
                    info.name()
                )));
            }
            Naming::File => {}
            Naming::Described => {
                check_plugin_name(info.name()).map_err(load_error)?;
                caller.plugin = info.name().to_string();
            }
        }
        Ok(Plugin {
            source,
            sha256,
            cache,
            contract,
            info,
            caller,
            exports,
        })
    }

    /// The compiled component, from the cache when a valid entry exists.
    fn compile(
        &self,
        name: &str,
        bytes: &[u8],
        sha256: &str,
    ) -> Result<(Component, CacheOutcome), PluginError> {
        let engine = &self.shared.engine;
        if let Some(cache) = &self.cache {
            match cache.load(engine, sha256) {
                Ok(Some(component)) => return Ok((component, CacheOutcome::Hit)),
                Ok(None) => {}
                Err(error) => tracing::warn!("compiling plugin {name} again: {error}"),
            }
        }
        let bound = self.shared.limits.compile_deadline;
        let bound_ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
        let refused = self
            .cache
            .as_ref()
            .and_then(|cache| cache.refused_within(sha256))
            .is_some_and(|refused_ms| refused_ms >= bound_ms);
        if refused {
            return Err(PluginError::Load {
                plugin: name.to_string(),
                reason: format!(
                    "an earlier run found that it does not compile within {} (remembered in the \
                     compiled-code cache); raise --plugin-compile-timeout if the plugin is trusted",
                    crate::quantity::format_duration(bound)
                ),
            });
        }
        let component = match self.compile_within(name, bytes)? {
            Some(component) => component,
            None => {
                if let Some(cache) = &self.cache
                    && let Err(error) = cache.remember_refusal(sha256, bound_ms)
                {
                    tracing::warn!("could not remember that plugin {name} was refused: {error}");
                }
                return Err(PluginError::Limit {
                    plugin: name.to_string(),
                    call: "compile",
                    limit: LimitKind::Compile(bound),
                });
            }
        };
        let outcome = match &self.cache {
            None => CacheOutcome::Uncached,
            Some(cache) => match cache.store(sha256, &component) {
                Ok(()) => {
                    cache.forget_refusal(sha256);
                    CacheOutcome::Compiled
                }
                Err(error) => {
                    tracing::warn!("could not cache the compiled plugin {name}: {error}");
                    CacheOutcome::Uncached
                }
            },
        };
        Ok((component, outcome))
    }

    /// Compiles a component on a thread of its own, waiting at most the compilation bound (or
    /// what is left of the run, if that ends sooner). `None` when the time ran out: compilation
    /// cannot be interrupted, so the thread is left to finish on its own and its result dropped.
    fn compile_within(&self, name: &str, bytes: &[u8]) -> Result<Option<Component>, PluginError> {
        let (wait, by_run) = self
            .shared
            .time_left(self.shared.limits.compile_deadline)
            .map_err(|cancelled| match cancelled {
                Cancelled::TimedOut => PluginError::Limit {
                    plugin: name.to_string(),
                    call: "compile",
                    limit: LimitKind::Run,
                },
                Cancelled::Interrupted => PluginError::Interrupted {
                    plugin: name.to_string(),
                    call: "compile",
                },
            })?;
        let engine = self.shared.engine.clone();
        let bytes = bytes.to_vec();
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name(format!("salve-compile-{name}"))
            .spawn(move || {
                let _ = sender.send(Component::new(&engine, &bytes));
            })
            .map_err(|error| PluginError::Load {
                plugin: name.to_string(),
                reason: format!("cannot start a thread to compile it: {error}"),
            })?;
        match receiver.recv_timeout(wait) {
            Ok(Ok(component)) => Ok(Some(component)),
            Ok(Err(error)) => Err(PluginError::Load {
                plugin: name.to_string(),
                reason: format!("it is not a valid WebAssembly component: {error:#}"),
            }),
            Err(_) if by_run => Err(PluginError::Limit {
                plugin: name.to_string(),
                call: "compile",
                limit: LimitKind::Run,
            }),
            Err(_) => Ok(None),
        }
    }
}

/// Where a loaded plugin's name comes from.
#[derive(Clone, Copy)]
enum Naming {
    /// Its file's name, which it must describe itself by.
    File,
    /// What it describes itself as (checked by [`check_plugin_name`]).
    Described,
}

/// Why a name a plugin describes itself by cannot be a plugin's file name: salve stores plugins
/// as `NAME.wasm`, so a name is 1 to 64 lower-case ASCII letters, digits, `-`, `_` and `.`, not
/// starting with `.` or `-`.
fn check_plugin_name(name: &str) -> Result<(), String> {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b);
    if name.is_empty() || name.len() > 64 {
        return Err(format!("its name {name:?} is not 1 to 64 characters long"));
    }
    if !name.bytes().all(allowed) || name.starts_with(['.', '-']) {
        return Err(format!(
            "its name {:?} is not a plugin name (lower-case letters, digits, '-', '_' and '.', \
             not starting with '.' or '-')",
            crate::display_safe::one_line(name)
        ));
    }
    Ok(())
}

/// Refuses a component that would create more memories, tables or instances than a salve plugin
/// needs: the memory limit counts them together, but a plugin has no reason to have many.
fn check_resources(name: &str, component: &Component) -> Result<(), PluginError> {
    let refuse = |reason: String| PluginError::Load {
        plugin: name.to_string(),
        reason,
    };
    let Some(required) = component.resources_required() else {
        return Err(refuse(
            "it instantiates modules it imports, which salve plugins may not do".into(),
        ));
    };
    if required.num_memories as usize > MAX_MEMORIES {
        return Err(refuse(format!(
            "it defines {} linear memories; a salve plugin may have {MAX_MEMORIES}",
            required.num_memories
        )));
    }
    if required.num_tables as usize > MAX_TABLES {
        return Err(refuse(format!(
            "it defines {} tables; a salve plugin may have at most {MAX_TABLES}",
            required.num_tables
        )));
    }
    Ok(())
}

/// What a plugin said about itself when it was loaded.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(untagged)]
pub enum PluginInfo {
    /// A scanner's description.
    Scanner(ScannerInfo),
    /// An ecosystem's description.
    Ecosystem(EcosystemInfo),
}

impl PluginInfo {
    /// The name the plugin gives itself.
    pub fn name(&self) -> &str {
        match self {
            PluginInfo::Scanner(info) => &info.name,
            PluginInfo::Ecosystem(info) => &info.name,
        }
    }

    /// The plugin's own version.
    pub fn version(&self) -> &str {
        match self {
            PluginInfo::Scanner(info) => &info.version,
            PluginInfo::Ecosystem(info) => &info.version,
        }
    }

    /// The plugin's one-line summary.
    pub fn summary(&self) -> &str {
        match self {
            PluginInfo::Scanner(info) => &info.summary,
            PluginInfo::Ecosystem(info) => &info.summary,
        }
    }
}

/// A loaded plugin, ready to be called.
pub struct Plugin {
    /// Where it came from.
    source: PluginSource,
    /// The sha256 of its component bytes, hex.
    sha256: String,
    /// Whether its code came from the cache.
    cache: CacheOutcome,
    /// What the contract check found.
    contract: Contract,
    /// Its own description.
    info: PluginInfo,
    /// Runs its calls under the limits.
    caller: Caller,
    /// What it exports, by contract version.
    exports: Exports,
}

impl Plugin {
    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.caller.plugin
    }

    /// Where the plugin came from.
    pub fn source(&self) -> &PluginSource {
        &self.source
    }

    /// The sha256 of the component's bytes, in hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Whether the native code came from the compiled-code cache.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.cache
    }

    /// Scanner or ecosystem.
    pub fn kind(&self) -> PluginKind {
        self.contract.kind
    }

    /// The interface it exports, its WIT version and its functions.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// Its own description.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The limits its calls run under.
    pub fn limits(&self) -> Limits {
        self.caller.shared.limits
    }

    /// What runs the plugin's calls under the limits.
    pub(super) fn caller(&self) -> &Caller {
        &self.caller
    }

    /// What the plugin exports.
    pub(super) fn exports(&self) -> &Exports {
        &self.exports
    }
}

/// Asks a plugin to describe itself (its exported `describe`).
fn describe(caller: &Caller, exports: &Exports) -> Result<PluginInfo, PluginError> {
    match exports {
        Exports::Scanner(scanner) => caller
            .call(scanner, "describe", 0, |plugin, store| {
                plugin.describe(store)
            })
            .map(PluginInfo::Scanner),
        Exports::Ecosystem(ecosystem) => caller
            .call(ecosystem, "describe", 0, |plugin, store| {
                plugin.describe(store)
            })
            .map(PluginInfo::Ecosystem),
    }
}

/// Runs a plugin's calls, each in a fresh instance on the runtime's virtual machine under every
/// limit: the plugin sandbox (the local engine's step sandbox is `engine::sandbox`).
pub(super) struct Caller {
    /// The plugin's name, for errors.
    plugin: String,
    /// The interface it exports, for errors.
    export: String,
    /// Its functions with their signatures, for errors.
    functions: Vec<String>,
    /// The engine and limits.
    shared: Arc<Shared>,
}

impl Caller {
    /// Runs `call` on a fresh instance of `plugin`, under every limit.
    ///
    /// `input_bytes` is the size of what the call passes in, checked against the input cap.
    pub(super) fn call<P: Prepared, R>(
        &self,
        plugin: &P,
        call: &'static str,
        input_bytes: u64,
        run: impl FnOnce(&P::Instance, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let limits = self.shared.limits;
        let (deadline, by_run) = self
            .shared
            .time_left(limits.deadline)
            .map_err(|cancelled| self.stopped(call, cancelled))?;
        if input_bytes > limits.input_bytes {
            return Err(self.limit(
                call,
                LimitKind::Input {
                    actual: input_bytes,
                    limit: limits.input_bytes,
                },
            ));
        }

        let mut store = Store::new(&self.shared.engine, CallState::new(limits.memory_bytes));
        store.limiter(|state| state);
        store
            .set_fuel(limits.fuel)
            .expect("fuel metering is enabled in the engine");
        store.set_hostcall_fuel(usize::try_from(limits.output_bytes).unwrap_or(usize::MAX));
        // Every tick the call is checked against its deadline and the run's interruption.
        let ends = Instant::now() + deadline;
        let cancel = self.shared.cancel();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if cancel.as_ref().is_some_and(Cancel::is_interrupted) {
                return Err(wasmtime::Error::new(Cancelled::Interrupted));
            }
            if Instant::now() >= ends {
                return Err(Trap::Interrupt.into());
            }
            Ok(UpdateDeadline::Continue(1))
        });

        let instance = plugin
            .instance_pre()
            .instantiate(&mut store)
            .map_err(|error| self.classify(call, error, &store, by_run))?;
        let bound =
            plugin
                .bind(&mut store, &instance)
                .map_err(|error| PluginError::Signatures {
                    plugin: self.plugin.clone(),
                    export: self.export.clone(),
                    reason: format!("{error:#}"),
                    functions: self.functions.clone(),
                })?;
        run(&bound, &mut store).map_err(|error| self.classify(call, error, &store, by_run))
    }

    /// Turns a failed call into the error that names the limit it broke, if any. `by_run` says
    /// the call's deadline was the run's rather than its own.
    fn classify(
        &self,
        call: &'static str,
        error: wasmtime::Error,
        store: &Store<CallState>,
        by_run: bool,
    ) -> PluginError {
        let limits = self.shared.limits;
        if let Some(cancelled) = error.downcast_ref::<Cancelled>() {
            return self.stopped(call, *cancelled);
        }
        if format!("{error:#}").contains(HOSTCALL_FUEL_EXHAUSTED) {
            return self.limit(call, LimitKind::Output(limits.output_bytes));
        }
        if store.data().memory_refused() {
            return self.limit(call, LimitKind::Memory(limits.memory_bytes));
        }
        let message = match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => return self.limit(call, LimitKind::Fuel(limits.fuel)),
            Some(Trap::Interrupt) if by_run => return self.limit(call, LimitKind::Run),
            Some(Trap::Interrupt) => {
                return self.limit(call, LimitKind::Deadline(limits.deadline));
            }
            Some(Trap::StackOverflow) => {
                return self.limit(call, LimitKind::Stack(MAX_WASM_STACK));
            }
            Some(Trap::UnreachableCodeReached) => {
                "it panicked or aborted (wasm `unreachable` executed)".to_string()
            }
            Some(trap) => trap.to_string(),
            None => format!("{error:#}"),
        };
        PluginError::Trap {
            plugin: self.plugin.clone(),
            call,
            message,
        }
    }

    /// The error for a broken limit.
    fn limit(&self, call: &'static str, limit: LimitKind) -> PluginError {
        PluginError::Limit {
            plugin: self.plugin.clone(),
            call,
            limit,
        }
    }

    /// The error for a call the run's cancellation stopped (or did not let start).
    fn stopped(&self, call: &'static str, cancelled: Cancelled) -> PluginError {
        match cancelled {
            Cancelled::TimedOut => self.limit(call, LimitKind::Run),
            Cancelled::Interrupted => PluginError::Interrupted {
                plugin: self.plugin.clone(),
                call,
            },
        }
    }

    /// The plugin's name.
    pub(super) fn plugin_name(&self) -> &str {
        &self.plugin
    }

    /// The error for a plugin that returned an error of its own.
    pub(super) fn rejected(&self, call: &'static str, message: String) -> PluginError {
        PluginError::Rejected {
            plugin: self.plugin.clone(),
            call,
            message,
        }
    }
}

impl Shared {
    /// How long something bounded by `own` may take now: the earlier of `own` and what is left
    /// of the run, and whether the run's end is the nearer one. Fails when the run is over, or
    /// less than one epoch tick of it is left (a call interrupted by the run's deadline may be
    /// stopped up to a tick early, and the next call must not start in that tick).
    fn time_left(&self, own: Duration) -> Result<(Duration, bool), Cancelled> {
        let Some(run) = self.cancel() else {
            return Ok((own, false));
        };
        run.check()?;
        match run.deadline().saturating_duration_since(Instant::now()) {
            left if left < EPOCH_TICK => Err(Cancelled::TimedOut),
            left if left < own => Ok((left, true)),
            _ => Ok((own, false)),
        }
    }

    /// The run's cancellation, once set.
    fn cancel(&self) -> Option<Cancel> {
        self.run.lock().expect("not poisoned").clone()
    }
}
