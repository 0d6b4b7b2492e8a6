//! The local secrets file: `FabulAWS`'s `fabsecrets_<environment>.py`, lines of
//! `name = "value"` (or single quotes). Comments and blank lines are ignored.

use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SecretsError {
    pub line: usize,
    pub message: String,
}

/// Parses the file's text. Error messages never include a value.
pub fn parse_secrets(text: &str) -> Result<BTreeMap<String, String>, SecretsError> {
    let mut secrets = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |message: &str| SecretsError { line: index + 1, message: message.to_owned() };
        let (name, value) = line.split_once('=').ok_or_else(|| fail("expected `name = \"value\"`"))?;
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(fail("the name must be letters, digits and `_`"));
        }
        let value = value.trim();
        let quote =
            value.chars().next().filter(|c| *c == '"' || *c == '\'').ok_or_else(|| fail("the value must be quoted"))?;
        let inner = value[1..].strip_suffix(quote).ok_or_else(|| fail("the value's closing quote is missing"))?;
        secrets.insert(name.to_owned(), unescape(inner).map_err(fail)?);
    }
    Ok(secrets)
}

fn unescape(text: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('\'') => out.push('\''),
            _ => return Err("unsupported escape in the value"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fabulaws_files() {
        let secrets = parse_secrets("# comment\ndatabase_password = \"p@ss w\\\"ord\"\nsecret_key='abc'\n\n").unwrap();
        assert_eq!(secrets["database_password"], "p@ss w\"ord");
        assert_eq!(secrets["secret_key"], "abc");
    }

    #[test]
    fn errors_name_the_line_but_never_the_value() {
        let error = parse_secrets("a = \"ok\"\nb = unquoted-hunter2\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(!error.to_string().contains("hunter2"));
    }
}
