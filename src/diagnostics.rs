//! Rendering errors for people: configuration errors with the YAML snippet, the key
//! path and a did-you-mean; everything else as one line plus a hint.

use deployer_config::{ConfigErrors, LoadError, Origin};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};

use crate::context::CliError;
use crate::output::stderr_is_styled;

/// Renders any error of the binary to text for standard error.
pub(crate) fn render(error: &CliError) -> String {
    match error {
        CliError::Load(LoadError::Invalid(errors)) => render_config_errors(errors),
        other => {
            let mut text = format!("error: {other}\n");
            if let Some(help) = other.help() {
                text.push_str(&format!("  help: {help}\n"));
            }
            text
        }
    }
}

/// Every problem of the file, each with its snippet, then a one-line count.
pub(crate) fn render_config_errors(errors: &ConfigErrors) -> String {
    let theme = if stderr_is_styled() { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false);
    let source = NamedSource::new(errors.file.as_str(), errors.text.clone());
    let mut text = String::new();
    for error in &errors.errors {
        let headline = if error.key_path.segments().is_empty() {
            error.message.clone()
        } else {
            format!("{} (at `{}`)", error.message, error.key_path)
        };
        let mut diagnostic = MietteDiagnostic::new(headline);
        if let Some(help) = &error.help {
            diagnostic = diagnostic.with_help(help.clone());
        }
        match &error.origin {
            Origin::File { offset, length, .. } => {
                diagnostic = diagnostic.with_label(LabeledSpan::at(*offset..*offset + *length, error.label.clone()));
                let report = miette::Report::new(diagnostic).with_source_code(source.clone());
                let _ = handler.render_report(&mut text, report.as_ref());
            }
            Origin::CommandLine { flag } => {
                diagnostic.message = format!("{}: {}", flag, diagnostic.message);
                let _ = handler.render_report(&mut text, &diagnostic);
            }
            Origin::Nowhere => {
                diagnostic.message = format!("{}: {}", errors.file, diagnostic.message);
                let _ = handler.render_report(&mut text, &diagnostic);
            }
        }
        text.push('\n');
    }
    let count = errors.errors.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    text.push_str(&format!("error: {} has {count} {noun}; no host was contacted\n", errors.file));
    text
}
