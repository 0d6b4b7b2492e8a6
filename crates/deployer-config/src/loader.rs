//! Reading the configuration file from disk. The only file I/O of this crate besides
//! running dynamic role commands (`discover.rs`).

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{ConfigError, ConfigErrors, Origin};
use crate::model::Config;
use crate::overrides::Override;
use crate::validate::parse_config;

/// The file name looked for when `--config` is not given.
pub const DEFAULT_FILE_NAME: &str = "fabulaws-config.yml";

/// Also looked for, in the same directory: `FabulAWS`'s own sample uses `.yaml`.
const OTHER_FILE_NAME: &str = "fabulaws-config.yaml";

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

/// Finds `fabulaws-config.yml` (or `.yaml`) in `start` or the nearest parent that
/// has one.
pub fn find_config(start: &Utf8Path) -> Result<Utf8PathBuf, LoadError> {
    start
        .ancestors()
        .flat_map(|directory| [directory.join(DEFAULT_FILE_NAME), directory.join(OTHER_FILE_NAME)])
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| LoadError::NotFound { start: start.to_owned() })
}

/// Reads, parses and validates a configuration file, then checks that the local
/// files it names (templates, maintenance pages) exist.
pub fn load_config(path: &Utf8Path, overrides: &[Override]) -> Result<Config, LoadError> {
    let text = read_capped(path)?;
    let config = parse_config(path, &text, overrides)?;
    check_local_files(&config, &text)?;
    Ok(config)
}

/// Reads at most one byte more than a configuration may have, so a huge file (or
/// `/dev/zero`) is refused without being read whole.
fn read_capped(path: &Utf8Path) -> Result<String, LoadError> {
    use std::io::Read;
    let read_error = |source| LoadError::Read { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(crate::limits::MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(read_error)?;
    String::from_utf8(bytes)
        .map_err(|_| read_error(std::io::Error::new(std::io::ErrorKind::InvalidData, "the file is not valid UTF-8")))
}

/// Template and page sources must exist, inside the project's directory (after
/// following symlinks), before any host is touched: a configuration cannot make
/// deployer ship `~/.ssh/id_ed25519` to a fleet.
fn check_local_files(config: &Config, text: &str) -> Result<(), ConfigErrors> {
    let base = config.directory();
    let project = base.canonicalize_utf8().unwrap_or_else(|_| base.to_owned());
    let mut problems = Vec::new();
    for (path, relative) in config.local_files() {
        let full = base.join(&relative);
        let problem = match full.canonicalize_utf8() {
            Err(_) => Some((format!("file `{full}` does not exist"), "no such file")),
            Ok(real) if !real.starts_with(&project) => Some((
                format!("file `{full}` resolves to `{real}`, outside the project's directory"),
                "outside the project",
            )),
            Ok(real) if !real.is_file() => Some((format!("`{full}` is not a file"), "not a file")),
            Ok(_) => None,
        };
        if let Some(problem) = problem {
            problems.push((path, problem));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let locator = crate::locate::Locator::new(text);
    let errors = problems
        .into_iter()
        .map(|(path, (message, label))| {
            let origin = locator.locate(&path, crate::locate::At::Value).map_or(Origin::Nowhere, Origin::from);
            ConfigError {
                message,
                label: label.to_owned(),
                key_path: path,
                origin,
                help: Some("paths are relative to the directory of the configuration file, and stay in it".to_owned()),
            }
        })
        .collect();
    Err(ConfigErrors { file: config.file.clone(), text: text.to_owned(), errors })
}
