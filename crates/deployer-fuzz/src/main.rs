//! `deployer-fuzz TARGET SECONDS`: feeds mutated inputs to one target until the time
//! is up, and fails on a panic, on an input that takes too long, or on a parse
//! result that breaks an invariant. Targets: `config` (the whole YAML loader and
//! validator) and `host` (host strings).
//!
//! cargo-fuzz needs a nightly toolchain, which this project's machines do not have;
//! this is a small coverage-blind mutation fuzzer seeded with real inputs: the
//! example configuration, the test fixtures and tricky host strings. Mutations:
//! byte flips, insertions and deletions, splices between seeds, and YAML and
//! host-string tokens dropped in at random places.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use camino::Utf8Path;
use deployer_config::{HostString, parse_config};

/// An input slower than this counts as a hang.
const SLOW: Duration = Duration::from_secs(2);

const YAML_TOKENS: &[&str] = &[
    ": ",
    "\n",
    "\n  ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "&a ",
    "*a",
    "<<: *a",
    "!!str ",
    "!!binary ",
    "? ",
    "|\n  ",
    ">-\n  ",
    "'",
    "\"",
    "#",
    "---\n",
    "...\n",
    "~",
    "null",
    "true",
    "0x1F",
    "1e999",
    "-.inf",
    "environments",
    "roles",
    "hosts",
    "branch",
    "command",
    "web",
    "staging",
    "keep_releases",
    "vars",
    "\t",
    "\u{0}",
    "\u{1b}[31m",
    "é",
    "\u{feff}",
    "%YAML 1.2\n",
];
const HOST_TOKENS: &[&str] = &[
    "@",
    ":",
    "[",
    "]",
    "::",
    "%",
    "-",
    ".",
    "%eth0",
    "65535",
    "0",
    "-oProxyCommand=",
    "$(",
    "`",
    ";",
    " ",
    "\u{0}",
    "é",
    "1.2.3.4",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let target = args.get(1).map_or("config", String::as_str);
    let seconds: u64 = args.get(2).and_then(|value| value.parse().ok()).unwrap_or(10);
    let seed: u64 = args.get(3).and_then(|value| value.parse().ok()).unwrap_or(0x9E37_79B9_7F4A_7C15);
    let (seeds, tokens): (Vec<Vec<u8>>, &[&str]) = match target {
        "config" => (config_seeds(), YAML_TOKENS),
        "host" => (host_seeds(), HOST_TOKENS),
        _ => {
            eprintln!("usage: deployer-fuzz config|host SECONDS [SEED]");
            std::process::exit(2);
        }
    };
    let mut random = Random(seed | 1);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut executions: u64 = 0;
    let mut slowest = Duration::ZERO;
    while Instant::now() < deadline {
        let input = mutate(&seeds, tokens, &mut random);
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| check(target, &input)));
        let took = started.elapsed();
        slowest = slowest.max(took);
        executions += 1;
        if let Err(panic) = outcome.as_ref().map_err(panic_text).and_then(std::clone::Clone::clone) {
            report(target, &input, &format!("failed: {panic}"));
        }
        if took > SLOW {
            report(target, &input, &format!("took {took:?}"));
        }
    }
    println!("{target}: {executions} executions in {seconds} s, no finding (slowest input {slowest:?})");
}

/// Runs the target on one input; an `Err` is a broken invariant.
fn check(target: &str, input: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(input);
    if target == "config" {
        match parse_config(Utf8Path::new("fuzz.yml"), &text, &[]) {
            Ok(config) => {
                // Whatever passes validation must be safe to hand to ssh and git.
                for environment in config.environments.values() {
                    deployer_config::check_branch(&environment.branch)
                        .map_err(|error| format!("accepted branch: {error}"))?;
                    for role in environment.roles.values() {
                        for host in &role.hosts {
                            if host.host.starts_with('-') {
                                return Err(format!("accepted host {host}"));
                            }
                        }
                    }
                }
            }
            Err(errors) => {
                // Spans point into the text the errors carry (the file without a
                // byte-order mark), which is what the renderer shows.
                let text = errors.text.as_str();
                for error in &errors.errors {
                    if let deployer_config::Origin::File { offset, length, .. } = error.origin
                        && (offset + length > text.len()
                            || !text.is_char_boundary(offset)
                            || !text.is_char_boundary(offset + length))
                    {
                        return Err(format!(
                            "error span {offset}+{length} outside the text or not on a character boundary"
                        ));
                    }
                    if error.message.is_empty() {
                        return Err("an empty error message".to_owned());
                    }
                }
            }
        }
        Ok(())
    } else {
        if let Ok(host) = text.parse::<HostString>() {
            if host.host.starts_with('-') || host.host.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("accepted a dangerous host: {host:?}"));
            }
            // The canonical form parses back to the same host.
            let again: HostString =
                host.to_string().parse().map_err(|error| format!("canonical form refused: {error}"))?;
            if again != host {
                return Err(format!("round trip changed {host:?} into {again:?}"));
            }
        }
        Ok(())
    }
}

fn report(target: &str, input: &[u8], problem: &str) -> ! {
    let path = format!("fuzz-{target}-finding.bin");
    let _ = std::fs::write(&path, input);
    eprintln!("{target}: {problem}; input saved to {path}");
    std::process::exit(1);
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        if bound == 0 { 0 } else { usize::try_from(self.next() % bound as u64).unwrap_or(0) }
    }
}

fn mutate(seeds: &[Vec<u8>], tokens: &[&str], random: &mut Random) -> Vec<u8> {
    let mut input = seeds[random.below(seeds.len())].clone();
    for _ in 0..=random.below(8) {
        let at = random.below(input.len() + 1);
        match random.below(6) {
            0 if !input.is_empty() => {
                let index = random.below(input.len());
                input[index] ^= 1 << random.below(8);
            }
            1 => input.insert(at, random.next().to_le_bytes()[0]),
            2 if !input.is_empty() => {
                let end = (at + random.below(16)).min(input.len());
                input.drain(at.min(end)..end);
            }
            3 => {
                let other = &seeds[random.below(seeds.len())];
                let start = random.below(other.len());
                let end = (start + random.below(200)).min(other.len());
                input.splice(at..at, other[start..end].iter().copied());
            }
            _ => {
                let token = tokens[random.below(tokens.len())].as_bytes();
                input.splice(at..at, token.iter().copied());
            }
        }
    }
    input.truncate(64 * 1024);
    input
}

fn config_seeds() -> Vec<Vec<u8>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut seeds = vec![std::fs::read(format!("{root}/fabulaws-config.yml.example")).unwrap_or_default()];
    for directory in ["tests/fixtures", "tests/fixtures/invalid", "examples/demo"] {
        for entry in std::fs::read_dir(format!("{root}/{directory}")).into_iter().flatten().flatten() {
            if entry.path().extension().is_some_and(|extension| extension == "yml") {
                seeds.push(std::fs::read(entry.path()).unwrap_or_default());
            }
        }
    }
    seeds.push(b"project: p\nrepo: r\nenvironments: {s: {branch: main, roles: {web: [a]}}}\n".to_vec());
    seeds.retain(|seed| !seed.is_empty());
    seeds
}

fn host_seeds() -> Vec<Vec<u8>> {
    [
        "web1",
        "deploy@web1:2222",
        "me@corp.com@web1",
        "[::1]:22",
        "::1",
        "user@[2001:db8::1]:1222",
        "fe80::1%eth0",
        "10.0.0.1:22",
        "@host",
        "host:",
        "[fe80::1%eth0]:22",
        "a.b-c_d.example.com",
    ]
    .iter()
    .map(|seed| seed.as_bytes().to_vec())
    .collect()
}
