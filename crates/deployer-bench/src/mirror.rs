//! `deployer-bench mirror`: a redeploy of a new commit to 50 hosts whose mirror is
//! already there, against a fresh `git clone --depth 1` of the same commit on
//! every host (what a tool without a cached mirror does on each deploy).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deployer_fleet::{DEPLOY_PATH, PORT};

use crate::{commit, git, run_deployer, start_fleet, write_config};

const HOSTS: usize = 50;

pub(crate) fn run(deployer: &Path) {
    let (work, fleet) = start_fleet(HOSTS);
    let source = work.join("source");
    let size = sizeable_repository(&source);
    // A git server's repository is packed: fetches reuse its deltas.
    git(&source, &["gc", "--quiet"]);
    let config = write_config(&work, &fleet, HOSTS, PORT);
    // The same repository as a URL: fetched like a remote one (a path on the
    // host's filesystem is cloned, with hardlinks).
    let text = std::fs::read_to_string(&config).unwrap();
    let url_config = work.join("config-url.yml");
    let path_line = format!("repo: {}\n", source.display());
    assert!(text.contains(&path_line), "{text}");
    std::fs::write(&url_config, text.replace(&path_line, &format!("repo: file://{}\n", source.display()))).unwrap();

    let path_first = run_deployer(deployer, &config, "tool");
    eprintln!("first deploy from a path (clones the mirrors): {:.2}s", path_first.wall.as_secs_f64());
    let url_first = run_deployer(deployer, &url_config, "plain");
    eprintln!("first deploy from a URL (fetches the commit): {:.2}s", url_first.wall.as_secs_f64());
    commit(&source);
    std::thread::sleep(Duration::from_millis(1100));
    let redeploy = run_deployer(deployer, &config, "tool");
    let url_redeploy = run_deployer(deployer, &url_config, "plain");

    let url = format!("file://{}", source.display());
    let started = Instant::now();
    let clones: Vec<_> = fleet
        .hosts
        .iter()
        .map(|host| {
            let script = format!(
                "rm -rf {DEPLOY_PATH}/clone && git clone --quiet --depth 1 --branch main -- {url} {DEPLOY_PATH}/clone"
            );
            Command::new("ssh")
                .args(["-T", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o"])
                .arg(format!("UserKnownHostsFile={}", work.join("known_hosts").display()))
                .args(["-o", "IdentitiesOnly=yes", "-i"])
                .arg(fleet.client_key())
                .args(["-p", &PORT.to_string(), "--", &format!("{}@{}", fleet.user, host.address), &script])
                .stdin(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let failures = clones.into_iter().map(|mut child| child.wait().unwrap()).filter(|status| !status.success()).count();
    let clone_wall = started.elapsed();
    assert_eq!(failures, 0, "every clone succeeds");

    println!("| {HOSTS} hosts, {size:.1} MB working tree, packed | wall |");
    println!("|---|---:|");
    let rows = [
        ("deployer first deploy, repository as a path (mirror cloned with hardlinks)", path_first.wall),
        ("deployer first deploy, repository as a URL (only the pinned commit fetched)", url_first.wall),
        ("deployer redeploy, path (mirror present, whole deploy_full)", redeploy.wall),
        ("deployer redeploy, URL (mirror present, whole deploy_full)", url_redeploy.wall),
        ("fresh `git clone --depth 1` of the URL per host (clone only)", clone_wall),
    ];
    for (what, wall) in rows {
        println!("| {what} | {:.2} s |", wall.as_secs_f64());
    }
    println!(
        "| first deploy from the URL vs the shallow clones | {:.2}x |",
        url_first.wall.as_secs_f64() / clone_wall.as_secs_f64()
    );
    println!(
        "| redeploy vs the shallow clones | {:.2}x faster |",
        clone_wall.as_secs_f64() / redeploy.wall.as_secs_f64()
    );
    drop(fleet);
    let _ = std::fs::remove_dir_all(&work);
}

/// About 20 MB of source-like text in 2,000 files, with some history.
pub(crate) fn sizeable_repository(source: &Path) -> f64 {
    std::fs::create_dir_all(source.join("src")).unwrap();
    git(source, &["init", "-q"]);
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut bytes = 0usize;
    for round in 0..4 {
        for file in 0..500 {
            let mut text = String::new();
            for line in 0..120 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(&format!(
                    "fn f{round}_{file}_{line}(x: u64) -> u64 {{ x.wrapping_mul({seed}) ^ {} }}\n",
                    seed >> 11
                ));
            }
            bytes += text.len();
            std::fs::write(source.join("src").join(format!("r{round}_m{file}.rs")), text).unwrap();
        }
        commit(source);
    }
    bytes as f64 / 1_000_000.0
}
