//! Options for commands that reach registries: plain-HTTP hosts, the credentials file, retries.

use crate::quantity::parse_duration;
use crate::transport::{RegistryOptions, RetryPolicy};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// How registries are reached.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Reach this registry (`host[:port]`) over plain HTTP; repeatable. Loopback registries
    /// always are.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    insecure_registries: Vec<String>,

    /// Credentials file in Docker's config.json format [default: $REGISTRY_AUTH_FILE,
    /// $DOCKER_CONFIG/config.json, ~/.docker/config.json].
    #[arg(long, value_name = "PATH")]
    authfile: Option<PathBuf>,

    /// Attempts per registry request when it fails for a reason that may pass (5xx, resets).
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..))]
    registry_attempts: u32,

    /// How long a registry connection may send nothing in the middle of an answer before the
    /// request counts as stalled and is retried.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    registry_stall_timeout: Duration,
}

impl RegistryArgs {
    /// These flags as command-line arguments, for a salve process this one starts.
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        for host in &self.insecure_registries {
            args.extend(["--insecure-registry".into(), host.into()]);
        }
        if let Some(file) = &self.authfile {
            args.extend(["--authfile".into(), file.clone().into_os_string()]);
        }
        args.extend([
            "--registry-attempts".into(),
            self.registry_attempts.to_string().into(),
            "--registry-stall-timeout".into(),
            crate::quantity::format_duration(self.registry_stall_timeout).into(),
        ]);
        args
    }

    /// The registry options these flags describe.
    pub fn options(&self) -> RegistryOptions {
        RegistryOptions {
            insecure: self.insecure_registries.clone(),
            auth_file: self.authfile.clone(),
            retry: RetryPolicy {
                attempts: self.registry_attempts,
                ..RetryPolicy::default()
            },
            stall_timeout: self.registry_stall_timeout,
        }
    }
}
