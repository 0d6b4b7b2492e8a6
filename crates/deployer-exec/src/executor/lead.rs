//! A phase whose first host leads ([`deployer_plan::Phase::leads`]): the other
//! hosts start once the leader's lock step succeeded. Two runs started at the
//! same moment meet on the leader, so exactly one goes on; yet the others wait
//! only for one step's end marker, not for a phase and its round trip.

use tokio::sync::watch;

/// The leader's side: says once whether the others may start.
pub(super) struct Lead {
    sender: watch::Sender<Option<bool>>,
}

/// The other hosts' side.
pub(super) struct Follow {
    receiver: watch::Receiver<Option<bool>>,
}

impl Lead {
    pub(super) fn new() -> (Self, Follow) {
        let (sender, receiver) = watch::channel(None);
        (Self { sender }, Follow { receiver })
    }

    /// The leader's lock step ended (`ok`), or its work did without one. Only
    /// the first word counts.
    pub(super) fn decide(&self, ok: bool) {
        self.sender.send_if_modified(|decided| {
            let first = decided.is_none();
            if first {
                *decided = Some(ok);
            }
            first
        });
    }
}

impl Follow {
    /// Whether the others may start, once the leader said; `false` if it never will.
    pub(super) async fn go(mut self) -> bool {
        match self.receiver.wait_for(Option::is_some).await {
            Ok(decided) => decided.unwrap_or(false),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_first_word_counts() {
        let (lead, follow) = Lead::new();
        lead.decide(true);
        lead.decide(false);
        assert!(follow.go().await);
    }

    #[tokio::test]
    async fn a_leader_gone_without_a_word_stops_the_others() {
        let (lead, follow) = Lead::new();
        drop(lead);
        assert!(!follow.go().await);
    }
}
