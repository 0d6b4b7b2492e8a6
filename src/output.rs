//! Writing to the terminal. A closed pipe (`deployer hosts staging | head -1`) is
//! not an error worth a panic, so writes ignore it.

use std::io::{IsTerminal, Write};

/// Writes `text` to standard output.
pub(crate) fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes `text` to standard error.
pub(crate) fn stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// Whether standard error is a terminal that takes colours.
pub(crate) fn stderr_is_styled() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}
