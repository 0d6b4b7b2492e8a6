//! What can go wrong talking to AWS, worded for the operator.

use aws_sdk_ec2::error::ProvideErrorMetadata;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The API refused or failed a call: the service's code and message, or the
    /// transport's (no credentials, no network, a bad endpoint).
    #[error("{operation}: {message}")]
    Call { operation: &'static str, message: String },
    /// An answer deployer cannot use (an instance address outside what the
    /// configuration allows, a tag value that is not a name).
    #[error("{0}")]
    Answer(String),
}

impl AwsError {
    /// Wraps an SDK error: the service's own code and message when it sent one,
    /// else the whole chain of causes (which names a missing credential or region).
    pub(crate) fn call<E>(operation: &'static str, error: &aws_sdk_ec2::error::SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        Self::from_parts(operation, error.code(), error.message(), error)
    }

    /// From any service's error: its code and message, else the chain of causes.
    pub(crate) fn from_parts(
        operation: &'static str,
        code: Option<&str>,
        message: Option<&str>,
        error: &(dyn std::error::Error + 'static),
    ) -> Self {
        let message = match (code, message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            _ => causes(error),
        };
        let message = if message.contains("credential") {
            format!(
                "no AWS credentials ({message}); set `aws.profile` or AWS_PROFILE (after `aws sso login` for SSO), \
                 or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        } else {
            message
        };
        Self::Call { operation, message }
    }
}

/// The messages of an error and its causes, joined, each once: the SDK nests
/// "dispatch failure" around the reason that matters.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(error) = next {
        let message = error.to_string();
        if !messages.iter().any(|seen| seen.contains(&message)) {
            messages.push(message);
        }
        next = error.source();
    }
    messages.join(": ")
}
