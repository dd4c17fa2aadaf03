//! Options every command shares: plugin sources, call limits, the cache folder and its bound.

use crate::plugin::{Limits, PluginCatalog, PluginRuntime, PluginSearch, RuntimeOptions};
use crate::quantity::{parse_bytes, parse_duration};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Where plugins come from, what they may use, and where their compiled code is kept.
#[derive(Debug, Args)]
pub struct PluginOptions {
    /// Load an extra plugin (a .wasm file, or a folder of them); repeatable. A plugin with the
    /// name of a built-in one replaces it.
    #[arg(long = "plugin", value_name = "PATH", global = true)]
    plugins: Vec<PathBuf>,

    /// Wall-clock time one plugin call may take [default: 30s].
    #[arg(long, value_name = "DURATION", env = "SALVE_PLUGIN_TIMEOUT", global = true,
          value_parser = parse_duration)]
    plugin_timeout: Option<Duration>,

    /// WebAssembly fuel one plugin call may burn, about one unit per instruction
    /// [default: 20000000000].
    #[arg(long, value_name = "UNITS", env = "SALVE_PLUGIN_FUEL", global = true)]
    plugin_fuel: Option<u64>,

    /// Memory one plugin instance may hold, all its memories and tables together [default: 1GiB].
    #[arg(long, value_name = "SIZE", env = "SALVE_PLUGIN_MEMORY", global = true,
          value_parser = parse_bytes)]
    plugin_memory: Option<u64>,

    /// Largest input passed to one plugin call [default: 256MiB].
    #[arg(long, value_name = "SIZE", env = "SALVE_PLUGIN_MAX_INPUT", global = true,
          value_parser = parse_bytes)]
    plugin_max_input: Option<u64>,

    /// Largest output accepted from one plugin call [default: 128MiB].
    #[arg(long, value_name = "SIZE", env = "SALVE_PLUGIN_MAX_OUTPUT", global = true,
          value_parser = parse_bytes)]
    plugin_max_output: Option<u64>,

    /// Wall-clock time compiling one plugin to native code may take; a plugin that takes longer
    /// is refused, and remembered as refused in the compiled-code cache [default: 60s].
    #[arg(long, value_name = "DURATION", env = "SALVE_PLUGIN_COMPILE_TIMEOUT", global = true,
          value_parser = parse_duration)]
    plugin_compile_timeout: Option<Duration>,

    /// Refuse to run when a plugin file replaces a plugin of the same name (a built-in one, say)
    /// instead of using it.
    #[arg(long, env = "SALVE_NO_PLUGIN_OVERRIDE", global = true)]
    no_plugin_override: bool,

    /// Folder for compiled plugin code, unpacked images, downloaded packages and working folders
    /// (see `salve cache`) [default: ~/.cache/salve].
    #[arg(long, value_name = "DIR", env = "SALVE_CACHE_DIR", global = true)]
    cache_dir: Option<PathBuf>,

    /// Compile plugins in memory and neither read nor write the compiled-code cache.
    #[arg(long, global = true)]
    no_cache: bool,

    /// Size the cache folder is kept under: at the end of every `salve patch`, the least
    /// recently used entries no running salve holds are removed until it fits; `unlimited`
    /// removes only what ended runs left behind [default: 10GiB].
    #[arg(long, value_name = "SIZE", env = "SALVE_CACHE_MAX_SIZE", global = true,
          value_parser = parse_bound)]
    cache_max_size: Option<u64>,
}

/// Reads a cache bound: a size, or `unlimited`.
fn parse_bound(text: &str) -> Result<u64, crate::quantity::QuantityError> {
    if text.trim().eq_ignore_ascii_case("unlimited") {
        return Ok(u64::MAX);
    }
    parse_bytes(text)
}

impl PluginOptions {
    /// The limits the options ask for, each defaulting to [`Limits::default`].
    pub fn limits(&self) -> Limits {
        let defaults = Limits::default();
        Limits {
            deadline: self.plugin_timeout.unwrap_or(defaults.deadline),
            fuel: self.plugin_fuel.unwrap_or(defaults.fuel),
            memory_bytes: self.plugin_memory.unwrap_or(defaults.memory_bytes),
            input_bytes: self.plugin_max_input.unwrap_or(defaults.input_bytes),
            output_bytes: self.plugin_max_output.unwrap_or(defaults.output_bytes),
            compile_deadline: self
                .plugin_compile_timeout
                .unwrap_or(defaults.compile_deadline),
        }
    }

    /// These options as command-line arguments, for a salve process this one starts (each job
    /// of `salve bulk`) to run with the same plugins, limits and cache.
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        use crate::quantity::format_duration;
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        let mut pair = |flag: &str, value: std::ffi::OsString| {
            args.push(flag.into());
            args.push(value);
        };
        for plugin in &self.plugins {
            pair("--plugin", plugin.clone().into());
        }
        if let Some(timeout) = self.plugin_timeout {
            pair("--plugin-timeout", format_duration(timeout).into());
        }
        if let Some(fuel) = self.plugin_fuel {
            pair("--plugin-fuel", fuel.to_string().into());
        }
        if let Some(memory) = self.plugin_memory {
            pair("--plugin-memory", memory.to_string().into());
        }
        if let Some(input) = self.plugin_max_input {
            pair("--plugin-max-input", input.to_string().into());
        }
        if let Some(output) = self.plugin_max_output {
            pair("--plugin-max-output", output.to_string().into());
        }
        if let Some(timeout) = self.plugin_compile_timeout {
            pair("--plugin-compile-timeout", format_duration(timeout).into());
        }
        if let Some(dir) = &self.cache_dir {
            pair("--cache-dir", dir.clone().into());
        }
        if let Some(bound) = self.cache_max_size {
            let bound = if bound == u64::MAX {
                "unlimited".to_string()
            } else {
                bound.to_string()
            };
            pair("--cache-max-size", bound.into());
        }
        if self.no_plugin_override {
            args.push("--no-plugin-override".into());
        }
        if self.no_cache {
            args.push("--no-cache".into());
        }
        args
    }

    /// The size the cache folder is kept under (`u64::MAX` when unlimited).
    pub fn cache_max_size(&self) -> u64 {
        self.cache_max_size
            .unwrap_or(crate::cache::DEFAULT_MAX_SIZE)
    }

    /// The compiled-code cache folder, unless `--no-cache`.
    fn cache_dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        self.cache_dir
            .clone()
            .or_else(|| dirs::cache_dir().map(|dir| dir.join("salve")))
    }

    /// The folder for salve's caches of unpacked images and working folders: `--cache-dir`,
    /// else the user's cache folder, else `/var/tmp/salve` (kept even with `--no-cache`, which
    /// only concerns compiled plugin code).
    pub fn data_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .or_else(|| dirs::cache_dir().map(|dir| dir.join("salve")))
            .unwrap_or_else(|| PathBuf::from("/var/tmp/salve"))
    }

    /// The runtime and the plugins these options describe.
    pub fn catalog(&self) -> anyhow::Result<PluginCatalog> {
        let runtime = PluginRuntime::new(RuntimeOptions {
            limits: self.limits(),
            cache_dir: self.cache_dir(),
        })
        .context("starting the plugin runtime")?;
        let search = PluginSearch::from_environment(self.plugins.clone());
        let catalog = PluginCatalog::new(runtime, &search)?;
        if self.no_plugin_override {
            catalog.refuse_overrides()?;
        }
        Ok(catalog)
    }
}
