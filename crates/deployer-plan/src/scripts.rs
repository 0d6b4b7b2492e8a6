//! The remote scripts, kept as shell files under `scripts/` (so `shellcheck` reads
//! them as they are) and filled here, only through [`shell::quote`].
//!
//! A script file declares what it needs in comment lines:
//!
//! ```text
//! # input NAME: what it is     a variable the planner assigns before the body
//! # args: what they are        positional parameters (`set -- ...`)
//! # library NAME               a file of functions from `scripts/lib/`
//! ```
//!
//! Filling prepends one `NAME=<quoted value>` line per input, in the declared
//! order: a value the step supplies, or else the [`Layout`] path of that name. Then
//! `set --` with the arguments, the libraries and the body. Comment and blank lines
//! are not sent. A script given an input it does not declare, or missing one it
//! does, is a bug: every script is filled by the snapshot tests.

use crate::layout::Layout;
use crate::protocol::captured::Captured;
use crate::script::{Part, Script};
use crate::shell::q;

/// One script file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShellFile {
    name: &'static str,
    text: &'static str,
}

macro_rules! shell_files {
    ($($constant:ident => $file:literal,)*) => {
        $(pub(crate) const $constant: ShellFile =
            ShellFile { name: $file, text: include_str!(concat!("../scripts/", $file)) };)*
        /// Every script file, for tests.
        #[cfg(test)]
        pub(crate) const ALL: &[ShellFile] = &[$($constant),*];
    };
}

shell_files! {
    ARM_REVERT => "arm_revert.sh",
    BUILD => "build.sh",
    CHECK_CONNECTION => "check_connection.sh",
    COMMAND => "command.sh",
    CREATE_LAYOUT => "create_layout.sh",
    DISARM_REVERT => "disarm_revert.sh",
    DISCARD_ARCHIVE => "discard_archive.sh",
    FETCH => "fetch.sh",
    HEALTH_CHECK => "health_check.sh",
    HOOK => "hook.sh",
    LINK_SHARED => "link_shared.sh",
    LOCK => "lock.sh",
    MAINTENANCE_OFF => "maintenance_off.sh",
    MAINTENANCE_ON => "maintenance_on.sh",
    MARK_COMPLETE => "mark_complete.sh",
    PREPARE_PUSHED => "prepare_pushed.sh",
    PREPARE_RELEASE => "prepare_release.sh",
    PRUNE => "prune.sh",
    RECEIVE_ARCHIVE => "receive_archive.sh",
    RECORD_HISTORY => "record_history.sh",
    RELEASE_LOCK => "release_lock.sh",
    REMOVE_RELEASE => "remove_release.sh",
    RENDER_TEMPLATE => "render_template.sh",
    REPORT_STATE => "report_state.sh",
    RESTART => "restart.sh",
    SETUP => "setup.sh",
    SWITCH => "switch.sh",
    SWITCH_BACK => "switch_back.sh",
    UNLOCK => "unlock.sh",
    UPLOAD_SECRETS => "upload_secrets.sh",
    VERIFY_PREPARED => "verify_prepared.sh",
    VERIFY_LIVE => "verify_live.sh",
}

fn library(name: &str) -> &'static str {
    match name {
        "claim_release" => include_str!("../scripts/lib/claim_release.sh"),
        "commands" => include_str!("../scripts/lib/commands.sh"),
        "flush" => include_str!("../scripts/lib/flush.sh"),
        "unpack_pushed" => include_str!("../scripts/lib/unpack_pushed.sh"),
        "live_release" => include_str!("../scripts/lib/live_release.sh"),
        "mirror" => include_str!("../scripts/lib/mirror.sh"),
        "pushed_archive" => include_str!("../scripts/lib/pushed_archive.sh"),
        "release_paths" => include_str!("../scripts/lib/release_paths.sh"),
        "report" => include_str!("../scripts/lib/report.sh"),
        "write_file" => include_str!("../scripts/lib/write_file.sh"),
        _ => panic!("no script library `{name}`"),
    }
}

/// A value for a script input or argument.
pub(crate) enum Value {
    /// One word.
    Word(String),
    /// Words, one per line (names validated to hold no newline).
    Lines(Vec<String>),
    /// Text that may hold secret slots and captured values: one word whose bytes
    /// are the text's, the secrets' and the values' in order.
    Content(Script),
    /// A value captured from the hosts earlier in the run.
    Captured(Captured),
}

impl Value {
    pub(crate) fn word<T: std::fmt::Display + ?Sized>(value: &T) -> Self {
        Self::Word(value.to_string())
    }

    fn push_onto(self, script: &mut Script) {
        match self {
            Self::Word(word) => script.push_text(q(&word)),
            Self::Lines(lines) => script.push_text(q(&lines.join("\n"))),
            Self::Captured(captured) => script.push_variable(captured),
            Self::Content(content) if content.parts().is_empty() => script.push_text("''"),
            Self::Content(content) => {
                for part in content.parts() {
                    match part {
                        Part::Text(text) => script.push_text(q(text)),
                        // The text becomes one quoted word: one more level of quoting.
                        Part::Secret { name, quotes } => script.push_secret_quoted(name.clone(), quotes + 1),
                        Part::Variable { name } => script.push_variable(*name),
                    }
                }
            }
        }
    }
}

impl ShellFile {
    fn declared<'a>(&self, tag: &'a str) -> impl Iterator<Item = &'static str> + 'a {
        self.text.lines().filter_map(move |line| {
            let rest = line.strip_prefix(tag)?;
            rest.split([':', ' ']).next().filter(|word| !word.is_empty())
        })
    }

    fn takes_args(&self) -> bool {
        self.text.lines().any(|line| line.starts_with("# args:"))
    }

    /// The script with its inputs and arguments filled.
    ///
    /// # Panics
    /// When `inputs` and `args` do not match what the file declares (a bug in the
    /// step that fills it, caught by the plan tests).
    pub(crate) fn fill(&self, layout: &Layout, mut inputs: Vec<(&str, Value)>, args: Vec<Value>) -> Script {
        let mut script = Script::new();
        for name in self.declared("# input ") {
            let value = match inputs.iter().position(|(given, _)| *given == name) {
                Some(index) => inputs.remove(index).1,
                None => Value::Word(
                    layout
                        .named(name)
                        .unwrap_or_else(|| panic!("{}: no value for input `{name}`", self.name))
                        .to_string(),
                ),
            };
            script.push_text(format!("{name}="));
            value.push_onto(&mut script);
            script.push_text("\n");
        }
        assert!(
            inputs.is_empty(),
            "{}: undeclared inputs {:?}",
            self.name,
            inputs.iter().map(|(name, _)| name).collect::<Vec<_>>()
        );
        assert!(self.takes_args() || args.is_empty(), "{}: takes no arguments", self.name);
        if self.takes_args() {
            script.push_text("set --");
            for arg in args {
                script.push_text(" ");
                arg.push_onto(&mut script);
            }
            script.push_text("\n");
        }
        for name in self.declared("# library ") {
            script.push_text(code_lines(library(name)));
        }
        script.push_text(code_lines(self.text));
        script
    }
}

/// The lines that are code: comments and blank lines stay in the files.
fn code_lines(text: &str) -> String {
    let mut code = String::with_capacity(text.len());
    for line in text.lines().filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#')) {
        code.push_str(line);
        code.push('\n');
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_a_script_names_exists_and_every_script_declares_itself() {
        for file in ALL {
            for name in file.declared("# library ") {
                library(name);
            }
            assert!(file.text.starts_with("# shellcheck shell=sh"), "{} has no shellcheck header", file.name);
        }
    }

    #[test]
    fn values_arrive_as_one_word_each() {
        let layout = Layout::new(camino::Utf8Path::new("/srv/my app"));
        let mut content = Script::text("a 'b'\n");
        content.push_secret("token");
        let script = MAINTENANCE_ON.fill(
            &layout,
            vec![
                ("directory", Value::word("/srv/$(x)")),
                ("healthcheck_page", Value::Content(Script::new())),
                ("write_healthcheck", Value::word("no")),
                ("upgrade_page", Value::Content(content)),
            ],
            Vec::new(),
        );
        let text = script.to_string();
        assert!(text.starts_with("directory='/srv/$(x)'\nhealthcheck_page=''\nwrite_healthcheck=no\n"), "{text}");
        assert!(text.contains("upgrade_page=\"a 'b'\n\"[secret:token]\n"), "{text}");
        assert!(!text.contains("# "), "comments are not sent: {text}");
    }

    /// A template's `{{ secrets.x | shell_quote }}` must reach the file quoted,
    /// although the whole text also becomes one quoted word of the script.
    #[test]
    fn content_keeps_each_secrets_own_quoting() {
        let secret = "it's $(x) ok";
        let mut content = Script::text("raw=");
        content.push_secret("key");
        content.push_text("\nquoted=");
        content.push_quoted_secret("key");
        let mut script = Script::text("word=");
        Value::Content(content).push_onto(&mut script);
        script.push_text("\nprintf '%s' \"$word\"\n");
        let exposed: Result<String, ()> = script.expose(|_| Ok(secret.to_owned()), |_| Err(()));
        let output = std::process::Command::new("sh").arg("-c").arg(exposed.unwrap()).output().unwrap();
        let expected = format!("raw={secret}\nquoted={}", crate::shell::q(secret));
        assert_eq!(String::from_utf8(output.stdout).unwrap(), expected);
    }

    #[test]
    #[should_panic(expected = "no value for input `release`")]
    fn a_missing_input_is_a_bug() {
        SWITCH.fill(&Layout::new(camino::Utf8Path::new("/srv")), Vec::new(), Vec::new());
    }
}
