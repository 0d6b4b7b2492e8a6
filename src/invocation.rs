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
        deploy_id: format!("{stamp}-{pid}"),
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
