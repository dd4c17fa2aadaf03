//! The `docker-archive:FILE[:REF]` transport: the tar `docker save` writes and `docker load`
//! reads, with a `manifest.json` listing each image's config file, tags and layer files.
//!
//! Reading makes a Docker v2 manifest (OCI when a layer is zstd) for the chosen image, each
//! layer kept as stored (uncompressed `layer.tar` files stay uncompressed). Writing stores one
//! image: its config as `<hex>.json` and each layer as `<hex>/layer.tar` as found in the layout
//! (`docker load` decompresses gzip layers itself).

use super::error::{ArchiveFile, Cause, TransportError};
use super::reference::same_image;
use crate::image::digest::HashingWriter;
use crate::image::layout::OciLayout;
use crate::image::manifest::{DOCKER_MANIFEST, Descriptor, Manifest, OCI_MANIFEST, is_index};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Docker's image configuration media type.
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// OCI's image configuration media type.
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// Reads the image tagged `reference` (or the archive's only image) from `file` into `work`,
/// tagged `work_tag`; returns the new manifest's descriptor.
pub fn read(
    file: &Path,
    reference: Option<&str>,
    work: &OciLayout,
    work_tag: &str,
) -> Result<Descriptor, TransportError> {
    let archive_file = ArchiveFile::docker(file);
    let manifest_json = read_member(file, "manifest.json")
        .map_err(|error| archive_file.fail("reading manifest.json", error))?
        .ok_or_else(|| archive_file.fail("reading", NO_MANIFEST))?;
    let entries = entries(&archive_file, &manifest_json)?;
    let entry = choose(&entries, reference)
        .map_err(|cause| archive_file.fail("choosing the image", cause))?;
    let members = members(&archive_file, entry)?;
    let mut wanted: Vec<&str> = members.layers.iter().map(String::as_str).collect();
    wanted.push(&members.config);
    let stored =
        store_members(file, &wanted, work).map_err(|cause| archive_file.fail("reading", cause))?;
    image_of(&archive_file, &members, &stored, work, work_tag)
}

/// Reads the one image of the archive `docker save` streams into `reader` (`label` names it
/// in errors) into `work`, tagged `work_tag`, in one pass: the archive is not stored, and as
/// `manifest.json`, which names the members, comes last, every layer and configuration
/// member is stored as it goes by.
pub fn read_stream(
    reader: impl Read,
    label: &Path,
    work: &OciLayout,
    work_tag: &str,
) -> Result<Descriptor, TransportError> {
    let archive_file = ArchiveFile::docker_save(label);
    let (stored, manifest_json) =
        store_stream(reader, work).map_err(|cause| archive_file.fail("reading", cause))?;
    let manifest_json = manifest_json.ok_or_else(|| archive_file.fail("reading", NO_MANIFEST))?;
    let entries = entries(&archive_file, &manifest_json)?;
    let entry =
        choose(&entries, None).map_err(|cause| archive_file.fail("choosing the image", cause))?;
    let members = members(&archive_file, entry)?;
    image_of(&archive_file, &members, &stored, work, work_tag)
}

/// Each stored member's blob digest and size, by member name.
type Stored = HashMap<String, (String, u64)>;

/// Why an archive without `manifest.json` is refused.
const NO_MANIFEST: &str = "it has no manifest.json (is it a docker save archive?)";

/// The most `manifest.json` may hold.
const MANIFEST_CAP: u64 = 16 << 20;

/// The entries of `manifest.json`.
fn entries(
    archive_file: &ArchiveFile<'_>,
    manifest_json: &[u8],
) -> Result<Vec<Value>, TransportError> {
    serde_json::from_slice(manifest_json)
        .map_err(|error| archive_file.fail("reading manifest.json", error))
}

/// The members of the archive one image is made of, as its `manifest.json` entry names them.
struct Members {
    /// The configuration member.
    config: String,
    /// The layer members, bottom first.
    layers: Vec<String>,
}

/// The members a `manifest.json` entry names.
fn members(archive_file: &ArchiveFile<'_>, entry: &Value) -> Result<Members, TransportError> {
    let config_name = entry["Config"].as_str().ok_or_else(|| {
        archive_file.fail("reading manifest.json", "the image names no Config file")
    })?;
    let layer_names = entry["Layers"]
        .as_array()
        .map(|layers| {
            layers
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(Members {
        config: config_name.to_string(),
        layers: layer_names,
    })
}

/// The manifest of the image made of `members`, stored as `stored` says, put in `work` and
/// tagged `work_tag`.
fn image_of(
    archive_file: &ArchiveFile<'_>,
    members: &Members,
    stored: &Stored,
    work: &OciLayout,
    work_tag: &str,
) -> Result<Descriptor, TransportError> {
    let find = |name: &str| {
        stored.get(name).cloned().ok_or_else(|| {
            archive_file.fail(
                "reading",
                format!("{name} is named in manifest.json but missing"),
            )
        })
    };
    let (config_digest, config_size) = find(&members.config)?;
    let mut layers = Vec::new();
    for name in &members.layers {
        let (digest, size) = find(name)?;
        let media_type = layer_media_type(&work.blob_path(&digest)?)
            .map_err(|error| archive_file.fail(format!("reading {name}"), error))?;
        layers.push(Descriptor::new(media_type, &digest, size));
    }
    let oci = layers.iter().any(|layer| layer.media_type.contains("zstd"));
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(if oci { OCI_MANIFEST } else { DOCKER_MANIFEST }.to_string()),
        config: Descriptor::new(
            if oci { OCI_CONFIG } else { DOCKER_CONFIG },
            &config_digest,
            config_size,
        ),
        layers,
        other: Map::new(),
    };
    let bytes = serde_json::to_vec(&manifest).expect("a manifest serialises");
    let media_type = manifest.media_type.as_deref().expect("set above");
    let descriptor = work.put_blob(media_type, &bytes)?;
    work.tag(work_tag, &descriptor)?;
    Ok(descriptor)
}

/// The manifest.json entry tagged `reference`, or the only one.
fn choose<'a>(entries: &'a [Value], reference: Option<&str>) -> Result<&'a Value, Cause> {
    let tags = |entry: &'a Value| -> Vec<&'a str> {
        entry["RepoTags"]
            .as_array()
            .map(|tags| tags.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    match reference {
        Some(wanted) => entries
            .iter()
            .find(|entry| tags(entry).iter().any(|tag| same_image(tag, wanted)))
            .ok_or_else(|| {
                let known: Vec<&str> = entries.iter().flat_map(tags).collect();
                format!("no image is tagged {wanted:?} (tags: {})", known.join(", ")).into()
            }),
        None => match entries {
            [only] => Ok(only),
            _ => Err(format!(
                "it holds {} images; name one with docker-archive:FILE:NAME:TAG",
                entries.len()
            )
            .into()),
        },
    }
}

/// The bytes of one member of a tar file, if it has it.
fn read_member(file: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    let mut archive = tar::Archive::new(io::BufReader::new(File::open(file)?));
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() && member_name(&entry)? == name {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            return Ok(Some(bytes));
        }
    }
    Ok(None)
}

/// A member's name without a leading `./`.
fn member_name<R: Read>(entry: &tar::Entry<R>) -> io::Result<String> {
    Ok(entry
        .path()?
        .to_string_lossy()
        .trim_start_matches("./")
        .to_string())
}

/// Streams the members named `wanted` into the layout as blobs; returns each name's digest
/// and size.
fn store_members(file: &Path, wanted: &[&str], work: &OciLayout) -> Result<Stored, Cause> {
    let mut stored = Stored::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut wanted: Vec<String> = wanted.iter().map(|name| name.to_string()).collect();
    // `docker save` writes a layer that an image has twice once, and the second as a symbolic
    // link to it; a second pass stores link targets the first pass was not looking for.
    for _pass in 0..2 {
        let opened = File::open(file)?;
        let mut archive = tar::Archive::new(io::BufReader::with_capacity(1 << 20, opened));
        for entry in archive.entries()? {
            let mut entry = entry?;
            let name = member_name(&entry)?;
            if !wanted.contains(&name) || stored.contains_key(&name) {
                continue;
            }
            if entry.header().entry_type().is_symlink() {
                if let Some(resolved) = link_of(&entry, &name)? {
                    links.insert(name, resolved);
                }
                continue;
            }
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let blob = store_entry(&mut entry, &name, work)?;
            stored.insert(name, blob);
        }
        let missing: Vec<String> = links
            .values()
            .filter(|target| !stored.contains_key(*target))
            .cloned()
            .collect();
        if missing.is_empty() {
            break;
        }
        wanted = missing;
    }
    add_links(&mut stored, links);
    Ok(stored)
}

/// Stores one member as a blob of `work`; its digest and size.
fn store_entry(
    entry: &mut impl Read,
    name: &str,
    work: &OciLayout,
) -> Result<(String, u64), Cause> {
    let mut temp = work.temp_blob()?;
    let mut hashing = HashingWriter::new(temp.as_file_mut());
    io::copy(entry, &mut hashing).map_err(|e| format!("{name}: {e}"))?;
    let (_, described) = hashing.finish();
    if work.blob_path(&described.digest)?.exists() {
        drop(temp);
    } else {
        work.adopt_verified_blob(&described.digest, temp)?;
    }
    Ok((described.digest, described.size))
}

/// Stores every layer and configuration member of a `docker save` stream (`<id>/layer.tar`
/// and `<hex>.json` as Docker 20.10 writes them, `blobs/...` as Docker 25 does); returns each
/// stored name's digest and size (links resolved) and `manifest.json`'s bytes.
fn store_stream(reader: impl Read, work: &OciLayout) -> Result<(Stored, Option<Vec<u8>>), Cause> {
    let mut stored = Stored::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut manifest_json = None;
    let mut archive = tar::Archive::new(io::BufReader::with_capacity(1 << 20, reader));
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = member_name(&entry)?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() {
            if let Some(resolved) = link_of(&entry, &name)? {
                links.insert(name, resolved);
            }
        } else if kind.is_file() && name == "manifest.json" {
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MANIFEST_CAP + 1)
                .read_to_end(&mut bytes)?;
            if bytes.len() as u64 > MANIFEST_CAP {
                return Err(format!("manifest.json is over {MANIFEST_CAP} bytes").into());
            }
            manifest_json = Some(bytes);
        } else if kind.is_file() && is_image_member(&name) {
            let blob = store_entry(&mut entry, &name, work)?;
            stored.insert(name, blob);
        }
    }
    add_links(&mut stored, links);
    Ok((stored, manifest_json))
}

/// Adds to `stored` each link member (name, the member it leads to) whose target was stored.
fn add_links(stored: &mut Stored, links: HashMap<String, String>) {
    for (name, target) in links {
        if let Some(found) = stored.get(&target).cloned() {
            stored.insert(name, found);
        }
    }
}

/// True for the members of a `docker save` archive that can be an image's layer or
/// configuration: not `manifest.json`, `index.json`, `repositories` or the per-layer `json`
/// and `VERSION` files.
fn is_image_member(name: &str) -> bool {
    name.ends_with("/layer.tar")
        || name.starts_with("blobs/")
        || (!name.contains('/') && name.ends_with(".json") && name != "index.json")
}

/// The member the symbolic link member `entry` (named `name`) leads to, unless it leaves the
/// archive.
fn link_of<R: Read>(entry: &tar::Entry<R>, name: &str) -> io::Result<Option<String>> {
    let target = entry.link_name()?;
    Ok(target.and_then(|target| resolve_link(name, &target.to_string_lossy())))
}

/// The member a symbolic link member names (relative to the link's folder), unless it leaves
/// the archive.
fn resolve_link(name: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = match target.strip_prefix('/') {
        Some(_) => Vec::new(),
        None => name.split('/').collect(),
    };
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// The media type of a stored layer, from its first bytes.
fn layer_media_type(path: &Path) -> io::Result<&'static str> {
    let mut head = [0u8; 4];
    let read = File::open(path)?.read(&mut head)?;
    Ok(match &head[..read] {
        [0x1f, 0x8b, ..] => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        [0x28, 0xb5, 0x2f, 0xfd] => "application/vnd.oci.image.layer.v1.tar+zstd",
        _ => "application/vnd.docker.image.rootfs.diff.tar",
    })
}

/// Writes the image tagged `work_tag` in `work` to `file` as a docker archive, tagged
/// `reference` when given.
pub fn write(
    work: &OciLayout,
    work_tag: &str,
    file: &Path,
    reference: Option<&str>,
) -> Result<(), TransportError> {
    let archive_file = ArchiveFile::docker(file);
    let descriptor = work.resolve(Some(work_tag))?;
    if is_index(&descriptor.media_type) {
        return Err(archive_file.fail(
            "writing",
            "a docker archive holds one platform's image; choose one with --platform",
        ));
    }
    let manifest: Manifest = serde_json::from_slice(&work.read_blob(&descriptor.digest)?)
        .map_err(|error| archive_file.fail("reading the manifest", error))?;
    let hex = |digest: &str| digest.trim_start_matches("sha256:").to_string();
    let config_name = format!("{}.json", hex(&manifest.config.digest));
    let layer_names: Vec<String> = manifest
        .layers
        .iter()
        .map(|layer| format!("{}/layer.tar", hex(&layer.digest)))
        .collect();
    let index = json!([{
        "Config": config_name,
        "RepoTags": reference.map(|r| vec![r.to_string()]).unwrap_or_default(),
        "Layers": layer_names,
    }]);
    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = tempfile::NamedTempFile::new_in(parent)
        .map_err(|error| archive_file.fail("creating a temporary file", error))?;
    write_tar(
        work,
        &manifest,
        &config_name,
        &layer_names,
        &index,
        temp.as_file(),
    )
    .map_err(|cause| archive_file.fail("writing", cause))?;
    temp.persist(file)
        .map_err(|error| archive_file.fail("moving into place", error.error))?;
    Ok(())
}

/// Writes the archive's members into `out`.
fn write_tar(
    work: &OciLayout,
    manifest: &Manifest,
    config_name: &str,
    layer_names: &[String],
    index: &Value,
    out: &File,
) -> Result<(), Cause> {
    let mut builder = tar::Builder::new(io::BufWriter::with_capacity(1 << 20, out));
    let mut append = |name: &str, mode: u32, size: u64, data: &mut dyn Read| {
        let mut header = tar::Header::new_ustar();
        header.set_size(size);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_entry_type(if size == 0 && name.ends_with('/') {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        builder
            .append_data(&mut header, name, data)
            .map_err(|error| Cause::Message(format!("{name}: {error}")))
    };
    let config = work.read_blob(&manifest.config.digest)?;
    append(config_name, 0o644, config.len() as u64, &mut &config[..])?;
    for (layer, name) in manifest.layers.iter().zip(layer_names) {
        let directory = name.trim_end_matches("layer.tar");
        append(directory, 0o755, 0, &mut io::empty())?;
        let path = work.blob_path(&layer.digest)?;
        let mut source = File::open(&path)?;
        let size = source.metadata()?.len();
        append(name, 0o644, size, &mut source)?;
    }
    let index_bytes = serde_json::to_vec(index).expect("JSON serialises");
    append(
        "manifest.json",
        0o644,
        index_bytes.len() as u64,
        &mut &index_bytes[..],
    )?;
    let buffered = builder.into_inner()?;
    buffered
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_the_archive() {
        assert_eq!(
            resolve_link("b1/layer.tar", "../a1/layer.tar").as_deref(),
            Some("a1/layer.tar")
        );
        assert_eq!(resolve_link("b1/layer.tar", "../../x"), None);
    }

    /// Appends a file member holding `bytes` to `builder`.
    fn append_file(builder: &mut tar::Builder<Vec<u8>>, name: &str, bytes: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, name, bytes).unwrap();
    }

    /// A `docker save` archive of one image whose layers are `layers` (member names, bottom
    /// first), each `a1/layer.tar` or the link `b1/layer.tar` to it, with the link placed
    /// before its target when `link_first`.
    fn archive_with_a_linked_layer(layers: &[&str], link_first: bool) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        append_file(&mut builder, "config.json", b"{}");
        let layer = [7u8; 1024];
        if !link_first {
            append_file(&mut builder, "a1/layer.tar", &layer);
        }
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        builder
            .append_link(&mut link, "b1/layer.tar", "../a1/layer.tar")
            .unwrap();
        if link_first {
            append_file(&mut builder, "a1/layer.tar", &layer);
        }
        let manifest = json!([{"Config": "config.json", "RepoTags": ["x:1"], "Layers": layers}]);
        append_file(
            &mut builder,
            "manifest.json",
            &serde_json::to_vec(&manifest).unwrap(),
        );
        builder.into_inner().unwrap()
    }

    /// The layer digests of the manifest tagged `tag` in `work`.
    fn layer_digests(work: &OciLayout, tag: &str) -> Vec<String> {
        let descriptor = work.resolve(Some(tag)).unwrap();
        let manifest: Manifest =
            serde_json::from_slice(&work.read_blob(&descriptor.digest).unwrap()).unwrap();
        manifest
            .layers
            .into_iter()
            .map(|layer| layer.digest)
            .collect()
    }

    #[test]
    fn a_layer_saved_as_a_link_reads_as_the_layer_it_leads_to() {
        let dir = tempfile::tempdir().unwrap();
        let work = OciLayout::open_or_create(&dir.path().join("work")).unwrap();
        let cases: [(&[&str], bool); 3] = [
            (&["a1/layer.tar", "b1/layer.tar"], false),
            (&["a1/layer.tar", "b1/layer.tar"], true),
            // Only the link is named: its target is found by a second pass over the file.
            (&["b1/layer.tar"], false),
        ];
        for (index, (layers, link_first)) in cases.into_iter().enumerate() {
            let bytes = archive_with_a_linked_layer(layers, link_first);
            let file = dir.path().join(format!("{index}.tar"));
            std::fs::write(&file, &bytes).unwrap();
            read(&file, Some("x:1"), &work, "from-file").unwrap();
            read_stream(&bytes[..], &file, &work, "from-stream").unwrap();
            for tag in ["from-file", "from-stream"] {
                let digests = layer_digests(&work, tag);
                assert_eq!(digests.len(), layers.len(), "case {index}, {tag}");
                assert!(
                    digests.iter().all(|digest| digest == &digests[0]),
                    "case {index}, {tag}: {digests:?}"
                );
            }
        }
    }

    #[test]
    fn several_images_need_a_name() {
        let entries = vec![
            json!({"Config": "a.json", "RepoTags": ["a:1"]}),
            json!({"Config": "b.json", "RepoTags": ["b:1"]}),
        ];
        assert!(
            choose(&entries, None)
                .unwrap_err()
                .to_string()
                .contains("holds 2 images")
        );
        assert_eq!(choose(&entries, Some("b:1")).unwrap()["Config"], "b.json");
        assert!(
            choose(&entries, Some("c:1"))
                .unwrap_err()
                .to_string()
                .contains("a:1, b:1")
        );
    }
}
