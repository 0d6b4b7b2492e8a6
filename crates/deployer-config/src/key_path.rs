//! A path to a node in the YAML document, such as `environments.staging.roles.web[2]`.

use std::fmt;

/// One step of a [`KeyPath`]: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Where a value sits in the configuration document.
///
/// Kept as segments (not a dotted string) because environment and role names may
/// themselves contain dots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPath(Vec<Segment>);

impl KeyPath {
    pub fn root() -> Self {
        Self(Vec::new())
    }

    #[must_use]
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.into()));
        Self(segments)
    }

    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        Self(segments)
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    pub fn parent(&self) -> Option<Self> {
        let (_, rest) = self.0.split_last()?;
        Some(Self(rest.to_vec()))
    }

    pub fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// Parses a dotted path as given to `--set` (`environments.staging.branch`).
    pub fn from_dotted(dotted: &str) -> Self {
        Self(dotted.split('.').map(|key| Segment::Key(key.to_owned())).collect())
    }

    /// Appends the segments of a path reported by `serde_path_to_error`.
    #[must_use]
    pub fn join_serde(&self, path: &serde_path_to_error::Path) -> Self {
        let mut joined = self.clone();
        for segment in path {
            match segment {
                serde_path_to_error::Segment::Seq { index } => joined.0.push(Segment::Index(*index)),
                serde_path_to_error::Segment::Map { key } => joined.0.push(Segment::Key(key.clone())),
                serde_path_to_error::Segment::Enum { variant } => {
                    joined.0.push(Segment::Key(variant.clone()));
                }
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        joined
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) => {
                    if position > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_keys_and_indices() {
        let path = KeyPath::root().key("environments").key("staging").key("roles").key("web").index(2);
        assert_eq!(path.to_string(), "environments.staging.roles.web[2]");
        assert_eq!(KeyPath::root().to_string(), "(top level)");
    }

    #[test]
    fn parent_and_prefix() {
        let path = KeyPath::from_dotted("ssh.connect_timeout");
        assert_eq!(path.parent(), Some(KeyPath::from_dotted("ssh")));
        assert!(path.starts_with(&KeyPath::from_dotted("ssh")));
        assert!(!path.starts_with(&KeyPath::from_dotted("execution")));
    }
}
