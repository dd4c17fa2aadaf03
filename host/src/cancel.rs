//! One cancellation token for a run: its deadline (`--timeout`) and Ctrl-C (SIGINT or SIGTERM).
//! Every wait of the run obeys it: async waits through [`Cancel::run`], blocking work (the
//! local engine's wait for its sandbox, plugin calls) through [`Cancel::check`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::Notify;

/// Why a run was stopped.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum Cancelled {
    /// Its deadline passed.
    #[error("the time allowed (--timeout) ran out")]
    TimedOut,
    /// The user pressed Ctrl-C, or the process was asked to stop.
    #[error("interrupted")]
    Interrupted,
}

/// The run's deadline and interruption, shared by everything the run does.
#[derive(Clone, Debug)]
pub struct Cancel {
    /// When the run must end.
    deadline: Instant,
    /// Set once the run is interrupted.
    interrupted: Arc<AtomicBool>,
    /// Wakes async waiters when the run is interrupted.
    notify: Arc<Notify>,
}

impl Cancel {
    /// A token for a run that may take `timeout` from now.
    pub fn after(timeout: Duration) -> Cancel {
        Cancel {
            deadline: Instant::now() + timeout,
            interrupted: Arc::new(AtomicBool::new(false)),
            notify: Arc::new(Notify::new()),
        }
    }

    /// When the run must end.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Interrupts the run: every wait ends with [`Cancelled::Interrupted`].
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether the run was interrupted.
    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// Whether the run must stop now, and why.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_interrupted() {
            return Err(Cancelled::Interrupted);
        }
        if Instant::now() >= self.deadline {
            return Err(Cancelled::TimedOut);
        }
        Ok(())
    }

    /// Resolves when the run must stop, with why.
    pub async fn cancelled(&self) -> Cancelled {
        loop {
            // Registered before the check, so an interruption between the two is not missed.
            let notified = self.notify.notified();
            if let Err(cancelled) = self.check() {
                return cancelled;
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(self.deadline.into()) => {}
            }
        }
    }

    /// Runs `future` until it ends or the run must stop; in the second case the future is
    /// dropped, which cancels what it was doing.
    pub async fn run<T>(&self, future: impl Future<Output = T>) -> Result<T, Cancelled> {
        self.check()?;
        tokio::select! {
            output = future => Ok(output),
            cancelled = self.cancelled() => Err(cancelled),
        }
    }

    /// Interrupts the run when the process receives SIGINT or SIGTERM, from a thread of its
    /// own (so that blocking work sees it too). The first signal lets the run stop and clean up;
    /// a second one ends the process at once (exit code 130), for a user who will not wait.
    pub fn interrupt_on_signals(&self) -> std::io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
        let cancel = self.clone();
        std::thread::Builder::new()
            .name("salve-signals".into())
            .spawn(move || {
                for _ in signals.forever() {
                    if cancel.is_interrupted() {
                        std::process::exit(130);
                    }
                    cancel.interrupt();
                }
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_wait_ends_at_the_deadline() {
        let cancel = Cancel::after(Duration::from_secs(5));
        let never = std::future::pending::<()>();
        assert_eq!(cancel.run(never).await, Err(Cancelled::TimedOut));
        assert_eq!(cancel.check(), Err(Cancelled::TimedOut));
    }

    #[tokio::test]
    async fn an_interruption_ends_every_wait_and_every_check() {
        let cancel = Cancel::after(Duration::from_secs(3600));
        assert_eq!(cancel.check(), Ok(()));
        let waiter = {
            let cancel = cancel.clone();
            tokio::spawn(async move { cancel.run(std::future::pending::<()>()).await })
        };
        tokio::task::yield_now().await;
        cancel.interrupt();
        assert_eq!(waiter.await.unwrap(), Err(Cancelled::Interrupted));
        assert_eq!(cancel.check(), Err(Cancelled::Interrupted));
        assert_eq!(
            cancel.run(async { 1 }).await,
            Err(Cancelled::Interrupted),
            "nothing starts after an interruption"
        );
    }
}
