//! `tasks:`: named commands run with `deployer task ENV NAME` (Fabric's custom
//! tasks, `FabulAWS`'s `fab staging deploy_worker`, kept declarative).

use indexmap::IndexMap;
use serde::Deserialize;

use super::{TopLevel, Validator};
use crate::key_path::KeyPath;
use crate::model::Task;
use crate::names::check_name;
use crate::raw::Commands;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    description: Option<String>,
    command: Commands,
    roles: Option<Vec<String>>,
    #[serde(default)]
    once: bool,
    #[serde(default)]
    serial: bool,
    timeout: Option<u32>,
}

impl Validator<'_> {
    pub(super) fn tasks(&mut self, top: &mut TopLevel, roles: &[String]) -> IndexMap<String, Task> {
        let path = KeyPath::root().key("tasks");
        let raw = self.take::<IndexMap<String, serde_yaml::Value>>(top, "tasks").unwrap_or_default();
        let mut tasks = IndexMap::new();
        for (name, value) in raw {
            let at = path.key(&name);
            self.check(&at, check_name(&name));
            let Some(task) = self.problems.section::<RawTask>(&at, value) else { continue };
            let commands = self.commands(&at.key("command"), Some(task.command));
            if commands.is_empty() {
                self.problems.value(&at.key("command"), "a task runs at least one command");
            }
            let task_roles = task.roles.unwrap_or_default();
            for (index, role) in task_roles.iter().enumerate() {
                self.check_role(&at.key("roles").index(index), role, roles);
            }
            if task.once && task.serial {
                self.problems
                    .value(&at.key("serial"), "a task that runs `once` runs on one host: `serial` means nothing");
            }
            let timeout = self.in_range(&at.key("timeout"), task.timeout, 600, 1..=super::settings::DAY);
            tasks.insert(
                name.clone(),
                Task {
                    name,
                    description: task.description,
                    commands,
                    roles: task_roles,
                    once: task.once,
                    serial: task.serial,
                    timeout,
                },
            );
        }
        tasks
    }
}
