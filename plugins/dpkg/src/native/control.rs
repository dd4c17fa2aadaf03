//! Control-file stanzas kept exactly as written: each field's name and its raw value (the text
//! after the colon, continuation lines included), so a stanza read from a database can be
//! written back byte for byte, and fields can be read, set and ordered as dpkg does.

/// One stanza: its fields in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stanza {
    /// (name, raw value): the value is everything after the `:`, continuation lines joined with
    /// `\n`, the leading space of the first line included.
    fields: Vec<(String, String)>,
}

impl Stanza {
    /// The value of field `name` (case-insensitive), trimmed; continuation lines included.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim())
    }

    /// The value of field `name`, or an error naming the stanza's package.
    pub fn require(&self, name: &str) -> Result<&str, String> {
        self.get(name).ok_or_else(|| {
            format!(
                "the stanza of {} has no {name} field",
                self.get("Package").unwrap_or("a package")
            )
        })
    }

    /// The fields, in order, with their raw values.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Sets field `name` to `value` (written after `": "`), in place when it exists, else last.
    pub fn set(&mut self, name: &str, value: &str) {
        let raw = if value.is_empty() || value.starts_with('\n') {
            value.to_string()
        } else {
            format!(" {value}")
        };
        match self
            .fields
            .iter_mut()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
        {
            Some((_, existing)) => *existing = raw,
            None => self.fields.push((name.to_string(), raw)),
        }
    }

    /// Removes field `name`.
    pub fn remove(&mut self, name: &str) {
        self.fields
            .retain(|(key, _)| !key.eq_ignore_ascii_case(name));
    }

    /// Orders the fields as dpkg writes its database: its known fields first in its order, then
    /// the others in the order they came.
    pub fn sort_as_dpkg(&mut self) {
        let rank = |name: &str| {
            DPKG_FIELD_ORDER
                .iter()
                .position(|known| known.eq_ignore_ascii_case(name))
                .unwrap_or(DPKG_FIELD_ORDER.len())
        };
        self.fields.sort_by_key(|(name, _)| rank(name));
    }

    /// The stanza as text, each field on its line(s), without the blank line that ends it.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for (name, value) in &self.fields {
            text.push_str(name);
            text.push(':');
            text.push_str(value);
            text.push('\n');
        }
        text
    }
}

/// The fields dpkg knows, in the order it writes them to `status`.
const DPKG_FIELD_ORDER: &[&str] = &[
    "Package",
    "Essential",
    "Protected",
    "Status",
    "Priority",
    "Section",
    "Installed-Size",
    "Origin",
    "Maintainer",
    "Bugs",
    "Architecture",
    "Multi-Arch",
    "Source",
    "Version",
    "Config-Version",
    "Replaces",
    "Provides",
    "Depends",
    "Pre-Depends",
    "Recommends",
    "Suggests",
    "Breaks",
    "Conflicts",
    "Enhances",
    "Conffiles",
    "Description",
    "Triggers-Pending",
    "Triggers-Awaited",
];

/// Parses control-file text into stanzas; `#` comment lines are skipped, `\r\n` is accepted.
pub fn parse(text: &str) -> Result<Vec<Stanza>, String> {
    let mut stanzas = Vec::new();
    let mut current = Stanza::default();
    for (number, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                stanzas.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let Some((_, value)) = current.fields.last_mut() else {
                return Err(format!(
                    "line {}: a continuation line starts a stanza",
                    number + 1
                ));
            };
            value.push('\n');
            value.push_str(line);
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!(
                "line {}: {line:?} is not `Field: value`",
                number + 1
            ));
        };
        current.fields.push((name.to_string(), value.to_string()));
    }
    if !current.fields.is_empty() {
        stanzas.push(current);
    }
    Ok(stanzas)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Package: base-files\nEssential: yes\nStatus: install ok installed\n\
Conffiles:\n /etc/debian_version 1e0ad7bd\n /etc/host.conf 4eb63731\nDescription: Debian base\n \
system files\n .\n more\nHomepage: https://x\n";

    #[test]
    fn stanzas_are_written_back_byte_for_byte() {
        let stanzas = parse(&format!("{TEXT}\n{TEXT}")).unwrap();
        assert_eq!(stanzas.len(), 2);
        assert_eq!(stanzas[0].to_text(), TEXT);
        assert_eq!(
            stanzas[0].get("conffiles"),
            Some("/etc/debian_version 1e0ad7bd\n /etc/host.conf 4eb63731")
        );
    }

    #[test]
    fn fields_are_set_and_ordered_as_dpkg_writes_them() {
        let mut stanza = parse("Package: a\nVersion: 1\nHomepage: h\nDepends: b\nMaintainer: m\n")
            .unwrap()
            .remove(0);
        stanza.set("Status", "install ok installed");
        stanza.set("Version", "2");
        stanza.sort_as_dpkg();
        assert_eq!(
            stanza.to_text(),
            "Package: a\nStatus: install ok installed\nMaintainer: m\nVersion: 2\nDepends: b\nHomepage: h\n"
        );
    }

    #[test]
    fn a_stray_continuation_line_is_an_error() {
        assert!(parse(" oops\nPackage: a\n").is_err());
    }
}
