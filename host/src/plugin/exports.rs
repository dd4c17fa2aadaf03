//! What a loaded plugin exports, whichever contract version it was built for: an enum over each
//! version's generated bindings whose calls answer in the latest version's types.
//!
//! Each call takes the store of a fresh instance; the limits around it are the runtime's [`Caller`](super::runtime). The
//! functions' signatures are checked when an instance is bound to its version's bindings, which
//! loading a plugin does once (its `describe`), so a plugin whose signatures differ never loads.

use super::contract::latest::native::{
    InstallRequest, InstallStep, NativeError, NativeRequest, Resolution,
};
use super::contract::latest::types::{
    EcosystemInfo, ImageFile, InstalledPackage, OsInfo, PlanRequest, Platform, ScannerInfo, Target,
    UpdateManifest, UpdatePlan,
};
use super::contract::{ContractVersion, PluginKind, v0_1, v0_2, v0_3, v0_4};
use super::store::CallState;
use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre};

/// Runs the same call on an instance of any contract version: each version's bindings are their
/// own types, but their functions have the same names and, through the shared `types`, the
/// same argument and result types.
macro_rules! on_every_version {
    ($instance:ident, $value:expr, $plugin:ident => $call:expr) => {
        match $value {
            $instance::V0_1($plugin) => $call,
            $instance::V0_2($plugin) => $call,
            $instance::V0_3($plugin) => $call,
            $instance::V0_4($plugin) => $call,
        }
    };
}

/// A prepared plugin of one kind: what a call instantiates, and its bindings.
pub(super) trait Prepared {
    /// The instance a call runs in, bound to its version's bindings.
    type Instance;

    /// Ready to instantiate.
    fn instance_pre(&self) -> &InstancePre<CallState>;

    /// Binds a fresh instance to the bindings, checking every function's signature.
    fn bind(
        &self,
        store: &mut Store<CallState>,
        instance: &Instance,
    ) -> wasmtime::Result<Self::Instance>;
}

/// A plugin's exports, checked against its contract version's world when it was loaded.
pub(super) enum Exports {
    /// A scanner plugin.
    Scanner(ScannerExports),
    /// An ecosystem plugin.
    Ecosystem(EcosystemExports),
}

impl Exports {
    /// Looks up every function of the `kind` world at `version` in `pre`; an error names what
    /// is missing.
    pub(super) fn prepare(
        kind: PluginKind,
        version: ContractVersion,
        pre: InstancePre<CallState>,
    ) -> wasmtime::Result<Exports> {
        Ok(match (kind, version) {
            (PluginKind::Scanner, ContractVersion::V0_1) => {
                let indices = v0_1::ScannerPluginIndices::new(&pre)?;
                Exports::Scanner(ScannerExports::V0_1(pre, indices))
            }
            (PluginKind::Scanner, ContractVersion::V0_2) => {
                let indices = v0_2::ScannerPluginIndices::new(&pre)?;
                Exports::Scanner(ScannerExports::V0_2(pre, indices))
            }
            (PluginKind::Scanner, ContractVersion::V0_3) => {
                let indices = v0_3::ScannerPluginIndices::new(&pre)?;
                Exports::Scanner(ScannerExports::V0_3(pre, indices))
            }
            (PluginKind::Scanner, ContractVersion::V0_4) => {
                let indices = v0_4::ScannerPluginIndices::new(&pre)?;
                Exports::Scanner(ScannerExports::V0_4(pre, indices))
            }
            (PluginKind::Ecosystem, ContractVersion::V0_1) => {
                let indices = v0_1::EcosystemPluginIndices::new(&pre)?;
                Exports::Ecosystem(EcosystemExports::V0_1(pre, indices))
            }
            (PluginKind::Ecosystem, ContractVersion::V0_2) => {
                let indices = v0_2::EcosystemPluginIndices::new(&pre)?;
                Exports::Ecosystem(EcosystemExports::V0_2(pre, indices))
            }
            (PluginKind::Ecosystem, ContractVersion::V0_3) => {
                let indices = v0_3::EcosystemPluginIndices::new(&pre)?;
                Exports::Ecosystem(EcosystemExports::V0_3(pre, indices))
            }
            (PluginKind::Ecosystem, ContractVersion::V0_4) => {
                let indices = v0_4::EcosystemPluginIndices::new(&pre)?;
                Exports::Ecosystem(EcosystemExports::V0_4(pre, indices))
            }
        })
    }
}

/// A scanner plugin's exports, by contract version.
pub(super) enum ScannerExports {
    /// Built for `salve:plugin@0.1`.
    V0_1(InstancePre<CallState>, v0_1::ScannerPluginIndices),
    /// Built for `salve:plugin@0.2`.
    V0_2(InstancePre<CallState>, v0_2::ScannerPluginIndices),
    /// Built for `salve:plugin@0.3`.
    V0_3(InstancePre<CallState>, v0_3::ScannerPluginIndices),
    /// Built for `salve:plugin@0.4`.
    V0_4(InstancePre<CallState>, v0_4::ScannerPluginIndices),
}

/// A scanner plugin's instance, by contract version.
pub(super) enum ScannerInstance {
    /// Built for `salve:plugin@0.1`.
    V0_1(v0_1::ScannerPlugin),
    /// Built for `salve:plugin@0.2`.
    V0_2(v0_2::ScannerPlugin),
    /// Built for `salve:plugin@0.3`.
    V0_3(v0_3::ScannerPlugin),
    /// Built for `salve:plugin@0.4`.
    V0_4(v0_4::ScannerPlugin),
}

impl Prepared for ScannerExports {
    type Instance = ScannerInstance;

    fn instance_pre(&self) -> &InstancePre<CallState> {
        match self {
            ScannerExports::V0_1(pre, _)
            | ScannerExports::V0_2(pre, _)
            | ScannerExports::V0_3(pre, _)
            | ScannerExports::V0_4(pre, _) => pre,
        }
    }

    fn bind(
        &self,
        store: &mut Store<CallState>,
        instance: &Instance,
    ) -> wasmtime::Result<ScannerInstance> {
        match self {
            ScannerExports::V0_1(_, indices) => {
                indices.load(store, instance).map(ScannerInstance::V0_1)
            }
            ScannerExports::V0_2(_, indices) => {
                indices.load(store, instance).map(ScannerInstance::V0_2)
            }
            ScannerExports::V0_3(_, indices) => {
                indices.load(store, instance).map(ScannerInstance::V0_3)
            }
            ScannerExports::V0_4(_, indices) => {
                indices.load(store, instance).map(ScannerInstance::V0_4)
            }
        }
    }
}

impl ScannerInstance {
    /// `describe`.
    pub(super) fn describe(&self, store: &mut Store<CallState>) -> wasmtime::Result<ScannerInfo> {
        on_every_version!(ScannerInstance, self, plugin => plugin.salve_plugin_scanner().call_describe(store))
    }

    /// `sniff`.
    pub(super) fn sniff(&self, store: &mut Store<CallState>, head: &[u8]) -> wasmtime::Result<u8> {
        on_every_version!(ScannerInstance, self, plugin => plugin.salve_plugin_scanner().call_sniff(store, head))
    }

    /// `parse`.
    pub(super) fn parse(
        &self,
        store: &mut Store<CallState>,
        report: &[u8],
    ) -> wasmtime::Result<Result<UpdateManifest, String>> {
        on_every_version!(ScannerInstance, self, plugin => plugin.salve_plugin_scanner().call_parse(store, report))
    }
}

/// An ecosystem plugin's exports, by contract version.
pub(super) enum EcosystemExports {
    /// Built for `salve:plugin@0.1`.
    V0_1(InstancePre<CallState>, v0_1::EcosystemPluginIndices),
    /// Built for `salve:plugin@0.2`.
    V0_2(InstancePre<CallState>, v0_2::EcosystemPluginIndices),
    /// Built for `salve:plugin@0.3`.
    V0_3(InstancePre<CallState>, v0_3::EcosystemPluginIndices),
    /// Built for `salve:plugin@0.4`.
    V0_4(InstancePre<CallState>, v0_4::EcosystemPluginIndices),
}

/// An ecosystem plugin's instance, by contract version.
pub(super) enum EcosystemInstance {
    /// Built for `salve:plugin@0.1`.
    V0_1(v0_1::EcosystemPlugin),
    /// Built for `salve:plugin@0.2`.
    V0_2(v0_2::EcosystemPlugin),
    /// Built for `salve:plugin@0.3`.
    V0_3(v0_3::EcosystemPlugin),
    /// Built for `salve:plugin@0.4`.
    V0_4(v0_4::EcosystemPlugin),
}

impl Prepared for EcosystemExports {
    type Instance = EcosystemInstance;

    fn instance_pre(&self) -> &InstancePre<CallState> {
        match self {
            EcosystemExports::V0_1(pre, _)
            | EcosystemExports::V0_2(pre, _)
            | EcosystemExports::V0_3(pre, _)
            | EcosystemExports::V0_4(pre, _) => pre,
        }
    }

    fn bind(
        &self,
        store: &mut Store<CallState>,
        instance: &Instance,
    ) -> wasmtime::Result<EcosystemInstance> {
        match self {
            EcosystemExports::V0_1(_, indices) => {
                indices.load(store, instance).map(EcosystemInstance::V0_1)
            }
            EcosystemExports::V0_2(_, indices) => {
                indices.load(store, instance).map(EcosystemInstance::V0_2)
            }
            EcosystemExports::V0_3(_, indices) => {
                indices.load(store, instance).map(EcosystemInstance::V0_3)
            }
            EcosystemExports::V0_4(_, indices) => {
                indices.load(store, instance).map(EcosystemInstance::V0_4)
            }
        }
    }
}

impl EcosystemInstance {
    /// `describe`.
    pub(super) fn describe(&self, store: &mut Store<CallState>) -> wasmtime::Result<EcosystemInfo> {
        on_every_version!(EcosystemInstance, self, plugin => plugin.salve_plugin_ecosystem().call_describe(store))
    }

    /// `probe-paths`.
    pub(super) fn probe_paths(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<Vec<String>> {
        on_every_version!(EcosystemInstance, self, plugin => plugin.salve_plugin_ecosystem().call_probe_paths(store))
    }

    /// `detect`.
    pub(super) fn detect(
        &self,
        store: &mut Store<CallState>,
        os: &OsInfo,
        files: &[ImageFile],
    ) -> wasmtime::Result<Option<Target>> {
        on_every_version!(EcosystemInstance, self, plugin => plugin.salve_plugin_ecosystem().call_detect(store, os, files))
    }

    /// `compare-versions`.
    pub(super) fn compare_versions(
        &self,
        store: &mut Store<CallState>,
        a: &str,
        b: &str,
    ) -> wasmtime::Result<Result<i8, String>> {
        on_every_version!(EcosystemInstance, self, plugin => plugin.salve_plugin_ecosystem().call_compare_versions(store, a, b))
    }

    /// `tooling-image`.
    pub(super) fn tooling_image(
        &self,
        store: &mut Store<CallState>,
        os: &OsInfo,
        platform: &Platform,
        target: &Target,
        update_all: bool,
    ) -> wasmtime::Result<Option<String>> {
        on_every_version!(EcosystemInstance, self, plugin => plugin.salve_plugin_ecosystem().call_tooling_image(store, os, platform, target, update_all))
    }

    /// `plan`.
    pub(super) fn plan(
        &self,
        store: &mut Store<CallState>,
        request: &PlanRequest,
    ) -> wasmtime::Result<Result<UpdatePlan, String>> {
        on_every_version!(EcosystemInstance, self, plugin => plugin.salve_plugin_ecosystem().call_plan(store, request))
    }

    /// `installed`.
    pub(super) fn installed(
        &self,
        store: &mut Store<CallState>,
        files: &[ImageFile],
    ) -> wasmtime::Result<Result<Vec<InstalledPackage>, String>> {
        on_every_version!(EcosystemInstance, self, plugin => plugin.salve_plugin_ecosystem().call_installed(store, files))
    }

    /// `purl`.
    pub(super) fn purl(
        &self,
        store: &mut Store<CallState>,
        package: &InstalledPackage,
        os: &OsInfo,
        platform: &Platform,
    ) -> wasmtime::Result<String> {
        on_every_version!(EcosystemInstance, self, plugin => plugin.salve_plugin_ecosystem().call_purl(store, package, os, platform))
    }

    /// `native-paths`; a plugin built for 0.1 installs nothing natively.
    pub(super) fn native_paths(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<Vec<String>> {
        match self {
            EcosystemInstance::V0_1(_) => Ok(Vec::new()),
            EcosystemInstance::V0_2(plugin) => {
                plugin.salve_plugin_ecosystem().call_native_paths(store)
            }
            EcosystemInstance::V0_3(plugin) => {
                plugin.salve_plugin_ecosystem().call_native_paths(store)
            }
            EcosystemInstance::V0_4(plugin) => {
                plugin.salve_plugin_ecosystem().call_native_paths(store)
            }
        }
    }

    /// `native-resolve`; asked only of a plugin whose `native-paths` are not empty.
    pub(super) fn native_resolve(
        &self,
        store: &mut Store<CallState>,
        request: &NativeRequest,
    ) -> wasmtime::Result<Result<Resolution, NativeError>> {
        match self {
            EcosystemInstance::V0_1(_) => Ok(Err(NativeError::Unsupported(NOT_NATIVE.into()))),
            EcosystemInstance::V0_2(plugin) => {
                let request = v0_3::native::NativeRequest::from(request);
                Ok(plugin
                    .salve_plugin_ecosystem()
                    .call_native_resolve(store, &(&request).into())?
                    .map(|answer| v0_3::native::Resolution::from(answer).into())
                    .map_err(|error| v0_3::native::NativeError::from(error).into()))
            }
            EcosystemInstance::V0_3(plugin) => Ok(plugin
                .salve_plugin_ecosystem()
                .call_native_resolve(store, &request.into())?
                .map(Into::into)
                .map_err(Into::into)),
            EcosystemInstance::V0_4(plugin) => plugin
                .salve_plugin_ecosystem()
                .call_native_resolve(store, request),
        }
    }

    /// `native-install`; asked only of a plugin whose `native-paths` are not empty.
    pub(super) fn native_install(
        &self,
        store: &mut Store<CallState>,
        request: &InstallRequest,
    ) -> wasmtime::Result<Result<InstallStep, NativeError>> {
        match self {
            EcosystemInstance::V0_1(_) => Ok(Err(NativeError::Unsupported(NOT_NATIVE.into()))),
            EcosystemInstance::V0_2(plugin) => {
                let request = v0_3::native::InstallRequest::from(request);
                Ok(plugin
                    .salve_plugin_ecosystem()
                    .call_native_install(store, &(&request).into())?
                    .map(|answer| v0_3::native::InstallStep::from(answer).into())
                    .map_err(|error| v0_3::native::NativeError::from(error).into()))
            }
            EcosystemInstance::V0_3(plugin) => Ok(plugin
                .salve_plugin_ecosystem()
                .call_native_install(store, &request.into())?
                .map(Into::into)
                .map_err(Into::into)),
            EcosystemInstance::V0_4(plugin) => plugin
                .salve_plugin_ecosystem()
                .call_native_install(store, request),
        }
    }
}

/// The answer of a plugin built before native installation existed.
const NOT_NATIVE: &str =
    "the plugin was built for salve:plugin@0.1, which has no native installation";
