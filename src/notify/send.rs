//! Delivery: one POST per target per message, each attempt within the time
//! limit, a short pause between attempts. Failures come back as warnings that
//! never show a secret (a Slack URL is one, so it is never named).

use std::collections::BTreeMap;
use std::time::Duration;

use deployer_config::Notify;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::Message;
use super::github::GitHub;

/// The header that carries the body's HMAC-SHA256, GitHub's webhook convention.
pub(crate) const SIGNATURE_HEADER: &str = "X-Deployer-Signature-256";

enum Target {
    Webhook { url: String, key: Option<Vec<u8>> },
    Slack { url: String },
    GitHub(GitHub),
}

pub(crate) struct Notifier {
    agent: ureq::Agent,
    targets: Vec<Target>,
    attempts: u32,
}

impl Notifier {
    /// The targets of `notify`, their secrets taken from `secrets`. `Err` names a
    /// secret the file does not define, before anything runs.
    pub(crate) fn new(notify: &Notify, secrets: &BTreeMap<String, String>) -> Result<Option<Self>, String> {
        if notify.is_empty() {
            return Ok(None);
        }
        let secret = |key: &str, name: &str| {
            secrets.get(name).cloned().ok_or_else(|| {
                format!("`notify.{key}` names the secret `{name}`, which the secrets file does not define")
            })
        };
        let mut targets = Vec::new();
        if let Some(webhook) = &notify.webhook {
            let key = webhook.secret.as_deref().map(|name| secret("webhook.secret", name)).transpose()?;
            targets.push(Target::Webhook { url: webhook.url.clone(), key: key.map(String::into_bytes) });
        }
        if let Some(name) = &notify.slack_secret {
            targets.push(Target::Slack { url: secret("slack.url_secret", name)? });
        }
        if let Some(github) = &notify.github {
            let token = match &github.token_secret {
                Some(name) => secret("github.token_secret", name)?,
                None => std::env::var("GITHUB_TOKEN").map_err(|_| {
                    "`notify.github` needs a token: `token_secret` in the secrets file, or GITHUB_TOKEN".to_owned()
                })?,
            };
            targets.push(Target::GitHub(GitHub {
                repository_url: format!("{}/repos/{}", github.api_url.trim_end_matches('/'), github.repository),
                token,
                deployment: std::sync::Mutex::new(None),
            }));
        }
        let timeout = Duration::from_secs(notify.timeout.into());
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(true)
            .user_agent(concat!("deployer/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Some(Self { agent, targets, attempts: notify.attempts.max(1) }))
    }

    /// Sends `message` to every target; returns a warning per target that could
    /// not be reached after every attempt.
    pub(crate) fn send(&self, message: &Message) -> Vec<String> {
        let body = serde_json::to_vec(message).unwrap_or_default();
        let slack = serde_json::to_vec(&message.slack()).unwrap_or_default();
        let mut warnings = Vec::new();
        for target in &self.targets {
            if let Target::GitHub(github) = target {
                if let Err(error) = github.send(&self.agent, self.attempts, message) {
                    warnings.push(format!("could not tell GitHub Deployments of the run {}: {error}", message.event));
                }
                continue;
            }
            let (name, url, body, signature) = match target {
                Target::GitHub(_) => continue,
                Target::Webhook { url, key } => ("the webhook", url, &body, key.as_deref().map(|key| sign(key, &body))),
                Target::Slack { url } => ("Slack", url, &slack, None),
            };
            if let Err(error) = self.post(url, body, signature.as_deref()) {
                // The error can quote the URL, which for Slack is a secret.
                let error = if matches!(target, Target::Slack { .. }) {
                    error.replace(url.as_str(), "[slack url]")
                } else {
                    error
                };
                warnings.push(format!("could not notify {name} of the run {}: {error}", message.event));
            }
        }
        warnings
    }

    fn post(&self, url: &str, body: &[u8], signature: Option<&str>) -> Result<(), String> {
        let mut last = String::new();
        for attempt in 0..self.attempts {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
            }
            let mut request = self.agent.post(url).header("Content-Type", "application/json");
            if let Some(signature) = signature {
                request = request.header(SIGNATURE_HEADER, signature);
            }
            match request.send(body) {
                Ok(_) => return Ok(()),
                Err(error) => last = error.to_string(),
            }
        }
        Err(format!("{last} (after {} attempts)", self.attempts))
    }
}

/// `sha256=<hex>` of `body` keyed with `key`.
pub(crate) fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    /// An endpoint that accepts and never answers costs its attempts' time
    /// limits and a pause, then a warning: never more.
    #[test]
    fn a_silent_endpoint_costs_at_most_its_attempts_and_gives_a_warning() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let held = std::thread::spawn(move || {
            let connections: Vec<_> = listener.incoming().take(2).collect();
            std::thread::sleep(std::time::Duration::from_secs(5));
            drop(connections);
        });
        let notify = deployer_config::Notify {
            timeout: 1,
            attempts: 2,
            webhook: Some(deployer_config::WebhookTarget { url, secret: None }),
            slack_secret: None,
            github: None,
        };
        let notifier = super::Notifier::new(&notify, &BTreeMap::new()).unwrap().unwrap();
        let message = crate::notify::message::tests_support::message();
        let started = std::time::Instant::now();
        let warnings = notifier.send(&message);
        let took = started.elapsed();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("after 2 attempts"), "{warnings:?}");
        // Two attempts of 1 s and one 0.2 s pause, with room for a slow machine.
        assert!(took >= std::time::Duration::from_secs(2) && took < std::time::Duration::from_secs(4), "{took:?}");
        drop(held);
    }

    #[test]
    fn signs_as_rfc_4231_says() {
        assert_eq!(
            super::sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
