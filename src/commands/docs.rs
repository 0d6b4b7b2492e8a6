//! Shell completions and man pages, generated from the clap definition.

use camino::Utf8Path;
use clap::CommandFactory;

use crate::cli::Cli;
use crate::context::CliError;
use crate::exit::Exit;
use crate::output;

pub(crate) fn completions(shell: clap_complete::Shell) -> Result<Exit, CliError> {
    let mut buffer = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "deployer", &mut buffer);
    output::stdout(&String::from_utf8_lossy(&buffer));
    Ok(Exit::Success)
}

pub(crate) fn man_pages(out_dir: &Utf8Path) -> Result<Exit, CliError> {
    let write_error = |source| CliError::Write { path: out_dir.to_owned(), source };
    std::fs::create_dir_all(out_dir).map_err(write_error)?;
    clap_mangen::generate_to(Cli::command(), out_dir).map_err(write_error)?;
    output::stdout(&format!("wrote man pages to {out_dir}\n"));
    Ok(Exit::Success)
}
