//! The text form apk-tools gives packages in an index (`APKINDEX`) and in the installed
//! database: one stanza per package, `X:value` lines in order, stanzas separated by blank lines.

use super::dependency::{self, Dependency, Provide};

/// One package's stanza.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stanza {
    /// Its `X:value` lines in order.
    pub fields: Vec<(char, String)>,
}

/// The stanzas of a text; a line that is not `X:value` is an error.
pub fn parse(text: &str, what: &str) -> Result<Vec<Stanza>, String> {
    let mut stanzas = Vec::new();
    let mut fields = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.is_empty() {
            if !fields.is_empty() {
                stanzas.push(Stanza {
                    fields: std::mem::take(&mut fields),
                });
            }
            continue;
        }
        let mut chars = line.chars();
        match (chars.next(), chars.next()) {
            (Some(key), Some(':')) => fields.push((key, chars.as_str().to_string())),
            _ => {
                return Err(format!(
                    "{what}, line {}: {line:?} is not X:value",
                    number + 1
                ));
            }
        }
    }
    if !fields.is_empty() {
        stanzas.push(Stanza { fields });
    }
    for stanza in &stanzas {
        if stanza.get('P').is_none() || stanza.get('V').is_none() {
            return Err(format!(
                "{what}: a package has no {}",
                if stanza.get('P').is_none() {
                    "P: (name)"
                } else {
                    "V: (version)"
                }
            ));
        }
    }
    Ok(stanzas)
}

impl Stanza {
    /// The first value of field `key`.
    pub fn get(&self, key: char) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| *field == key)
            .map(|(_, value)| value.as_str())
    }

    /// The package's name.
    pub fn name(&self) -> &str {
        self.get('P').unwrap_or_default()
    }

    /// The package's version.
    pub fn version(&self) -> &str {
        self.get('V').unwrap_or_default()
    }

    /// Its dependencies (`D:`).
    pub fn depends(&self) -> Result<Vec<Dependency>, String> {
        self.list('D')
    }

    /// Its install-if conditions (`i:`).
    pub fn install_if(&self) -> Result<Vec<Dependency>, String> {
        self.list('i')
    }

    /// What it provides (`p:`).
    pub fn provides(&self) -> Vec<Provide> {
        dependency::parse_provides(self.get('p').unwrap_or_default())
    }

    /// Its provider priority (`k:`), 0 when it has none.
    pub fn provider_priority(&self) -> u64 {
        self.get('k')
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    }

    /// The dependency list in field `key`, each named with the package.
    fn list(&self, key: char) -> Result<Vec<Dependency>, String> {
        dependency::parse_list(self.get(key).unwrap_or_default())
            .map_err(|error| format!("package {}: {error}", self.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_keep_their_fields_in_order() {
        let text = "C:Q1abc=\nP:musl\nV:1.2.5-r9\nA:x86_64\np:so:libc.musl-x86_64.so.1=1\n\n\
C:Q1def=\nP:busybox\nV:1.37.0-r12\nD:so:libc.musl-x86_64.so.1\nk:100\n\n";
        let stanzas = parse(text, "APKINDEX").unwrap();
        assert_eq!(stanzas.len(), 2);
        assert_eq!(stanzas[0].fields[0], ('C', "Q1abc=".to_string()));
        assert_eq!(stanzas[0].provides()[0].name, "so:libc.musl-x86_64.so.1");
        assert_eq!(
            stanzas[1].depends().unwrap()[0].name,
            "so:libc.musl-x86_64.so.1"
        );
        assert_eq!(stanzas[1].provider_priority(), 100);
        assert!(parse("P:a\nbroken\n", "x").unwrap_err().contains("line 2"));
        assert!(parse("P:a\n", "x").unwrap_err().contains("V: (version)"));
    }
}
