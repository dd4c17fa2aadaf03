//! What `ca-certificates`' `config` and `postinst` leave on an upgrade, reproduced: the
//! certificates debconf would enable (every one not disabled, when new ones are trusted, as
//! debconf's default answer says), `/etc/ca-certificates.conf` rewritten as the postinst rewrites
//! it (the old one kept as `.dpkg-old` when it changes), then `update-ca-certificates`: the
//! `.pem` links in `/etc/ssl/certs`, the bundle `ca-certificates.crt`, orphan links removed, and
//! `openssl rehash`'s subject-hash links ([`rehash`]).
//!
//! Refused (another engine runs the scripts): new certificates not trusted by debconf's answer,
//! hooks in `/etc/ca-certificates/update.d` (the trigger would run them), a missing
//! configuration, names the shell would split or expand, files that cannot be read or hashed.

use super::install::INFO;
use super::scripts::{self, Scene, Verdict};
use super::x509::{self, PemContent};
use salve_plugin_sdk::FileKind;
use std::collections::{BTreeMap, BTreeSet};

/// The package whose scripts this reproduces.
pub const PACKAGE: &str = "ca-certificates";

/// Which certificates are enabled (`name`) or disabled (`!name`).
pub const CERTS_CONF: &str = "/etc/ca-certificates.conf";

/// The certificates packages ship.
pub const CERTS_DIR: &str = "/usr/share/ca-certificates";

/// The certificates the administrator adds.
pub const LOCAL_CERTS_DIR: &str = "/usr/local/share/ca-certificates";

/// Where OpenSSL looks for certificates.
pub const ETC_CERTS: &str = "/etc/ssl/certs";

/// Programs `update-ca-certificates` runs after it updates.
pub const HOOKS: &str = "/etc/ca-certificates/update.d";

/// debconf's answers.
pub const DEBCONF: &str = "/var/cache/debconf/config.dat";

/// The packages interested in the trigger the postinst activates, one per line.
pub const TRIGGER_INTERESTS: &str = "/var/lib/dpkg/triggers/update-ca-certificates";

/// dpkg's overrides of file modes and owners.
pub const STATOVERRIDE: &str = "/var/lib/dpkg/statoverride";

/// The folder whose mode and owners the postinst gives [`LOCAL_CERTS_DIR`].
pub const USR_LOCAL: &str = "/usr/local";

/// The bundle of every enabled certificate.
const BUNDLE: &str = "ca-certificates.crt";

/// The debconf question whose answer decides whether new certificates are trusted.
const TRUST_NEW: &str = "ca-certificates/trust_new_crts";

/// How many links a path is followed through.
const MAX_HOPS: usize = 40;

/// Image paths the reproduction reads (patterns as `native-paths` writes them).
pub fn image_reads() -> Vec<String> {
    vec![
        CERTS_CONF.to_string(),
        format!("{ETC_CERTS}/**"),
        format!("{CERTS_DIR}/**"),
        format!("{LOCAL_CERTS_DIR}/**"),
        format!("{HOOKS}/*"),
        DEBCONF.to_string(),
        STATOVERRIDE.to_string(),
        TRIGGER_INTERESTS.to_string(),
    ]
}

/// Image paths whose mode and owners the reproduction reads.
pub fn status_reads() -> Vec<String> {
    vec![
        USR_LOCAL.to_string(),
        LOCAL_CERTS_DIR.to_string(),
        CERTS_CONF.to_string(),
    ]
}

/// Why the reproduction stops.
enum Stop {
    /// Another round must read this image path first.
    Read(String),
    /// The scripts do something salve does not reproduce.
    Refuse(String),
}

impl From<String> for Stop {
    fn from(reason: String) -> Self {
        Stop::Refuse(reason)
    }
}

/// Reproduces the upgrade's effect into `verdict`; an error says why it cannot be.
pub fn reproduce(scene: &Scene, verdict: &mut Verdict) -> Result<(), String> {
    match reproduce_or_stop(scene, verdict) {
        Ok(()) => Ok(()),
        Err(Stop::Read(path)) => {
            if !verdict.reads.image.contains(&path) {
                verdict.reads.image.push(path);
            }
            Ok(())
        }
        Err(Stop::Refuse(reason)) => Err(reason),
    }
}

/// [`reproduce`], stopping for a read.
fn reproduce_or_stop(scene: &Scene, verdict: &mut Verdict) -> Result<(), Stop> {
    let trust_new = debconf_value(&scene.text(DEBCONF).unwrap_or_default(), TRUST_NEW)
        .unwrap_or_else(|| "yes".into());
    if trust_new != "yes" {
        return Err(Stop::Refuse(format!(
            "debconf's answer to {TRUST_NEW} is {trust_new:?}, so the scripts would ask which \
             new certificates to trust"
        )));
    }
    let hooks = format!("{HOOKS}/");
    if let Some((hook, _)) = scene
        .files
        .range(hooks.as_str()..)
        .find(|(path, file)| path.starts_with(&hooks) && file.kind != FileKind::Missing)
    {
        return Err(Stop::Refuse(format!(
            "update-ca-certificates would run the hook {hook}"
        )));
    }
    let interests = scene.text(TRIGGER_INTERESTS).unwrap_or_default();
    if let Some(other) = interests
        .lines()
        .map(|line| line.trim().split('/').next().unwrap_or_default())
        .find(|name| !name.is_empty() && *name != PACKAGE)
    {
        return Err(Stop::Refuse(format!(
            "the postinst activates the trigger update-ca-certificates, which {other} is \
             interested in too"
        )));
    }
    local_folder_stays(scene)?;
    let conf = scene
        .text(CERTS_CONF)
        .ok_or_else(|| format!("{CERTS_CONF} is missing: the postinst would write it anew"))?;
    let view = View::new(scene)?;
    let config = scene
        .package
        .control
        .iter()
        .find(|member| member.path == "config")
        .and_then(|member| member.content.as_deref())
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let listed = certs_list(&config);
    let (enabled, available) = debconf_choices(&conf, &view.shared_crts(), &listed)?;
    let new_conf = rewritten_conf(&conf, &enabled, &available, &view)?;
    if new_conf != conf {
        let status = scene
            .statuses
            .iter()
            .find(|status| status.path == CERTS_CONF);
        if status.is_none_or(|status| (status.mode, status.uid, status.gid) != (0o644, 0, 0)) {
            return Err(Stop::Refuse(format!(
                "the postinst would move {CERTS_CONF}, which is not a root-owned 0644 file, to \
                 {CERTS_CONF}.dpkg-old"
            )));
        }
        verdict.write(CERTS_CONF, new_conf.clone().into_bytes(), 0o644);
        verdict.write(&format!("{CERTS_CONF}.dpkg-old"), conf.into_bytes(), 0o644);
    }
    update(&new_conf, view, verdict)
}

/// The postinst gives [`LOCAL_CERTS_DIR`] `/usr/local`'s mode and owners unless dpkg overrides
/// them; it must have them already.
fn local_folder_stays(scene: &Scene) -> Result<(), String> {
    let status = |path: &str| scene.statuses.iter().find(|status| status.path == path);
    let local = status(LOCAL_CERTS_DIR).filter(|status| status.kind == FileKind::Directory);
    let Some(local) = local else {
        return Err(format!(
            "{LOCAL_CERTS_DIR} is not a folder in the image: the postinst would make it"
        ));
    };
    let overridden = scene
        .text(STATOVERRIDE)
        .unwrap_or_default()
        .lines()
        .any(|line| line.split_whitespace().nth(3) == Some(LOCAL_CERTS_DIR));
    if overridden {
        return Ok(());
    }
    match status(USR_LOCAL) {
        Some(usr_local)
            if usr_local.kind == FileKind::Directory
                && (usr_local.mode, usr_local.uid, usr_local.gid)
                    == (local.mode, local.uid, local.gid) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "the postinst would give {LOCAL_CERTS_DIR} the mode and owners of {USR_LOCAL}, which \
             differ"
        )),
    }
}

/// The value of a debconf question in `config.dat`.
fn debconf_value(database: &str, question: &str) -> Option<String> {
    database
        .split("\n\n")
        .find(|stanza| {
            stanza
                .lines()
                .any(|line| line == format!("Name: {question}"))
        })?
        .lines()
        .find_map(|line| line.strip_prefix("Value:"))
        .map(|value| value.trim().to_string())
}

/// The certificates `config` lists as its own (`CERTS_LIST="a, b"`).
fn certs_list(config: &str) -> Vec<String> {
    config
        .lines()
        .find_map(|line| line.strip_prefix("CERTS_LIST=\""))
        .and_then(|rest| rest.strip_suffix('"'))
        .map(each_value)
        .unwrap_or_default()
}

/// A debconf list (`a, b`) as the scripts split it: at commas, leading white space removed.
fn each_value(list: &str) -> Vec<String> {
    list.split(',')
        .map(|value| value.trim_start().to_string())
        .collect()
}

/// `config`'s answers when new certificates are trusted: (enabled, available), each in the
/// sorted order `config` gives them.
fn debconf_choices(
    conf: &str,
    shared: &BTreeSet<String>,
    listed: &[String],
) -> Result<(Vec<String>, Vec<String>), String> {
    let disabled: BTreeSet<&str> = conf
        .lines()
        .filter_map(|line| line.strip_prefix('!'))
        .collect();
    let mut crts: BTreeSet<String> = shared.clone();
    crts.extend(listed.iter().cloned());
    for crt in &crts {
        if crt.is_empty()
            || crt
                .bytes()
                .any(|byte| byte.is_ascii_whitespace() || b"*?[\\^$,".contains(&byte))
        {
            return Err(format!(
                "the certificate name {crt:?} is one the scripts would split or expand"
            ));
        }
    }
    let available: Vec<String> = crts.into_iter().collect();
    let enabled = available
        .iter()
        .filter(|crt| !disabled.contains(crt.as_str()))
        .cloned()
        .collect();
    Ok((enabled, available))
}

/// Whether `text` matches the basic regular expression `pattern` from its start (whole, when
/// `whole`), for the patterns the scripts build from certificate names: `.` is any byte, and
/// the other special characters are refused earlier.
fn regex_matches(pattern: &str, text: &str, whole: bool) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    if text.len() < pattern.len() || (whole && text.len() != pattern.len()) {
        return false;
    }
    pattern
        .iter()
        .zip(text)
        .all(|(wanted, found)| *wanted == b'.' || wanted == found)
}

/// The postinst's `memberp`: `name` is one of `list`'s values.
fn member(name: &str, list: &[String]) -> bool {
    list.iter().any(|value| regex_matches(name, value, true))
}

/// The postinst's rewriting of [`CERTS_CONF`] from debconf's answers.
fn rewritten_conf(
    conf: &str,
    enabled: &[String],
    available: &[String],
    view: &View,
) -> Result<String, Stop> {
    if !conf.ends_with('\n') {
        return Err(Stop::Refuse(format!(
            "{CERTS_CONF} does not end with a newline: the postinst's shell would skip its last \
             line"
        )));
    }
    let mut lines: Vec<String> = Vec::new();
    for raw in conf.lines() {
        if raw.contains('\\') || raw.trim().is_empty() || raw.contains(['[', '*', '^', '$']) {
            return Err(Stop::Refuse(format!(
                "{CERTS_CONF} has the line {raw:?}, which the postinst's shell reads in ways \
                 salve does not reproduce"
            )));
        }
        // `read` without -r: leading and trailing blanks removed.
        let line = raw.trim_matches([' ', '\t']);
        if line.starts_with('#') {
            lines.push(line.to_string());
            continue;
        }
        let ca = line.strip_prefix('!').unwrap_or(line);
        if ca.is_empty() {
            return Err(Stop::Refuse(format!(
                "{CERTS_CONF} has a line naming no certificate ({raw:?})"
            )));
        }
        let kept = if member(ca, enabled) {
            ca.to_string()
        } else if member(ca, available) || line.starts_with('!') {
            format!("!{ca}")
        } else if view.is_file(&format!("{CERTS_DIR}/{ca}"))?
            || view.is_file(&format!("{LOCAL_CERTS_DIR}/{ca}"))?
        {
            ca.to_string()
        } else {
            format!("!{ca}")
        };
        lines.push(kept);
    }
    for ca in enabled {
        if !lines.iter().any(|line| regex_matches(ca, line, false)) {
            lines.push(ca.clone());
        }
    }
    for ca in available {
        if !member(ca, enabled)
            && !lines.iter().any(|line| {
                line.strip_prefix('!')
                    .is_some_and(|rest| regex_matches(ca, rest, false))
            })
        {
            lines.push(format!("!{ca}"));
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    Ok(text)
}

/// One entry of `/etc/ssl/certs` as the update leaves it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    /// A symbolic link and its target.
    Link(String),
    /// Anything else (a regular file or a folder) the update leaves as it is.
    Other(FileKind),
}

/// The files as the upgrade leaves them, before `update-ca-certificates` runs: the packages'
/// files in place of the old versions', the rest of the image as it is.
struct View<'s, 'a> {
    /// What is known.
    scene: &'s Scene<'a>,
    /// Regular files under [`CERTS_DIR`] after the upgrade: path to whether a package of
    /// this run ships it (else the image has it).
    shared: BTreeMap<String, bool>,
    /// Paths of the image the run's packages remove.
    gone: BTreeSet<String>,
    /// `/etc/ssl/certs`'s entries, by name, as the update changes them.
    certs: BTreeMap<String, Entry>,
}

impl<'s, 'a> View<'s, 'a> {
    /// The view of `scene`.
    fn new(scene: &'s Scene<'a>) -> Result<View<'s, 'a>, String> {
        let shipped: BTreeMap<&str, FileKind> = scene
            .packages
            .iter()
            .flat_map(|package| &package.entries)
            .map(|entry| (entry.path.as_str(), entry.kind))
            .collect();
        let mut gone = BTreeSet::new();
        for package in scene.packages {
            let download = &package.download;
            for name in [
                download.name.clone(),
                format!("{}:{}", download.name, download.architecture),
            ] {
                for path in scene
                    .text(&format!("{INFO}/{name}.list"))
                    .unwrap_or_default()
                    .lines()
                {
                    if !shipped.contains_key(path) {
                        gone.insert(path.to_string());
                    }
                }
            }
        }
        let under = format!("{CERTS_DIR}/");
        let mut shared = BTreeMap::new();
        for (path, file) in scene.files.range(under.as_str()..) {
            if !path.starts_with(&under) {
                break;
            }
            if file.kind == FileKind::File && !gone.contains(*path) && !shipped.contains_key(path) {
                shared.insert(path.to_string(), false);
            }
        }
        for (path, kind) in &shipped {
            if path.starts_with(&under) && *kind == FileKind::File {
                shared.insert(path.to_string(), true);
            }
        }
        let prefix = format!("{ETC_CERTS}/");
        let mut certs = BTreeMap::new();
        for (path, file) in scene.files.range(prefix.as_str()..) {
            let Some(name) = path.strip_prefix(&prefix) else {
                break;
            };
            if name.contains('/') || file.kind == FileKind::Missing {
                continue;
            }
            let entry = match (&file.kind, &file.link_target) {
                (FileKind::Symlink, Some(target)) => Entry::Link(target.clone()),
                (kind, _) => Entry::Other(*kind),
            };
            certs.insert(name.to_string(), entry);
        }
        Ok(View {
            scene,
            shared,
            gone,
            certs,
        })
    }

    /// The names `config` finds under [`CERTS_DIR`] (`find -type f -name '*.crt'`).
    fn shared_crts(&self) -> BTreeSet<String> {
        self.shared
            .keys()
            .filter(|path| path.ends_with(".crt"))
            .filter_map(|path| path.strip_prefix(&format!("{CERTS_DIR}/")))
            .map(String::from)
            .collect()
    }

    /// What `path` is (not following a link at it): kind and link target.
    fn lookup(&self, path: &str) -> Result<(FileKind, Option<String>), Stop> {
        if let Some(name) = path.strip_prefix(&format!("{ETC_CERTS}/"))
            && !name.contains('/')
        {
            return Ok(match self.certs.get(name) {
                Some(Entry::Link(target)) => (FileKind::Symlink, Some(target.clone())),
                Some(Entry::Other(kind)) => (*kind, None),
                None => (FileKind::Missing, None),
            });
        }
        if path.starts_with(&format!("{CERTS_DIR}/")) {
            if self.shared.contains_key(path) {
                return Ok((FileKind::File, None));
            }
            let folder = format!("{path}/");
            if self.shared.keys().any(|shared| shared.starts_with(&folder)) {
                return Ok((FileKind::Directory, None));
            }
            if self.gone.contains(path) {
                return Ok((FileKind::Missing, None));
            }
        }
        match self.scene.file(path) {
            Some(file) => Ok((file.kind, file.link_target.clone())),
            None if self.read_whole(path) => Ok((FileKind::Missing, None)),
            None => Err(Stop::Read(path.to_string())),
        }
    }

    /// Whether `path` is in a folder read whole (every path below it, [`image_reads`]), with no
    /// link on the way: then a path the read did not bring is missing.
    fn read_whole(&self, path: &str) -> bool {
        [ETC_CERTS, CERTS_DIR, LOCAL_CERTS_DIR]
            .iter()
            .any(|folder| {
                let Some(rest) = path.strip_prefix(&format!("{folder}/")) else {
                    return false;
                };
                let mut ancestor = folder.to_string();
                for part in rest.split('/') {
                    if self
                        .scene
                        .file(&ancestor)
                        .is_some_and(|file| file.kind == FileKind::Symlink)
                    {
                        return false;
                    }
                    ancestor = format!("{ancestor}/{part}");
                }
                true
            })
    }

    /// Where `path` leads through links: the final path and its kind (`Missing` when it leads
    /// nowhere).
    fn follow(&self, path: &str) -> Result<(String, FileKind), Stop> {
        let mut current = path.to_string();
        for _ in 0..MAX_HOPS {
            match self.lookup(&current)? {
                (FileKind::Symlink, Some(target)) => {
                    current = resolve(&current, &target);
                }
                (kind, _) => return Ok((current, kind)),
            }
        }
        Ok((current, FileKind::Missing))
    }

    /// `test -f`: a regular file, through links.
    fn is_file(&self, path: &str) -> Result<bool, Stop> {
        Ok(self.follow(path)?.1 == FileKind::File)
    }

    /// `test -e`: something, through links.
    fn exists(&self, path: &str) -> Result<bool, Stop> {
        Ok(self.follow(path)?.1 != FileKind::Missing)
    }

    /// The bytes of the regular file at `path`, through links.
    fn content(&self, path: &str) -> Result<Vec<u8>, Stop> {
        let (found, kind) = self.follow(path)?;
        if kind != FileKind::File {
            return Err(Stop::Refuse(format!("{path} cannot be read")));
        }
        let packaged = self.shared.get(&found) == Some(&true);
        let file = if packaged {
            self.scene.packaged.get(found.as_str()).copied()
        } else {
            self.scene.file(&found)
        };
        match file.and_then(|file| file.content.clone()) {
            Some(content) => Ok(content),
            None if packaged => Err(Stop::Refuse(format!(
                "{found} was not read from the packages"
            ))),
            None => Err(Stop::Read(found)),
        }
    }
}

/// `link`'s `target` as an absolute path, `.` and `..` resolved as written.
fn resolve(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return scripts::lexical(target);
    }
    let parent = link.rsplit_once('/').map_or("", |(parent, _)| parent);
    scripts::lexical(&format!("{parent}/{target}"))
}

/// `basename NAME .crt`.
fn basename_without_crt(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.strip_suffix(".crt") {
        Some(stem) if !stem.is_empty() => stem,
        _ => name,
    }
}

/// `update-ca-certificates --hooksdir ""` with the rewritten configuration, then `openssl
/// rehash` when links changed; the changes into `verdict`.
fn update(conf: &str, mut view: View, verdict: &mut Verdict) -> Result<(), Stop> {
    let original = view.certs.clone();
    let (mut added, mut removed) = (0usize, 0usize);
    let mut bundle: Option<Vec<u8>> = None;
    let lines: Vec<&str> = conf.lines().filter(|line| !line.is_empty()).collect();
    for line in &lines {
        if let Some(crt) = line.strip_prefix('!') {
            let crt = crt.trim_matches([' ', '\t']);
            let pem = format!(
                "{}.pem",
                basename_without_crt(&format!("{CERTS_DIR}/{crt}"))
            );
            if matches!(view.certs.get(&pem), Some(Entry::Link(_))) {
                view.certs.remove(&pem);
                removed += 1;
            }
        }
    }
    let mut certificates: Vec<String> = Vec::new();
    for line in &lines {
        if line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let path = format!("{CERTS_DIR}/{}", line.trim_matches([' ', '\t']));
        if view.is_file(&path)? {
            certificates.push(path);
        } else {
            verdict.note(&format!(
                "update-ca-certificates: {path} is listed in {CERTS_CONF} but not there"
            ));
        }
    }
    let local_prefix = format!("{LOCAL_CERTS_DIR}/");
    let mut local: Vec<String> = Vec::new();
    for (path, file) in view.scene.files.range(local_prefix.as_str()..) {
        if !path.starts_with(&local_prefix) {
            break;
        }
        match file.kind {
            FileKind::Symlink => {
                return Err(Stop::Refuse(format!(
                    "{path} is a link, which update-ca-certificates follows in ways salve does \
                     not reproduce"
                )));
            }
            FileKind::File if path.ends_with(".crt") => local.push(path.to_string()),
            _ => {}
        }
    }
    local.sort();
    certificates.extend(local);
    for certificate in &certificates {
        let pem = format!(
            "{}.pem",
            basename_without_crt(certificate)
                .replace(' ', "_")
                .replace(['(', ')'], "=")
                .replace(',', "_")
        );
        let pem_path = format!("{ETC_CERTS}/{pem}");
        let current = match view.certs.get(&pem) {
            Some(Entry::Link(target)) => Some(target.clone()),
            _ => None,
        };
        if !view.exists(&pem_path)? || current.as_deref() != Some(certificate.as_str()) {
            view.certs.insert(pem, Entry::Link(certificate.clone()));
            added += 1;
        }
        let mut content = view.content(certificate)?;
        if !content.is_empty() && !content.ends_with(b"\n") {
            content.push(b'\n');
        }
        bundle.get_or_insert_with(Vec::new).extend(content);
    }
    let mut orphans: Vec<String> = Vec::new();
    if added > 0 || removed > 0 {
        for (name, entry) in view.certs.clone() {
            if matches!(entry, Entry::Link(_)) && !view.exists(&format!("{ETC_CERTS}/{name}"))? {
                view.certs.remove(&name);
            }
        }
        let prefix = format!("{ETC_CERTS}/");
        for (path, file) in view.scene.files.range(prefix.as_str()..) {
            let Some(name) = path.strip_prefix(&prefix) else {
                break;
            };
            if name.contains('/') && file.kind == FileKind::Symlink && !view.exists(path)? {
                orphans.push(path.to_string());
            }
        }
        rehash(&mut view)?;
    }
    for (name, entry) in &view.certs {
        if original.get(name) != Some(entry)
            && let Entry::Link(target) = entry
        {
            verdict.link(&format!("{ETC_CERTS}/{name}"), target);
        }
    }
    for name in original
        .keys()
        .filter(|name| !view.certs.contains_key(*name))
    {
        verdict.remove(&format!("{ETC_CERTS}/{name}"));
    }
    for orphan in orphans {
        verdict.remove(&orphan);
    }
    if let Some(bundle) = bundle {
        verdict.write(&format!("{ETC_CERTS}/{BUNDLE}"), bundle, 0o644);
    }
    verdict.note(
        "ca-certificates' scripts were not run: salve wrote what update-ca-certificates and \
         openssl rehash leave in /etc/ssl/certs",
    );
    Ok(())
}

/// The extensions `openssl rehash` reads.
const EXTENSIONS: &[&str] = &["pem", "crt", "cer", "crl"];

/// The most certificates one hash may have.
const MAX_COLLISIONS: usize = 256;

/// One file or old link of a hash bucket, as `openssl rehash` keeps them.
struct Hashed {
    /// The file name (for an old link, its target as stored).
    filename: String,
    /// The old link's number, if one names this file.
    old_id: Option<usize>,
    /// Whether a certificate file needs a link.
    need_symlink: bool,
    /// The certificate's SHA-1, for a file.
    digest: Option<[u8; 20]>,
}

/// `openssl rehash /etc/ssl/certs` (OpenSSL 3's, new-style hashes) on the view's entries:
/// every file with a certificate extension holding exactly one certificate gets a
/// `HASH.N` link, numbered as rehash numbers them; old hash links are kept, renumbered or removed
/// as it does.
fn rehash(view: &mut View) -> Result<(), Stop> {
    let mut buckets: Vec<((bool, u32), Vec<Hashed>, usize)> = Vec::new();
    let bucket_of =
        |key: (bool, u32), buckets: &mut Vec<((bool, u32), Vec<Hashed>, usize)>| match buckets
            .iter()
            .position(|(known, _, _)| *known == key)
        {
            Some(at) => at,
            None => {
                buckets.push((key, Vec::new(), 0));
                buckets.len() - 1
            }
        };
    let names: Vec<(String, Entry)> = view
        .certs
        .iter()
        .map(|(name, entry)| (name.clone(), entry.clone()))
        .collect();
    for (name, entry) in &names {
        if let Entry::Link(target) = entry
            && let Some((crl, hash, id)) = hash_link_name(name)
        {
            let at = bucket_of((crl, hash), &mut buckets);
            add_entry(&mut buckets[at], target, None, Some(id))?;
            continue;
        }
        let Some((_, extension)) = name.rsplit_once('.') else {
            continue;
        };
        if !EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str()) {
            continue;
        }
        let path = format!("{ETC_CERTS}/{name}");
        let (_, kind) = view.follow(&path)?;
        if kind == FileKind::Directory {
            continue;
        }
        let content = view.content(&path)?;
        let der = match x509::pem_content(&content) {
            Ok(PemContent::One(der)) => der,
            Ok(PemContent::NotOne) => continue,
            Err(why) => {
                return Err(Stop::Refuse(format!(
                    "openssl rehash would read {path}: {why}"
                )));
            }
        };
        let hash = x509::subject_hash(&der)
            .map_err(|why| Stop::Refuse(format!("openssl rehash would read {path}: {why}")))?;
        let at = bucket_of((false, hash), &mut buckets);
        add_entry(&mut buckets[at], name, Some(x509::fingerprint(&der)), None)?;
    }
    for ((crl, hash), entries, needed) in buckets {
        let suffix = if crl { "r" } else { "" };
        let mut taken: BTreeSet<usize> = entries
            .iter()
            .filter_map(|entry| entry.old_id)
            .filter(|id| *id < needed)
            .collect();
        let mut next = 0;
        for entry in entries {
            match entry.old_id {
                Some(id) if id < needed => {}
                _ if entry.need_symlink => {
                    while taken.contains(&next) {
                        next += 1;
                    }
                    view.certs.insert(
                        format!("{hash:08x}.{suffix}{next}"),
                        Entry::Link(entry.filename),
                    );
                    taken.insert(next);
                }
                Some(id) => {
                    view.certs.remove(&format!("{hash:08x}.{suffix}{id}"));
                }
                None => {}
            }
        }
    }
    Ok(())
}

/// rehash's `add_entry`: a certificate file (with its digest) or an old link (with its number)
/// into its bucket; a duplicate certificate is skipped.
fn add_entry(
    bucket: &mut ((bool, u32), Vec<Hashed>, usize),
    filename: &str,
    digest: Option<[u8; 20]>,
    old_id: Option<usize>,
) -> Result<(), Stop> {
    let (_, entries, needed) = bucket;
    let mut found = None;
    for (at, entry) in entries.iter().enumerate() {
        if digest.is_some() && entry.digest == digest {
            return Ok(());
        }
        if entry.filename == filename {
            found = Some(at);
            if digest.is_none() {
                break;
            }
        }
    }
    let at = match found {
        Some(at) => at,
        None => {
            if *needed >= MAX_COLLISIONS {
                return Err(Stop::Refuse(format!(
                    "openssl rehash would find more than {MAX_COLLISIONS} certificates with \
                     the hash of {filename}"
                )));
            }
            entries.push(Hashed {
                filename: filename.to_string(),
                old_id: None,
                need_symlink: false,
                digest: None,
            });
            entries.len() - 1
        }
    };
    let entry = &mut entries[at];
    if let Some(id) = old_id
        && entry.old_id.is_none_or(|old| id < old)
    {
        entry.old_id = Some(id);
    }
    if digest.is_some() && !entry.need_symlink {
        entry.need_symlink = true;
        entry.digest = digest;
        *needed += 1;
    }
    Ok(())
}

/// A hash link's name (`HHHHHHHH.N`, or `HHHHHHHH.rN` for a revocation list): whether it is a
/// list's, the hash, the number.
fn hash_link_name(name: &str) -> Option<(bool, u32, usize)> {
    let (hash, rest) = name.split_at_checked(8)?;
    if !hash.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    let rest = rest.strip_prefix('.')?;
    let (crl, number) = match rest.get(..1) {
        Some("r" | "R") => (true, &rest[1..]),
        _ => (false, rest),
    };
    let id = if number.is_empty() {
        0
    } else {
        number.parse().ok()?
    };
    Some((crl, u32::from_str_radix(hash, 16).ok()?, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::scripts::by_path;
    use salve_plugin_sdk::testing::{download, unpacked};
    use salve_plugin_sdk::{ImageFile, UnpackedPackage};
    use std::path::Path;
    use std::process::Command;

    /// Runs a program, which must succeed.
    fn run(program: &str, args: &[&str], dir: &Path) {
        let output = Command::new(program)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("it runs");
        assert!(
            output.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A self-signed certificate for `subject` written to `name` in `dir`.
    fn certificate(dir: &Path, name: &str, subject: &str) {
        run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "/dev/null",
                "-days",
                "2",
                "-subj",
                subject,
                "-out",
                name,
            ],
            dir,
        );
    }

    /// A folder's entries as the image files of `/etc/ssl/certs`.
    fn as_image_files(dir: &Path) -> Vec<ImageFile> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let path = format!("{ETC_CERTS}/{name}");
            let kind = entry.file_type().unwrap();
            files.push(if kind.is_symlink() {
                ImageFile {
                    path,
                    kind: FileKind::Symlink,
                    content: None,
                    link_target: Some(
                        std::fs::read_link(entry.path())
                            .unwrap()
                            .display()
                            .to_string(),
                    ),
                }
            } else {
                ImageFile {
                    path,
                    kind: FileKind::File,
                    content: Some(std::fs::read(entry.path()).unwrap()),
                    link_target: None,
                }
            });
        }
        files
    }

    /// The links of a folder, name to target.
    fn links(dir: &Path) -> BTreeMap<String, String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap())
            .filter(|entry| entry.file_type().unwrap().is_symlink())
            .map(|entry| {
                let target = std::fs::read_link(entry.path()).unwrap();
                (
                    entry.file_name().into_string().unwrap(),
                    target.display().to_string(),
                )
            })
            .collect()
    }

    /// A package as the tests upgrade it.
    fn upgraded() -> UnpackedPackage {
        unpacked(download(PACKAGE, "2", Some("1")))
    }

    /// What `check` answers on the scene of an upgrade of ca-certificates in an image of
    /// `files`.
    fn in_upgrade<R>(files: &[ImageFile], check: impl FnOnce(&Scene) -> R) -> R {
        let files = by_path(files);
        let package = upgraded();
        let scene = Scene {
            from: Some("1"),
            files: &files,
            package: &package,
            packages: std::slice::from_ref(&package),
            installed_md5sums: None,
            packaged: &BTreeMap::new(),
            statuses: &[],
        };
        check(&scene)
    }

    #[test]
    fn the_configuration_is_rewritten_as_the_postinst_rewrites_it() {
        in_upgrade(&[], |scene| {
            let view = View::new(scene).unwrap();
            let conf = "# comment\nmozilla/A.crt\n!mozilla/B.crt\n  mozilla/Gone.crt\n";
            let shared: BTreeSet<String> = ["mozilla/A.crt", "mozilla/B.crt", "mozilla/New.crt"]
                .map(String::from)
                .into();
            let (enabled, available) = debconf_choices(conf, &shared, &[]).unwrap();
            assert_eq!(enabled, ["mozilla/A.crt", "mozilla/New.crt"]);
            assert_eq!(available.len(), 3);
            let Ok(rewritten) = rewritten_conf(conf, &enabled, &available, &view) else {
                panic!("rewritten");
            };
            assert_eq!(
                rewritten,
                "# comment\nmozilla/A.crt\n!mozilla/B.crt\n!mozilla/Gone.crt\nmozilla/New.crt\n"
            );
            assert!(rewritten_conf("mozilla/A.crt", &enabled, &available, &view).is_err());
            let spaced: BTreeSet<String> = ["mozilla/A B.crt".to_string()].into();
            assert!(debconf_choices(conf, &spaced, &[]).is_err());
        });
    }

    #[test]
    fn debconf_values_are_read_from_its_database() {
        let database = "Name: tzdata/Areas\nTemplate: tzdata/Areas\nValue: Etc\n\n\
Name: ca-certificates/trust_new_crts\nTemplate: ca-certificates/trust_new_crts\nValue: ask\n\
Owners: ca-certificates\n";
        assert_eq!(debconf_value(database, TRUST_NEW).as_deref(), Some("ask"));
        assert_eq!(debconf_value(database, "tzdata/Zones/Etc"), None);
        let config = "x\nCERTS_LIST=\"mozilla/A.crt, mozilla/B.crt\"\n";
        assert_eq!(certs_list(config), ["mozilla/A.crt", "mozilla/B.crt"]);
    }

    /// Collisions, duplicates, a bundle, misnumbered, stale and dangling hash links: the links
    /// salve's rehash leaves are those the real `openssl rehash` leaves.
    #[test]
    fn rehash_leaves_the_links_openssl_rehash_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path();
        certificate(certs, "a.pem", "/CN=Same Subject");
        certificate(certs, "b.pem", "/CN=same   subject");
        certificate(certs, "c.crt", "/CN=Same Subject");
        certificate(certs, "other.cer", "/O=Example, Inc./CN=Other");
        std::fs::copy(certs.join("a.pem"), certs.join("a-again.pem")).unwrap();
        let mut bundle = std::fs::read(certs.join("a.pem")).unwrap();
        bundle.extend(std::fs::read(certs.join("other.cer")).unwrap());
        std::fs::write(certs.join("bundle.crt"), bundle).unwrap();
        std::fs::write(certs.join("notes.txt"), "not a certificate").unwrap();
        let der = match x509::pem_content(&std::fs::read(certs.join("a.pem")).unwrap()) {
            Ok(PemContent::One(der)) => der,
            other => panic!("{other:?}"),
        };
        let hash = format!("{:08x}", x509::subject_hash(&der).unwrap());
        std::os::unix::fs::symlink("b.pem", certs.join(format!("{hash}.2"))).unwrap();
        std::os::unix::fs::symlink("gone.pem", certs.join(format!("{hash}.0"))).unwrap();
        std::os::unix::fs::symlink("other.cer", certs.join("0badbeef.0")).unwrap();

        let ours: BTreeMap<String, String> = in_upgrade(&as_image_files(certs), |scene| {
            let mut view = View::new(scene).unwrap();
            if let Err(Stop::Refuse(why) | Stop::Read(why)) = rehash(&mut view) {
                panic!("{why}");
            }
            view.certs
                .into_iter()
                .filter_map(|(name, entry)| match entry {
                    Entry::Link(target) => Some((name, target)),
                    Entry::Other(_) => None,
                })
                .collect()
        });

        run("openssl", &["rehash", "."], certs);
        assert_eq!(ours, links(certs));
        assert!(ours.len() >= 4, "{ours:?}");
    }
}
