//! salve's integration tests in one binary (so `support` is compiled once): each module is a
//! subject, and `support` holds what they share (fixtures, a registry, engines, proxies, checks
//! of layers and VEX documents).

mod bulk;
mod debian;
mod ecosystem_apk;
mod ecosystem_dpkg;
mod ecosystem_pacman;
mod ecosystem_pip;
mod ecosystem_rpm;
mod hostile_ecosystem;
mod image_assembly;
mod image_layers;
mod oci_layout;
mod patch_apk;
mod patch_pip;
mod patch_rpm;
mod plugin_limits;
mod plugin_platform;
mod plugins_cli;
mod registry;
mod report_cli;
mod sandbox_escape;
mod support;
