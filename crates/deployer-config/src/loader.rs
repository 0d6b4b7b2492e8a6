//! Reading the configuration file from disk. The only file I/O of this crate besides
//! running dynamic role commands (`discover.rs`).

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{ConfigError, ConfigErrors, Origin};
use crate::model::Config;
use crate::overrides::Override;
use crate::validate::parse_config;

/// The file name looked for when `--config` is not given.
pub const DEFAULT_FILE_NAME: &str = "fabulaws-config.yml";

/// Why no configuration could be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no `{DEFAULT_FILE_NAME}` in `{start}` or any parent directory")]
    NotFound { start: Utf8PathBuf },
    #[error("cannot read `{path}`: {source}")]
    Read { path: Utf8PathBuf, source: std::io::Error },
    #[error(transparent)]
    Invalid(#[from] ConfigErrors),
}

/// Finds `fabulaws-config.yml` in `start` or the nearest parent that has one.
pub fn find_config(start: &Utf8Path) -> Result<Utf8PathBuf, LoadError> {
    start
        .ancestors()
        .map(|directory| directory.join(DEFAULT_FILE_NAME))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| LoadError::NotFound { start: start.to_owned() })
}

/// Reads, parses and validates a configuration file, then checks that the local
/// files it names (templates, maintenance pages) exist.
pub fn load_config(path: &Utf8Path, overrides: &[Override]) -> Result<Config, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read { path: path.to_owned(), source })?;
    let config = parse_config(path, &text, overrides)?;
    check_local_files(&config, &text)?;
    Ok(config)
}

/// Template and page sources must exist before any host is touched.
fn check_local_files(config: &Config, text: &str) -> Result<(), ConfigErrors> {
    let base = config.file.parent().unwrap_or(Utf8Path::new("."));
    let mut missing = config.local_files();
    missing.retain(|(_, relative)| !base.join(relative).is_file());
    if missing.is_empty() {
        return Ok(());
    }
    let locator = crate::locate::Locator::new(text);
    let errors = missing
        .into_iter()
        .map(|(path, relative)| {
            let origin = locator.locate(&path, crate::locate::At::Value).map_or(Origin::Nowhere, Origin::from);
            ConfigError {
                message: format!("file `{}` does not exist", base.join(&relative)),
                label: "no such file".to_owned(),
                key_path: path,
                origin,
                help: Some("paths are relative to the directory of the configuration file".to_owned()),
            }
        })
        .collect();
    Err(ConfigErrors { file: config.file.clone(), text: text.to_owned(), errors })
}
