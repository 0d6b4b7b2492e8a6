//! Shell completions and man pages, generated from the clap definition.

use camino::Utf8Path;
use clap::CommandFactory;

use crate::cli::Cli;
use crate::completion;
use crate::context::CliError;
use crate::exit::Exit;
use crate::output;

/// The registration script of `shell`: it asks deployer for candidates as you type,
/// so environment and role names come from the configuration.
pub(crate) fn completions(shell: clap_complete::Shell) -> Result<Exit, CliError> {
    let name = shell.to_string();
    match completion::registration(&name) {
        Some(script) => output::stdout(&script),
        // A shell clap's engine cannot drive: the static script, without names.
        None => {
            let mut buffer = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "deployer", &mut buffer);
            output::stdout(&String::from_utf8_lossy(&buffer));
        }
    }
    Ok(Exit::Success)
}

/// Without a directory, the main page on standard output: never a surprise of
/// seventeen files in the current directory.
pub(crate) fn man_pages(out_dir: Option<&Utf8Path>) -> Result<Exit, CliError> {
    let Some(out_dir) = out_dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut page)
            .map_err(|source| CliError::Write { path: "standard output".into(), source })?;
        output::stdout(&String::from_utf8_lossy(&page));
        return Ok(Exit::Success);
    };
    let write_error = |source| CliError::Write { path: out_dir.to_owned(), source };
    std::fs::create_dir_all(out_dir).map_err(write_error)?;
    clap_mangen::generate_to(Cli::command(), out_dir).map_err(write_error)?;
    output::stdout(&format!("wrote man pages to {out_dir}\n"));
    Ok(Exit::Success)
}
