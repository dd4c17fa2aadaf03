//! Where images come from and go to: transports named as skopeo names them. So far the
//! `oci:DIR[:TAG]` layout reads and writes, registries can be pulled from; the other transports
//! parse.

pub mod oci_layout;
pub mod remote;
pub mod transport;

pub use oci_layout::{LayoutError, OciLayout};
pub use remote::{RegistryClient, RegistryError, RegistryOptions};
pub use transport::Transport;
