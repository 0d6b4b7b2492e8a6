//! What a deploy ships: the commits between the one this machine last shipped to
//! the environment (the audit log says which) and the new one, read from the
//! local checkout. Nothing is fetched: when the checkout lacks either commit, the
//! plan just does not say.

use std::process::Command;

use camino::Utf8Path;
use deployer_plan::Shipping;

/// Subjects and migration paths shown, at most.
const SHOWN: usize = 20;

/// The commits from `since` (the release `release` carried) to `to`, or `None`
/// when the checkout cannot tell.
pub(crate) fn between(checkout: &Utf8Path, since: &str, release: Option<&str>, to: &str) -> Option<Shipping> {
    let git = |args: &[&str]| -> Option<String> {
        let output = Command::new("git")
            .arg("-C")
            .arg(checkout)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    };
    for commit in [since, to] {
        git(&["cat-file", "-e", &format!("{commit}^{{commit}}")])?;
    }
    let range = format!("{since}..{to}");
    let commits = git(&["rev-list", "--count", &range, "--"])?.trim().parse().ok()?;
    let subjects =
        git(&["log", "--format=%s", "-n", &SHOWN.to_string(), &range, "--"])?.lines().map(printable).collect();
    let changed = git(&["diff", "--name-only", "-z", since, to, "--"])?;
    let migrations: Vec<String> =
        changed.split('\0').filter(|path| is_migration(path)).take(SHOWN).map(printable).collect();
    Some(Shipping {
        since_commit: since.to_owned(),
        since_release: release.map(str::to_owned),
        commits,
        subjects,
        migrations_changed: migrations,
    })
}

/// Django's `*/migrations/*`, Rails' `db/migrate/*`, Laravel's `database/migrations/*`.
fn is_migration(path: &str) -> bool {
    let mut components = path.split('/');
    components.next_back();
    components.any(|component| component == "migrations" || component == "migrate")
}

/// A commit subject or path as one safe line: no control characters, bounded.
fn printable(text: &str) -> String {
    let cleaned: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(120).collect();
    cleaned.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_paths() {
        for path in ["shop/migrations/0042_price.py", "db/migrate/20261128_add.rb", "database/migrations/x.php"] {
            assert!(is_migration(path), "{path}");
        }
        for path in ["migrations", "src/migrate.rs", "docs/migrations.md"] {
            assert!(!is_migration(path), "{path}");
        }
    }

    #[test]
    fn reads_the_range_from_a_checkout() {
        let directory = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(directory.path()).unwrap();
        let git = |args: &[&str]| {
            let status = Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-C", root.as_str()])
                .args(args)
                .output()
                .unwrap();
            assert!(status.status.success(), "{args:?}");
            String::from_utf8(status.stdout).unwrap().trim().to_owned()
        };
        git(&["init", "-q"]);
        std::fs::write(root.join("a.txt"), "1").unwrap();
        git(&["add", "."]);
        git(&["commit", "-q", "-m", "first"]);
        let first = git(&["rev-parse", "HEAD"]);
        std::fs::create_dir_all(root.join("shop/migrations")).unwrap();
        std::fs::write(root.join("shop/migrations/0002_x.py"), "").unwrap();
        git(&["add", "."]);
        git(&["commit", "-q", "-m", "add a migration\u{1b}[2J"]);
        std::fs::write(root.join("a.txt"), "2").unwrap();
        git(&["commit", "-q", "-am", "change a"]);
        let head = git(&["rev-parse", "HEAD"]);
        let shipping = between(root, &first, Some("r1"), &head).unwrap();
        assert_eq!(shipping.commits, 2);
        assert_eq!(shipping.subjects, ["change a", "add a migration [2J"], "newest first, no escape codes");
        assert_eq!(shipping.migrations_changed, ["shop/migrations/0002_x.py"]);
        assert_eq!(between(root, &"0".repeat(40), None, &head), None, "an unknown commit says nothing");
    }
}
