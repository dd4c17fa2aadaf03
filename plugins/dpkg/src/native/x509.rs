//! What `openssl rehash` reads of a certificate file: its PEM blocks, and of a certificate the
//! hash of its subject name (OpenSSL's `X509_NAME_hash`: SHA-1 of the name's canonical encoding,
//! its first four bytes read little-endian) and its SHA-1 fingerprint.
//!
//! The canonical encoding is OpenSSL's: each relative distinguished name as a DER `SET`, the
//! outer `SEQUENCE` left out; each text value turned into a `UTF8String` with leading and
//! trailing white space removed, inner runs of white space made one space, and ASCII letters
//! lower-cased; other values as they are.

use base64::Engine;
use sha1::{Digest, Sha1};

/// What a PEM file holds, as `openssl rehash` counts it.
#[derive(Debug, PartialEq, Eq)]
pub enum PemContent {
    /// Exactly one certificate (its DER bytes).
    One(Vec<u8>),
    /// No certificate, or more than one: rehash skips the file.
    NotOne,
}

/// The certificates of a PEM file; an error for blocks rehash would count but salve does not
/// reproduce (revocation lists, keys, trusted-certificate forms) or that do not decode.
pub fn pem_content(text: &[u8]) -> Result<PemContent, String> {
    let text = String::from_utf8_lossy(text);
    let mut certificates = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim_end()
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut ended = false;
        for line in lines.by_ref() {
            if line.trim_end() == end {
                ended = true;
                break;
            }
            body.push_str(line.trim());
        }
        if !ended {
            return Err(format!("the PEM block {label} has no end line"));
        }
        match label {
            "CERTIFICATE" | "X509 CERTIFICATE" => {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(body.as_bytes())
                    .map_err(|error| format!("a certificate's base64 does not decode: {error}"))?;
                certificates.push(der);
            }
            "TRUSTED CERTIFICATE" | "X509 CRL" => {
                return Err(format!("it holds a {label}, which salve does not hash"));
            }
            key if key.contains("PRIVATE KEY") => {
                return Err(format!("it holds a {label}, which salve does not hash"));
            }
            _ => {}
        }
    }
    Ok(match <[Vec<u8>; 1]>::try_from(certificates) {
        Ok([der]) => PemContent::One(der),
        Err(_) => PemContent::NotOne,
    })
}

/// A certificate's subject name hash, as `openssl x509 -subject_hash` prints it (`%08x`).
pub fn subject_hash(certificate: &[u8]) -> Result<u32, String> {
    let subject = subject(certificate)?;
    let digest = Sha1::digest(canonical_name(subject)?);
    Ok(u32::from_le_bytes([
        digest[0], digest[1], digest[2], digest[3],
    ]))
}

/// A certificate's SHA-1 fingerprint.
pub fn fingerprint(certificate: &[u8]) -> [u8; 20] {
    Sha1::digest(certificate).into()
}

/// One DER element: its tag byte, its content, and the bytes after it.
fn element(bytes: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let bad = || "a certificate's DER encoding is cut short or not valid".to_string();
    let (&tag, rest) = bytes.split_first().ok_or_else(bad)?;
    if tag & 0x1f == 0x1f {
        return Err("a certificate uses a multi-byte DER tag".into());
    }
    let (&first, rest) = rest.split_first().ok_or_else(bad)?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err(bad());
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |length, byte| (length << 8) | usize::from(*byte));
        (length, &rest[count..])
    };
    if rest.len() < length {
        return Err(bad());
    }
    Ok((tag, &rest[..length], &rest[length..]))
}

/// The content of an element that must have `tag`, and the bytes after it.
fn expect<'a>(bytes: &'a [u8], tag: u8, what: &str) -> Result<(&'a [u8], &'a [u8]), String> {
    let (found, content, rest) = element(bytes)?;
    if found != tag {
        return Err(format!("a certificate's {what} is not where X.509 puts it"));
    }
    Ok((content, rest))
}

/// The subject name's content (the RDNs) of a DER certificate.
fn subject(certificate: &[u8]) -> Result<&[u8], String> {
    const SEQUENCE: u8 = 0x30;
    let (certificate, _) = expect(certificate, SEQUENCE, "outer sequence")?;
    let (tbs, _) = expect(certificate, SEQUENCE, "signed part")?;
    let mut rest = tbs;
    // The optional explicit version, [0].
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.2;
    }
    let (_serial, rest) = expect(rest, 0x02, "serial number")?;
    let (_algorithm, rest) = expect(rest, SEQUENCE, "signature algorithm")?;
    let (_issuer, rest) = expect(rest, SEQUENCE, "issuer")?;
    let (_validity, rest) = expect(rest, SEQUENCE, "validity")?;
    let (subject, _) = expect(rest, SEQUENCE, "subject")?;
    Ok(subject)
}

/// OpenSSL's canonical encoding of a name whose RDNs are `rdns`.
fn canonical_name(mut rdns: &[u8]) -> Result<Vec<u8>, String> {
    let mut canonical = Vec::new();
    while !rdns.is_empty() {
        let (set, rest) = expect(rdns, 0x31, "name component")?;
        rdns = rest;
        let mut attributes = Vec::new();
        let mut values = set;
        while !values.is_empty() {
            let (attribute, rest) = expect(values, 0x30, "name attribute")?;
            values = rest;
            let (oid, value) = expect(attribute, 0x06, "attribute type")?;
            let (tag, content, trailing) = element(value)?;
            if !trailing.is_empty() || tag & 0x20 != 0 {
                return Err("a certificate's name has a value salve does not canonicalise".into());
            }
            let (tag, content) = match to_utf8(tag, content)? {
                Some(text) => (UTF8_STRING, canonical_text(&text)),
                None => (tag, content.to_vec()),
            };
            let mut encoded = encode(0x06, oid);
            encoded.extend(encode(tag, &content));
            attributes.push(encode(0x30, &encoded));
        }
        // DER orders a SET OF by the members' encodings.
        attributes.sort();
        canonical.extend(encode(0x31, &attributes.concat()));
    }
    Ok(canonical)
}

/// The `UTF8String` tag.
const UTF8_STRING: u8 = 0x0c;

/// A text value as UTF-8, the way `ASN1_STRING_to_UTF8` reads its type; `None` for types
/// OpenSSL does not canonicalise.
fn to_utf8(tag: u8, content: &[u8]) -> Result<Option<Vec<u8>>, String> {
    const PRINTABLE: u8 = 0x13;
    const T61: u8 = 0x14;
    const IA5: u8 = 0x16;
    const VISIBLE: u8 = 0x1a;
    const UNIVERSAL: u8 = 0x1c;
    const BMP: u8 = 0x1e;
    let chars: Vec<u32> = match tag {
        UTF8_STRING => {
            std::str::from_utf8(content).map_err(|_| "a name's UTF8String is not UTF-8")?;
            return Ok(Some(content.to_vec()));
        }
        PRINTABLE | T61 | IA5 | VISIBLE => content.iter().map(|byte| u32::from(*byte)).collect(),
        BMP if content.len().is_multiple_of(2) => content
            .chunks_exact(2)
            .map(|pair| u32::from(u16::from_be_bytes([pair[0], pair[1]])))
            .collect(),
        UNIVERSAL if content.len().is_multiple_of(4) => content
            .chunks_exact(4)
            .map(|four| u32::from_be_bytes([four[0], four[1], four[2], four[3]]))
            .collect(),
        BMP | UNIVERSAL => return Err("a name's wide string has a cut character".into()),
        _ => return Ok(None),
    };
    let mut utf8 = Vec::new();
    for char in chars {
        utf8.extend(utf8_of(char)?);
    }
    Ok(Some(utf8))
}

/// One character in UTF-8, surrogates included (as OpenSSL writes them).
fn utf8_of(char: u32) -> Result<Vec<u8>, String> {
    Ok(match char {
        0..=0x7f => vec![char as u8],
        0x80..=0x7ff => vec![0xc0 | (char >> 6) as u8, 0x80 | (char & 0x3f) as u8],
        0x800..=0xffff => vec![
            0xe0 | (char >> 12) as u8,
            0x80 | ((char >> 6) & 0x3f) as u8,
            0x80 | (char & 0x3f) as u8,
        ],
        0x1_0000..=0x10_ffff => vec![
            0xf0 | (char >> 18) as u8,
            0x80 | ((char >> 12) & 0x3f) as u8,
            0x80 | ((char >> 6) & 0x3f) as u8,
            0x80 | (char & 0x3f) as u8,
        ],
        _ => {
            return Err(format!(
                "a name holds the character {char:#x}, beyond Unicode"
            ));
        }
    })
}

/// White space trimmed and collapsed, ASCII lower-cased; other bytes as they are.
fn canonical_text(text: &[u8]) -> Vec<u8> {
    let space = |byte: &u8| matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = text
        .iter()
        .position(|byte| !space(byte))
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|byte| !space(byte))
        .map_or(start, |at| at + 1);
    let mut canonical = Vec::with_capacity(end - start);
    let mut in_space = false;
    for byte in &text[start..end] {
        if space(byte) {
            if !in_space {
                canonical.push(b' ');
            }
            in_space = true;
        } else {
            canonical.push(byte.to_ascii_lowercase());
            in_space = false;
        }
    }
    canonical
}

/// A DER element of `tag` holding `content`.
fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut encoded = vec![tag];
    let length = content.len();
    if length < 0x80 {
        encoded.push(length as u8);
    } else {
        let bytes: Vec<u8> = length
            .to_be_bytes()
            .into_iter()
            .skip_while(|byte| *byte == 0)
            .collect();
        encoded.push(0x80 | bytes.len() as u8);
        encoded.extend(bytes);
    }
    encoded.extend_from_slice(content);
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn text_is_canonical_as_openssl_makes_it() {
        assert_eq!(canonical_text(b"  Foo \t Bar  Ltd\n"), b"foo bar ltd");
        assert_eq!(canonical_text("Fő  Tanú".as_bytes()), "fő tanú".as_bytes());
        assert_eq!(canonical_text(b"   "), b"");
    }

    #[test]
    fn pem_files_are_counted_as_rehash_counts_them() {
        assert_eq!(pem_content(b"no pem here\n"), Ok(PemContent::NotOne));
        let one = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        assert_eq!(
            pem_content(one.as_bytes()),
            Ok(PemContent::One(vec![0, 1, 2]))
        );
        assert_eq!(
            pem_content(format!("{one}{one}").as_bytes()),
            Ok(PemContent::NotOne)
        );
        let key = "-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n";
        assert!(pem_content(format!("{one}{key}").as_bytes()).is_err());
        assert!(pem_content(b"-----BEGIN CERTIFICATE-----\nAAEC\n").is_err());
    }

    /// Every certificate this machine's ca-certificates ships, hashed here and by the real
    /// `openssl x509 -subject_hash`.
    #[test]
    fn subject_hashes_are_openssls() {
        let folder = std::path::Path::new("/usr/share/ca-certificates/mozilla");
        let mut compared = 0;
        for entry in std::fs::read_dir(folder).expect("this machine has ca-certificates") {
            let path = entry.expect("an entry").path();
            let PemContent::One(der) =
                pem_content(&std::fs::read(&path).expect("readable")).expect("a PEM file")
            else {
                panic!("{} holds one certificate", path.display());
            };
            let output = Command::new("openssl")
                .args([
                    "x509",
                    "-noout",
                    "-subject_hash",
                    "-fingerprint",
                    "-sha1",
                    "-in",
                ])
                .arg(&path)
                .output()
                .expect("openssl runs");
            let printed = String::from_utf8_lossy(&output.stdout);
            let mut lines = printed.lines();
            let hash = lines.next().expect("a hash");
            let fingerprint_line = lines.next().expect("a fingerprint");
            assert_eq!(
                format!("{:08x}", subject_hash(&der).expect("hashed")),
                hash,
                "{}",
                path.display()
            );
            let ours: Vec<String> = fingerprint(&der)
                .iter()
                .map(|byte| format!("{byte:02X}"))
                .collect();
            assert!(
                fingerprint_line.ends_with(&ours.join(":")),
                "{}",
                path.display()
            );
            compared += 1;
        }
        assert!(compared > 100, "only {compared} certificates compared");
    }
}
