//! `hooks:`: the team's own steps at the boundaries of a deploy's phases
//! (Capistrano's `before`/`after`, Kamal's hooks), each on hosts (`run:`) or on
//! this machine (`local:`).

use indexmap::IndexMap;
use serde::Deserialize;

use super::{TopLevel, Validator};
use crate::key_path::KeyPath;
use crate::model::{Hook, HookPoint, HookStep};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHookStep {
    run: Option<String>,
    local: Option<String>,
    roles: Option<Vec<String>>,
    #[serde(default)]
    once: bool,
    timeout: Option<u32>,
}

impl Validator<'_> {
    pub(super) fn hooks(&mut self, top: &mut TopLevel, roles: &[String]) -> Vec<Hook> {
        let path = KeyPath::root().key("hooks");
        let raw = self.take::<IndexMap<String, serde_yaml::Value>>(top, "hooks").unwrap_or_default();
        let mut hooks = Vec::new();
        for (name, value) in raw {
            let at = path.key(&name);
            let Some(point) = HookPoint::parse(&name) else {
                let names = HookPoint::ALL.iter().map(|point| point.name());
                let help = crate::did_you_mean(&name, names.clone())
                    .unwrap_or_else(|| format!("hooks are: {}", names.collect::<Vec<_>>().join(", ")));
                self.problems.value(&at, format!("`{name}` is not a hook point; {help}"));
                continue;
            };
            let Some(raw_steps) = self.problems.section::<Vec<RawHookStep>>(&at, value) else { continue };
            let mut steps = Vec::new();
            for (index, raw) in raw_steps.into_iter().enumerate() {
                let step_path = at.index(index);
                let command = match (raw.run, raw.local) {
                    (Some(run), None) => HookCommand::Run(run),
                    (None, Some(local)) => HookCommand::Local(local),
                    _ => {
                        self.problems
                            .value(&step_path, "a hook step has `run:` (on hosts) or `local:` (here), one of them");
                        continue;
                    }
                };
                let text = command.text();
                if text.trim().is_empty() || text.contains('\0') {
                    self.problems.value(&step_path.key(command.key()), "the command is empty or contains a NUL byte");
                    continue;
                }
                let step_roles = raw.roles.unwrap_or_default();
                for (role_index, role) in step_roles.iter().enumerate() {
                    self.check_role(&step_path.key("roles").index(role_index), role, roles);
                }
                if matches!(command, HookCommand::Local(_)) && (!step_roles.is_empty() || raw.once) {
                    self.problems.value(
                        &step_path,
                        "a `local:` step runs once, on this machine: `roles` and `once` mean nothing",
                    );
                    continue;
                }
                let timeout = self.in_range(&step_path.key("timeout"), raw.timeout, 600, 1..=super::settings::DAY);
                steps.push(match command {
                    HookCommand::Run(command) => HookStep::Run { command, roles: step_roles, once: raw.once, timeout },
                    HookCommand::Local(command) => HookStep::Local { command, timeout },
                });
            }
            hooks.push(Hook { point, steps });
        }
        hooks
    }
}

enum HookCommand {
    Run(String),
    Local(String),
}

impl HookCommand {
    fn text(&self) -> &str {
        match self {
            Self::Run(text) | Self::Local(text) => text,
        }
    }

    fn key(&self) -> &'static str {
        match self {
            Self::Run(_) => "run",
            Self::Local(_) => "local",
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{HookPoint, HookStep};

    fn parse(hooks: &str) -> Result<crate::Config, String> {
        let text = format!(
            "project: p\nrepo: /srv/git/p.git\nvalid_roles: [web, worker]\nhooks:\n{hooks}\n\
             environments:\n  staging: {{branch: main}}\n"
        );
        crate::validate::parse_config(camino::Utf8Path::new("f.yml"), &text, &[]).map_err(|error| format!("{error:?}"))
    }

    #[test]
    fn steps_on_hosts_and_here_in_the_files_order() {
        let config = parse(
            "  before_switch:\n    - run: ./check\n      roles: [web]\n      once: true\n      timeout: 30\n    - local: ./notify\n",
        )
        .unwrap();
        assert_eq!(config.hooks.len(), 1);
        assert_eq!(config.hooks[0].point, HookPoint::BeforeSwitch);
        assert!(matches!(
            &config.hooks[0].steps[0],
            HookStep::Run { command, roles, once: true, timeout: 30 } if command == "./check" && roles == &["web"]
        ));
        assert!(
            matches!(&config.hooks[0].steps[1], HookStep::Local { command, timeout: 600 } if command == "./notify")
        );
    }

    #[test]
    fn mistakes_are_named_with_their_key() {
        for (bad, said) in [
            ("  before_swich:\n    - run: x\n", "before_switch"),
            ("  after_switch:\n    - run: x\n      local: y\n", "`run:` (on hosts) or `local:`"),
            ("  after_switch:\n    - local: y\n      roles: [web]\n", "runs once, on this machine"),
            ("  after_switch:\n    - run: x\n      roles: [db]\n", "db"),
            ("  after_switch:\n    - run: \"  \"\n", "empty"),
            ("  after_switch:\n    - run: x\n      when: always\n", "when"),
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains(said), "{bad}: {error}");
            assert!(error.contains("hooks"), "{bad}: the key path names `hooks`: {error}");
        }
    }
}
