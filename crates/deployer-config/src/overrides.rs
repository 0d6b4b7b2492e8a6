//! `--set key.path=value` overrides, applied to the document before validation so
//! they are checked exactly like values written in the file.

use serde_yaml::{Mapping, Value};

use crate::error::{ConfigError, Origin};
use crate::key_path::KeyPath;
use crate::problems::OverrideOrigin;

/// One `--set` flag: a dotted key path and a YAML value (`7` is a number, `"7"` a string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub key: String,
    pub value: String,
}

impl std::str::FromStr for Override {
    type Err = String;

    /// Splits at the first `=`, so values may contain `=`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (key, value) = text.split_once('=').ok_or_else(|| format!("expected KEY=VALUE, got `{text}`"))?;
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(format!("`{key}` is not a dotted key path such as `environments.staging.branch`"));
        }
        Ok(Self { key: key.to_owned(), value: value.to_owned() })
    }
}

impl Override {
    fn flag(&self) -> String {
        format!("--set {}={}", self.key, self.value)
    }
}

pub(crate) fn apply_overrides(
    document: &mut Value,
    overrides: &[Override],
) -> Result<Vec<OverrideOrigin>, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut origins = Vec::new();
    for set in overrides {
        let path = KeyPath::from_dotted(&set.key);
        match set_path(document, &set.key, &set.value) {
            Ok(()) => origins.push(OverrideOrigin { path, flag: set.flag() }),
            Err(message) => errors.push(ConfigError {
                label: message.clone(),
                message,
                key_path: path,
                origin: Origin::CommandLine { flag: set.flag() },
                help: None,
            }),
        }
    }
    if errors.is_empty() { Ok(origins) } else { Err(errors) }
}

fn set_path(root: &mut Value, dotted: &str, raw: &str) -> Result<(), String> {
    let new: Value = serde_yaml::from_str(raw).map_err(|error| format!("the value is not valid YAML: {error}"))?;
    let parts: Vec<&str> = dotted.split('.').collect();
    let mut current = root;
    for (index, key) in parts.iter().enumerate() {
        if current.is_null() {
            *current = Value::Mapping(Mapping::new());
        }
        let map = current.as_mapping_mut().ok_or_else(|| {
            format!("`{}` is not a mapping, so `{key}` cannot be set inside it", parts[..index].join("."))
        })?;
        let key = Value::String((*key).to_owned());
        if index + 1 == parts.len() {
            map.insert(key, new);
            return Ok(());
        }
        current = map.entry(key).or_insert(Value::Null);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags() {
        let set: Override = "environments.staging.branch=a=b".parse().unwrap();
        assert_eq!(set.key, "environments.staging.branch");
        assert_eq!(set.value, "a=b");
        assert!("novalue".parse::<Override>().is_err());
        assert!("a..b=1".parse::<Override>().is_err());
    }

    #[test]
    fn sets_nested_values_with_yaml_types() {
        let mut document: Value = serde_yaml::from_str("keep_releases: 5\nssh: {}\n").unwrap();
        let overrides = ["keep_releases=3".parse().unwrap(), "ssh.connect_timeout=20".parse().unwrap()];
        apply_overrides(&mut document, &overrides).unwrap();
        assert_eq!(document["keep_releases"], Value::from(3));
        assert_eq!(document["ssh"]["connect_timeout"], Value::from(20));
    }

    #[test]
    fn refuses_to_descend_into_a_scalar() {
        let mut document: Value = serde_yaml::from_str("project: demo\n").unwrap();
        let error = apply_overrides(&mut document, &["project.name=x".parse().unwrap()]).unwrap_err();
        assert!(error[0].message.contains("`project` is not a mapping"), "{}", error[0].message);
    }
}
