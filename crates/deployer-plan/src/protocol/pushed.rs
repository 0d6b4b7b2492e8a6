//! The `push` strategy's archive as a host receives it, written by the binary
//! and read by `scripts/prepare_pushed.sh` (and, for tests, [`Pushed::parse`]).
//! A first line says what follows:
//!
//! ```text
//! full\n<compressed tar of the whole commit>
//! delta <base> <size>\n<size bytes: paths to remove, each ending in \n><compressed tar of what changed>
//! ```
//!
//! A delta applies to a pristine tree holding exactly commit `<base>` (the host
//! said it had it); its paths are relative to the tree, never absolute, never
//! with `.` or `..` components, and never with a newline (the binary sends the
//! whole archive instead). The host checks all of this again.

/// The archive's head: whole, or a delta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed<'a> {
    Full,
    Delta { base: &'a str, removed: Vec<&'a str> },
}

/// Why a path cannot be in a delta's removals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}` cannot be removed from a pristine tree by a delta")]
pub struct BadPath {
    pub path: String,
}

/// Whether `path` can travel in a delta's removals (the script refuses the rest).
pub fn is_removable(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\n')
        && path.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
}

/// The head of a whole archive (the compressed tar follows).
pub fn full_head() -> Vec<u8> {
    b"full\n".to_vec()
}

/// The head of a delta against `base` (a commit id) that removes `removed`
/// (the compressed tar of what changed follows).
///
/// # Errors
/// A path [`is_removable`] refuses.
pub fn delta_head(base: &str, removed: &[&str]) -> Result<Vec<u8>, BadPath> {
    let mut list = Vec::new();
    for path in removed {
        if !is_removable(path) {
            return Err(BadPath { path: (*path).to_owned() });
        }
        list.extend_from_slice(path.as_bytes());
        list.push(b'\n');
    }
    let mut head = format!("delta {base} {}\n", list.len()).into_bytes();
    head.extend_from_slice(&list);
    Ok(head)
}

impl<'a> Pushed<'a> {
    /// Reads an archive's head: what it is, and where its tar starts.
    pub fn parse(bytes: &'a [u8]) -> Option<(Self, usize)> {
        let end = bytes.iter().position(|&byte| byte == b'\n')?;
        let line = std::str::from_utf8(&bytes[..end]).ok()?;
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["full"] => Some((Self::Full, end + 1)),
            ["delta", base, size] if super::is_commit(base) => {
                let size: usize = size.parse().ok()?;
                let list = std::str::from_utf8(bytes.get(end + 1..end + 1 + size)?).ok()?;
                let removed: Vec<&str> = list.split_terminator('\n').collect();
                if !list.is_empty() && !list.ends_with('\n') || !removed.iter().all(|path| is_removable(path)) {
                    return None;
                }
                Some((Self::Delta { base, removed }, end + 1 + size))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_read_back_as_written() {
        let mut full = full_head();
        full.extend_from_slice(b"TAR");
        assert_eq!(Pushed::parse(&full), Some((Pushed::Full, 5)));
        let base = "a".repeat(40);
        let mut delta = delta_head(&base, &["gone.txt", "dir/a b"]).unwrap();
        let start = delta.len();
        delta.extend_from_slice(b"TAR");
        assert_eq!(
            Pushed::parse(&delta),
            Some((Pushed::Delta { base: &base, removed: vec!["gone.txt", "dir/a b"] }, start))
        );
        let empty = delta_head(&base, &[]).unwrap();
        assert_eq!(Pushed::parse(&empty), Some((Pushed::Delta { base: &base, removed: vec![] }, empty.len())));
    }

    #[test]
    fn a_path_that_could_leave_the_tree_is_refused() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a\nb", "a/", "."] {
            assert!(!is_removable(bad), "{bad:?}");
            assert!(delta_head("abcdef1", &[bad]).is_err(), "{bad:?}");
        }
        assert!(is_removable("a/b c/.hidden"));
        assert_eq!(Pushed::parse(b"delta abcdef1 5\n../x\n"), None);
        assert_eq!(Pushed::parse(b"delta ABCDEF1 0\n"), None);
        assert_eq!(Pushed::parse(b"tar\n"), None);
    }
}
