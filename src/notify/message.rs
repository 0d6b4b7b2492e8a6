//! What a notification says: one versioned JSON document (the generic webhook's
//! body, documented in docs/configuration.md) and the Slack text made from it.

use serde::Serialize;

/// The payload's format version; fields are only ever added within a version.
pub(crate) const VERSION: u32 = 1;

/// A run's start (`started`) or result (`finished`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Message {
    pub version: u32,
    pub event: &'static str,
    pub project: String,
    pub deployment: String,
    pub environment: String,
    pub command: String,
    pub deploy_id: String,
    pub user: String,
    pub controller: String,
    pub commit: Option<String>,
    pub release: Option<String>,
    /// Commits shipped since this machine's last deploy here, when known.
    pub commits_since_last_deploy: Option<usize>,
    pub hosts: Vec<String>,
    /// `succeeded`, `failed`, `rolled_back`, `partial`, `locked`, `interrupted` (`finished` only).
    pub result: Option<&'static str>,
    pub exit_code: Option<i32>,
    pub duration_ms: Option<u64>,
    /// Hosts with a failure (`finished` only).
    pub failed_hosts: Vec<String>,
    /// Where the run's logs are, on the machine that ran it.
    pub logs: String,
}

impl Message {
    /// The `started` message of `plan`'s run.
    pub(crate) fn started(plan: &deployer_plan::Plan, invocation: &deployer_plan::Invocation, logs: &str) -> Self {
        Self {
            version: VERSION,
            event: "started",
            project: plan.project.clone(),
            deployment: plan.deployment.clone(),
            environment: plan.environment.clone(),
            command: plan.command.clone(),
            deploy_id: plan.deploy_id.clone(),
            user: invocation.local_user.clone(),
            controller: invocation.controller.clone(),
            commit: plan.revision.as_ref().map(|revision| revision.commit.clone()),
            release: plan.release_id.clone(),
            commits_since_last_deploy: plan.shipping.as_ref().map(|shipping| shipping.commits),
            hosts: plan.hosts.iter().map(|host| host.name.clone()).collect(),
            result: None,
            exit_code: None,
            duration_ms: None,
            failed_hosts: Vec::new(),
            logs: logs.to_owned(),
        }
    }

    /// The `finished` message, from the `started` one and the outcome. `went_live`:
    /// the release (and its commit, when known) a run that chose it on the hosts
    /// put live (a rollback's target).
    pub(crate) fn finished(
        &self,
        outcome: &deployer_exec::Outcome,
        exit_code: i32,
        went_live: Option<(String, Option<String>)>,
    ) -> Self {
        let mut failed_hosts: Vec<String> = outcome.failures.iter().map(|failure| failure.host.clone()).collect();
        failed_hosts.dedup();
        let (release, commit) = match went_live {
            Some((release, commit)) => (Some(release), commit.or_else(|| self.commit.clone())),
            None => (self.release.clone(), self.commit.clone()),
        };
        Self {
            event: "finished",
            result: Some(outcome.status.word()),
            exit_code: Some(exit_code),
            duration_ms: Some(outcome.duration_ms),
            failed_hosts,
            release,
            commit,
            ..self.clone()
        }
    }

    /// One line for people: who, what, which commit, the result and how long.
    pub(crate) fn text(&self) -> String {
        let commit =
            self.commit.as_deref().map(|commit| format!(" {}", &commit[..commit.len().min(7)])).unwrap_or_default();
        let since = match self.commits_since_last_deploy {
            Some(1) => " (1 new commit)".to_owned(),
            Some(count) => format!(" ({count} new commits)"),
            None => String::new(),
        };
        let hosts = match self.hosts.len() {
            1 => "1 host".to_owned(),
            count => format!("{count} hosts"),
        };
        let what = format!("`{}` of {} {}{commit}{since}", self.command, self.deployment, self.environment);
        match (self.event, self.result) {
            ("started", _) => format!("{} started the {what} on {hosts}", self.user),
            (_, Some(result)) => {
                let seconds = self.duration_ms.map(|ms| format!(" in {:.1} s", ms as f64 / 1000.0)).unwrap_or_default();
                let failed = if self.failed_hosts.is_empty() {
                    String::new()
                } else {
                    format!("; failed on {}", self.failed_hosts.join(", "))
                };
                let result = match result {
                    "rolled_back" => "failed and was switched back",
                    "partial" => "failed, leaving hosts on different releases",
                    "locked" => "found the environment locked",
                    "interrupted" => "was interrupted",
                    other => other,
                };
                format!("the {what} by {} {result}{seconds} on {hosts}{failed}", self.user)
            }
            _ => format!("the {what} by {} finished", self.user),
        }
    }

    /// The Slack-compatible body.
    pub(crate) fn slack(&self) -> serde_json::Value {
        serde_json::json!({ "text": format!("deployer: {}", self.text()) })
    }
}

/// A message for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) mod tests_support {
    pub(crate) fn message() -> super::Message {
        super::tests::message("started")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn message(event: &'static str) -> Message {
        Message {
            version: VERSION,
            event,
            project: "shop".to_owned(),
            deployment: "shop".to_owned(),
            environment: "staging".to_owned(),
            command: "deploy_full".to_owned(),
            deploy_id: "20261128T000000Z-0123456789abcdef".to_owned(),
            user: "ana".to_owned(),
            controller: "laptop".to_owned(),
            commit: Some("3f786850e387550fdab836ed7e6dc881de23001b".to_owned()),
            release: Some("20261128T000000Z-3f78685".to_owned()),
            commits_since_last_deploy: Some(3),
            hosts: vec!["web1".to_owned(), "web2".to_owned()],
            result: None,
            exit_code: None,
            duration_ms: None,
            failed_hosts: Vec::new(),
            logs: "/home/ana/shop/.deployer/logs/20261128T000000Z-0123456789abcdef".to_owned(),
        }
    }

    #[test]
    fn payloads() {
        let started = message("started");
        let finished = Message {
            result: Some("rolled_back"),
            exit_code: Some(3),
            duration_ms: Some(12_345),
            failed_hosts: vec!["web2".to_owned()],
            ..message("finished")
        };
        insta::assert_json_snapshot!("webhook_started", started);
        insta::assert_json_snapshot!("webhook_finished", finished);
        insta::assert_json_snapshot!("slack_started", started.slack());
        insta::assert_json_snapshot!("slack_finished", finished.slack());
    }
}
