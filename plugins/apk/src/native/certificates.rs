//! ca-certificates' trigger when the update leaves what `update-ca-certificates` reads as it
//! is: Alpine's program (`update-ca.c`) makes `/etc/ssl/certs/ca-certificates.crt` from the
//! certificates `/etc/ca-certificates.conf` enables and those in
//! `/usr/local/share/ca-certificates` (each file copied whole, followed by a newline in the
//! versions that add one), links each as `/etc/ssl/certs/ca-cert-NAME.pem` (`,` and space made
//! `_`, parentheses `=`), removes links into those folders nothing wants, then runs the hooks in
//! `/etc/ca-certificates/update.d` (`certhash`: `c_rehash /etc/ssl/certs`). Run again on
//! unchanged inputs over what it made itself, it changes nothing; so the trigger is reproduced
//! when no file it reads is touched by the update and `/etc/ssl/certs` is exactly what the
//! program makes of the image's files (which also tells which of its versions made it). Any
//! other case is refused: a changed certificate, configuration, hook or program, a hook salve
//! has not read, or a bundle or links the program would rewrite.

use super::scripts::{Reviewed, identify};
use salve_plugin_sdk::{FileKind, FileReads, ImageFile, InstallRequest, NativeError};
use std::collections::{BTreeMap, BTreeSet};

/// Which certificates are enabled (`name`) or not (`!name`), relative to [`CERTS`].
const CONF: &str = "/etc/ca-certificates.conf";
/// The certificates packages ship.
const CERTS: &str = "/usr/share/ca-certificates";
/// The certificates the administrator adds.
const LOCAL_CERTS: &str = "/usr/local/share/ca-certificates";
/// Where the bundle and links are made.
const ETC_CERTS: &str = "/etc/ssl/certs";
/// The bundle.
const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The hooks the program runs with `run-parts`.
const HOOKS: &str = "/etc/ca-certificates/update.d";
/// The programs that run: the trigger's, `run-parts` and the hook's.
const PROGRAMS: [&str; 4] = [
    "/usr/sbin/update-ca-certificates",
    "/usr/bin/run-parts",
    "/bin/run-parts",
    "/usr/bin/c_rehash",
];

/// What checking the trigger needs or finds.
pub enum Outcome {
    /// Read these first.
    Read(FileReads),
    /// The trigger changes nothing; a note for the user.
    Unchanged(String),
}

/// Checks that ca-certificates' trigger would change nothing: `changed` are the paths the
/// update writes or removes.
pub fn check(request: &InstallRequest, changed: &BTreeSet<String>) -> Result<Outcome, NativeError> {
    let unsupported = NativeError::Unsupported;
    if let Some(path) = changed.iter().find(|path| reads_it(path)) {
        return Err(unsupported(format!(
            "the update changes {path}, which ca-certificates' trigger (update-ca-certificates) \
             reads; native installation reproduces the trigger only when nothing it reads \
             changes"
        )));
    }
    let read: BTreeMap<&str, &ImageFile> = request
        .read
        .iter()
        .flatten()
        .map(|file| (file.path.as_str(), file))
        .collect();
    let patterns = [
        CONF.to_string(),
        format!("{CERTS}/**"),
        format!("{LOCAL_CERTS}/*"),
        format!("{ETC_CERTS}/*"),
        format!("{HOOKS}/*"),
    ];
    if !read.contains_key(CONF) {
        return Ok(Outcome::Read(FileReads {
            image: patterns.to_vec(),
            packaged: Vec::new(),
            statuses: Vec::new(),
        }));
    }
    check_hooks(&read)?;
    let files_in = |folder: &str, deep: bool| -> Vec<&ImageFile> {
        read.values()
            .filter(|file| {
                file.path
                    .strip_prefix(&format!("{folder}/"))
                    .is_some_and(|rest| deep || !rest.contains('/'))
            })
            .copied()
            .collect()
    };
    // The certificates in the order the program copies them: the configuration's, then the
    // local folder's (in directory order, which only one certificate or none leaves no doubt
    // about).
    let mut wanted: Vec<(String, String)> = Vec::new();
    let conf = super::text(request.read.as_deref().unwrap_or_default(), CONF).ok_or_else(|| {
        unsupported(format!(
            "the image has no {CONF}, which update-ca-certificates reads"
        ))
    })?;
    for line in conf.lines() {
        if line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let path = format!("{CERTS}/{line}");
        wanted.push((link_name(&path), path));
    }
    let local: Vec<&ImageFile> = files_in(LOCAL_CERTS, false)
        .into_iter()
        .filter(|file| {
            !file.path[LOCAL_CERTS.len() + 1..].starts_with('.') && file.kind != FileKind::Missing
        })
        .collect();
    if local.len() > 1 {
        return Err(unsupported(format!(
            "{LOCAL_CERTS} holds {} files, which update-ca-certificates adds to the bundle in \
             the folder's directory order, an order an image's layers do not keep",
            local.len()
        )));
    }
    wanted.extend(
        local
            .iter()
            .map(|file| (link_name(&file.path), file.path.clone())),
    );
    let mut bundle_plain: Vec<u8> = Vec::new();
    let mut bundle_newlines: Vec<u8> = Vec::new();
    for (_, path) in &wanted {
        let file = read
            .get(path.as_str())
            .filter(|file| file.kind == FileKind::File)
            .ok_or_else(|| {
                unsupported(format!(
                    "{CONF} enables {path}, which is not a regular file, so \
                     update-ca-certificates would warn and link it anyway"
                ))
            })?;
        let content = file.content.as_deref().unwrap_or_default();
        bundle_plain.extend(content);
        bundle_newlines.extend(content);
        bundle_newlines.push(b'\n');
    }
    let bundle = read
        .get(BUNDLE)
        .filter(|file| file.kind == FileKind::File)
        .and_then(|file| file.content.as_deref());
    let variant = match bundle {
        Some(bytes) if bytes == bundle_newlines.as_slice() => "with a newline after each",
        Some(bytes) if bytes == bundle_plain.as_slice() => "copied whole",
        _ => {
            return Err(unsupported(format!(
                "{BUNDLE} is not the bundle update-ca-certificates makes of the image's \
                 certificates, so its trigger would rewrite it"
            )));
        }
    };
    // Each wanted certificate linked by its name; no other link into the two folders.
    let wanted_links: BTreeMap<String, &str> = wanted
        .iter()
        .map(|(name, path)| (format!("{ETC_CERTS}/{name}"), path.as_str()))
        .collect();
    for (link, target) in &wanted_links {
        let present = read
            .get(link.as_str())
            .filter(|file| file.kind == FileKind::Symlink)
            .and_then(|file| file.link_target.as_deref());
        if present != Some(*target) {
            return Err(unsupported(format!(
                "{link} is not a link to {target}, so ca-certificates' trigger would make it"
            )));
        }
    }
    for file in files_in(ETC_CERTS, false) {
        let Some(target) = file.link_target.as_deref() else {
            continue;
        };
        let ours = target.starts_with(&format!("{CERTS}/"))
            || target.starts_with(&format!("{LOCAL_CERTS}/"));
        if ours && !wanted_links.contains_key(&file.path) {
            return Err(unsupported(format!(
                "{} links to {target}, which nothing enables, so ca-certificates' trigger would \
                 remove it",
                file.path
            )));
        }
    }
    Ok(Outcome::Unchanged(format!(
        "ca-certificates' trigger runs update-ca-certificates, which would change nothing: \
         what it reads is unchanged and {ETC_CERTS} is what it makes of it ({} certificates, \
         {variant})",
        wanted.len()
    )))
}

/// Whether `path` is one update-ca-certificates or its hooks read or run.
fn reads_it(path: &str) -> bool {
    path == CONF
        || PROGRAMS.contains(&path)
        || [CERTS, LOCAL_CERTS, ETC_CERTS, HOOKS]
            .iter()
            .any(|folder| path.starts_with(&format!("{folder}/")))
}

/// The hooks `run-parts` would run must be ones salve has read.
fn check_hooks(read: &BTreeMap<&str, &ImageFile>) -> Result<(), NativeError> {
    let prefix = format!("{HOOKS}/");
    for (path, file) in read {
        let Some(name) = path.strip_prefix(&prefix) else {
            continue;
        };
        if name.contains('/') || file.kind == FileKind::Missing || file.kind == FileKind::Directory
        {
            continue;
        }
        let (digest, reviewed) = identify(file.content.as_deref().unwrap_or_default());
        let known = file.kind == FileKind::File && reviewed == Some(Reviewed::CertHashHook);
        if !known {
            return Err(NativeError::Unsupported(format!(
                "update-ca-certificates would run the hook {path} (SHA-256 {digest}), which salve \
                 has not read"
            )));
        }
    }
    Ok(())
}

/// The link update-ca-certificates makes for a certificate: `ca-cert-` and its name without
/// `.crt`, `.pem` after; `,` and space made `_`, parentheses `=`.
fn link_name(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name
        .strip_suffix(".crt")
        .filter(|stem| !stem.is_empty())
        .unwrap_or(name);
    let mangled: String = stem
        .chars()
        .map(|c| match c {
            ',' | ' ' => '_',
            '(' | ')' => '=',
            other => other,
        })
        .collect();
    format!("ca-cert-{mangled}.pem")
}

#[cfg(test)]
mod tests {
    use super::*;
    use salve_plugin_sdk::testing::{file, os, platform, target};

    const CERT_A: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    const CERT_B: &str = "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----";

    fn link(path: &str, target: &str) -> ImageFile {
        ImageFile {
            kind: FileKind::Symlink,
            content: None,
            link_target: Some(target.into()),
            ..file(path, "")
        }
    }

    /// An image update-ca-certificates made: two enabled certificates (one without a final
    /// newline), one disabled, one local with a name it rewrites.
    fn made(newlines: bool) -> Vec<ImageFile> {
        let local = format!("{LOCAL_CERTS}/Corp, (root).crt");
        let separator = if newlines { "\n" } else { "" };
        vec![
            file(
                CONF,
                "# generated\nmozilla/A.crt\n!mozilla/Old.crt\nmozilla/B.crt\n",
            ),
            file(&format!("{CERTS}/mozilla/A.crt"), CERT_A),
            file(&format!("{CERTS}/mozilla/B.crt"), CERT_B),
            file(&format!("{CERTS}/mozilla/Old.crt"), CERT_A),
            file(&local, CERT_B),
            file(
                BUNDLE,
                format!("{CERT_A}{separator}{CERT_B}{separator}{CERT_B}{separator}"),
            ),
            link(
                &format!("{ETC_CERTS}/ca-cert-A.pem"),
                &format!("{CERTS}/mozilla/A.crt"),
            ),
            link(
                &format!("{ETC_CERTS}/ca-cert-B.pem"),
                &format!("{CERTS}/mozilla/B.crt"),
            ),
            link(&format!("{ETC_CERTS}/ca-cert-Corp__=root=.pem"), &local),
            link(&format!("{ETC_CERTS}/3513523f.0"), "ca-cert-A.pem"),
            file(
                &format!("{HOOKS}/certhash"),
                "#!/bin/sh\nexec /usr/bin/c_rehash /etc/ssl/certs\n",
            ),
        ]
    }

    fn request(read: Option<Vec<ImageFile>>) -> InstallRequest {
        InstallRequest {
            os: os("alpine", "3.22.2"),
            platform: platform("amd64"),
            target: target("apk"),
            updates: Vec::new(),
            files: Vec::new(),
            read,
            packages: Vec::new(),
            packaged: Vec::new(),
            statuses: Vec::new(),
        }
    }

    fn refusal(read: Vec<ImageFile>, changed: &[&str]) -> String {
        let changed = changed.iter().map(|path| path.to_string()).collect();
        match check(&request(Some(read)), &changed) {
            Err(NativeError::Unsupported(message)) => message,
            Ok(_) => panic!("not refused"),
            Err(other) => panic!("refused otherwise: {other:?}"),
        }
    }

    #[test]
    fn what_the_program_made_of_unchanged_files_is_left_as_it_is() {
        let Ok(Outcome::Read(reads)) = check(&request(None), &BTreeSet::new()) else {
            panic!("the first round reads the program's files");
        };
        assert!(reads.image.contains(&format!("{CERTS}/**")));
        for (newlines, variant) in [(true, "with a newline after each"), (false, "copied whole")] {
            let Ok(Outcome::Unchanged(note)) =
                check(&request(Some(made(newlines))), &BTreeSet::new())
            else {
                panic!("a consistent image is left as it is");
            };
            assert!(
                note.contains(&format!("(3 certificates, {variant})")),
                "{note}"
            );
        }
    }

    #[test]
    fn anything_the_program_would_change_is_refused() {
        let changed = refusal(made(true), &["/usr/share/ca-certificates/mozilla/C.crt"]);
        assert!(changed.contains("the update changes /usr/share/ca-certificates/mozilla/C.crt"));
        assert!(
            refusal(made(true), &["/usr/sbin/update-ca-certificates"])
                .contains("update-ca-certificates")
        );

        let mut stale_bundle = made(true);
        stale_bundle[5] = file(BUNDLE, CERT_A);
        assert!(refusal(stale_bundle, &[]).contains("is not the bundle"));

        let mut unlinked = made(true);
        unlinked.remove(6);
        assert!(refusal(unlinked, &[]).contains("ca-cert-A.pem is not a link"));

        let mut orphan = made(true);
        orphan.push(link(
            &format!("{ETC_CERTS}/ca-cert-Old.pem"),
            &format!("{CERTS}/mozilla/Old.crt"),
        ));
        assert!(refusal(orphan, &[]).contains("which nothing enables"));

        let mut hook = made(true);
        hook.push(file(
            &format!("{HOOKS}/java"),
            "#!/bin/sh\nupdate-java-certs\n",
        ));
        assert!(refusal(hook, &[]).contains("the hook /etc/ca-certificates/update.d/java"));

        let mut two_local = made(true);
        two_local.push(file(&format!("{LOCAL_CERTS}/other.crt"), CERT_A));
        assert!(refusal(two_local, &[]).contains("holds 2 files"));

        let mut no_conf = made(true);
        no_conf[0] = salve_plugin_sdk::testing::missing(CONF);
        assert!(refusal(no_conf, &[]).contains("has no /etc/ca-certificates.conf"));
    }

    #[test]
    fn link_names_are_made_as_update_ca_makes_them() {
        assert_eq!(link_name("/x/Foo Bar, (2).crt"), "ca-cert-Foo_Bar__=2=.pem");
        assert_eq!(link_name("/x/plain.pem"), "ca-cert-plain.pem.pem");
        assert_eq!(link_name("/x/.crt"), "ca-cert-.crt.pem");
    }
}
