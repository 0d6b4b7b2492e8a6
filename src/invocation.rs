//! Who is running deployer, where and when: recorded in locks and history.

use deployer_plan::Invocation;

/// Names the time deployer takes as now (RFC 3339, UTC), instead of the clock:
/// for reproducible plans, and for tests that need distinct or fixed times
/// without sleeping.
pub(crate) const NOW_VARIABLE: &str = "DEPLOYER_NOW";

pub(crate) fn current() -> Invocation {
    let now = std::env::var(NOW_VARIABLE)
        .ok()
        .and_then(|text| text.parse::<jiff::Timestamp>().ok())
        .unwrap_or_else(jiff::Timestamp::now);
    let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let pid = std::process::id();
    Invocation {
        deploy_id: run_id(&stamp),
        local_user: printable(std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| uid())),
        controller: printable(
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .or_else(|_| std::fs::read_to_string("/etc/hostname"))
                .unwrap_or_default(),
        ),
        pid,
        stamp,
        started_at: now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }
}

/// `uid N` when no user name is in the environment (cron, containers).
fn uid() -> String {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|metadata| format!("uid {}", metadata.uid())).unwrap_or_default()
}

/// Keeps names readable in lock records: no control characters, never empty.
fn printable(value: String) -> String {
    let cleaned: String = value.trim().chars().filter(|c| !c.is_control()).take(64).collect();
    if cleaned.is_empty() { "unknown".to_owned() } else { cleaned }
}

/// A run's id: when it started (for people) and 64 random bits, so two runs never
/// share one, even started in the same second in containers with the same pid,
/// and nobody can guess another run's id to release its lock.
fn run_id(stamp: &str) -> String {
    format!("{stamp}-{}", deployer_exec::random_hex(8))
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_ids_differ_within_one_second() {
        let (a, b) = (super::run_id("20261123T000000Z"), super::run_id("20261123T000000Z"));
        assert_ne!(a, b);
        assert!(a.starts_with("20261123T000000Z-") && a.len() == "20261123T000000Z-".len() + 16, "{a}");
    }
}
