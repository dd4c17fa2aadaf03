//! `salve bulk`: many images patched from one configuration (copa's `PatchConfig`): the
//! configuration read and checked ([`config`]), tags chosen ([`select`]) and turned into jobs
//! ([`jobs`]), the jobs run at once as `salve patch` processes ([`runner`]), and what each
//! reported read back ([`outcome`]).

pub mod config;
pub mod jobs;
pub mod outcome;
pub mod runner;
pub mod select;
