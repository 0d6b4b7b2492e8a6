//! Commands that run a plan on hosts: compile, confirm, connect, run, report.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use camino::Utf8Path;
use deployer_config::Config;
use deployer_exec::{ExecOptions, Executor, RunStatus};
use deployer_plan::Plan;
use deployer_ssh::{FleetTransport, SshSettings};
use tokio_util::sync::CancellationToken;

use crate::cli::{Command, GlobalArgs};
use crate::cloud::RunCloud;
use crate::context::CliError;
use crate::exit::Exit;
use crate::notify::{Message, Notifier};
use crate::output;
use crate::planning::{PlanRequest, build_plan};
use crate::report::{CliReporter, HostLogs, HostOutput, Progress, RunNames, Style};
use crate::signals::StopSignals;

/// More hosts than this get condensed plain output unless `--verbose`.
const CONDENSE_ABOVE_HOSTS: usize = 20;

pub(crate) fn run(global: &GlobalArgs, command: Command) -> Result<Exit, CliError> {
    // `run` is for its output, Fabric-style; deploys keep host output in the logs.
    let host_output = match &command {
        Command::Run { grouped: true, .. } => HostOutput::Grouped,
        Command::Run { .. } | Command::Task(_) => HostOutput::Streamed,
        _ => HostOutput::Logged,
    };
    run_request(global, PlanRequest::from_command(command)?, host_output)
}

/// Compiles `request`, confirms on production, and runs it.
pub(crate) fn run_request(
    global: &GlobalArgs,
    request: PlanRequest,
    host_output: HostOutput,
) -> Result<Exit, CliError> {
    let mut attempt = 1;
    loop {
        let (config, plan) = build_plan(global, request.clone())?;
        preflight(global, &config, &plan)?;
        if let (1, Some(question)) = (attempt, &plan.confirmation) {
            confirm(question, global.yes)?;
        }
        let directory = config.directory().to_owned();
        let secrets = load_secrets(&config, &plan, &directory)?;
        let notifier = notifier(&config, &plan, &directory)?;
        let exit = runtime()?.block_on(execute(
            global,
            &config,
            &plan,
            &secrets,
            &directory,
            host_output,
            notifier.as_ref(),
        ))?;
        // `FabulAWS`'s `_retry_new`: a run that launched servers and failed cleanly
        // (its undo terminated them) tries again with new ones.
        let launched = plan.command == "create_environment" && plan.hosts.iter().any(|host| host.launch.is_some());
        let clean_failure = matches!(exit, Exit::Failed | Exit::RolledBack);
        if !(launched && clean_failure && attempt < config.aws.launch_attempts) {
            return Ok(exit);
        }
        attempt += 1;
        if !global.json {
            output::stderr(&format!(
                "server creation failed; trying again (attempt {attempt} of {})\n",
                config.aws.launch_attempts
            ));
        }
    }
}

/// The run's notifier, for commands that change hosts (those that take the lock)
/// when `notify:` names a target; its secrets come from the secrets file now,
/// so a missing one stops the run before it starts.
fn notifier(config: &Config, plan: &Plan, directory: &Utf8Path) -> Result<Option<Notifier>, CliError> {
    let notify = &config.notify;
    if notify.is_empty() || !plan.takes_lock() {
        return Ok(None);
    }
    let secrets = if notify.names_a_secret() {
        let path = directory.join(config.secrets_file(&plan.environment));
        let text = std::fs::read_to_string(&path).map_err(|source| CliError::Read { path: path.clone(), source })?;
        deployer_exec::parse_secrets(&text).map_err(|source| CliError::Secrets { path, source })?
    } else {
        BTreeMap::new()
    };
    Notifier::new(notify, &secrets).map_err(CliError::Notify)
}

/// Sends `message`, saying why a target could not be reached (never failing the run).
fn announce(notifier: Option<&Notifier>, message: &Message, json: bool) {
    let Some(notifier) = notifier else { return };
    let warnings = tokio::task::block_in_place(|| notifier.send(message));
    if !json {
        for warning in warnings {
            output::stderr(&format!("warning: {warning}\n"));
        }
    }
}

/// Runs `plan` on its hosts with `reporter`, owning the transport, the runtime
/// and Ctrl-C handling. Shared by every command that touches hosts.
pub(crate) fn run_plan(
    global: &GlobalArgs,
    config: &Config,
    plan: &Plan,
    secrets: &BTreeMap<String, String>,
    reporter: &dyn deployer_exec::Reporter,
) -> Result<deployer_exec::Outcome, CliError> {
    preflight(global, config, plan)?;
    let directory = config.directory().to_owned();
    let uploads = crate::push::uploads(plan, push_settings(config), &directory)?;
    let runtime = runtime()?;
    runtime.block_on(async {
        let transport = transport(global, config, &directory)?;
        let cancel = CancellationToken::new();
        let control_directory = transport.control_directory().to_owned();
        let running = Arc::new(AtomicUsize::new(0));
        let signals =
            tokio::spawn(watch_interrupts(cancel.clone(), control_directory, left_behind(plan), running.clone()));
        let cloud = RunCloud::for_plan(config, plan).await;
        let outcome =
            executor(global, config, plan, (secrets, uploads), (&transport, &cloud), reporter, cancel).run().await;
        signals.abort();
        Ok(outcome)
    })
}

/// Enough open files and processes for the plan's hosts, before any is contacted.
fn preflight(global: &GlobalArgs, config: &Config, plan: &Plan) -> Result<(), CliError> {
    if plan.hosts.is_empty() {
        return Ok(());
    }
    let busy = global.pool_size.unwrap_or(config.execution.pool_size) as usize;
    // With a budget, no more than `max_connections` masters are alive at once.
    let connected = config.ssh.max_connections.map_or(plan.hosts.len(), |limit| plan.hosts.len().min(limit as usize));
    let behind_bastion = global.gateway.is_some() || plan.hosts.iter().any(|host| host.gateway.is_some());
    crate::limits::ensure(connected, busy, behind_bastion).map_err(CliError::Limits)
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(CliError::Runtime)
}

fn transport(global: &GlobalArgs, config: &Config, directory: &Utf8Path) -> Result<FleetTransport, CliError> {
    let settings = SshSettings {
        connect_timeout: Duration::from_secs(config.ssh.connect_timeout.into()),
        connection_attempts: config.ssh.connection_attempts,
        keepalive_interval: Duration::from_secs(config.ssh.keepalive_interval.into()),
        known_hosts: config.ssh.known_hosts,
        known_hosts_file: config.ssh.known_hosts_file.as_ref().map(|file| directory.join(file)),
        identity_file: config.ssh.identity_file.as_ref().map(|file| expand_home(file.as_str(), directory)),
        key_exchange: config.ssh.key_exchange,
        forced_gateway: crate::context::gateway_flag(global)?,
        forward_agent: config.ssh.forward_agent,
        control_persist: config.ssh.control_persist,
    };
    Ok(FleetTransport::new(settings)?)
}

fn executor<'a>(
    global: &GlobalArgs,
    config: &Config,
    plan: &'a Plan,
    (secrets, uploads): (&'a BTreeMap<String, String>, std::sync::Arc<dyn deployer_exec::UploadSource>),
    (transport, cloud): (&'a FleetTransport, &'a RunCloud),
    reporter: &'a dyn deployer_exec::Reporter,
    cancel: CancellationToken,
) -> Executor<'a, FleetTransport, RunCloud> {
    Executor {
        plan,
        transport,
        cloud,
        reporter,
        secrets,
        options: ExecOptions {
            warn_only: global.warn_only,
            skip_bad_hosts: global.skip_bad_hosts || config.execution.skip_bad_hosts,
            pool_size: global.pool_size,
            halt_on_failure: global.on_failure == crate::cli::OnFailure::Halt,
            controller_directory: Some(config.directory().as_std_path().to_owned()),
            connect_concurrency: config.ssh.connect_concurrency as usize,
            connect_rate: config.ssh.connect_rate,
            max_connections: config.ssh.max_connections.map(|limit| limit as usize),
            uploads,
        },
        cancel,
    }
}

async fn execute(
    global: &GlobalArgs,
    config: &Config,
    plan: &Plan,
    secrets: &BTreeMap<String, String>,
    directory: &Utf8Path,
    host_output: HostOutput,
    notifier: Option<&Notifier>,
) -> Result<Exit, CliError> {
    let started = (std::time::Instant::now(), crate::invocation::current());
    // The push strategy's mirror gets the commit before anything is announced
    // or touched (its archives are made as hosts ask for them).
    let uploads = tokio::task::block_in_place(|| crate::push::uploads(plan, push_settings(config), directory))?;
    let transport = transport(global, config, directory)?;
    let logs = HostLogs::create(directory, &plan.deploy_id);
    let log_directory = logs.directory().to_owned();
    // The header goes out before any progress bar is drawn, so it cannot disturb them.
    if !global.json {
        output::stderr(&format!(
            "{} {} {}: logs in {log_directory}\n",
            plan.command, plan.deployment, plan.environment
        ));
        if let Some(shipping) = &plan.shipping {
            let migrations = if shipping.migrations_changed.is_empty() { "" } else { ", with migration files" };
            output::stderr(&format!(
                "shipping {} commit(s) since {}{migrations} (`deployer plan` lists them)\n",
                shipping.commits,
                &shipping.since_commit[..shipping.since_commit.len().min(7)]
            ));
        }
    }
    // Said before the progress bars are drawn, like the header.
    let started_message = Message::started(plan, &started.1, log_directory.as_str());
    announce(notifier, &started_message, global.json);
    let style = if global.json {
        Style::Json
    } else if std::io::stderr().is_terminal() {
        Style::Progress(Progress::new(&plan.hosts.iter().map(|host| host.name.clone()).collect::<Vec<_>>()))
    } else {
        Style::Plain
    };
    let json = matches!(style, Style::Json);
    let names = RunNames { environment: plan.environment.clone(), deploy_id: plan.deploy_id.clone() };
    // Hundreds of hosts in a pipe: a line per phase, not one per step per host.
    let condensed = !global.verbose && plan.hosts.len() > CONDENSE_ABOVE_HOSTS;
    let reporter = CliReporter::new(style, logs, names, host_output, condensed);

    let cancel = CancellationToken::new();
    let control_directory = transport.control_directory().to_owned();
    let signals =
        tokio::spawn(watch_interrupts(cancel.clone(), control_directory, left_behind(plan), reporter.running_steps()));
    let cloud = RunCloud::for_plan(config, plan).await;
    let outcome =
        executor(global, config, plan, (secrets, uploads), (&transport, &cloud), &reporter, cancel).run().await;
    signals.abort();
    reporter.finish(&outcome);
    drop(transport);
    if !json {
        output::stderr(&format!("{}; logs in {log_directory}\n", describe(outcome.status)));
    }
    let (exit, result) = match outcome.status {
        RunStatus::Success => (Exit::Success, "success"),
        RunStatus::Failed if outcome.refused.is_some() => (Exit::BadInput, "refused"),
        RunStatus::Failed => (Exit::Failed, "failed"),
        RunStatus::RolledBack => (Exit::RolledBack, "rolled_back"),
        RunStatus::Partial => (Exit::Partial, "partial"),
        RunStatus::LockHeld => (Exit::Locked, "locked"),
        RunStatus::Interrupted => (Exit::Interrupted, "interrupted"),
    };
    // A rollback's release is chosen on the hosts: name it, and its commit when
    // this machine shipped it (the audit log says), so GitHub learns what is live.
    // The log is read only when there is someone to tell.
    let went_live = notifier
        .and(outcome.captured.get(&deployer_plan::protocol::captured::Captured::RollbackTarget))
        .map(|release| {
            let commit = crate::audit::read(directory)
                .into_iter()
                .rev()
                .find(|entry| entry.release.as_deref() == Some(release.as_str()))
                .and_then(|entry| entry.commit);
            (release.clone(), commit)
        });
    announce(notifier, &started_message.finished(&outcome, exit as i32, went_live), json);
    record(plan, directory, started, result, exit);
    Ok(exit)
}

/// Appends the run to the project's audit log; a log that cannot be written is
/// reported, never a reason to fail the run.
fn record(
    plan: &Plan,
    directory: &Utf8Path,
    started: (std::time::Instant, deployer_plan::Invocation),
    result: &str,
    exit: Exit,
) {
    let (clock, invocation) = started;
    let entry = crate::audit::Entry {
        v: crate::audit::VERSION,
        at: invocation.started_at,
        deploy_id: plan.deploy_id.clone(),
        user: invocation.local_user,
        controller: invocation.controller,
        command: plan.command.clone(),
        deployment: plan.deployment.clone(),
        environment: plan.environment.clone(),
        commit: plan.revision.as_ref().map(|revision| revision.commit.clone()),
        release: plan.release_id.clone(),
        result: result.to_owned(),
        exit_code: exit as i32,
        duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        hosts: plan.hosts.iter().map(|host| host.name.clone()).collect(),
    };
    if let Err(error) = crate::audit::append(directory, &entry) {
        output::stderr(&format!("warning: cannot write the audit log {}: {error}\n", crate::audit::path(directory)));
    }
}

/// What a run stopped at once (a second Ctrl-C) may leave, and how to clean it up.
fn left_behind(plan: &Plan) -> String {
    if plan.takes_lock() {
        format!(
            "this run's environment lock (id {id}) may remain: check with `deployer lock status {env}`, \
             release it with `deployer lock release {env} --id {id}`",
            id = plan.deploy_id,
            env = plan.environment
        )
    } else {
        "this run took no lock".to_owned()
    }
}

/// First stop signal (Ctrl-C, SIGTERM, SIGHUP): stop starting work, undo, exit
/// 130. Second: close the masters and exit at once, saying what may be left.
async fn watch_interrupts(
    cancel: CancellationToken,
    control_directory: camino::Utf8PathBuf,
    left_behind: String,
    running: Arc<AtomicUsize>,
) {
    let Ok(mut signals) = StopSignals::listen() else { return };
    let first = signals.next().await;
    cancel.cancel();
    // Said at once: what happens next, and how to stop sooner.
    let steps = match running.load(Ordering::SeqCst) {
        0 => "no step is running".to_owned(),
        1 => "waiting for 1 running step".to_owned(),
        count => format!("waiting for {count} running steps"),
    };
    output::stderr(&format!(
        "stopping ({first}): no new steps start; {steps}, then undoing what ran (signal again to stop at once)\n"
    ));
    let again = signals.next().await;
    output::stderr(&format!(
        "interrupted again ({again}): stopping now. Steps already running finish on their hosts (each has a time \
         limit); {left_behind}\n"
    ));
    FleetTransport::emergency_close(&control_directory);
    std::process::exit(Exit::Interrupted as i32);
}

fn describe(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Success => "done",
        RunStatus::Failed => "failed; nothing was switched",
        RunStatus::RolledBack => "failed after switching; every switched host was switched back",
        RunStatus::Partial => "failed; hosts may be on different releases (see above)",
        RunStatus::LockHeld => "the environment is locked by another run; nothing was changed",
        RunStatus::Interrupted => "interrupted; what ran was undone where possible",
    }
}

fn confirm(question: &str, yes: bool) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::NoTerminal { question: question.to_owned() });
    }
    output::stderr(&format!("{question} [y/N] "));
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") { Ok(()) } else { Err(CliError::NotConfirmed) }
}

/// The secrets the plan uses, from the environment's local secrets file.
fn load_secrets(config: &Config, plan: &Plan, directory: &Utf8Path) -> Result<BTreeMap<String, String>, CliError> {
    if plan.secret_names().is_empty() {
        return Ok(BTreeMap::new());
    }
    let path = directory.join(config.secrets_file(&plan.environment));
    let text = std::fs::read_to_string(&path).map_err(|source| CliError::Read { path: path.clone(), source })?;
    deployer_exec::parse_secrets(&text).map_err(|source| CliError::Secrets { path, source })
}

fn expand_home(path: &str, directory: &Utf8Path) -> camino::Utf8PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => camino::Utf8PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(rest),
        None => directory.join(path),
    }
}

/// What the push strategy's archives are made from and how.
fn push_settings(config: &Config) -> (&str, deployer_config::PushCompression, bool) {
    (&config.repo, config.execution.push_compression, config.execution.hardlink_releases)
}
