//! For a plugin's own tests (feature `testing`): builders of the contract's values with the
//! defaults most tests want ([`builders`]), and a runner for the plugin's shell scripts with
//! stand-in programs ([`script`]).

pub mod builders;
pub mod script;

pub use builders::{
    download, entry, file, installed, missing, os, plan_request, platform, target, unpacked, update,
};
pub use script::{ScriptRun, StandIn, run_script};
