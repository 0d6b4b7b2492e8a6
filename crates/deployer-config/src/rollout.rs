//! `rollout:`, at the top level or per environment (which wins whole): the waves
//! `deploy_serial` switches the fleet in, the bake time between them and the gate
//! that must pass before the next wave starts.

use serde::{Deserialize, Serialize};

use crate::key_path::KeyPath;
use crate::problems::Problems;

/// How `deploy_serial` rolls a release out, when the file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollout {
    /// Named hosts that form the first wave, whatever their place in the host list.
    pub canary: Vec<String>,
    /// Named groups of hosts (a zone, a rack), one wave each in the file's order,
    /// after the canary; hosts in no group form a last wave. Exclusive with `waves`.
    pub groups: Vec<(String, Vec<String>)>,
    /// Cumulative targets: after wave k, `waves[k]` of the hosts are on the release
    /// (counting the canary).
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
    /// of them, without one): `--waves` on the command line, which replaces the
    /// canary and groups too.
    pub fn with_waves(base: Option<&Self>, waves: Vec<WaveSize>) -> Self {
        match base {
            Some(base) => Self { waves, canary: Vec::new(), groups: Vec::new(), ..base.clone() },
            None => Self {
                canary: Vec::new(),
                groups: Vec::new(),
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
        self.wave_sizes_after(0, total)
    }

    /// [`Rollout::wave_sizes`] when the first `covered` hosts (the canary) already
    /// switched in a wave of their own.
    pub fn wave_sizes_after(&self, covered: usize, total: usize) -> Vec<usize> {
        let mut sizes = Vec::new();
        let mut covered = covered.min(total);
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
    canary: Option<Vec<String>>,
    #[serde(default)]
    groups: indexmap::IndexMap<String, Vec<String>>,
    #[serde(default)]
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
    let canary: &[String] = raw.canary.as_deref().unwrap_or_default();
    if raw.waves.is_empty() && raw.groups.is_empty() && canary.is_empty() {
        problems.value(&path.key("waves"), "give at least one wave, e.g. `[1, 30%, 100%]` (or `canary:` or `groups:`)");
        ok = false;
    }
    if !raw.waves.is_empty() && !raw.groups.is_empty() {
        problems.value(&path.key("groups"), "give `waves:` or `groups:`, not both: groups are the waves");
        ok = false;
    }
    let mut named: Vec<&str> = Vec::new();
    let lists = raw
        .canary
        .iter()
        .map(|hosts| (path.key("canary"), hosts))
        .chain(raw.groups.iter().map(|(name, hosts)| (path.key("groups").key(name), hosts)));
    for (list_path, hosts) in lists {
        if hosts.is_empty() {
            problems.value(&list_path, "name at least one host");
            ok = false;
        }
        for (index, host) in hosts.iter().enumerate() {
            if let Err(error) = host.parse::<crate::HostString>() {
                problems.value(&list_path.index(index), format!("not a host: {error}"));
                ok = false;
            } else if named.contains(&host.as_str()) {
                problems.value(&list_path.index(index), format!("`{host}` is named twice in the rollout"));
                ok = false;
            } else {
                named.push(host);
            }
        }
    }
    if let Some(first) = raw.waves.first().and_then(|wave| parse_wave(wave).ok())
        && !canary.is_empty()
        && first == WaveSize::Hosts(u32::try_from(canary.len()).unwrap_or(u32::MAX))
    {
        problems.value(
            &path.key("waves").index(0),
            "the canary is already the first wave: this count adds nothing (start with the next target)",
        );
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
        canary: raw.canary.unwrap_or_default(),
        groups: raw.groups.into_iter().collect(),
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
            canary: Vec::new(),
            groups: Vec::new(),
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
        assert_eq!(rollout(&[Percent(50), Percent(100)]).wave_sizes_after(1, 10), [4, 5], "after a canary of one");
        assert_eq!(rollout(&[]).wave_sizes_after(2, 10), [8]);
    }

    #[test]
    fn canary_and_groups_name_hosts() {
        let text = |rollout: &str| {
            format!(
                "project: p\nrepo: /srv/git/p.git\nvalid_roles: [web]\nrollout:\n{rollout}\n\
                 environments:\n  staging: {{branch: main}}\n"
            )
        };
        let parse = |rollout: &str| {
            crate::validate::parse_config(camino::Utf8Path::new("f.yml"), &text(rollout), &[])
                .map(|config| config.rollout.unwrap())
        };
        let rollout = parse("  canary: [web1]\n  groups:\n    zone-a: [web2, web3]\n    zone-b: [web4]").unwrap();
        assert_eq!(rollout.canary, ["web1"]);
        assert_eq!(rollout.groups[0], ("zone-a".to_owned(), vec!["web2".to_owned(), "web3".to_owned()]));
        assert_eq!(parse("  canary: [web1]\n  waves: [50%, 100%]").unwrap().waves.len(), 2);
        for (bad, key) in [
            ("  waves: [1]\n  groups: {a: [web1]}", "groups"),
            ("  canary: [web1]\n  groups: {a: [web1]}", "named twice"),
            ("  canary: [\"web 1\"]", "canary"),
            ("  groups: {a: []}", "at least one host"),
            ("  canary: [web1]\n  waves: [1, 100%]", "already the first wave"),
        ] {
            let error = format!("{:?}", parse(bad).unwrap_err());
            assert!(error.contains(key), "{bad}: {error}");
        }
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
