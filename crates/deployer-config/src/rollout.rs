//! `rollout:`, at the top level or per environment (which wins whole): the waves
//! `deploy_serial` switches the fleet in, the bake time between them and the gate
//! that must pass before the next wave starts.

use serde::{Deserialize, Serialize};

use crate::key_path::KeyPath;
use crate::problems::Problems;

/// How `deploy_serial` rolls a release out, when the file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollout {
    /// Cumulative targets: after wave k, `waves[k]` of the hosts are on the release.
    pub waves: Vec<WaveSize>,
    /// Seconds to wait after each wave but the last, before its gate.
    pub bake: u32,
    /// A command run on this machine after each wave but the last (after the
    /// bake); non-zero stops the rollout and switches every wave back.
    pub gate: Option<String>,
    /// Seconds the gate may run.
    pub gate_timeout: u32,
    /// Run on each host of a wave before its switch (take it out of the load
    /// balancer), in `current`.
    pub drain: Option<String>,
    /// Run on each host of a wave after its health check, and after it is put
    /// back if the rollout fails (return it to the load balancer).
    pub undrain: Option<String>,
    /// Hosts that must stay in service at every moment: no wave may take more
    /// than the rest.
    pub min_healthy: Option<WaveSize>,
}

/// A wave's cumulative target: a host count, or a percentage of the targeted hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaveSize {
    Hosts(u32),
    Percent(u32),
}

impl WaveSize {
    /// How many of `total` hosts this target covers (a percentage rounds up, so a
    /// wave is never empty for want of rounding).
    pub fn of(self, total: usize) -> usize {
        let total_u64 = total as u64;
        let covered = match self {
            Self::Hosts(count) => u64::from(count),
            Self::Percent(percent) => (total_u64 * u64::from(percent)).div_ceil(100),
        };
        usize::try_from(covered.min(total_u64)).unwrap_or(total)
    }
}

impl std::str::FromStr for WaveSize {
    type Err = String;

    /// `3` (hosts) or `30%`, as `--waves 1,30%,100%` gives them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let value = match text.trim().parse::<u64>() {
            Ok(count) => serde_yaml::Value::from(count),
            Err(_) => serde_yaml::Value::from(text.trim()),
        };
        parse_wave(&value)
    }
}

impl Rollout {
    /// `waves` with this rollout's bake, gate, drain and `min_healthy` (or none
    /// of them, without one): `--waves` on the command line.
    pub fn with_waves(base: Option<&Self>, waves: Vec<WaveSize>) -> Self {
        match base {
            Some(base) => Self { waves, ..base.clone() },
            None => Self {
                waves,
                bake: 0,
                gate: None,
                gate_timeout: DEFAULT_GATE_TIMEOUT,
                drain: None,
                undrain: None,
                min_healthy: None,
            },
        }
    }

    /// The wave sizes for `total` hosts: each wave the hosts that take the fleet to
    /// its target, empty waves dropped, and a last wave for any host no target
    /// covers.
    pub fn wave_sizes(&self, total: usize) -> Vec<usize> {
        let mut sizes = Vec::new();
        let mut covered = 0;
        for wave in &self.waves {
            let target = wave.of(total).max(covered);
            if target > covered {
                sizes.push(target - covered);
                covered = target;
            }
        }
        if covered < total {
            sizes.push(total - covered);
        }
        sizes
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRollout {
    waves: Vec<serde_yaml::Value>,
    bake: Option<u32>,
    gate: Option<String>,
    gate_timeout: Option<u32>,
    drain: Option<String>,
    undrain: Option<String>,
    min_healthy: Option<serde_yaml::Value>,
}

const DEFAULT_GATE_TIMEOUT: u32 = 300;

/// Validates a `rollout:` section at `path`.
pub(crate) fn rollout(problems: &mut Problems, path: &KeyPath, raw: RawRollout) -> Option<Rollout> {
    let mut waves = Vec::new();
    let mut ok = true;
    if raw.waves.is_empty() {
        problems.value(&path.key("waves"), "give at least one wave, e.g. `[1, 30%, 100%]`");
        ok = false;
    }
    for (index, value) in raw.waves.iter().enumerate() {
        match parse_wave(value) {
            Ok(wave) => waves.push(wave),
            Err(message) => {
                problems.value(&path.key("waves").index(index), message);
                ok = false;
            }
        }
    }
    if let Some(bake) = raw.bake
        && bake > 24 * 3600
    {
        problems.value(&path.key("bake"), "the bake time is at most a day (86400 seconds)");
        ok = false;
    }
    if raw.gate.as_deref().is_some_and(|gate| gate.trim().is_empty() || gate.contains('\0')) {
        problems.value(&path.key("gate"), "the gate command is empty or contains a NUL byte");
        ok = false;
    }
    for (key, command) in [("drain", &raw.drain), ("undrain", &raw.undrain)] {
        if command.as_deref().is_some_and(|command| command.trim().is_empty() || command.contains('\0')) {
            problems.value(&path.key(key), format!("the {key} command is empty or contains a NUL byte"));
            ok = false;
        }
    }
    let min_healthy = raw.min_healthy.as_ref().and_then(|value| {
        let size = parse_wave(value).ok();
        if size.is_none() {
            problems.value(&path.key("min_healthy"), "a host count (`2`) or a percentage (`80%`)");
        }
        size
    });
    ok &= raw.min_healthy.is_none() || min_healthy.is_some();
    if raw.gate_timeout == Some(0) {
        problems.value(&path.key("gate_timeout"), "the gate's time limit must be at least 1 second");
        ok = false;
    }
    ok.then(|| Rollout {
        waves,
        bake: raw.bake.unwrap_or(0),
        gate: raw.gate,
        gate_timeout: raw.gate_timeout.unwrap_or(DEFAULT_GATE_TIMEOUT),
        drain: raw.drain,
        undrain: raw.undrain,
        min_healthy,
    })
}

/// `auto_revert_after`: seconds, 5 to a day. Shorter would fire before a health
/// check could pass.
pub(crate) fn auto_revert_after(problems: &mut Problems, path: &KeyPath, value: &serde_yaml::Value) -> Option<u32> {
    let seconds = value.as_u64().and_then(|seconds| u32::try_from(seconds).ok());
    match seconds {
        Some(seconds) if (5..=24 * 3600).contains(&seconds) => Some(seconds),
        _ => {
            problems.value(path, "seconds from 5 to 86400 before an unconfirmed deploy reverts itself");
            None
        }
    }
}

fn parse_wave(value: &serde_yaml::Value) -> Result<WaveSize, String> {
    let wave = match value {
        serde_yaml::Value::Number(number) => {
            number.as_u64().and_then(|count| u32::try_from(count).ok()).filter(|&count| count > 0).map(WaveSize::Hosts)
        }
        serde_yaml::Value::String(text) => text
            .trim()
            .strip_suffix('%')
            .and_then(|percent| percent.trim().parse::<u32>().ok())
            .filter(|percent| (1..=100).contains(percent))
            .map(WaveSize::Percent),
        _ => None,
    };
    wave.ok_or_else(|| "a wave is a host count (`1`) or a percentage from 1% to 100% (`30%`)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(waves: &[WaveSize]) -> Rollout {
        Rollout {
            waves: waves.to_vec(),
            bake: 0,
            gate: None,
            gate_timeout: 1,
            drain: None,
            undrain: None,
            min_healthy: None,
        }
    }

    #[test]
    fn waves_are_cumulative_and_cover_every_host() {
        use WaveSize::{Hosts, Percent};
        assert_eq!(rollout(&[Hosts(1), Percent(30), Percent(100)]).wave_sizes(10), [1, 2, 7]);
        assert_eq!(
            rollout(&[Hosts(1), Percent(10), Percent(50)]).wave_sizes(10),
            [1, 4, 5],
            "a last wave for the rest"
        );
        assert_eq!(rollout(&[Percent(50), Hosts(2)]).wave_sizes(3), [2, 1], "a target already met adds no wave");
        assert_eq!(rollout(&[Hosts(5)]).wave_sizes(2), [2]);
        assert_eq!(rollout(&[Percent(1)]).wave_sizes(1000), [10, 990]);
    }

    #[test]
    fn auto_revert_after_is_seconds_with_a_floor_and_environments_win() {
        let text = |value: &str| {
            format!(
                "project: p\nrepo: /srv/git/p.git\nvalid_roles: [web]\nauto_revert_after: {value}\n\
                 environments:\n  staging: {{branch: main, auto_revert_after: 600}}\n  production: {{branch: main}}\n"
            )
        };
        let config = crate::validate::parse_config(camino::Utf8Path::new("f.yml"), &text("120"), &[]).unwrap();
        assert_eq!(config.auto_revert_after, Some(120));
        assert_eq!(config.environments["staging"].auto_revert_after, Some(600));
        assert_eq!(config.environments["production"].auto_revert_after, None, "falls back to the top level");
        for bad in ["2", "\"2m\"", "-1"] {
            let error = crate::validate::parse_config(camino::Utf8Path::new("f.yml"), &text(bad), &[]).unwrap_err();
            assert!(format!("{error:?}").contains("auto_revert_after"), "{bad}: {error:?}");
        }
    }

    #[test]
    fn wave_values_are_counts_or_percentages() {
        assert_eq!(parse_wave(&serde_yaml::Value::from(3)), Ok(WaveSize::Hosts(3)));
        assert_eq!(parse_wave(&serde_yaml::Value::from("25%")), Ok(WaveSize::Percent(25)));
        for bad in [
            serde_yaml::Value::from(0),
            serde_yaml::Value::from("0%"),
            serde_yaml::Value::from("150%"),
            serde_yaml::Value::from("half"),
        ] {
            assert!(parse_wave(&bad).is_err(), "{bad:?}");
        }
    }
}
