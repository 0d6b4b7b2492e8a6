//! Remote scripts that can mention secrets without containing them.
//!
//! A [`Script`] is text with named secret slots. A plan holds only the slots, so a
//! plan can be printed, serialized, logged and snapshotted with no secret in it;
//! the executor fills the slots from the local secrets file at the moment it
//! writes the script to the host's standard input.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::protocol::captured::Captured;

/// One piece of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// The value of secret `name`, shell-quoted `quotes` times where it is
    /// inserted: 0 as is, 1 as one shell word (a template's `| shell_quote`), one
    /// more for each level of quoting the text it stands in gets (a template's
    /// text becomes one quoted word of the script that writes the file).
    Secret {
        name: String,
        quotes: u8,
    },
    /// A value captured from the hosts earlier in the same run (see
    /// [`Phase::derives`](crate::Phase::derives)), inserted shell-quoted.
    Variable {
        name: Captured,
    },
}

/// A POSIX `sh` script with secret slots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    parts: Vec<Part>,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn text(text: impl AsRef<str>) -> Self {
        let mut script = Self::new();
        script.push_text(text);
        script
    }

    pub fn push_text(&mut self, text: impl AsRef<str>) {
        let text = text.as_ref();
        if text.is_empty() {
            return;
        }
        if let Some(Part::Text(last)) = self.parts.last_mut() {
            last.push_str(text);
        } else {
            self.parts.push(Part::Text(text.to_owned()));
        }
    }

    pub fn push_secret(&mut self, name: impl Into<String>) {
        self.push_secret_quoted(name, 0);
    }

    /// A secret inserted as one shell-quoted word (a template's `| shell_quote`).
    pub fn push_quoted_secret(&mut self, name: impl Into<String>) {
        self.push_secret_quoted(name, 1);
    }

    /// A secret shell-quoted `quotes` times where it is inserted.
    pub fn push_secret_quoted(&mut self, name: impl Into<String>, quotes: u8) {
        self.parts.push(Part::Secret { name: name.into(), quotes });
    }

    pub fn push_variable(&mut self, name: Captured) {
        self.parts.push(Part::Variable { name });
    }

    pub fn extend(&mut self, other: Script) {
        for part in other.parts {
            match part {
                Part::Text(text) => self.push_text(text),
                slot => self.parts.push(slot),
            }
        }
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The names of the secrets this script needs, in order of first use.
    pub fn secret_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for part in &self.parts {
            if let Part::Secret { name, .. } = part
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
    }

    /// The script with every slot filled: secrets by `secret`, captured values by
    /// `variable` (quoted here). Only the executor calls this, right before it
    /// writes the script to a host's standard input.
    pub fn expose<E>(
        &self,
        mut secret: impl FnMut(&str) -> Result<String, E>,
        mut variable: impl FnMut(Captured) -> Result<String, E>,
    ) -> Result<String, E> {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                Part::Text(piece) => text.push_str(piece),
                Part::Secret { name, quotes } => {
                    let mut value = secret(name)?;
                    for _ in 0..*quotes {
                        value = quote_or_empty(&value);
                    }
                    text.push_str(&value);
                }
                Part::Variable { name } => text.push_str(&quote_or_empty(&variable(*name)?)),
            }
        }
        Ok(text)
    }
}

/// A NUL cannot be quoted; an empty word stands in, and the step fails visibly.
fn quote_or_empty(value: &str) -> String {
    crate::shell::quote(value).map_or_else(|_| "''".to_owned(), std::borrow::Cow::into_owned)
}

/// The redacted form: secrets appear as `[secret:name]`.
impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(text) => f.write_str(text)?,
                Part::Secret { name, .. } => write!(f, "[secret:{name}]")?,
                Part::Variable { name } => write!(f, "[captured:{}]", name.as_str())?,
            }
        }
        Ok(())
    }
}

/// Serialized redacted, like [`Display`](fmt::Display): plans in JSON never carry secrets.
impl Serialize for Script {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_everywhere_but_expose() {
        let mut script = Script::text("echo ");
        script.push_secret("api_key");
        script.push_text(" done");
        assert_eq!(serde_json::to_string(&script).unwrap(), "\"echo [secret:api_key] done\"");
        script.push_text(" ");
        script.push_variable(Captured::RollbackTarget);
        assert_eq!(script.to_string(), "echo [secret:api_key] done [captured:rollback_target]");
        let exposed: Result<String, ()> = script.expose(|_| Ok("hunter2".to_owned()), |_| Ok("a b".to_owned()));
        assert_eq!(exposed.unwrap(), "echo hunter2 done 'a b'");
        assert_eq!(script.secret_names(), ["api_key"]);
    }
}
