//! Where images come from and go to: transports named as skopeo names them. So far the
//! `oci:DIR[:TAG]` layout is implemented; the other transports parse.

pub mod oci_layout;
pub mod transport;

pub use oci_layout::{LayoutError, OciLayout};
pub use transport::Transport;
