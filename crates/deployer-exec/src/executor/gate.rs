//! Commands on the machine running deployer: a rollout's gate (between waves,
//! with the wave's facts; it decides whether the rollout goes on) and hooks'
//! `local:` steps (with the deploy's facts). They never see a secret.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use deployer_plan::Plan;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// What the gate is told, as `DEPLOYER_*` variables.
pub(super) struct Facts<'a> {
    pub plan: &'a Plan,
    /// 1-based.
    pub wave: usize,
    pub waves: usize,
    /// The hosts of the wave that just finished.
    pub hosts: &'a [String],
    pub directory: Option<&'a Path>,
}

/// Lines of the gate's output kept for the failure message.
const TAIL_LINES: usize = 5;

/// Runs `command` with `sh -c`; `Err` says why the rollout must stop (non-zero
/// exit, time limit, cannot start). A stop request ends it early, quietly: the
/// run's own interruption handling takes over.
pub(super) async fn run(
    command: &str,
    timeout: u32,
    facts: &Facts<'_>,
    cancel: &CancellationToken,
) -> Result<(), String> {
    let plan = facts.plan;
    let mut variables = deploy_facts(plan);
    variables.push(("DEPLOYER_WAVE", facts.wave.to_string()));
    variables.push(("DEPLOYER_WAVES", facts.waves.to_string()));
    variables.push(("DEPLOYER_WAVE_HOSTS", facts.hosts.join(" ")));
    run_local("the gate", command, timeout, &variables, facts.directory, cancel).await
}

/// The facts every command deployer runs on this machine gets.
pub(super) fn deploy_facts(plan: &Plan) -> Vec<(&'static str, String)> {
    vec![
        ("DEPLOYER_ENVIRONMENT", plan.environment.clone()),
        ("DEPLOYER_DEPLOYMENT", plan.deployment.clone()),
        ("DEPLOYER_DEPLOY_ID", plan.deploy_id.clone()),
        ("DEPLOYER_RELEASE", plan.release_id.clone().unwrap_or_default()),
        ("DEPLOYER_COMMIT", plan.revision.as_ref().map(|revision| revision.commit.clone()).unwrap_or_default()),
        ("DEPLOYER_HOSTS", plan.hosts.iter().map(|host| host.name.as_str()).collect::<Vec<_>>().join(" ")),
    ]
}

/// Runs `command` with `sh -c` on this machine with `variables`; `Err` says why
/// it failed (`what` names it: "the gate", "the hook"). A stop request ends it
/// early, quietly.
pub(super) async fn run_local(
    what: &str,
    command: &str,
    timeout: u32,
    variables: &[(&str, String)],
    directory: Option<&Path>,
    cancel: &CancellationToken,
) -> Result<(), String> {
    let mut process = tokio::process::Command::new("sh");
    process
        .arg("-c")
        .arg(command)
        .envs(variables.iter().map(|(name, value)| (*name, value.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(directory) = directory {
        process.current_dir(directory);
    }
    let mut child = process.spawn().map_err(|error| format!("cannot start {what}: {error}"))?;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let output = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        if let Some(pipe) = stdout.as_mut() {
            let _ = pipe.take(1 << 20).read_to_end(&mut out).await;
        }
        if let Some(pipe) = stderr.as_mut() {
            let _ = pipe.take(1 << 20).read_to_end(&mut err).await;
        }
        let status = child.wait().await;
        (status, out, err)
    };
    let (status, out, err) = tokio::select! {
        finished = tokio::time::timeout(Duration::from_secs(timeout.into()), output) => match finished {
            Ok(finished) => finished,
            Err(_) => return Err(format!("{what} did not finish within {timeout}s")),
        },
        () = cancel.cancelled() => return Ok(()),
    };
    let status = status.map_err(|error| format!("{what} could not be waited for: {error}"))?;
    if status.success() {
        return Ok(());
    }
    let text = format!("{}{}", String::from_utf8_lossy(&out), String::from_utf8_lossy(&err));
    let lines: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join(" / ");
    let code = status.code().map_or_else(|| "a signal".to_owned(), |code| format!("status {code}"));
    Err(if tail.is_empty() {
        format!("{what} exited with {code}")
    } else {
        format!("{what} exited with {code}: {tail}")
    })
}
