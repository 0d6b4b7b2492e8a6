//! GitHub Deployments: a deployment for the pinned commit and the environment
//! when a run starts (`in_progress`), and its final state when it ends
//! (`success`, `failure`, or `inactive` when the deploy was switched back: the
//! release it shipped is no longer live). A successful rollback is recorded at
//! its end as a deployment of the commit it put back, so GitHub marks the one
//! rolled away from inactive. The token is a secret: it goes in the
//! `Authorization` header only and is never shown.

use std::sync::Mutex;

use serde_json::json;

use super::Message;

pub(crate) struct GitHub {
    /// `https://api.github.com/repos/<owner>/<name>`.
    pub repository_url: String,
    pub token: String,
    /// The deployment created when the run started.
    pub deployment: Mutex<Option<u64>>,
}

impl GitHub {
    /// Creates the deployment (at the start) and posts its state; each request is
    /// tried up to `attempts` times.
    pub(crate) fn send(&self, agent: &ureq::Agent, attempts: u32, message: &Message) -> Result<(), String> {
        let post = |url: &str, body: &serde_json::Value| -> Result<serde_json::Value, String> {
            let mut last = String::new();
            for attempt in 0..attempts.max(1) {
                if attempt > 0 {
                    std::thread::sleep(std::time::Duration::from_millis(200 * u64::from(attempt)));
                }
                let sent = agent
                    .post(url)
                    .header("Accept", "application/vnd.github+json")
                    .header("Authorization", &format!("Bearer {}", self.token))
                    .header("X-GitHub-Api-Version", "2022-11-28")
                    .header("Content-Type", "application/json")
                    .send(&serde_json::to_vec(body).unwrap_or_default()[..]);
                match sent {
                    Ok(mut response) => {
                        let text = response.body_mut().read_to_string().map_err(|error| error.to_string())?;
                        return Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null));
                    }
                    Err(error) => last = error.to_string(),
                }
            }
            Err(format!("{last} (after {attempts} attempts)"))
        };
        let Some(commit) = &message.commit else { return Ok(()) };
        let known = *self.deployment.lock().expect("not poisoned");
        // A run whose commit is known only at its end (a rollback) is recorded
        // then, once it succeeded: GitHub marks the environment's earlier
        // deployments inactive when a new one succeeds.
        let create = message.event == "started" || (known.is_none() && message.result == Some("succeeded"));
        let deployment = if create {
            let created = post(
                &format!("{}/deployments", self.repository_url),
                &json!({
                    "ref": commit,
                    "environment": message.environment,
                    "description": format!("{} by {}", message.command, message.user),
                    "auto_merge": false,
                    "required_contexts": [],
                    "payload": { "deploy_id": message.deploy_id, "release": message.release },
                }),
            )?;
            let id = created["id"].as_u64().ok_or("GitHub gave no deployment id")?;
            *self.deployment.lock().expect("not poisoned") = Some(id);
            id
        } else {
            let Some(id) = known else { return Ok(()) };
            id
        };
        let state = match message.result {
            None => "in_progress",
            Some("succeeded") => "success",
            Some("rolled_back") => "inactive",
            Some(_) => "failure",
        };
        post(
            &format!("{}/deployments/{deployment}/statuses", self.repository_url),
            &json!({
                "state": state,
                "environment": message.environment,
                "description": message.text().chars().take(140).collect::<String>(),
                "auto_inactive": state == "success",
            }),
        )
        .map(|_| ())
    }
}
