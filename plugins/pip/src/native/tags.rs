//! Which wheels an environment can install, as pip decides it: a wheel's file name
//! (`{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`, each tag possibly a `.`-joined
//! set) against the tags the interpreter supports, most specific first (`packaging.tags`'
//! order for CPython: its own ABI, `abi3`, `none`, on each platform from the newest manylinux
//! or musllinux the C library allows down to plain `linux`; then the generic Python tags; then
//! `any`).

/// A wheel's file name, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WheelName {
    /// The distribution's name as the file spells it.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Every `python-abi-platform` tag the name stands for.
    pub tags: Vec<String>,
}

/// Reads a wheel's file name; `None` for another kind of file.
pub fn wheel_name(file: &str) -> Option<WheelName> {
    let stem = file.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    let (name, version, python, abi, platform) = match parts.as_slice() {
        [name, version, python, abi, platform] => (name, version, python, abi, platform),
        [name, version, _build, python, abi, platform] => (name, version, python, abi, platform),
        _ => return None,
    };
    let mut tags = Vec::new();
    for python in python.split('.') {
        for abi in abi.split('.') {
            for platform in platform.split('.') {
                tags.push(format!("{python}-{abi}-{platform}"));
            }
        }
    }
    Some(WheelName {
        name: name.to_string(),
        version: version.to_string(),
        tags,
    })
}

/// The C library an image's Python is linked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Libc {
    /// glibc `2.minor`.
    Glibc(u32),
    /// musl `1.minor`.
    Musl(u32),
}

/// The tags a CPython `3.minor` on `arch` (`x86_64`, `aarch64`, ...) with `libc` supports, most
/// preferred first.
pub fn supported(minor: u32, arch: &str, libc: Libc) -> Vec<String> {
    let platforms = platforms(arch, libc);
    let cpython = format!("cp3{minor}");
    let mut tags = Vec::new();
    for platform in &platforms {
        tags.push(format!("{cpython}-{cpython}-{platform}"));
    }
    for platform in &platforms {
        tags.push(format!("{cpython}-abi3-{platform}"));
    }
    for platform in &platforms {
        tags.push(format!("{cpython}-none-{platform}"));
    }
    for older in (2..minor).rev() {
        for platform in &platforms {
            tags.push(format!("cp3{older}-abi3-{platform}"));
        }
    }
    let generic: Vec<String> = std::iter::once(format!("py3{minor}"))
        .chain(std::iter::once("py3".to_string()))
        .chain((0..minor).rev().map(|older| format!("py3{older}")))
        .collect();
    for python in &generic {
        for platform in &platforms {
            tags.push(format!("{python}-none-{platform}"));
        }
    }
    tags.push(format!("{cpython}-none-any"));
    for python in &generic {
        tags.push(format!("{python}-none-any"));
    }
    tags
}

/// The platform tags of `arch` with `libc`, most specific first.
fn platforms(arch: &str, libc: Libc) -> Vec<String> {
    let mut platforms = Vec::new();
    match libc {
        Libc::Glibc(minor) => {
            for version in (5..=minor).rev() {
                platforms.push(format!("manylinux_2_{version}_{arch}"));
                // The legacy aliases stand where packaging puts them.
                let legacy = match version {
                    17 => Some("manylinux2014"),
                    12 => Some("manylinux2010"),
                    5 => Some("manylinux1"),
                    _ => None,
                };
                if let Some(legacy) = legacy
                    && (version == 17 || matches!(arch, "x86_64" | "i686"))
                {
                    platforms.push(format!("{legacy}_{arch}"));
                }
            }
        }
        Libc::Musl(minor) => {
            for version in (0..=minor).rev() {
                platforms.push(format!("musllinux_1_{version}_{arch}"));
            }
        }
    }
    platforms.push(format!("linux_{arch}"));
    platforms
}

/// The best of `wheels` (file names) for `supported`: the index of the wheel whose best tag
/// comes first, the first wheel on a tie; `None` when none fits.
pub fn best(wheels: &[&WheelName], supported: &[String]) -> Option<usize> {
    wheels
        .iter()
        .enumerate()
        .filter_map(|(at, wheel)| {
            wheel
                .tags
                .iter()
                .filter_map(|tag| supported.iter().position(|known| known == tag))
                .min()
                .map(|rank| (rank, at))
        })
        .min()
        .map(|(_, at)| at)
}

/// The wheel architecture of an OCI platform.
pub fn architecture(oci: &str, variant: Option<&str>) -> Option<&'static str> {
    Some(match (oci, variant) {
        ("amd64", _) => "x86_64",
        ("arm64", _) => "aarch64",
        ("arm", Some("v6")) => "armv6l",
        ("arm", _) => "armv7l",
        ("386", _) => "i686",
        ("ppc64le", _) => "ppc64le",
        ("s390x", _) => "s390x",
        ("riscv64", _) => "riscv64",
        _ => return None,
    })
}

/// The C library of an image: musl when it has `/lib/ld-musl-*`, else glibc, whose version a
/// `libc.so.6` states (`... release version 2.36`).
pub fn libc(musl_loader: Option<&str>, glibc: Option<&[u8]>) -> Option<Libc> {
    if musl_loader.is_some() {
        return Some(Libc::Musl(2));
    }
    let glibc = glibc?;
    let marker = b"release version 2.";
    let at = glibc
        .windows(marker.len())
        .position(|window| window == marker)?;
    let digits: String = glibc[at + marker.len()..]
        .iter()
        .take_while(|byte| byte.is_ascii_digit())
        .map(|byte| *byte as char)
        .collect();
    digits.parse().ok().map(Libc::Glibc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_expand_their_tag_sets() {
        let wheel = wheel_name("six-1.16.0-py2.py3-none-any.whl").unwrap();
        assert_eq!(wheel.version, "1.16.0");
        assert_eq!(wheel.tags, ["py2-none-any", "py3-none-any"]);
        let built =
            wheel_name("pkg-2.0-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
                .unwrap();
        assert_eq!(built.tags.len(), 2);
        assert!(wheel_name("pkg-2.0.tar.gz").is_none());
    }

    #[test]
    fn the_most_specific_wheel_wins_and_foreign_ones_never() {
        let tags = supported(11, "x86_64", Libc::Glibc(36));
        let names = [
            "pkg-2.0-py3-none-any.whl",
            "pkg-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "pkg-2.0-cp311-cp311-musllinux_1_1_x86_64.whl",
            "pkg-2.0-cp312-cp312-manylinux_2_17_x86_64.whl",
            "pkg-2.0-cp311-cp311-manylinux_2_39_x86_64.whl",
        ]
        .map(|name| wheel_name(name).unwrap());
        let all: Vec<&WheelName> = names.iter().collect();
        assert_eq!(best(&all, &tags), Some(1));
        // Only wheels this interpreter and C library cannot load: none.
        assert_eq!(best(&all[2..], &tags), None);
        assert_eq!(best(&[&names[0]], &tags), Some(0));
        let musl = supported(11, "aarch64", Libc::Musl(2));
        assert!(musl.contains(&"cp311-cp311-musllinux_1_1_aarch64".to_string()));
        assert!(!musl.iter().any(|tag| tag.contains("manylinux")));
        assert!(tags.contains(&"cp311-abi3-manylinux2014_x86_64".to_string()));
        assert!(tags.contains(&"cp37-abi3-manylinux_2_17_x86_64".to_string()));
    }

    #[test]
    fn the_c_library_is_read_from_the_image() {
        let glibc = b"GNU C Library (Debian GLIBC 2.36-9+deb12u9) stable release version 2.36.\n";
        assert_eq!(libc(None, Some(glibc)), Some(Libc::Glibc(36)));
        assert_eq!(
            libc(Some("/lib/ld-musl-x86_64.so.1"), None),
            Some(Libc::Musl(2))
        );
        assert_eq!(libc(None, Some(b"no version")), None);
    }
}
