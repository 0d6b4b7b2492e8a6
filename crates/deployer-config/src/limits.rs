//! What a configuration file may be, checked before the YAML parser sees it: any
//! file is refused or loaded within about a second and a few megabytes.

/// A configuration is a few kilobytes; a megabyte is already absurd.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// How deep `[`/`{` collections may nest. The parser's cost grows with the square
/// of flow nesting; real files nest two or three levels.
pub const MAX_FLOW_DEPTH: usize = 64;

/// The text to parse (without a UTF-8 byte-order mark, which editors on Windows
/// write), or why it is refused.
pub fn check(text: &str) -> Result<&str, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.len() > MAX_FILE_BYTES {
        return Err(format!(
            "the file is larger than {} KiB; a configuration is never that big",
            MAX_FILE_BYTES / 1024
        ));
    }
    let depth = flow_depth(text);
    if depth > MAX_FLOW_DEPTH {
        return Err(format!("`[`/`{{` collections nest {depth} deep; at most {MAX_FLOW_DEPTH} levels are allowed"));
    }
    Ok(text)
}

/// The deepest `[`/`{` nesting outside quoted strings and comments.
fn flow_depth(text: &str) -> usize {
    #[derive(PartialEq)]
    enum State {
        Plain,
        Single,
        Double,
        Comment,
    }
    let (mut state, mut depth, mut deepest, mut previous) = (State::Plain, 0usize, 0usize, '\n');
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match state {
            State::Plain => match c {
                '[' | '{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                '\'' => state = State::Single,
                '"' => state = State::Double,
                '#' if previous.is_whitespace() => state = State::Comment,
                _ => {}
            },
            State::Single if c == '\'' => state = State::Plain,
            State::Double if c == '\\' => {
                chars.next();
            }
            State::Double if c == '"' => state = State::Plain,
            State::Comment if c == '\n' => state = State::Plain,
            _ => {}
        }
        previous = c;
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_and_huge_files_are_refused_at_once() {
        let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let started = std::time::Instant::now();
        assert!(check(&deep).unwrap_err().contains("nest 100000 deep"));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert!(check(&"#".repeat(MAX_FILE_BYTES + 1)).unwrap_err().contains("larger than"));
    }

    #[test]
    fn ordinary_files_pass_and_a_byte_order_mark_is_dropped() {
        assert_eq!(check("\u{feff}project: x\n").unwrap(), "project: x\n");
        assert_eq!(flow_depth("roles: {web: [a, b]}\n"), 2);
        assert_eq!(flow_depth("a: '[[[[' # [[[[\nb: \"{{{\\\"\"\n"), 0);
    }
}
