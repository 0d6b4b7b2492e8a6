//! `deployer resume [PROJECT] ENV [DEPLOY_ID]`: reads every host's state, finds
//! the deploy that stopped before its switch (`deployer_plan::resume`, which also
//! decides when to refuse), and runs the same command again for the same commit
//! and release id, building only where the release is not complete.

use deployer_plan::CommandSpec;

use crate::cli::{GlobalArgs, ResumeArgs, Target};
use crate::context::CliError;
use crate::exit::Exit;
use crate::output;
use crate::planning::PlanRequest;
use crate::report::HostOutput;

use super::execute::run_request;
use super::status::observe;

pub(crate) fn run(global: &GlobalArgs, args: ResumeArgs) -> Result<Exit, CliError> {
    let (target, wanted) = split_words(args.words);
    let config = crate::context::load(global)?;
    let resolved = crate::context::resolve_target(&config, &target)?;
    crate::planning::refuse_resume_on_a_group(&config, &resolved.deployment, &resolved.environment)?;
    let observed = observe(global, &target)?;
    let point = deployer_plan::resume::find(&observed.by_host(), wanted.as_deref())
        .map_err(|refusal| CliError::Resume { refusal, target: target.target.join(" ") })?;
    let command = match point.command.as_str() {
        "deploy_serial" => CommandSpec::DeploySerial {
            batch_size: args.batch_size,
            waves: (!args.waves.is_empty()).then_some(args.waves),
        },
        _ => CommandSpec::DeployFull,
    };
    if !global.json {
        output::stderr(&format!(
            "resuming the `{}` of {} (release {}, deploy {}): complete on {} of {} hosts, building on {}\n",
            point.command,
            &point.commit[..point.commit.len().min(7)],
            point.release,
            point.deploys.join(", "),
            point.prepared.len(),
            point.prepared.len() + point.remaining.len(),
            if point.remaining.is_empty() { "none".to_owned() } else { point.remaining.join(", ") },
        ));
    }
    let stamp = point.release.split_once('-').map(|(stamp, _)| stamp.to_owned());
    let request = PlanRequest {
        target,
        spec: CommandSpec::Resume { command: Box::new(command), release: point.release, prepared: point.prepared },
        branch: None,
        commit: Some(point.commit),
        release_stamp: stamp,
    };
    run_request(global, request, HostOutput::Logged)
}

/// `[PROJECT] ENV [ID]`: the last word is an id when it has a deploy or release
/// id's shape (`20261127T101500Z-...`), which no environment name has.
fn split_words(mut words: Vec<String>) -> (Target, Option<String>) {
    let is_id = |word: &String| {
        let bytes = word.as_bytes();
        bytes.len() > 17 && bytes[..8].iter().all(u8::is_ascii_digit) && bytes[8] == b'T' && bytes[15] == b'Z'
    };
    let wanted = if words.len() > 1 && words.last().is_some_and(is_id) { words.pop() } else { None };
    (Target { target: words }, wanted)
}

#[cfg(test)]
mod tests {
    use super::split_words;

    #[test]
    fn the_id_is_told_apart_by_its_shape() {
        let words = |list: &[&str]| list.iter().map(|word| (*word).to_owned()).collect::<Vec<_>>();
        let (target, id) = split_words(words(&["shop", "staging"]));
        assert_eq!((target.target, id), (words(&["shop", "staging"]), None));
        let (target, id) = split_words(words(&["staging", "20261127T101500Z-abc1234"]));
        assert_eq!((target.target, id.as_deref()), (words(&["staging"]), Some("20261127T101500Z-abc1234")));
    }
}
