//! Where images come from and go to: transports named as skopeo names them (registries,
//! `oci:` layouts, `oci-archive:` and `docker-archive:` files, the Docker daemon), moved in and
//! out of the working OCI layout ([`crate::image::layout`]) by `transfer`.

pub mod credentials;
pub mod docker_archive;
pub mod docker_daemon;
pub mod error;
pub mod name;
pub mod oci_archive;
pub mod reference;
pub mod remote;
pub mod retry;
pub mod transfer;

pub use error::TransportError;
pub use name::Transport;
pub use reference::ImageReference;
pub use remote::{PlatformChoice, RegistryClient, RegistryError, RegistryOptions};
pub use retry::RetryPolicy;
pub use transfer::{deliver, fetch};
