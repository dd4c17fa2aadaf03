//! Registry credentials, found where Docker and skopeo users keep them: an explicit auth file,
//! `$REGISTRY_AUTH_FILE`, `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. A registry's
//! entry may hold the credentials (`auth`, `username`/`password`, `identitytoken`) or name a
//! credential helper (`credHelpers`, else `credsStore`), which is run as
//! `docker-credential-NAME get` with the registry on its standard input.

use base64::Engine;
use oci_client::secrets::RegistryAuth;
use serde_json::Value;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use thiserror::Error;

/// Docker Hub's historical key in `auths`.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// Why the credentials for a registry could not be found.
#[derive(Debug, Error)]
pub enum CredentialsError {
    /// The auth file could not be read.
    #[error("reading {}: {error}", file.display())]
    Read {
        /// The auth file.
        file: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The auth file is not JSON.
    #[error("{} is not JSON: {error}", file.display())]
    NotJson {
        /// The auth file.
        file: PathBuf,
        /// Why.
        error: serde_json::Error,
    },
    /// The registry's `auth` entry is not base64 of `user:password`.
    #[error("{}: the \"auth\" entry for {registry} is not base64 of \"user:password\"", file.display())]
    BadAuthEntry {
        /// The auth file.
        file: PathBuf,
        /// The registry.
        registry: String,
    },
    /// The credential helper could not be run or failed.
    #[error("{}: credential helper {program}: {reason}", file.display())]
    Helper {
        /// The auth file that names the helper.
        file: PathBuf,
        /// The helper program.
        program: String,
        /// What went wrong.
        reason: String,
    },
}

/// What went wrong in an auth file, before the file is named.
#[derive(Debug)]
enum Problem {
    /// The `auth` entry is not base64 of `user:password`.
    BadAuthEntry,
    /// A credential helper failed: the program and why.
    Helper(String, String),
}

/// The credentials for `registry` (`host[:port]`), anonymous when no file names it.
pub fn lookup(registry: &str, auth_file: Option<&Path>) -> Result<RegistryAuth, CredentialsError> {
    let Some(path) = auth_file.map(Path::to_path_buf).or_else(default_file) else {
        return Ok(RegistryAuth::Anonymous);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && auth_file.is_none() => {
            return Ok(RegistryAuth::Anonymous);
        }
        Err(error) => return Err(CredentialsError::Read { file: path, error }),
    };
    let config: Value = match serde_json::from_str(&text) {
        Ok(config) => config,
        Err(error) => return Err(CredentialsError::NotJson { file: path, error }),
    };
    from_config(&config, registry).map_err(|problem| match problem {
        Problem::BadAuthEntry => CredentialsError::BadAuthEntry {
            file: path,
            registry: registry.to_string(),
        },
        Problem::Helper(program, reason) => CredentialsError::Helper {
            file: path,
            program,
            reason,
        },
    })
}

/// The first auth file that exists among the usual places.
fn default_file() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("REGISTRY_AUTH_FILE").map(PathBuf::from),
        std::env::var_os("DOCKER_CONFIG").map(|dir| PathBuf::from(dir).join("config.json")),
        dirs::home_dir().map(|home| home.join(".docker/config.json")),
    ];
    candidates.into_iter().flatten().find(|path| path.exists())
}

/// The credentials a parsed config file gives for `registry`.
fn from_config(config: &Value, registry: &str) -> Result<RegistryAuth, Problem> {
    let wanted = canonical_host(registry);
    if let Some(helper) = config["credHelpers"]
        .as_object()
        .and_then(|helpers| {
            helpers
                .iter()
                .find(|(key, _)| canonical_host(key) == wanted)
        })
        .and_then(|(_, helper)| helper.as_str())
    {
        return from_helper(helper, registry);
    }
    let entry = config["auths"]
        .as_object()
        .and_then(|auths| auths.iter().find(|(key, _)| canonical_host(key) == wanted))
        .map(|(_, entry)| entry);
    if let Some(entry) = entry
        && let Some(auth) = from_entry(entry)?
    {
        return Ok(auth);
    }
    if let Some(helper) = config["credsStore"].as_str() {
        return from_helper(helper, registry);
    }
    Ok(RegistryAuth::Anonymous)
}

/// The credentials an `auths` entry holds, if it holds any.
fn from_entry(entry: &Value) -> Result<Option<RegistryAuth>, Problem> {
    if let Some(token) = entry["identitytoken"].as_str().filter(|t| !t.is_empty()) {
        return Ok(Some(RegistryAuth::Bearer(token.to_string())));
    }
    if let Some(encoded) = entry["auth"].as_str().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(Problem::BadAuthEntry)?;
        let (user, password) = decoded.split_once(':').ok_or(Problem::BadAuthEntry)?;
        return Ok(Some(RegistryAuth::Basic(user.into(), password.into())));
    }
    match (entry["username"].as_str(), entry["password"].as_str()) {
        (Some(user), Some(password)) => Ok(Some(RegistryAuth::Basic(user.into(), password.into()))),
        _ => Ok(None),
    }
}

/// Asks `docker-credential-NAME` (found on `PATH`) for the credentials of `registry`.
fn from_helper(name: &str, registry: &str) -> Result<RegistryAuth, Problem> {
    ask_helper(&format!("docker-credential-{name}"), registry)
}

/// Runs a credential helper program's `get` for `registry`.
fn ask_helper(program: &str, registry: &str) -> Result<RegistryAuth, Problem> {
    let failed = |reason: String| Problem::Helper(program.to_string(), reason);
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| failed(format!("running it: {error}")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(registry.as_bytes())
        .map_err(|error| failed(format!("writing to it: {error}")))?;
    drop(stdin);
    let output = child
        .wait_with_output()
        .map_err(|error| failed(format!("running it: {error}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        // Helpers say "credentials not found in native keychain" when they know nothing.
        if stdout.contains("not found") {
            return Ok(RegistryAuth::Anonymous);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(failed(format!(
            "it failed for {registry}: {}",
            format!("{} {}", stdout.trim(), stderr.trim()).trim()
        )));
    }
    let answer: Value = serde_json::from_str(&stdout)
        .map_err(|error| failed(format!("it did not answer JSON: {error}")))?;
    let user = answer["Username"].as_str().unwrap_or_default();
    let secret = answer["Secret"].as_str().unwrap_or_default();
    if secret.is_empty() {
        return Ok(RegistryAuth::Anonymous);
    }
    if user == "<token>" {
        return Ok(RegistryAuth::Bearer(secret.to_string()));
    }
    Ok(RegistryAuth::Basic(user.into(), secret.into()))
}

/// A registry key reduced to its host: scheme and path dropped, Docker Hub's names unified.
fn canonical_host(key: &str) -> String {
    if key == DOCKER_HUB_KEY {
        return "docker.io".to_string();
    }
    let without_scheme = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = without_scheme
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn basic(auth: RegistryAuth) -> (String, String) {
        match auth {
            RegistryAuth::Basic(user, password) => (user, password),
            other => panic!("expected basic credentials, got {other:?}"),
        }
    }

    #[test]
    fn reads_every_form_of_auths_entry() {
        let config = json!({"auths": {
            "https://127.0.0.1:5000/v2/": {"auth": "dXNlcjpwYTpzcw=="},
            "reg.example": {"username": "u", "password": "p"},
            "https://index.docker.io/v1/": {"auth": "aHViOmh1Yg=="},
            "tok.example": {"identitytoken": "T"},
            "empty.example": {}
        }});
        assert_eq!(
            basic(from_config(&config, "127.0.0.1:5000").unwrap()),
            ("user".into(), "pa:ss".into())
        );
        assert_eq!(
            basic(from_config(&config, "reg.example").unwrap()),
            ("u".into(), "p".into())
        );
        assert_eq!(
            basic(from_config(&config, "registry-1.docker.io").unwrap()),
            ("hub".into(), "hub".into())
        );
        assert!(matches!(
            from_config(&config, "tok.example").unwrap(),
            RegistryAuth::Bearer(token) if token == "T"
        ));
        assert!(matches!(
            from_config(&config, "empty.example").unwrap(),
            RegistryAuth::Anonymous
        ));
        assert!(matches!(
            from_config(&config, "other.example").unwrap(),
            RegistryAuth::Anonymous
        ));
    }

    /// The error `lookup` gives for `r.example` with `config` as its auth file, as text.
    fn lookup_error(config: &Value) -> String {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.json");
        std::fs::write(&file, config.to_string()).unwrap();
        let error = lookup("r.example", Some(&file)).unwrap_err().to_string();
        assert!(error.contains("auth.json"), "{error}");
        error
    }

    #[test]
    fn a_broken_auth_entry_is_named() {
        let error = lookup_error(&json!({"auths": {"r.example": {"auth": "%%%"}}}));
        assert!(
            error.contains("r.example") && error.contains("base64"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_helper_is_a_clear_error() {
        let error = lookup_error(&json!({"credHelpers": {"r.example": "salve-test-absent"}}));
        assert!(
            error.contains("docker-credential-salve-test-absent"),
            "{error}"
        );
    }

    #[test]
    fn a_helper_answer_becomes_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-salvetest");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread host\necho \"{\\\"ServerURL\\\":\\\"$host\\\",\\\"Username\\\":\\\"h-$host\\\",\\\"Secret\\\":\\\"s\\\"}\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        assert_eq!(
            basic(ask_helper(helper.to_str().unwrap(), "r.example:5000").unwrap()),
            ("h-r.example:5000".into(), "s".into())
        );
    }
}
