//! Strict rules for every value that can reach a shell, an ssh argument or a git argument.
//!
//! These checks run when the configuration is loaded, before any host is contacted.
//! Quoting happens later as well; refusing dangerous values here means a mistake in
//! quoting elsewhere cannot turn one into a command.

/// Characters a POSIX shell gives meaning to. Refused in branches and paths even where
/// git or the filesystem would accept them.
const SHELL_SPECIAL: &[char] =
    &['$', '`', ';', '|', '&', '(', ')', '<', '>', '\'', '"', '!', '{', '}', '\\', '*', '?', '['];

/// A name for an environment, role, project or secret: letters, digits, `_`, `-`, `.`,
/// starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("the name is empty".to_owned());
    };
    if !first.is_ascii_alphanumeric() {
        return Err(format!("`{name}` must start with a letter or digit"));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
        return Err(format!("`{name}` contains {}; use letters, digits, `_`, `-` and `.`", describe(bad)));
    }
    if name.len() > 64 {
        return Err(format!("`{name}` is longer than 64 characters"));
    }
    Ok(())
}

/// A git branch name: git's `check-ref-format --branch` rules, plus no leading `-`
/// (it would read as an option) and no shell metacharacters.
pub fn check_branch(branch: &str) -> Result<(), String> {
    let problem = if branch.is_empty() {
        Some("is empty".to_owned())
    } else if branch.starts_with('-') {
        Some("starts with `-`, which git would read as an option".to_owned())
    } else if branch == "@" || branch == "HEAD" {
        Some("is not a branch name".to_owned())
    } else if let Some(bad) = branch.chars().find(|c| c.is_control() || c.is_whitespace()) {
        Some(format!("contains {}", describe(bad)))
    } else if let Some(bad) = branch.chars().find(|c| matches!(c, '~' | '^' | ':')) {
        Some(format!("contains `{bad}`, which git does not allow in a branch name"))
    } else if let Some(bad) = branch.chars().find(|c| SHELL_SPECIAL.contains(c)) {
        Some(format!("contains `{bad}`, which a shell would interpret"))
    } else if branch.contains("..") || branch.contains("@{") || branch.contains("//") {
        Some("contains `..`, `@{` or `//`, which git does not allow in a branch name".to_owned())
    } else if branch.starts_with('/') || branch.ends_with('/') || branch.ends_with('.') {
        Some("starts or ends with `/`, or ends with `.`".to_owned())
    } else if branch
        .split('/')
        .any(|part| part.starts_with('.') || part.rsplit_once('.').is_some_and(|(_, suffix)| suffix == "lock"))
    {
        Some("has a component that starts with `.` or ends with `.lock`".to_owned())
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!("branch `{}` {problem}", printable(branch))),
        None => Ok(()),
    }
}

/// A login user name: letters, digits, `_`, `.`, `-`, `+` and `@` (Fabric allows
/// `user@example.com@host`, split at the last `@`), not starting with `-`.
pub fn check_user(user: &str) -> Result<(), String> {
    let Some(first) = user.chars().next() else {
        return Err("the user is empty".to_owned());
    };
    if first == '-' {
        return Err(format!("user `{}` starts with `-`, which ssh would read as an option", printable(user)));
    }
    if let Some(bad) = user.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '+' | '@'))) {
        return Err(format!("user `{}` contains {}", printable(user), describe(bad)));
    }
    if user.len() > 255 {
        return Err("the user is longer than 255 characters".to_owned());
    }
    Ok(())
}

/// An absolute remote path such as a deploy root: `/` followed by safe components.
pub fn check_absolute_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("`{}` must be an absolute path (start with `/`)", printable(path)));
    }
    check_path_characters(path)
}

/// A path inside a release (shared files, template destinations): relative, without
/// `..`, so it can never point outside the release.
pub fn check_relative_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the path is empty".to_owned());
    }
    if path.starts_with('/') {
        return Err(format!("`{}` must be relative to the release directory", printable(path)));
    }
    if path.split('/').any(|part| part == "..") {
        return Err(format!("`{}` contains `..`; paths may not leave the release directory", printable(path)));
    }
    check_path_characters(path)
}

fn check_path_characters(path: &str) -> Result<(), String> {
    if let Some(bad) = path.chars().find(|c| c.is_control() || c.is_whitespace() || SHELL_SPECIAL.contains(c)) {
        return Err(format!("`{}` contains {}", printable(path), describe(bad)));
    }
    if path.split('/').any(|part| part.starts_with('-')) {
        return Err(format!("`{}` has a component starting with `-`", printable(path)));
    }
    Ok(())
}

/// A git repository URL or path: no leading `-`, no whitespace, and none of git's
/// transports that run local commands (`ext::`, `fd::`).
pub fn check_repository(repo: &str) -> Result<(), String> {
    if repo.is_empty() {
        return Err("the repository is empty".to_owned());
    }
    if repo.starts_with('-') {
        return Err(format!("repository `{}` starts with `-`, which git would read as an option", printable(repo)));
    }
    if let Some(bad) = repo.chars().find(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("repository `{}` contains {}", printable(repo), describe(bad)));
    }
    if repo.starts_with("ext::") || repo.starts_with("fd::") {
        return Err(format!("repository `{}` uses a git transport that runs commands", printable(repo)));
    }
    Ok(())
}

/// Describes a character for an error message, spelling out invisible ones.
pub(crate) fn describe(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        '\t' => "a tab".to_owned(),
        '\n' => "a newline".to_owned(),
        c if c.is_control() => format!("the control character U+{:04X}", u32::from(c)),
        c => format!("`{c}`"),
    }
}

/// Escapes control characters so an error message never carries them to a terminal.
pub(crate) fn printable(value: &str) -> String {
    value.chars().flat_map(char::escape_default).collect::<String>().replace("\\'", "'").replace("\\\"", "\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("db-primary").is_ok());
        assert!(check_name("web_2.x").is_ok());
        assert!(check_name("-web").is_err());
        assert!(check_name("we b").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn branches_follow_git_rules() {
        for good in ["main", "release/2026.11", "feature/a-b_c", "fix#12", "v1+build"] {
            assert!(check_branch(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-x",
            "--upload-pack=touch /tmp/pwned",
            "a..b",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "$(touch x)",
            "`id`",
            "a;b",
            "a@{1}",
            "/a",
            "a/",
            "a.",
            "a/.b",
            "a.lock",
            "a//b",
            "HEAD",
            "a\nb",
        ] {
            assert!(check_branch(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn users() {
        assert!(check_user("deploy").is_ok());
        assert!(check_user("user@example.com").is_ok());
        assert!(check_user("-oProxyCommand=x").is_err());
        assert!(check_user("a b").is_err());
        assert!(check_user("a;b").is_err());
    }

    #[test]
    fn paths() {
        assert!(check_absolute_path("/srv/app").is_ok());
        assert!(check_absolute_path("srv/app").is_err());
        assert!(check_absolute_path("/srv/$(x)").is_err());
        assert!(check_relative_path("config/app.env").is_ok());
        assert!(check_relative_path("../etc/passwd").is_err());
        assert!(check_relative_path("a/../../b").is_err());
        assert!(check_relative_path("/etc/passwd").is_err());
        assert!(check_relative_path("-rf").is_err());
    }

    #[test]
    fn repositories() {
        assert!(check_repository("git@github.com:acme/app.git").is_ok());
        assert!(check_repository("/srv/git/app.git").is_ok());
        assert!(check_repository("--upload-pack=x").is_err());
        assert!(check_repository("ext::sh -c touch% /tmp/pwned").is_err());
    }

    #[test]
    fn printable_escapes_control_characters() {
        assert_eq!(printable("a\u{1b}[31mb"), "a\\u{1b}[31mb");
    }
}
