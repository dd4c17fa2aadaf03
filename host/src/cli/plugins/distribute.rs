//! `salve plugins push`, `add` and `remove`: plugins shared through registries, installed into the
//! data folder and pinned in lock files.

use crate::cli::options::PluginOptions;
use crate::display_safe::one_line;
use crate::patch::clock::now_rfc3339;
use crate::plugin::lock::{LockedPlugin, PluginLock};
use crate::plugin::{Plugin, PluginRuntime, PluginSource};
use crate::plugin_store::artifact::ArtifactFacts;
use crate::plugin_store::install::PluginStore;
use crate::plugin_store::registry::{FetchedPlugin, fetch, publish, verify_signature};
use crate::plugin_store::signature::{PluginSigner, PluginVerifier};
use crate::plugin_store::{OCI_SCHEME, StoreError, parse_oci_reference, pinned_source};
use crate::transport::RegistryOptions;
use anyhow::{Context, bail};
use std::path::Path;
use std::process::ExitCode;

/// `salve plugins push FILE REF`: checks the component loads as a plugin, publishes it, prints
/// the manifest digest.
pub fn push(
    options: &PluginOptions,
    file: &Path,
    reference: &str,
    sign_key: Option<&Path>,
    registry: &RegistryOptions,
) -> anyhow::Result<ExitCode> {
    let target = parse_oci_reference(reference)?;
    let signer = sign_key.map(PluginSigner::read).transpose()?;
    let component =
        std::fs::read(file).with_context(|| format!("reading plugin {}", file.display()))?;
    let catalog = options.catalog()?;
    let plugin = catalog.runtime().identify(
        &file.display().to_string(),
        PluginSource::CommandLine(file.to_path_buf()),
        &component,
    )?;
    let facts = ArtifactFacts {
        name: plugin.name().to_string(),
        version: plugin.info().version().to_string(),
        summary: plugin.info().summary().to_string(),
        export: plugin.contract().export.clone(),
        created: now_rfc3339(),
    };
    let work = tempfile::tempdir().context("creating a working folder")?;
    let digest = io_runtime()?.block_on(publish(
        &component,
        &facts,
        &target,
        signer.as_ref(),
        registry,
        work.path(),
    ))?;
    eprintln!(
        "pushed plugin {} {} ({}) to {reference}@{digest}{}",
        one_line(plugin.name()),
        one_line(plugin.info().version()),
        plugin.contract().export,
        if signer.is_some() { ", signed" } else { "" }
    );
    crate::cli::emit(&format!("{digest}\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// `salve plugins add [REF...] [--lock FILE]`.
pub fn add(
    options: &PluginOptions,
    references: &[String],
    project_lock: Option<&Path>,
    key: Option<&Path>,
    registry: &RegistryOptions,
) -> anyhow::Result<ExitCode> {
    let verifier = key.map(PluginVerifier::read).transpose()?;
    let store =
        PluginStore::user().context("salve's data folder is unknown: set HOME or XDG_DATA_HOME")?;
    let catalog = options.catalog()?;
    let io = io_runtime()?;
    let wanted: Vec<(String, Option<(String, LockedPlugin)>)> = match (references, project_lock) {
        ([], None) => bail!(
            "name a plugin to add ({OCI_SCHEME}registry/repository:tag), or a lock file with \
             --lock to install what it pins"
        ),
        ([], Some(lock_file)) => {
            let lock = PluginLock::read(lock_file)?;
            let pinned = lock
                .entries()
                .map(|(name, entry)| {
                    Ok((pinned_source(entry)?, Some((name.clone(), entry.clone()))))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            if pinned.is_empty() {
                bail!("lock file {} pins no plugins", lock_file.display());
            }
            pinned
        }
        (references, _) => references.iter().map(|text| (text.clone(), None)).collect(),
    };
    for (text, pin) in wanted {
        let reference = parse_oci_reference(&text)?;
        let work = tempfile::tempdir().context("creating a working folder")?;
        let fetched = io.block_on(fetch(&reference, registry, work.path()))?;
        if let Some(verifier) = &verifier {
            let signature_work = work.path().join("signature");
            io.block_on(verify_signature(
                &reference,
                &fetched.manifest_digest,
                verifier,
                registry,
                &signature_work,
            ))?;
        }
        let plugin = identify(catalog.runtime(), &text, &fetched, work.path())?;
        let locked = match pin {
            Some((name, entry)) => {
                check_pin(&text, &name, &entry, &plugin, &fetched)?;
                entry
            }
            None => LockedPlugin {
                source: text.clone(),
                manifest: fetched.manifest_digest.clone(),
                component: fetched.component_digest.clone(),
                kind: plugin.kind().to_string(),
                version: plugin.info().version().to_string(),
                contract: plugin.contract().wit_version.clone(),
                signed_by: verifier.as_ref().map(|key| key.fingerprint().to_string()),
            },
        };
        let path = store.install(plugin.name(), &fetched.component, locked.clone())?;
        if let Some(lock_file) = project_lock {
            PluginLock::update(lock_file, |lock| {
                lock.insert(plugin.name(), locked.clone());
                Ok::<_, StoreError>(())
            })?;
        }
        let built_in_name = catalog.entries().iter().any(|entry| {
            entry.name == plugin.name()
                && (entry.source == PluginSource::BuiltIn
                    || entry.shadowed.contains(&PluginSource::BuiltIn))
        });
        let replaces = if built_in_name {
            "; it replaces the built-in plugin of that name"
        } else {
            ""
        };
        let signed = match &verifier {
            Some(key) => format!(", signature verified with key {}", key.fingerprint()),
            None => String::new(),
        };
        eprintln!(
            "added {} plugin {} {} from {text} (manifest {}, component {}{signed}) as {}{replaces}",
            plugin.kind(),
            plugin.name(),
            one_line(plugin.info().version()),
            fetched.manifest_digest,
            fetched.component_digest,
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads a fetched component as a plugin (its imports, contract and name checked) before it is
/// stored anywhere salve loads plugins from.
fn identify(
    runtime: &PluginRuntime,
    text: &str,
    fetched: &FetchedPlugin,
    work: &Path,
) -> Result<Plugin, StoreError> {
    let file = work.join("fetched.wasm");
    runtime
        .identify(text, PluginSource::CommandLine(file), &fetched.component)
        .map_err(|error| StoreError::Plugin {
            reference: text.to_string(),
            error: Box::new(error),
        })
}

/// Checks that what a lock file's pin fetched is what it pins.
fn check_pin(
    text: &str,
    name: &str,
    entry: &LockedPlugin,
    plugin: &Plugin,
    fetched: &FetchedPlugin,
) -> anyhow::Result<()> {
    if fetched.component_digest != entry.component {
        bail!(
            "{text}: its component is {}, the lock file pins {}",
            fetched.component_digest,
            entry.component
        );
    }
    if plugin.name() != name {
        bail!(
            "{text}: the plugin calls itself {:?}, the lock file pins it as {name:?}",
            one_line(plugin.name())
        );
    }
    Ok(())
}

/// `salve plugins remove NAME [--lock FILE]`.
pub fn remove(name: &str, project_lock: Option<&Path>) -> anyhow::Result<ExitCode> {
    let store =
        PluginStore::user().context("salve's data folder is unknown: set HOME or XDG_DATA_HOME")?;
    let entry = store.remove(name)?;
    if let Some(lock_file) = project_lock {
        PluginLock::update(lock_file, |lock| Ok::<_, StoreError>(lock.remove(name)))?;
    }
    match entry {
        Some(entry) => eprintln!("removed plugin {name} (added from {})", entry.source),
        None => eprintln!("removed plugin {name} (it was not in the lock file)"),
    }
    Ok(ExitCode::SUCCESS)
}

/// A single-threaded runtime for the registry requests.
fn io_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the I/O runtime")
}
