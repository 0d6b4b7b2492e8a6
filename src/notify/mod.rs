//! Notifications of a run's start and result (`notify:`): deployer's versioned
//! JSON to a generic webhook (signed with HMAC-SHA256 when a key is named), a
//! text summary to Slack-compatible incoming webhooks, and GitHub Deployments. Delivery is bounded (a
//! time limit per attempt, a few attempts) and never changes a run's outcome: a
//! message that cannot be delivered is reported as a warning.

mod github;
mod message;
mod send;

pub(crate) use message::Message;
pub(crate) use send::Notifier;
