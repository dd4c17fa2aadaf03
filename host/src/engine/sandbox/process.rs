//! Forking and waiting, for the sandbox's own single-threaded processes (they fork without
//! exec to enter namespaces one after another, which `std::process` cannot express).

use rustix::fd::{AsRawFd, OwnedFd};
use rustix::process::{Pid, WaitOptions, WaitStatus};
use std::io;

/// Forks; the child runs `child` and exits with the code it returns, the parent gets the
/// child's pid. Only the sandbox processes call this, and they never start a thread.
pub fn fork(child: impl FnOnce() -> i32) -> io::Result<Pid> {
    // SAFETY: the calling process is single-threaded (the sandbox processes start no thread),
    // so the child inherits no lock held by another thread; the child never returns from here.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            let code = child();
            // SAFETY: ends the child without running the parent's exit handlers twice.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(Pid::from_raw(pid).expect("fork returns a positive pid")),
    }
}

/// In a forked child, closes its copy of a descriptor the parent keeps (a pipe's other end),
/// so that the pipe sees its end when the parent closes its own.
pub fn close_in_child(fd: &OwnedFd) {
    // SAFETY: the child never uses `fd` again and never drops it (it ends with `_exit`).
    unsafe { libc::close(fd.as_raw_fd()) };
}

/// Writes one byte to a pipe.
pub fn signal(fd: &OwnedFd) -> io::Result<()> {
    rustix::io::write(fd, b"1")?;
    Ok(())
}

/// Waits for one byte (`true`) or the end (`false`) of a pipe.
pub fn wait_signal(fd: &OwnedFd) -> io::Result<bool> {
    let mut byte = [0u8; 1];
    loop {
        match rustix::io::read(fd, &mut byte) {
            Ok(read) => return Ok(read == 1),
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

/// Waits for the child `pid` to end and returns how.
pub fn wait_for(pid: Pid) -> io::Result<WaitStatus> {
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => return Ok(status),
            Ok(None) => continue,
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

/// Waits for the child `pid` and returns its exit code (128 + the signal when killed).
pub fn wait_exit(pid: Pid) -> io::Result<i32> {
    Ok(exit_code(wait_for(pid)?))
}

/// A wait status as a shell shows it: the exit code, or 128 + the signal.
pub fn exit_code(status: WaitStatus) -> i32 {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        _ => 255,
    }
}

/// Makes the kernel kill this process when its parent ends, and, when the parent's pid is
/// visible (`parent`), kills it now if the parent already has. The setting is lost whenever the
/// process's ids change: call it after.
pub fn die_with_parent(parent: Option<Pid>) {
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    if parent.is_some_and(|parent| rustix::process::getppid() != Some(parent)) {
        // SAFETY: ends this forked process at once.
        unsafe { libc::_exit(137) }
    }
}

/// Makes file descriptors `from` available as `to` across exec (in a forked child).
pub fn inherit_as(pairs: &[(i32, i32)]) -> io::Result<()> {
    // First out of the way of the target numbers, then into place (dup2 clears close-on-exec).
    let mut moved = Vec::new();
    for &(from, to) in pairs {
        // SAFETY: plain fcntl on a descriptor this process owns.
        let high = unsafe { libc::fcntl(from, libc::F_DUPFD_CLOEXEC, 64) };
        if high < 0 {
            return Err(io::Error::last_os_error());
        }
        moved.push((high, to));
    }
    for (high, to) in moved {
        // SAFETY: plain dup2 on descriptors this process owns.
        if unsafe { libc::dup2(high, to) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
