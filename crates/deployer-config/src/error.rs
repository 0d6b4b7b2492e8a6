//! Errors found in a configuration file, each pointing at a file, line, column and key path.

use std::fmt;

use camino::Utf8PathBuf;
use serde::Serialize;

use crate::key_path::KeyPath;

/// Where the faulty value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Origin {
    /// A span of the configuration file. `line` and `column` are 1-based; `offset`
    /// and `length` are byte positions in the file's text (for snippet rendering).
    File { line: usize, column: usize, offset: usize, length: usize },
    /// A `--set key=value` override given on the command line.
    CommandLine { flag: String },
    /// The problem is not tied to one place (for example a missing required key in
    /// an empty document).
    Nowhere,
}

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    /// Lower-case and specific, e.g. "unknown key `keep_relases`".
    pub message: String,
    pub key_path: KeyPath,
    pub origin: Origin,
    /// A short label drawn under the offending span.
    pub label: String,
    /// For example "did you mean `keep_releases`?".
    pub help: Option<String>,
}

impl Serialize for KeyPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Every problem found in one configuration file, with the file's text so the
/// binary can render snippets.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors {
    pub file: Utf8PathBuf,
    pub text: String,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, error) in self.errors.iter().enumerate() {
            if position > 0 {
                writeln!(f)?;
            }
            match &error.origin {
                Origin::File { line, column, .. } => write!(f, "{}:{line}:{column}: ", self.file)?,
                Origin::CommandLine { flag } => write!(f, "{flag}: ")?,
                Origin::Nowhere => write!(f, "{}: ", self.file)?,
            }
            write!(f, "`{}`: {}", error.key_path, error.message)?;
            if let Some(help) = &error.help {
                write!(f, " ({help})")?;
            }
        }
        Ok(())
    }
}

/// Suggests the candidate closest to `input`, if any is close enough to be a typo.
///
/// Edit distance (with transpositions) catches short names like `wbe` → `web`;
/// Jaro-Winkler catches long names with a shared prefix.
pub fn did_you_mean<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|candidate| {
            let distance = strsim::damerau_levenshtein(input, candidate);
            (distance, strsim::jaro_winkler(input, candidate), candidate)
        })
        .filter(|(distance, similarity, candidate)| {
            let allowed = (input.len().min(candidate.len()) / 3).max(1);
            *distance <= allowed || *similarity > 0.8
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, candidate)| format!("did you mean `{candidate}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("keep_relases", ["keep_releases", "repo"]).as_deref(),
            Some("did you mean `keep_releases`?")
        );
        assert_eq!(did_you_mean("zzz", ["keep_releases", "repo"]), None);
        assert_eq!(did_you_mean("wbe", ["web", "worker"]).as_deref(), Some("did you mean `web`?"));
        assert_eq!(did_you_mean("db", ["web", "cache"]), None);
    }
}
