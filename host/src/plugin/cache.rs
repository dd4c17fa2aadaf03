//! The compiled-code cache: native code for each plugin, so a warm load skips compilation.
//!
//! Entries live in `<cache dir>/compiled/<component sha256>-<engine hash>.cwasm`. Loading
//! native code runs it, so an entry is only ever loaded when salve itself wrote it:
//! - every entry carries an HMAC-SHA256 of its payload under a random key that salve created
//!   in the cache folder (mode 0600) on first use; a file written by anything that does not know
//!   the key (another tool, a restored CI cache, a truncated write) fails the check;
//! - the folder, the key and the entry must belong to the current user and be writable by no one
//!   else;
//! - entries are written to a temporary file in the same folder and renamed into place, so a
//!   reader never sees half an entry.
//!
//! Loading an entry sets its modification time, which orders evictions (see [`crate::cache`]).
//! An entry that fails a check is removed and the component compiled again. A cache that cannot
//! be used at all (read-only, wrong owner) is reported once and the plugin compiled in memory.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::hash::Hasher;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The first bytes of every cache entry.
const MAGIC: &[u8] = b"salve compiled component v1\n";

/// The length of the HMAC that follows the magic bytes.
const TAG_LEN: usize = 32;

/// The name of the key file inside the cache folder.
const KEY_FILE: &str = "hmac.key";

/// The compiled-code cache for one engine configuration.
pub struct CompiledCache {
    /// `<cache dir>/compiled`.
    dir: PathBuf,
    /// The engine's compatibility hash, part of every entry's name.
    engine_hash: String,
    /// The HMAC key that proves an entry was written by salve.
    key: [u8; 32],
}

impl CompiledCache {
    /// Opens (creating if needed) the cache under `root` for `engine`.
    pub fn open(root: &Path, engine: &Engine) -> io::Result<CompiledCache> {
        let dir = crate::cache::Kind::Compiled.folder(root);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        check_private(&dir, "cache folder")?;
        let key = load_or_create_key(&dir.join(KEY_FILE))?;
        Ok(CompiledCache {
            dir,
            engine_hash: engine_hash(engine),
            key,
        })
    }

    /// The folder holding the entries.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry's path for a component with the given sha256.
    fn entry_path(&self, component_sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{component_sha256}-{}.cwasm", self.engine_hash))
    }

    /// The compiled component for `component_sha256`, if a valid entry exists.
    ///
    /// An entry that fails its checks is removed (and `Err` says why); a missing one is `Ok(None)`.
    pub fn load(&self, engine: &Engine, component_sha256: &str) -> io::Result<Option<Component>> {
        let path = self.entry_path(component_sha256);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let verified = self.read_verified(&mut file, &path);
        let payload = match verified {
            Ok(payload) => payload,
            Err(error) => {
                let _ = fs::remove_file(&path);
                return Err(error);
            }
        };
        // SAFETY: the payload was written by this user's salve (its HMAC verifies under the
        // private key) from `Component::serialize` of an engine with the same compatibility hash;
        // wasmtime additionally checks its own header and the engine's settings.
        match unsafe { Component::deserialize(engine, &payload) } {
            Ok(component) => {
                // The time of last use orders evictions from the cache; not recording it is
                // not a failure.
                let _ = file.set_modified(std::time::SystemTime::now());
                Ok(Some(component))
            }
            Err(error) => {
                let _ = fs::remove_file(&path);
                Err(io::Error::other(format!(
                    "{} was refused by wasmtime: {error}",
                    path.display()
                )))
            }
        }
    }

    /// Reads an entry and returns its payload once ownership, magic and HMAC check out.
    fn read_verified(&self, file: &mut File, path: &Path) -> io::Result<Vec<u8>> {
        check_private_file(file, path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let invalid = |what: &str| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} {what}", path.display()),
            )
        };
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| invalid("is not a salve cache entry"))?;
        if rest.len() < TAG_LEN {
            return Err(invalid("is truncated"));
        }
        let (tag, payload) = rest.split_at(TAG_LEN);
        let mut mac = self.mac();
        mac.update(payload);
        mac.verify_slice(tag)
            .map_err(|_| invalid("was not written by this salve (its HMAC does not verify)"))?;
        Ok(payload.to_vec())
    }

    /// Writes the compiled form of a component atomically.
    pub fn store(&self, component_sha256: &str, component: &Component) -> io::Result<()> {
        let payload = component.serialize().map_err(io::Error::other)?;
        let mut mac = self.mac();
        mac.update(&payload);
        let tag = mac.finalize().into_bytes();
        let mut temp = tempfile::Builder::new()
            .prefix(".entry-")
            .tempfile_in(&self.dir)?;
        temp.write_all(MAGIC)?;
        temp.write_all(&tag)?;
        temp.write_all(&payload)?;
        temp.as_file().sync_all()?;
        temp.persist(self.entry_path(component_sha256))
            .map_err(|error| error.error)?;
        Ok(())
    }

    /// The refusal file for a component whose compilation ran past its bound.
    fn refusal_path(&self, component_sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{component_sha256}-{}.refused", self.engine_hash))
    }

    /// The compilation bound (in milliseconds) a component already failed to compile within,
    /// if it did: compiling it again under the same or a shorter bound would only burn the time
    /// again.
    pub fn refused_within(&self, component_sha256: &str) -> Option<u64> {
        let path = self.refusal_path(component_sha256);
        let text = fs::read_to_string(&path).ok()?;
        text.trim().parse().ok()
    }

    /// Remembers that a component did not compile within `bound_ms` milliseconds.
    pub fn remember_refusal(&self, component_sha256: &str, bound_ms: u64) -> io::Result<()> {
        let mut temp = tempfile::Builder::new()
            .prefix(".refusal-")
            .tempfile_in(&self.dir)?;
        writeln!(temp, "{bound_ms}")?;
        temp.persist(self.refusal_path(component_sha256))
            .map_err(|error| error.error)?;
        Ok(())
    }

    /// Forgets a refusal once the component has compiled (under a longer bound).
    pub fn forget_refusal(&self, component_sha256: &str) {
        let _ = fs::remove_file(self.refusal_path(component_sha256));
    }

    /// A fresh HMAC under this cache's key.
    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }
}

/// Reads the cache key, or creates it (random, mode 0600) if there is none.
fn load_or_create_key(path: &Path) -> io::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            rustix::rand::getrandom(&mut key, rustix::rand::GetRandomFlags::empty())?;
            file.write_all(&key)?;
            file.sync_all()?;
            Ok(key)
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            let mut file = File::open(path)?;
            check_private_file(&file, path)?;
            file.read_exact(&mut key).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is not a 32-byte key; delete it", path.display()),
                )
            })?;
            Ok(key)
        }
        Err(error) => Err(error),
    }
}

/// Fails unless the open file belongs to the current user and no one else may write it.
fn check_private_file(file: &File, path: &Path) -> io::Result<()> {
    check_owner(&file.metadata()?, path, "cache file")
}

/// Fails unless the folder belongs to the current user and no one else may write it.
fn check_private(path: &Path, what: &str) -> io::Result<()> {
    check_owner(&fs::metadata(path)?, path, what)
}

/// The ownership and permission check shared by folders and files.
fn check_owner(metadata: &fs::Metadata, path: &Path, what: &str) -> io::Result<()> {
    let me = rustix::process::geteuid().as_raw();
    if metadata.uid() != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{what} {} belongs to user {}, not to the current user {me}",
                path.display(),
                metadata.uid()
            ),
        ));
    }
    if metadata.mode() & 0o022 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{what} {} is writable by other users (mode {:o})",
                path.display(),
                metadata.mode() & 0o777
            ),
        ));
    }
    Ok(())
}

/// A short hex digest of the engine's compatibility hash (its version and settings).
fn engine_hash(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
    hex::encode(&hasher.0.finalize()[..8])
}

/// A `Hasher` that feeds SHA-256, so the engine hash is stable across runs and builds.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(
            digest[..8]
                .try_into()
                .expect("a SHA-256 digest has 32 bytes"),
        )
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// The binary form of `(component)`: the preamble of an empty component.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

    /// A trivial component (no imports, no exports) to store and load.
    fn component(engine: &Engine) -> Component {
        Component::new(engine, EMPTY_COMPONENT).unwrap()
    }

    fn engine() -> Engine {
        super::super::vm::build_vm().unwrap()
    }

    #[test]
    fn a_stored_entry_loads_back() {
        let root = tempfile::tempdir().unwrap();
        let engine = engine();
        let cache = CompiledCache::open(root.path(), &engine).unwrap();
        assert!(cache.load(&engine, "abc").unwrap().is_none());
        cache.store("abc", &component(&engine)).unwrap();
        assert!(cache.load(&engine, "abc").unwrap().is_some());
        let mode = fs::metadata(cache.dir().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn entries_not_written_by_salve_are_refused_and_removed() {
        let root = tempfile::tempdir().unwrap();
        let engine = engine();
        let cache = CompiledCache::open(root.path(), &engine).unwrap();
        cache.store("abc", &component(&engine)).unwrap();
        let path = cache.entry_path("abc");

        // Same bytes, but a payload changed after the HMAC was computed.
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let error = cache.load(&engine, "abc").unwrap_err();
        assert!(error.to_string().contains("HMAC"), "{error}");
        assert!(!path.exists(), "a refused entry is removed");

        // A serialized component written by someone else, without salve's header.
        fs::write(&path, component(&engine).serialize().unwrap()).unwrap();
        let error = cache.load(&engine, "abc").unwrap_err();
        assert!(
            error.to_string().contains("not a salve cache entry"),
            "{error}"
        );

        // A truncated entry.
        fs::write(&path, MAGIC).unwrap();
        assert!(
            cache
                .load(&engine, "abc")
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
    }

    #[test]
    fn another_key_means_another_writer() {
        let engine = engine();
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let writer = CompiledCache::open(first.path(), &engine).unwrap();
        let reader = CompiledCache::open(second.path(), &engine).unwrap();
        writer.store("abc", &component(&engine)).unwrap();
        fs::copy(writer.entry_path("abc"), reader.entry_path("abc")).unwrap();
        assert!(reader.load(&engine, "abc").is_err());
    }

    #[test]
    fn group_writable_files_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let engine = engine();
        let cache = CompiledCache::open(root.path(), &engine).unwrap();
        cache.store("abc", &component(&engine)).unwrap();
        let path = cache.entry_path("abc");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o664)).unwrap();
        let error = cache.load(&engine, "abc").unwrap_err();
        assert!(
            error.to_string().contains("writable by other users"),
            "{error}"
        );
    }
}
