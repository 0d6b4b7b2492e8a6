//! Secret values never reach a terminal, a JSON event or a log: host output is
//! masked (`[secret:name]`) before the executor reports it.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// Lines of a secret shorter than this are not masked: masking `a` or `on` would
/// garble ordinary output and hide nothing worth hiding.
const SHORTEST_MASKED: usize = 4;

/// Replaces secret values in lines of host output.
#[derive(Debug, Default)]
pub struct Masker {
    /// (value, replacement), longest value first so a secret containing another
    /// is masked whole.
    needles: Vec<(String, String)>,
}

impl Masker {
    /// Masks every line of every secret in `secrets` (a multi-line secret reaches
    /// output line by line).
    pub fn new(secrets: &BTreeMap<String, String>) -> Self {
        let mut needles: Vec<(String, String)> = secrets
            .iter()
            .flat_map(|(name, value)| {
                value
                    .lines()
                    .filter(|line| line.trim().len() >= SHORTEST_MASKED)
                    .map(move |line| (line.to_owned(), format!("[secret:{name}]")))
            })
            .collect();
        needles.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        needles.dedup_by(|a, b| a.0 == b.0);
        Self { needles }
    }

    pub fn mask<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let mut line = Cow::Borrowed(line);
        for (value, replacement) in &self.needles {
            if line.contains(value.as_str()) {
                line = Cow::Owned(line.replace(value.as_str(), replacement));
            }
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masker(pairs: &[(&str, &str)]) -> Masker {
        Masker::new(&pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect())
    }

    #[test]
    fn masks_every_occurrence_and_every_line() {
        let masker = masker(&[("db", "hunter22"), ("key", "-----BEGIN KEY-----\nAAAABBBB\n-----END KEY-----")]);
        assert_eq!(masker.mask("password=hunter22 again hunter22"), "password=[secret:db] again [secret:db]");
        assert_eq!(masker.mask("AAAABBBB"), "[secret:key]");
        assert_eq!(masker.mask("nothing here"), "nothing here");
    }

    #[test]
    fn the_longest_value_wins_and_tiny_values_are_left() {
        let masker = masker(&[("short", "abcd"), ("long", "abcdefgh"), ("tiny", "on")]);
        assert_eq!(masker.mask("xabcdefghx abcd"), "x[secret:long]x [secret:short]");
        assert_eq!(masker.mask("turned on"), "turned on");
    }
}
