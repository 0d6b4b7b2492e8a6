//! Quoting for POSIX shells: the only way a value may enter a remote script.
//!
//! Every script deployer sends is read by `sh` on the host. Any value that is not
//! a literal of deployer's own (a path, branch, commit, release id, variable) goes
//! through [`quote`], which wraps it so the shell sees exactly one word with exactly
//! those bytes: no expansion, no globbing, no word splitting, no command
//! substitution. Values are also validated where they enter the configuration;
//! quoting is the second, independent line of defence.

use std::borrow::Cow;

/// A value that cannot be passed to a shell at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    /// A NUL byte ends a C string: the shell would silently cut the value short.
    #[error("the value contains a NUL byte, which cannot be passed to a shell")]
    Nul,
}

/// Quotes `value` as one shell word.
///
/// Uses `shlex` (2.x), which single-quotes anything that is not plainly safe,
/// including `{a,b}` (brace expansion in bash), `!`, `~` and non-ASCII text, and
/// refuses NUL.
pub fn quote(value: &str) -> Result<Cow<'_, str>, QuoteError> {
    shlex::try_quote(value).map_err(|_| QuoteError::Nul)
}

/// Quotes a value that was validated before planning (no NUL can reach here).
///
/// # Panics
/// On a NUL byte: the configuration, the command line and templates refuse them
/// before planning, so one here is a bug.
pub(crate) fn q(value: &str) -> String {
    quote(value).expect("values are validated before planning and contain no NUL").into_owned()
}

/// Quotes each word and joins them with spaces: a command line whose words reach
/// the program unchanged.
pub fn join<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<String, QuoteError> {
    let quoted: Result<Vec<Cow<'a, str>>, QuoteError> = words.into_iter().map(quote).collect();
    Ok(quoted?.join(" "))
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// Values an attacker or an unlucky user could put in a branch, host, path or
    /// template variable.
    const HOSTILE: &[&str] = &[
        "",
        "plain",
        "two words",
        "$(touch MARKER)",
        "`touch MARKER`",
        "a; touch MARKER",
        "a && touch MARKER",
        "a | touch MARKER",
        "$((1+1))",
        "${HOME}",
        "$HOME",
        "'; touch MARKER; echo '",
        "\"; touch MARKER; echo \"",
        "a\ntouch MARKER",
        "a\\",
        "{a,b}",
        "*",
        "~",
        "~root",
        "!!",
        "-rf",
        "--upload-pack=touch MARKER",
        "a#b",
        "\u{1b}[31mred",
        "é ü 中文",
        "tab\there",
        "<(touch MARKER)",
        ">MARKER",
    ];

    /// Runs `printf '%s' <quoted>` through a real shell in a scratch directory and
    /// returns what it printed; any MARKER file means a command ran.
    fn through_shell(shell: &str, value: &str) -> String {
        let directory = tempfile::tempdir().unwrap();
        let script = format!("printf '%s' {}", quote(value).unwrap());
        let output = Command::new(shell).arg("-c").arg(&script).current_dir(directory.path()).output().unwrap();
        assert!(output.status.success(), "{shell} failed on {script:?}");
        assert!(!directory.path().join("MARKER").exists(), "{shell} ran a command from {value:?}");
        String::from_utf8(output.stdout).unwrap()
    }

    #[test]
    fn every_hostile_value_reaches_sh_unchanged_and_runs_nothing() {
        for value in HOSTILE {
            assert_eq!(through_shell("sh", value), *value, "sh changed {value:?}");
        }
    }

    #[test]
    fn bash_agrees() {
        if Command::new("bash").arg("-c").arg("true").status().is_err() {
            return; // bash is not installed; `sh` above is the contract.
        }
        for value in HOSTILE {
            assert_eq!(through_shell("bash", value), *value, "bash changed {value:?}");
        }
    }

    #[test]
    fn join_keeps_word_boundaries() {
        let directory = tempfile::tempdir().unwrap();
        let line = join(["printf", "<%s>", "a b", "$(touch MARKER)", ""]).unwrap();
        let output = Command::new("sh").arg("-c").arg(&line).current_dir(directory.path()).output().unwrap();
        assert_eq!(String::from_utf8(output.stdout).unwrap(), "<a b><$(touch MARKER)><>");
        assert!(!directory.path().join("MARKER").exists());
    }

    #[test]
    fn nul_is_refused() {
        assert_eq!(quote("a\0b"), Err(QuoteError::Nul));
        assert_eq!(join(["ok", "a\0b"]), Err(QuoteError::Nul));
    }

    #[test]
    fn safe_words_stay_readable() {
        assert_eq!(quote("releases/20261123T010203Z-abc1234").unwrap(), "releases/20261123T010203Z-abc1234");
        assert_eq!(quote("a b").unwrap(), "'a b'");
    }
}
