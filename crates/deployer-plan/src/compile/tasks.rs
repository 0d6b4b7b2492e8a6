//! `deployer task ENV NAME`: a named task's commands on the hosts of its roles,
//! everywhere at once, one host at a time (`serial`), or on one host (`once`).

use super::Compiler;
use crate::error::PlanError;
use crate::model::{Concurrency, Phase, Scope};

impl Compiler<'_> {
    pub(super) fn task(&self, phases: &mut Vec<Phase>, name: &str) -> Result<(), PlanError> {
        let Some(task) = self.config.tasks.get(name) else {
            let names: Vec<&str> = self.config.tasks.keys().map(String::as_str).collect();
            let help = deployer_config::did_you_mean(name, names.iter().copied()).unwrap_or_else(|| {
                if names.is_empty() {
                    "the file declares no `tasks`".to_owned()
                } else {
                    format!("tasks are: {}", names.join(", "))
                }
            });
            return Err(PlanError::UnknownTask { name: name.to_owned(), help });
        };
        let step = self.steps.task(&task.name, &task.commands, task.timeout);
        let mut work = self.on_roles(&task.roles, &step);
        if work.is_empty() {
            return Err(PlanError::NoHostForTask { name: task.name.clone(), roles: task.roles.join(", ") });
        }
        let role = task.roles.first().cloned().unwrap_or_default();
        let (scope, concurrency) = if task.once {
            work.truncate(1);
            (Scope::Once { role }, Concurrency::Pool { size: 1 })
        } else if task.serial {
            (Scope::All, Concurrency::Batches { size: 1 })
        } else {
            (Scope::All, self.pool(work.len()))
        };
        let description = task.description.clone().unwrap_or_else(|| format!("run the task `{}`", task.name));
        phases.push(Phase::new("task", &description, scope, concurrency, work));
        Ok(())
    }
}
