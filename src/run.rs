//! Parse the command line, run the command, map the outcome to an exit code.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::commands;
use crate::completion;
use crate::context::ErrorKind;
use crate::diagnostics;
use crate::exit::Exit;
use crate::output;

pub(crate) fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    if completion::answer(&args) {
        return ExitCode::SUCCESS;
    }
    let mut cli = parse(&args);
    // `deployer [FLAGS] plan COMMAND ARGS` is parsed as exactly `deployer [FLAGS]
    // COMMAND ARGS` would be, so flags anywhere mean what they mean for the command.
    let planning = matches!(cli.command, Command::Plan { .. });
    if planning {
        cli = parse(&without_plan(&args));
    }
    let result = if planning { commands::plan(cli) } else { commands::dispatch(cli) };
    match result {
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

fn parse(args: &[OsString]) -> Cli {
    match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // clap prints help and version itself and exits 0 for them, 2 for usage errors.
        Err(error) => error.exit(),
    }
}

/// The arguments with the `plan` subcommand taken out: the first `plan` that is not
/// the value of an option before it.
fn without_plan(args: &[OsString]) -> Vec<OsString> {
    let definition = Cli::command();
    let takes_value = |word: &str| {
        definition.get_arguments().any(|arg| {
            arg.get_action().takes_values()
                && (word.strip_prefix("--").is_some_and(|long| arg.get_long() == Some(long))
                    || word
                        .strip_prefix('-')
                        .and_then(|short| short.parse::<char>().ok())
                        .is_some_and(|short| arg.get_short() == Some(short)))
        })
    };
    let mut skip_value = false;
    for (index, word) in args.iter().enumerate().skip(1) {
        let word = word.to_string_lossy();
        if skip_value {
            skip_value = false;
        } else if word == "plan" {
            return args
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != index)
                .map(|(_, word)| word.clone())
                .collect();
        } else {
            skip_value = takes_value(&word);
        }
    }
    args.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn plan_is_taken_out_wherever_the_flags_are() {
        assert_eq!(
            without_plan(&words("deployer plan deploy_full staging -H a")),
            words("deployer deploy_full staging -H a")
        );
        assert_eq!(
            without_plan(&words("deployer -u plan plan rollback staging")),
            words("deployer -u plan rollback staging")
        );
        assert_eq!(
            without_plan(&words("deployer --json plan run staging -- plan")),
            words("deployer --json run staging -- plan")
        );
    }
}
