//! Where images come from and go to. So far: OCI image layout folders (`oci:DIR[:TAG]`).

pub mod oci_layout;

pub use oci_layout::{LayoutError, OciLayout};
