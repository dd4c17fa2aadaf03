//! Python package names as PEP 503 normalises them, for comparing names that scanners, indexes
//! and `METADATA` files spell differently (`Jinja2`, `jinja2`; `zope.interface`,
//! `zope-interface`).

/// The name as PEP 503 normalises it: ASCII lower case, each run of `-`, `_` and `.` as one `-`.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
            continue;
        }
        if separator && !out.is_empty() {
            out.push('-');
        }
        separator = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_separator_runs_are_folded() {
        assert_eq!(normalise("Typing_Extensions"), "typing-extensions");
        assert_eq!(normalise("zope.interface"), "zope-interface");
        assert_eq!(normalise("a--b__c"), "a-b-c");
        assert_eq!(normalise("Jinja2"), "jinja2");
    }
}
