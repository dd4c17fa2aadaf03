//! Package versions of the ecosystems salve patches, parsed and ordered exactly as each
//! ecosystem's own tools order them: Debian's (dpkg), RPM's (rpm 4.18), Alpine's (apk-tools),
//! Arch Linux's (pacman's `vercmp`) and Python's (PEP 440).
//!
//! Ecosystem plugins compare versions with these for the host; scanner plugins use them to read
//! version ranges (which fix applies to the installed version) in reports that give ranges.

pub mod alpm;
pub mod apk;
pub mod deb;
pub mod pep440;
pub mod rpm;
