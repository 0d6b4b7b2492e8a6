//! `deployer disconnect`: closes the ssh masters `ssh.control_persist` kept open
//! after earlier runs (they also close by themselves once idle that long).

use crate::context::CliError;
use crate::exit::Exit;
use crate::output;

pub(crate) fn run() -> Result<Exit, CliError> {
    let closed = deployer_ssh::disconnect_all()?;
    let text = match closed {
        0 => "no kept connections\n".to_owned(),
        1 => "closed 1 kept connection\n".to_owned(),
        count => format!("closed {count} kept connections\n"),
    };
    output::stdout(&text);
    Ok(Exit::Success)
}
