//! Retrying registry requests that failed for a reason that may pass: a 5xx or 429 answer, a
//! connection reset or timeout, a body cut short or mangled in transit. Other failures (not
//! found, unauthorized, bad requests) are returned at once.

use oci_client::errors::{OciDistributionError, OciErrorCode};
use std::future::Future;
use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait before the second attempt; each later wait doubles it.
    pub first_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 4,
            first_delay: Duration::from_millis(250),
        }
    }
}

/// The outcome of an operation after its retries: the value, or the last error and how many
/// attempts were made.
pub async fn retrying<T, F, Fut>(
    policy: RetryPolicy,
    mut operation: F,
) -> Result<T, (OciDistributionError, u32)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, OciDistributionError>>,
{
    let mut delay = policy.first_delay;
    let mut attempt = 1;
    loop {
        match operation().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt < policy.attempts && is_transient(&error) => {
                tracing::warn!(%error, attempt, "registry request failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(error) => return Err((error, attempt)),
        }
    }
}

/// True when the registry refused the credentials (or their absence).
pub fn is_unauthorized(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::UnauthorizedError { .. } => true,
        OciDistributionError::RequestError(error) => {
            error.status().is_some_and(|status| status.as_u16() == 401)
        }
        OciDistributionError::ServerError { code, .. } => *code == 401,
        _ => false,
    }
}

/// True when the request failed because the connection sent nothing for the stall timeout (in
/// the answer's head or in the middle of its body).
pub fn is_stall(error: &OciDistributionError) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = next {
        if cause
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_timeout)
        {
            return true;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
            // An I/O error made from another error shows it by `get_ref`, not by `source`.
            if let Some(inner) = io.get_ref() {
                next = Some(inner);
                continue;
            }
        }
        next = cause.source();
    }
    false
}

/// True for failures that another attempt may not meet.
pub fn is_transient(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::ServerError { code, .. } => *code >= 500 || *code == 429,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| matches!(e.code, OciErrorCode::Toomanyrequests)),
        OciDistributionError::RequestError(error) => match error.status() {
            Some(status) => status.is_server_error() || status.as_u16() == 429,
            None => !error.is_builder() && !error.is_redirect(),
        },
        OciDistributionError::IoError(_) | OciDistributionError::DigestError(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn server_error(code: u16) -> OciDistributionError {
        OciDistributionError::ServerError {
            code,
            url: "http://127.0.0.1/v2/".into(),
            message: String::new(),
        }
    }

    fn quick(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            attempts,
            first_delay: Duration::from_millis(1),
        }
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn retries_server_errors_until_one_succeeds() {
        let calls = Cell::new(0);
        let result = retrying(quick(4), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { if n < 3 { Err(server_error(503)) } else { Ok(n) } }
        })
        .await;
        assert_eq!(result.unwrap(), 3);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn gives_up_after_the_last_attempt_and_says_how_many() {
        let result: Result<(), _> = retrying(quick(3), || async { Err(server_error(500)) }).await;
        let (error, attempts) = result.unwrap_err();
        assert_eq!(attempts, 3);
        assert!(error.to_string().contains("500"));
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn does_not_retry_what_cannot_pass() {
        let calls = Cell::new(0);
        let result: Result<(), _> = retrying(quick(5), || {
            calls.set(calls.get() + 1);
            async { Err(server_error(404)) }
        })
        .await;
        assert_eq!(result.unwrap_err().1, 1);
        assert_eq!(calls.get(), 1);
    }
}
