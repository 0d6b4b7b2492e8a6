//! `notify:`: where a deploy's start and result are sent (a generic webhook,
//! Slack-compatible incoming webhooks, GitHub Deployments). Secrets (an HMAC key, a Slack URL, which
//! is itself a credential) are named here and read from the environment's
//! secrets file, never written in this file.

use serde::Deserialize;

use super::{TopLevel, Validator};
use crate::key_path::KeyPath;
use crate::model::{GitHubTarget, Notify, WebhookTarget};
use crate::names::check_name;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    timeout: Option<u32>,
    attempts: Option<u32>,
    webhook: Option<RawWebhook>,
    slack: Option<RawSlack>,
    github: Option<RawGitHub>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGitHub {
    /// `owner/name`.
    repository: String,
    /// The secret whose value is the token; else `GITHUB_TOKEN` from the environment.
    token_secret: Option<String>,
    api_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: String,
    /// The secret whose value signs each payload (HMAC-SHA256).
    secret: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlack {
    /// The secret whose value is the incoming-webhook URL.
    url_secret: String,
}

impl Validator<'_> {
    pub(super) fn notify(&mut self, top: &mut TopLevel) -> Notify {
        let path = KeyPath::root().key("notify");
        let Some(raw) = self.take::<RawNotify>(top, "notify") else { return Notify::default() };
        let timeout = self.in_range(&path.key("timeout"), raw.timeout, 5, 1..=60);
        let attempts = self.in_range(&path.key("attempts"), raw.attempts, 3, 1..=10);
        let webhook = raw.webhook.and_then(|webhook| {
            let at = path.key("webhook");
            if !is_http_url(&webhook.url) {
                self.problems.value(&at.key("url"), "an http:// or https:// URL without spaces");
                return None;
            }
            if let Some(secret) = &webhook.secret {
                self.check(&at.key("secret"), check_name(secret));
            }
            Some(WebhookTarget { url: webhook.url, secret: webhook.secret })
        });
        let slack_secret = raw.slack.map(|slack| {
            self.check(&path.key("slack").key("url_secret"), check_name(&slack.url_secret));
            slack.url_secret
        });
        let github = raw.github.and_then(|github| {
            let at = path.key("github");
            let part_ok = |part: &str| {
                !part.is_empty()
                    && !part.starts_with('.')
                    && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            };
            let repository_ok =
                github.repository.split_once('/').is_some_and(|(owner, name)| part_ok(owner) && part_ok(name));
            if !repository_ok {
                self.problems.value(&at.key("repository"), "`owner/name`, as in the repository's GitHub URL");
                return None;
            }
            if let Some(secret) = &github.token_secret {
                self.check(&at.key("token_secret"), check_name(secret));
            }
            let api_url = github.api_url.unwrap_or_else(|| "https://api.github.com".to_owned());
            if !is_http_url(&api_url) {
                self.problems.value(&at.key("api_url"), "an http:// or https:// URL without spaces");
                return None;
            }
            Some(GitHubTarget { repository: github.repository, token_secret: github.token_secret, api_url })
        });
        Notify { timeout, attempts, webhook, slack_secret, github }
    }
}

fn is_http_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    fn parse(notify: &str) -> Result<crate::Config, String> {
        let text = format!(
            "project: p\nrepo: /srv/git/p.git\nvalid_roles: [web]\nnotify:\n{notify}\nenvironments:\n  staging: {{branch: main}}\n"
        );
        crate::validate::parse_config(camino::Utf8Path::new("f.yml"), &text, &[]).map_err(|error| format!("{error:?}"))
    }

    #[test]
    fn targets_and_their_secrets_by_name() {
        let config =
            parse("  webhook: {url: https://hooks.example.com/x, secret: hook_key}\n  slack: {url_secret: slack_url}")
                .unwrap();
        let notify = &config.notify;
        assert_eq!((notify.timeout, notify.attempts), (5, 3));
        assert_eq!(notify.webhook.as_ref().unwrap().secret.as_deref(), Some("hook_key"));
        assert_eq!(notify.slack_secret.as_deref(), Some("slack_url"));
        let github = parse("  github: {repository: acme/shop.web}").unwrap().notify.github.unwrap();
        assert_eq!((github.repository.as_str(), github.api_url.as_str()), ("acme/shop.web", "https://api.github.com"));
        for (bad, key) in [
            ("  webhook: {url: ftp://x}", "url"),
            ("  webhook: {url: \"https://a b\"}", "url"),
            ("  slack: {url: https://hooks.slack.com/x}", "url"),
            ("  timeout: 0", "timeout"),
            ("  slack: {url_secret: \"$(x)\"}", "url_secret"),
            ("  github: {repository: acme}", "repository"),
            ("  github: {repository: \"acme/../x\"}", "repository"),
            ("  github: {repository: acme/shop, api_url: \"file:///x\"}", "api_url"),
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains(&format!("Key(\"{key}\")")) && error.contains("Key(\"notify\")"), "{bad}: {error}");
        }
    }
}
