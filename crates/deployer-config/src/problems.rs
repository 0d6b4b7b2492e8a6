//! Collects every problem found while validating, then resolves each one to a
//! position in the file (or to the `--set` flag it came from) in one pass.

use serde::de::DeserializeOwned;

use crate::error::{ConfigError, Origin, did_you_mean};
use crate::key_path::KeyPath;
use crate::locate::{At, Locator};

#[derive(Debug)]
struct Problem {
    path: KeyPath,
    at: At,
    message: String,
    label: String,
    help: Option<String>,
}

/// A `--set` override, remembered so errors in its value point at the flag.
#[derive(Debug, Clone)]
pub(crate) struct OverrideOrigin {
    pub path: KeyPath,
    pub flag: String,
}

#[derive(Debug, Default)]
pub(crate) struct Problems {
    found: Vec<Problem>,
    overrides: Vec<OverrideOrigin>,
}

impl Problems {
    pub fn new(overrides: Vec<OverrideOrigin>) -> Self {
        Self { found: Vec::new(), overrides }
    }

    /// Whether `path` was set by a `--set` flag (which then wins over the file).
    pub fn is_overridden(&self, path: &KeyPath) -> bool {
        self.overrides.iter().any(|set| path.starts_with(&set.path))
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// Records a problem with the value at `path`.
    pub fn value(&mut self, path: &KeyPath, message: impl Into<String>) {
        self.value_with_help(path, message, None);
    }

    /// Records a problem with the key at `path` (unknown or misplaced keys).
    pub fn key(&mut self, path: &KeyPath, message: impl Into<String>, help: Option<String>) {
        let message = message.into();
        self.found.push(Problem { path: path.clone(), at: At::Key, label: "here".to_owned(), message, help });
    }

    /// Records a problem with a value, with a hint.
    pub fn value_with_help(&mut self, path: &KeyPath, message: impl Into<String>, help: Option<String>) {
        let message = message.into();
        self.found.push(Problem {
            path: path.clone(),
            at: At::Value,
            label: "invalid value".to_owned(),
            message,
            help,
        });
    }

    /// Deserializes one section; a failure is recorded and yields `None`.
    pub fn section<T: DeserializeOwned>(&mut self, path: &KeyPath, value: serde_yaml::Value) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(parsed) => Some(parsed),
            Err(error) => {
                let full = path.join_serde(error.path());
                let inner = error.into_inner().to_string();
                self.serde_problem(full, &inner);
                None
            }
        }
    }

    fn serde_problem(&mut self, path: KeyPath, message: &str) {
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
            let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let help = did_you_mean(field, candidates.iter().copied())
                .or_else(|| (!candidates.is_empty()).then(|| format!("expected one of: {}", candidates.join(", "))));
            let message = format!("unknown key `{field}`");
            self.found.push(Problem { path, at: At::Key, label: "unknown key".to_owned(), message, help });
        } else if let Some(rest) = message.strip_prefix("unknown variant `") {
            let (variant, expected) = rest.split_once('`').unwrap_or((rest, ""));
            let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let help = did_you_mean(variant, candidates.iter().copied())
                .or_else(|| Some(format!("expected one of: {}", candidates.join(", "))));
            let message = format!("unknown value `{variant}`");
            self.found.push(Problem { path, at: At::Value, label: "unknown value".to_owned(), message, help });
        } else if let Some(rest) = message.strip_prefix("missing field `") {
            let field = rest.split('`').next().unwrap_or(rest);
            let message = format!("missing required key `{field}`");
            self.found.push(Problem { path, at: At::Key, label: "in this mapping".to_owned(), message, help: None });
        } else {
            self.value(&path, friendly_types(message));
        }
    }

    /// Turns the problems into located errors, in file order. Builds the position index only now,
    /// so a valid file never pays for it.
    pub fn into_errors(self, text: &str) -> Vec<ConfigError> {
        let locator = Locator::new(text);
        let mut errors = self
            .found
            .into_iter()
            .map(|problem| {
                let origin = match self.overrides.iter().rev().find(|set| problem.path.starts_with(&set.path)) {
                    Some(set) => Origin::CommandLine { flag: set.flag.clone() },
                    None => match locator.locate(&problem.path, problem.at) {
                        Some(span) => Origin::from(span),
                        None => Origin::Nowhere,
                    },
                };
                ConfigError {
                    message: problem.message,
                    key_path: problem.path,
                    origin,
                    label: problem.label,
                    help: problem.help,
                }
            })
            .collect::<Vec<_>>();
        errors.sort_by_key(|error| match error.origin {
            Origin::CommandLine { .. } => (0, 0),
            Origin::File { offset, .. } => (1, offset),
            Origin::Nowhere => (2, 0),
        });
        errors
    }
}

/// serde names Rust types ("expected u32"); say what a YAML writer should write.
fn friendly_types(message: &str) -> String {
    message
        .replace("expected u32", "expected a whole number")
        .replace("expected u16", "expected a whole number from 0 to 65535")
        .replace("expected a sequence", "expected a list")
        .replace("expected a map", "expected a mapping")
}
