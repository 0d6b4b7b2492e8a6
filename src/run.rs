//! Parse the command line, run the command, map the outcome to an exit code.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::commands;
use crate::context::ErrorKind;
use crate::diagnostics;
use crate::exit::Exit;
use crate::output;

pub(crate) fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // clap prints help and version itself and exits 0 for them, 2 for usage errors.
        Err(error) => error.exit(),
    };
    match commands::dispatch(cli) {
        Ok(exit) => exit.into(),
        Err(error) => {
            output::stderr(&diagnostics::render(&error));
            match error.kind() {
                ErrorKind::Input => Exit::BadInput.into(),
                ErrorKind::Failure => Exit::Failed.into(),
            }
        }
    }
}
