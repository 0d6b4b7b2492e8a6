//! Rendering the project's templates (minijinja) for one host.
//!
//! Strict: an undefined variable is an error naming the template and line. No
//! HTML auto-escaping (these are config files, not web pages). A `shell_quote`
//! filter quotes a value as one shell word.
//!
//! Secrets are never rendered into the text. `secrets.<name>` renders as a marker
//! that [`split_secrets`] turns into a secret slot of the resulting [`Script`], so a
//! plan, its JSON and its snapshots never contain a secret value.

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};

use crate::error::{PlanError, TemplateProblem};
use crate::input::Sources;
use crate::script::Script;
use crate::shell;

const OPEN: char = '\u{E000}';
const CLOSE_RAW: char = '\u{E001}';
const CLOSE_QUOTED: char = '\u{E002}';

pub(crate) struct Templates {
    environment: Environment<'static>,
    /// Declared secrets: a slot naming anything else was produced by a filter.
    secret_names: Vec<String>,
}

impl Templates {
    /// Loads every named template from `sources`.
    pub fn new<'a>(
        sources: &Sources,
        names: impl IntoIterator<Item = &'a str>,
        secret_names: &[String],
    ) -> Result<Self, PlanError> {
        let mut environment = Environment::new();
        environment.set_undefined_behavior(UndefinedBehavior::Strict);
        environment.set_auto_escape_callback(|_| AutoEscape::None);
        let syntax = SyntaxConfig::builder().keep_trailing_newline(true).build().expect("the default syntax is valid");
        environment.set_syntax(syntax);
        environment.add_filter("shell_quote", shell_quote);
        for name in names {
            let source = sources
                .get(camino::Utf8Path::new(name))
                .ok_or_else(|| PlanError::MissingSource { path: name.to_owned() })?;
            if source.contains([OPEN, CLOSE_RAW, CLOSE_QUOTED]) {
                return Err(PlanError::Template {
                    template: name.to_owned(),
                    line: 0,
                    message: "contains private-use characters U+E000–U+E002, which deployer reserves".to_owned(),
                });
            }
            environment
                .add_template_owned(name.to_owned(), source.clone())
                .map_err(|error| template_error(name, &error))?;
        }
        Ok(Self { environment, secret_names: secret_names.to_vec() })
    }

    /// The names `name` uses that `context` does not define, each with the first
    /// line that mentions it and a did-you-mean: every undefined name at once,
    /// where rendering would stop at the first.
    pub fn undefined(&self, name: &str, context: &Value) -> Vec<TemplateProblem> {
        let Ok(template) = self.environment.get_template(name) else { return Vec::new() };
        // Names the context gives, and the environment's globals (`range`, `dict`, ...).
        let mut known: Vec<String> = context
            .try_iter()
            .map(|keys| keys.filter_map(|key| key.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        known.extend(self.environment.globals().map(|(name, _)| name.to_owned()));
        let mut missing: Vec<String> =
            template.undeclared_variables(false).into_iter().filter(|variable| !known.contains(variable)).collect();
        missing.sort();
        let source = template.source();
        missing
            .into_iter()
            .map(|variable| {
                let line = source.lines().position(|text| mentions(text, &variable)).map_or(0, |index| index + 1);
                let hint = deployer_config::did_you_mean(&variable, known.iter().map(String::as_str))
                    .map(|hint| format!(" ({hint})"))
                    .unwrap_or_default();
                TemplateProblem {
                    template: name.to_owned(),
                    line,
                    message: format!("undefined variable `{variable}`{hint}"),
                }
            })
            .collect()
    }

    pub fn render(&self, name: &str, context: &Value) -> Result<Script, PlanError> {
        let template = self.environment.get_template(name).map_err(|error| template_error(name, &error))?;
        let text = template.render(context).map_err(|error| template_error(name, &error))?;
        let script = split_secrets(&text).map_err(|message| PlanError::Template {
            template: name.to_owned(),
            line: 0,
            message,
        })?;
        if script.secret_names().iter().any(|secret| !self.secret_names.iter().any(|declared| declared == secret)) {
            return Err(PlanError::Template {
                template: name.to_owned(),
                line: 0,
                message: "a secret was changed by a filter; use secrets as they are".to_owned(),
            });
        }
        Ok(script)
    }
}

/// The value templates see as `secrets`: each declared name maps to its marker.
pub(crate) fn secrets_value(names: &[String]) -> Value {
    Value::from_pairs(names.iter().map(|name| (name.clone(), Value::from(format!("{OPEN}{name}{CLOSE_RAW}")))))
}

fn shell_quote(value: &str) -> Result<String, Error> {
    if let Some(rest) = value.strip_prefix(OPEN) {
        return match rest.strip_suffix(CLOSE_RAW) {
            Some(name) if !name.contains([OPEN, CLOSE_RAW]) => Ok(format!("{OPEN}{name}{CLOSE_QUOTED}")),
            _ => Err(Error::new(
                ErrorKind::InvalidOperation,
                "`shell_quote` takes a secret alone, not mixed with other text",
            )),
        };
    }
    if value.contains(OPEN) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "`shell_quote` takes a secret alone, not mixed with other text",
        ));
    }
    shell::quote(value)
        .map(std::borrow::Cow::into_owned)
        .map_err(|error| Error::new(ErrorKind::InvalidOperation, error.to_string()))
}

/// Whether `line` uses `name` as a whole word.
fn mentions(line: &str, name: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    line.match_indices(name).any(|(at, _)| {
        let before = line[..at].chars().next_back().is_none_or(|c| !is_word(c));
        let after = line[at + name.len()..].chars().next().is_none_or(|c| !is_word(c));
        before && after
    })
}

/// Turns rendered text with secret markers into a script with secret slots.
fn split_secrets(text: &str) -> Result<Script, String> {
    let mut script = Script::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        script.push_text(&rest[..start]);
        let after = &rest[start + OPEN.len_utf8()..];
        let end =
            after.find([CLOSE_RAW, CLOSE_QUOTED]).ok_or("a secret was cut by a filter; use secrets as they are")?;
        let name = &after[..end];
        if name.contains(OPEN) {
            return Err("a secret was changed by a filter; use secrets as they are".to_owned());
        }
        let close = after[end..].chars().next().expect("found above");
        if close == CLOSE_QUOTED {
            script.push_quoted_secret(name);
        } else {
            script.push_secret(name);
        }
        rest = &after[end + close.len_utf8()..];
    }
    if rest.contains([CLOSE_RAW, CLOSE_QUOTED]) {
        return Err("a secret was changed by a filter; use secrets as they are".to_owned());
    }
    script.push_text(rest);
    Ok(script)
}

fn template_error(name: &str, error: &Error) -> PlanError {
    let mut message = match error.kind() {
        ErrorKind::UndefinedError => "undefined variable".to_owned(),
        kind => kind.to_string(),
    };
    if let Some(detail) = error.detail() {
        message = format!("{message}: {detail}");
    }
    if error.kind() == ErrorKind::UndefinedError
        && let Some(range) = error.range()
    {
        let source = error.template_source().unwrap_or_default();
        if let Some(expression) = source.get(range) {
            message = format!("undefined variable in `{expression}`");
        }
    }
    PlanError::Template { template: name.to_owned(), line: error.line().unwrap_or(0), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, context: &Value) -> Result<Script, PlanError> {
        let mut sources = Sources::new();
        sources.insert("t.j2".into(), source.to_owned());
        Templates::new(&sources, ["t.j2"], &["db".to_owned()])?.render("t.j2", context)
    }

    #[test]
    fn renders_strictly_without_html_escaping_and_keeps_the_last_newline() {
        let context = Value::from_pairs([("name", Value::from("<b>&"))]);
        assert_eq!(render("x={{ name }}\n", &context).unwrap().to_string(), "x=<b>&\n");
    }

    #[test]
    fn an_undefined_variable_names_the_template_line_and_expression() {
        let error = render("ok\nport={{ app_prot }}\n", &Value::from_pairs([("app_port", 1)])).unwrap_err();
        assert_eq!(error.to_string(), "template `t.j2` line 2: undefined variable in `app_prot`");
    }

    #[test]
    fn shell_quote_filter() {
        let context = Value::from_pairs([("branch", Value::from("$(touch x)"))]);
        assert_eq!(
            render("git checkout {{ branch | shell_quote }}", &context).unwrap().to_string(),
            "git checkout '$(touch x)'"
        );
    }

    #[test]
    fn secrets_become_slots() {
        let context = Value::from_pairs([("secrets", secrets_value(&["db".to_owned()]))]);
        let script = render("A={{ secrets.db }}\nB={{ secrets.db | shell_quote }}\n", &context).unwrap();
        assert_eq!(script.to_string(), "A=[secret:db]\nB=[secret:db]\n");
        let exposed: Result<String, ()> = script.expose(|_| Ok("p w".to_owned()), |_| Ok(String::new()));
        assert_eq!(exposed.unwrap(), "A=p w\nB='p w'\n");
    }

    #[test]
    fn filters_that_change_a_secret_are_refused() {
        let context = Value::from_pairs([("secrets", secrets_value(&["db".to_owned()]))]);
        assert!(render("{{ secrets.db | upper }}", &context).is_err());
        assert!(render("{{ secrets.db[1:] }}", &context).is_err());
        assert!(render("{{ ('x' ~ secrets.db) | shell_quote }}", &context).is_err());
    }

    #[test]
    fn an_undeclared_secret_is_undefined() {
        let context = Value::from_pairs([("secrets", secrets_value(&["db".to_owned()]))]);
        assert!(render("{{ secrets.other }}", &context).is_err());
    }

    #[test]
    fn every_undefined_name_is_found_before_rendering() {
        let mut sources = Sources::new();
        sources.insert(
            "t.j2".into(),
            "a={{ app_prot }}\n{% for x in range(3) %}{{ x }}{% endfor %}\nb={{ other }}\n".to_owned(),
        );
        let templates = Templates::new(&sources, ["t.j2"], &[]).unwrap();
        let context = Value::from_pairs([("app_port", 1)]);
        let problems = templates.undefined("t.j2", &context);
        let messages: Vec<(usize, &str)> =
            problems.iter().map(|problem| (problem.line, problem.message.as_str())).collect();
        assert_eq!(
            messages,
            [(1, "undefined variable `app_prot` (did you mean `app_port`?)"), (3, "undefined variable `other`")]
        );
    }
}
