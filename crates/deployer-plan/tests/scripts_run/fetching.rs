//! The host's mirror and the release's files: what a first deploy and the next
//! fetch, and releases hard-linked into a pristine tree.

use camino::{Utf8Path, Utf8PathBuf};
use deployer_plan::{CommandSpec, StepKind};

use super::{
    commit, current, fixture, git, hardlink_fixture, only, phase_with, plan, run, try_work, url_fixture, wait_until,
    with_step_env,
};

#[test]
fn a_first_deploy_fetches_only_the_pinned_commit_and_the_next_only_what_is_new() {
    let fixture = url_fixture();
    let mirror = fixture.root.join("hosts/testing/repo");
    let first = commit(&fixture, "version 1");
    run(&plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &first), &fixture);
    assert_eq!(git(&mirror, &["rev-parse", "--is-shallow-repository"]), "true", "no history on the host");
    assert_eq!(git(&mirror, &["rev-list", "--count", "--all"]), "1");
    let objects = |mirror: &Utf8Path| git(mirror, &["count-objects", "-v"]);
    let before = objects(&mirror);
    let second = commit(&fixture, "version 2");
    run(&plan(&fixture, CommandSpec::DeployFull, "20261123T000002Z", &second), &fixture);
    assert_eq!(git(&mirror, &["rev-parse", "--is-shallow-repository"]), "true");
    assert_eq!(git(&mirror, &["rev-parse", "refs/deployer/pinned"]), second);
    // The new commit, its tree and the one changed file: nothing fetched twice.
    let loose =
        |text: &str| text.lines().find_map(|line| line.strip_prefix("count: ")).unwrap().parse::<u32>().unwrap();
    assert!(loose(&objects(&mirror)) - loose(&before) <= 3, "{before}\n{}", objects(&mirror));
    assert_eq!(
        current(&fixture),
        plan(&fixture, CommandSpec::DeployFull, "20261123T000002Z", &second).release_id.unwrap()
    );
}

#[test]
fn a_mirror_past_gits_pack_limit_is_repacked_after_the_fetch() {
    let fixture = url_fixture();
    let mirror = fixture.root.join("hosts/testing/repo");
    run(&plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &commit(&fixture, "1")), &fixture);
    // What 51 deploys' fetches would leave: a pack each.
    let packs = |mirror: &Utf8Path| {
        std::fs::read_dir(mirror.join("objects/pack"))
            .unwrap()
            .filter(|entry| entry.as_ref().unwrap().file_name().to_string_lossy().ends_with(".pack"))
            .count()
    };
    let packed = std::process::Command::new("sh")
        .arg("-c")
        .arg("for n in $(seq 51); do echo \"blob $n\" | git hash-object -w --stdin | git pack-objects --quiet objects/pack/pack >/dev/null || exit; done")
        .current_dir(&mirror)
        .status()
        .unwrap();
    assert!(packed.success());
    assert!(packs(&mirror) > 50);
    run(&plan(&fixture, CommandSpec::DeployFull, "20261123T000002Z", &commit(&fixture, "2")), &fixture);
    wait_until("the mirror was not repacked", || packs(&mirror) <= 50);
    assert_eq!(git(&mirror, &["rev-parse", "refs/deployer/pinned^{commit}"]).len(), 40, "the pinned commit is kept");
}

#[test]
fn a_server_that_refuses_unadvertised_commits_gets_a_whole_mirror() {
    let fixture = url_fixture();
    let pinned = commit(&fixture, "version 1");
    commit(&fixture, "version 2");
    // Protocol v0 refuses a commit that is not a branch tip (as old git servers do).
    let old_protocol =
        [("GIT_CONFIG_COUNT", "1"), ("GIT_CONFIG_KEY_0", "protocol.version"), ("GIT_CONFIG_VALUE_0", "0")];
    with_step_env(&old_protocol, || {
        run(&plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &pinned), &fixture);
    });
    let mirror = fixture.root.join("hosts/testing/repo");
    assert_eq!(git(&mirror, &["rev-parse", "--is-shallow-repository"]), "false", "the old way: a full mirror");
    assert_eq!(git(&mirror, &["rev-list", "--count", "--all"]), "2");
    let release = plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &pinned).release_id.unwrap();
    assert_eq!(current(&fixture), release);
    let app = std::fs::read_to_string(fixture.root.join("hosts/testing/current/app.txt")).unwrap();
    assert_eq!(app, "version 1", "the pinned commit, not the branch tip");
}

#[test]
fn a_repository_on_the_hosts_filesystem_is_cloned_whole_with_hardlinks() {
    let fixture = fixture();
    let pinned = commit(&fixture, "version 1");
    run(&plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &pinned), &fixture);
    let mirror = fixture.root.join("hosts/testing/repo");
    assert_eq!(git(&mirror, &["rev-parse", "--is-shallow-repository"]), "false");
    let object = std::fs::read_dir(mirror.join("objects"))
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().len() == 2)
        .flat_map(|entry| std::fs::read_dir(entry.path()).unwrap().flatten())
        .next()
        .expect("a loose object");
    assert!(
        std::os::unix::fs::MetadataExt::nlink(&object.metadata().unwrap()) >= 2,
        "{} is a copy, not a hardlink",
        object.path().display()
    );
}

/// git hashes again, on every later read, each file whose mtime falls in its
/// index's own second ("racy git"): a first deploy leaves its fresh tree's
/// index in its files' second, and the next deploy hashed the whole tree. It
/// now trusts that index (moves its mtime on) when no path in the tree changed
/// after it. `changed_after_the_index`: a file is rewritten in place, same
/// size, after the first deploy; otherwise it is too, but its mtime is put
/// back, a change only hashing would see: whether it survives the next deploy
/// tells whether git hashed the tree again.
fn redeploy_after_a_fresh_tree(changed_after_the_index: bool) -> String {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let fixture = hardlink_fixture();
    let first = plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &commit(&fixture, "one"));
    let until_next_second = || {
        let into_second = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        Duration::from_nanos(u64::from(1_000_000_000 - into_second) + 5_000_000)
    };
    // Started just after a second begins, the whole first deploy here takes
    // well under a second: its files and its index share that second.
    std::thread::sleep(until_next_second());
    run(&first, &fixture);
    let state = fixture.root.join("hosts/testing/.deployer");
    let modified = |path: &Utf8Path| std::fs::symlink_metadata(path).unwrap().modified().unwrap();
    let seconds = |time: SystemTime| time.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let index = modified(&state.join("tree.index"));
    let files = walkdir(&state.join("tree"));
    assert!(files.len() >= 2, "the tree has the commit's files");
    assert!(
        files.iter().any(|file| seconds(modified(file)) == seconds(index)),
        "the first deploy took its files and its index into separate seconds: nothing to tell here"
    );
    assert!(state.join("tree.unsettled").exists(), "a fresh tree is marked");
    // The tree's file, through the release's hard link to it.
    let library = fixture.root.join("hosts/testing/current/lib.txt");
    let was = modified(&library);
    std::fs::write(&library, "LIBRARY\n").unwrap();
    if !changed_after_the_index {
        std::fs::File::options().write(true).open(&library).unwrap().set_modified(was).unwrap();
    }
    // The index git would write now is from a later second than its files.
    std::thread::sleep(until_next_second());
    run(&plan(&fixture, CommandSpec::DeployFull, "20261123T000002Z", &commit(&fixture, "two")), &fixture);
    assert!(!state.join("tree.unsettled").exists(), "settled once");
    assert_eq!(std::fs::read_to_string(fixture.root.join("hosts/testing/current/app.txt")).unwrap(), "two");
    std::fs::read_to_string(fixture.root.join("hosts/testing/current/lib.txt")).unwrap()
}

#[test]
fn the_deploy_after_a_fresh_tree_trusts_its_index_and_reads_no_unchanged_file() {
    // Unchanged as far as size and mtime tell: git read nothing to see otherwise.
    assert_eq!(redeploy_after_a_fresh_tree(false), "LIBRARY\n");
}

#[test]
fn the_deploy_after_a_fresh_tree_still_hashes_it_when_a_file_changed_after_its_index() {
    assert_eq!(redeploy_after_a_fresh_tree(true), "library\n", "the commit's content, not the one written in place");
}

/// Every file under `root` (not directories).
fn walkdir(root: &Utf8Path) -> Vec<Utf8PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let path = Utf8PathBuf::from_path_buf(entry.unwrap().path()).unwrap();
            if path.is_dir() { pending.push(path) } else { files.push(path) }
        }
    }
    files
}

#[test]
fn hardlinked_releases_share_unchanged_files_and_a_change_in_place_never_reaches_the_next() {
    use std::os::unix::fs::MetadataExt;
    let fixture = hardlink_fixture();
    let releases = fixture.root.join("hosts/testing/releases");
    let deploy = |command: CommandSpec, stamp: &str, content: &str| {
        let plan = plan(&fixture, command, stamp, &commit(&fixture, content));
        run(&plan, &fixture);
        releases.join(plan.release_id.unwrap())
    };
    let inode = |path: Utf8PathBuf| std::fs::metadata(path).unwrap().ino();
    let one = deploy(CommandSpec::CreateEnvironment, "20261123T000001Z", "one");
    let two = deploy(CommandSpec::DeployFull, "20261123T000002Z", "two");
    assert_eq!(inode(one.join("lib.txt")), inode(two.join("lib.txt")), "an unchanged file is one inode");
    assert_ne!(inode(one.join("app.txt")), inode(two.join("app.txt")));
    assert_eq!(std::fs::read_to_string(one.join("app.txt")).unwrap(), "one", "the old release keeps its file");
    assert_eq!(std::fs::read_to_string(two.join("app.txt")).unwrap(), "two");
    assert!(two.join("built.txt").exists() && !fixture.root.join("hosts/testing/.deployer/tree/built.txt").exists());
    assert!(
        !fixture.root.join("hosts/testing/.deployer/tree/config/app.conf").exists(),
        "templates stay in the release"
    );

    // Written in place through a link (the hazard the setting's documentation
    // names): the next release still gets the commit's content.
    // Same size: only the mtime tells.
    std::fs::write(two.join("lib.txt"), "LIBRARY\n").unwrap();
    let three = deploy(CommandSpec::DeployFull, "20261123T000003Z", "three");
    assert_eq!(std::fs::read_to_string(three.join("lib.txt")).unwrap(), "library\n");
    assert_ne!(inode(two.join("lib.txt")), inode(three.join("lib.txt")));
    assert_eq!(std::fs::read_to_string(two.join("lib.txt")).unwrap(), "LIBRARY\n");
}

/// The release is streamed from `git archive` to `tar`: a failure on either
/// side fails the step, named, and a failed `git` is not taken for a `tar`
/// that stopped reading.
#[test]
fn a_failed_extraction_says_whether_git_or_tar_failed() {
    use std::os::unix::fs::PermissionsExt;
    let fixture = fixture();
    let real_git =
        String::from_utf8(std::process::Command::new("sh").args(["-c", "command -v git"]).output().unwrap().stdout)
            .unwrap();
    let bin = fixture.root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fakes = [
        // tar that gives up at once: git, writing into a closed pipe, gets SIGPIPE.
        ("tar", "#!/bin/sh\nexit 2\n".to_owned(), "tar could not extract"),
        (
            "git",
            format!(
                "#!/bin/sh\nfor arg; do [ \"$arg\" = archive ] && exit 128; done\nexec {} \"$@\"\n",
                real_git.trim()
            ),
            "git archive of",
        ),
    ];
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap());
    for (number, (tool, script, says)) in fakes.into_iter().enumerate() {
        std::fs::write(bin.join(tool), script).unwrap();
        std::fs::set_permissions(bin.join(tool), std::fs::Permissions::from_mode(0o755)).unwrap();
        let deploy =
            plan(&fixture, CommandSpec::DeployFull, &format!("20261123T00000{number}Z"), &commit(&fixture, tool));
        let prepare = only(&phase_with(&deploy, StepKind::PrepareRelease).work, StepKind::PrepareRelease);
        let error = with_step_env(&[("PATH", &path)], || try_work(&prepare, &fixture.root)).unwrap_err();
        assert!(error.contains(says), "{tool}: {error}");
        std::fs::remove_file(bin.join(tool)).unwrap();
    }
}

#[test]
fn a_zstd_push_to_a_host_without_zstd_says_so_before_it_keeps_anything() {
    let mut fixture = fixture();
    let path = fixture.root.join("fabulaws-config.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}execution:\n  fetch_strategy: push\n  push_compression: zstd\n")).unwrap();
    fixture.config = deployer_config::load_config(&path, &[]).unwrap();
    let first = commit(&fixture, "v1\n");
    let plan = plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &first);
    let receive = plan.phases.iter().flat_map(|phase| &phase.work).flat_map(|work| &work.steps);
    let receive = receive.clone().find(|step| step.kind == StepKind::ReceiveArchive).expect("a receive step");
    // A host whose PATH has a shell and nothing else: no zstd.
    let bin = fixture.root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink("/bin/sh", bin.join("sh")).unwrap();
    let output = with_step_env(&[("PATH", bin.as_str())], || {
        super::run_step(receive, &std::collections::BTreeMap::new(), &fixture.root)
    });
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("this host has no zstd program"), "{stderr}");
    // It said so before asking for anything, or making a place to keep it.
    assert!(!stderr.contains("deployer_request"), "{stderr}");
    let script = receive.script.to_string();
    let uploads = script.lines().find_map(|line| line.strip_prefix("uploads=")).expect("an uploads input");
    assert!(uploads.contains("/hosts/"), "{uploads}");
    assert!(!Utf8Path::new(uploads).exists(), "{uploads} was made");
}
