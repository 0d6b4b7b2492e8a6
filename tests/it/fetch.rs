//! How code reaches real sshd hosts: `execution.fetch_concurrency` bounds the
//! hosts talking to the git server at once (counted on the git side), and
//! `fetch_strategy: push` deploys to hosts that cannot reach the repository.

use std::time::Duration;

use crate::support::invariants::{Expect, check_fleet};
use crate::support::project::{Project, git, project, run_and_check};

/// The hosts' git processes being served by `repo`: for each `git upload-pack`
/// serving it (the git server's side of a clone or fetch), the `git fetch` or
/// `git clone` it serves, by pid. Counted by fetcher, not by upload-pack: one
/// fetch may open a second connection while its first is still up (to fetch
/// the tags it lacks), which is still one host served.
fn serving(repo: &str) -> std::collections::BTreeSet<String> {
    upload_packs(repo).into_iter().map(|pid| fetcher(&pid).unwrap_or(pid)).collect()
}

/// The nearest ancestor of `pid` that is a `git fetch` or `git clone`.
fn fetcher(pid: &str) -> Option<String> {
    let mut current = pid.to_owned();
    for _ in 0..6 {
        let stat = std::fs::read_to_string(format!("/proc/{current}/stat")).ok()?;
        // The parent is the second field after the command's closing parenthesis.
        let parent = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.to_owned();
        let cmdline = std::fs::read(format!("/proc/{parent}/cmdline")).ok()?;
        let text = String::from_utf8_lossy(&cmdline);
        let argv: Vec<&str> = text.split('\0').collect();
        if argv[0].rsplit('/').next() == Some("git") && argv.iter().any(|arg| *arg == "fetch" || *arg == "clone") {
            return Some(parent);
        }
        current = parent;
    }
    None
}

/// The `git upload-pack` processes serving `repo`, by pid.
fn upload_packs(repo: &str) -> std::collections::BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return std::collections::BTreeSet::new() };
    entries
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().bytes().all(|byte| byte.is_ascii_digit()))
        .filter_map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            Some((entry.file_name().to_string_lossy().into_owned(), cmdline))
        })
        .filter(|(_, cmdline)| {
            // The git process itself, not a shell that started it.
            let text = String::from_utf8_lossy(cmdline);
            let argv: Vec<&str> = text.split('\0').collect();
            let program = argv[0].rsplit('/').next().unwrap_or_default();
            let upload_pack = program == "git-upload-pack" || (program == "git" && argv.contains(&"upload-pack"));
            upload_pack && text.contains(repo)
        })
        .map(|(pid, _)| pid)
        .collect()
}

/// Runs `args` while counting, every millisecond, the hosts being served by the
/// repository at once; returns the outcome and the most seen.
fn deploy_counting(project: &Project, args: &[&str]) -> (crate::support::Outcome, usize) {
    let repo = project.path().join("source").display().to_string();
    // A scan of /proc is not atomic: a process ending early in one scan and the
    // next starting late in it would look simultaneous. A process seen in two
    // consecutive scans was alive during the whole gap between them, so the
    // processes two scans share truly ran at once.
    let previous = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let overlapping = || {
        let now = serving(&repo);
        let mut previous = previous.lock().unwrap();
        let both = now.intersection(&previous).count();
        *previous = now;
        both
    };
    crate::support::most_while(Duration::from_millis(1), overlapping, || run_and_check(project, args))
}

/// A commit heavy enough (a few MB that do not compress) that serving a clone
/// takes a while, so hosts being served at once overlap visibly.
fn commit_heavy(project: &Project, name: &str) {
    let source = project.path().join("source");
    let mut bytes = vec![0u8; 3 << 20];
    let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ name.len() as u64;
    for byte in &mut bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state as u8;
    }
    std::fs::write(source.join(name), bytes).unwrap();
    git(&source, &["add", "."]);
    git(&source, &["commit", "-q", "-m", name]);
}

/// Points `repo:` at a `file://` URL, so hosts' clones go through `upload-pack`
/// (a plain path lets git copy the files instead).
fn repo_as_url(project: &Project) {
    let path = project.path().join("fabulaws-config.yml");
    let source = project.path().join("source").display().to_string();
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, config.replace(&format!("repo: {source}\n"), &format!("repo: file://{source}\n"))).unwrap();
}

#[test]
fn fetch_concurrency_bounds_the_hosts_the_git_server_serves_at_once() {
    let Some(project) = project(6, "") else { return };
    repo_as_url(&project);
    commit_heavy(&project, "blob1");
    // Unbounded, the six first clones overlap: the counter sees the storm.
    let (outcome, storm) = deploy_counting(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(storm > 2, "{storm} hosts served at once without a limit: the counter cannot see overlaps");
    project.append_config("execution:\n  fetch_concurrency: 2\n");
    // An incremental fetch is short: on a loaded machine the sampler can miss
    // every one (a peak of 0 says nothing), so up to three deploys, each
    // checked, until one was seen.
    let mut seen = 0;
    for attempt in 2..=4 {
        let blob = format!("blob{attempt}");
        commit_heavy(&project, &blob);
        project.tick();
        let (outcome, peak) = deploy_counting(&project, &["deploy_full", "testing"]);
        assert_eq!(outcome.code, 0, "{}", outcome.stderr);
        assert!(peak <= 2, "{peak} hosts fetched at once with fetch_concurrency 2");
        let release = project.current(0).unwrap();
        check_fleet(&project, 6, &outcome, &Expect::all_on(&release));
        assert_eq!(project.current_file(0, "app.txt").as_deref(), Some("v1\n"));
        assert!(project.host_file(0, &format!("testing/releases/{release}/{blob}")).exists());
        seen = peak;
        if seen > 0 {
            break;
        }
    }
    assert!(seen > 0, "no fetch was seen in three deploys: the counter cannot see fetches");
}

#[test]
fn push_deploys_to_hosts_that_cannot_reach_the_repository() {
    use std::os::unix::fs::PermissionsExt;
    let Some(project) = project(3, "execution:\n  fetch_strategy: push\n") else { return };
    // The deploy user on the hosts cannot read the repository at all.
    let source = project.path().join("source");
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o700)).unwrap();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let release = project.current(0).unwrap();
    check_fleet(&project, 3, &outcome, &Expect::all_on(&release));
    for host in 0..3 {
        assert_eq!(project.current_file(host, "app.txt").as_deref(), Some("v1\n"), "host {host}");
        assert!(!project.host_file(host, "testing/repo").exists(), "host {host} has a mirror: it talked to git");
        let uploads = project.host_file(host, "testing/.deployer/uploads");
        let left = std::fs::read_dir(&uploads).map(Iterator::count).unwrap_or(0);
        assert_eq!(left, 0, "host {host}: the pushed archive was not removed after extraction");
    }
    // A redeploy reuses this machine's mirror and pushes the new commit.
    project.next_version("v2\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(project.current_file(2, "app.txt").as_deref(), Some("v2\n"));
    // The git strategy on the same hosts fails: the hosts really cannot reach it.
    let path = project.path().join("fabulaws-config.yml");
    let config = std::fs::read_to_string(&path).unwrap().replace("fetch_strategy: push", "fetch_strategy: git");
    std::fs::write(&path, config).unwrap();
    project.next_version("v3\n");
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert_eq!(project.current_file(2, "app.txt").as_deref(), Some("v2\n"));
}

#[test]
fn a_zstd_push_deploys_and_redeploys_and_keeps_no_archive() {
    let Some(project) = project(2, "execution:\n  fetch_strategy: push\n  push_compression: zstd\n") else { return };
    for version in ["v2\n", "v3\n"] {
        project.next_version(version);
        let outcome = run_and_check(&project, &["deploy_full", "testing"]);
        assert_eq!(outcome.code, 0, "{}", outcome.stderr);
        let release = project.current(0).unwrap();
        check_fleet(&project, 2, &outcome, &Expect::all_on(&release));
        for host in 0..2 {
            assert_eq!(project.current_file(host, "app.txt").as_deref(), Some(version), "host {host}");
            let uploads = project.host_file(host, "testing/.deployer/uploads");
            assert_eq!(std::fs::read_dir(&uploads).map(Iterator::count).unwrap_or(0), 0, "host {host} kept an archive");
        }
    }
}

#[test]
fn a_damaged_push_is_refused_and_undone() {
    let Some(project) = project(2, "execution:\n  fetch_strategy: push\n") else { return };
    // Host 1 cannot write its uploads: its receive fails, and host 0's archive
    // is removed by the undo.
    use std::os::unix::fs::PermissionsExt;
    let state = project.host_file(1, "testing/.deployer");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(project.host_file(1, "testing/.deployer/uploads"), "not a directory").unwrap();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    check_fleet(&project, 2, &outcome, &Expect::nothing_deployed());
    let uploads = project.host_file(0, "testing/.deployer/uploads");
    assert_eq!(std::fs::read_dir(&uploads).map(Iterator::count).unwrap_or(0), 0, "host 0 kept the pushed archive");
}

#[test]
fn a_push_stopped_by_another_runs_lock_leaves_no_archive_behind() {
    use std::os::unix::fs::PermissionsExt;
    let Some(project) = project(1, "execution:\n  fetch_strategy: push\n") else { return };
    // The host asks for the archive after its lock step: when that step finds
    // another run's lock, nothing is sent at all.
    let state = project.host_file(0, "testing/.deployer");
    std::fs::create_dir_all(state.join("lock")).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(state.join("lock/owner"), "id=20261129T000000Z-0123\nuser=someone\n").unwrap();
    let outcome = run_and_check(&project, &["deploy_full", "testing"]);
    assert_ne!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("locked by another run"), "{}", outcome.stderr);
    assert!(!state.join("uploads").exists(), "the host made a place for an archive it should never ask for");
    std::fs::remove_dir_all(state.join("lock")).unwrap();
}

/// Every file of `release` on `host`, with its content, against the commit's own
/// (`git archive` of the source's HEAD): the release is exactly the commit,
/// with the shared `.env` link deployer adds.
fn assert_release_is_the_commit(project: &Project, host: usize, release: &str) {
    let expected = tempfile::tempdir().unwrap();
    let source = project.path().join("source");
    let archive = std::process::Command::new("sh")
        .arg("-c")
        .arg("git -C \"$1\" archive HEAD | tar -x -C \"$2\"")
        .args(["sh", source.to_str().unwrap(), expected.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(archive.success());
    let listing = |root: &std::path::Path| {
        let mut files = std::collections::BTreeMap::new();
        let mut stack = vec![root.to_owned()];
        while let Some(directory) = stack.pop() {
            for entry in std::fs::read_dir(&directory).unwrap().flatten() {
                let path = entry.path();
                let name = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                let kind = entry.file_type().unwrap();
                if kind.is_dir() {
                    files.insert(format!("{name}/"), String::new());
                    stack.push(path);
                } else if kind.is_symlink() {
                    files.insert(name, format!("-> {}", std::fs::read_link(&path).unwrap().display()));
                } else {
                    files.insert(name, std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        files
    };
    let mut on_host = listing(&project.host_file(host, &format!("testing/releases/{release}")));
    on_host.retain(|name, _| !name.starts_with(".env"));
    assert_eq!(on_host, listing(expected.path()), "host {host}: release {release} is not the commit");
}

/// `deploy_full testing`, which must succeed; the release it made live on host 0.
fn deploy_ok(project: &Project) -> String {
    let outcome = run_and_check(project, &["deploy_full", "testing"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    project.current(0).unwrap()
}

/// The inode of `file` in `release` on `host`: shared by releases only through
/// hard links.
fn release_inode(project: &Project, host: usize, release: &str, file: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(project.host_file(host, &format!("testing/releases/{release}/{file}"))).unwrap().ino()
}

#[test]
fn a_hardlinked_push_sends_only_what_changed_and_every_release_is_its_commit() {
    let Some(project) =
        project(2, "execution:\n  fetch_strategy: push\n  hardlink_releases: true\n  push_compression: zstd\n")
    else {
        return;
    };
    let source = project.path().join("source");
    std::fs::write(source.join("lib.txt"), "library\n").unwrap();
    std::fs::create_dir_all(source.join("old/deep")).unwrap();
    std::fs::write(source.join("old/deep/gone.txt"), "gone\n").unwrap();
    std::fs::write(source.join("becomes-dir"), "a file\n").unwrap();
    std::fs::write(source.join("odd name $(x) 'q'"), "odd\n").unwrap();
    project.next_version("v2\n");
    let one = deploy_ok(&project);
    for host in 0..2 {
        assert_release_is_the_commit(&project, host, &one);
    }
    // A change of every kind: changed, added, removed (with its directories),
    // a file that becomes a directory, a link.
    std::fs::remove_dir_all(source.join("old")).unwrap();
    std::fs::remove_file(source.join("becomes-dir")).unwrap();
    std::fs::create_dir_all(source.join("becomes-dir")).unwrap();
    std::fs::write(source.join("becomes-dir/inside.txt"), "inside\n").unwrap();
    std::fs::write(source.join("new.txt"), "new\n").unwrap();
    std::os::unix::fs::symlink("lib.txt", source.join("link")).unwrap();
    project.next_version("v3\n");
    let second = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let two = project.current(0).unwrap();
    check_fleet(&project, 2, &second, &Expect::all_on(&two));
    let head = git(&source, &["rev-parse", "HEAD"]);
    for host in 0..2 {
        assert_release_is_the_commit(&project, host, &two);
        assert_release_is_the_commit_before(&project, host, &one);
        let inode = |release: &str, file: &str| release_inode(&project, host, release, file);
        // Shared: only a delta leaves the tree's unchanged files as they were.
        assert_eq!(inode(&one, "lib.txt"), inode(&two, "lib.txt"), "host {host}: the whole archive came");
        assert_ne!(inode(&one, "app.txt"), inode(&two, "app.txt"));
        let mark = std::fs::read_to_string(project.host_file(host, "testing/.deployer/pushed-tree.commit")).unwrap();
        assert_eq!(mark.trim(), head.trim(), "host {host}");
        let uploads = project.host_file(host, "testing/.deployer/uploads");
        assert_eq!(std::fs::read_dir(&uploads).map(Iterator::count).unwrap_or(0), 0, "host {host} kept an archive");
    }
    let back = run_and_check(&project, &["rollback", "testing"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(project.current_file(1, "app.txt").as_deref(), Some("v2\n"), "the old release kept its own file");
}

/// The release before, as its commit had it (`HEAD~1`): a delta never changes
/// an earlier release through its links.
fn assert_release_is_the_commit_before(project: &Project, host: usize, release: &str) {
    let dir = project.host_file(host, &format!("testing/releases/{release}"));
    assert_eq!(std::fs::read_to_string(dir.join("app.txt")).unwrap(), "v2\n", "host {host}");
    assert_eq!(std::fs::read_to_string(dir.join("old/deep/gone.txt")).unwrap(), "gone\n", "host {host}");
    assert_eq!(std::fs::read_to_string(dir.join("becomes-dir")).unwrap(), "a file\n", "host {host}");
    assert!(!dir.join("new.txt").exists(), "host {host}");
}

#[test]
fn a_pristine_tree_changed_through_a_release_is_not_built_on() {
    let Some(project) = project(1, "execution:\n  fetch_strategy: push\n  hardlink_releases: true\n") else { return };
    let source = project.path().join("source");
    std::fs::write(source.join("lib.txt"), "library\n").unwrap();
    project.next_version("v2\n");
    let one = deploy_ok(&project);
    // Someone edits a file of the live release in place: through its link, the
    // pristine tree's copy changed too.
    let edited = project.host_file(0, &format!("testing/releases/{one}/lib.txt"));
    std::io::Write::write_all(
        &mut std::fs::OpenOptions::new().append(true).open(&edited).unwrap(),
        b"edited in place\n",
    )
    .unwrap();
    project.next_version("v3\n");
    let two = deploy_ok(&project);
    assert_release_is_the_commit(&project, 0, &two);
    assert_ne!(
        release_inode(&project, 0, &one, "lib.txt"),
        release_inode(&project, 0, &two, "lib.txt"),
        "the edited file was linked into the new release"
    );
    // A tree left half-changed (its mark gone, as a failed prepare leaves it)
    // gets the whole archive too.
    std::fs::remove_file(project.host_file(0, "testing/.deployer/pushed-tree.commit")).unwrap();
    std::fs::write(project.host_file(0, "testing/.deployer/pushed-tree/stray.txt"), "stray\n").unwrap();
    project.next_version("v4\n");
    let three = deploy_ok(&project);
    assert_release_is_the_commit(&project, 0, &three);
}

#[test]
fn hardlinked_releases_share_unchanged_files_and_roll_back_like_any_other() {
    let Some(project) = project(2, "execution:\n  hardlink_releases: true\n") else { return };
    let source = project.path().join("source");
    std::fs::write(source.join("lib.txt"), "library\n").unwrap();
    project.next_version("v2\n");
    let one = deploy_ok(&project);
    project.next_version("v3\n");
    let second = run_and_check(&project, &["deploy_full", "testing"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let two = project.current(0).unwrap();
    check_fleet(&project, 2, &second, &Expect::all_on(&two));
    for host in 0..2 {
        let inode = |release: &str, file: &str| release_inode(&project, host, release, file);
        assert_eq!(inode(&one, "lib.txt"), inode(&two, "lib.txt"), "host {host}: the unchanged file is shared");
        assert_ne!(inode(&one, "app.txt"), inode(&two, "app.txt"));
        assert_eq!(project.current_file(host, "app.txt").as_deref(), Some("v3\n"));
    }
    let back = run_and_check(&project, &["rollback", "testing"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    check_fleet(&project, 2, &back, &Expect::all_on(&one));
    assert_eq!(project.current_file(1, "app.txt").as_deref(), Some("v2\n"), "the old release kept its own file");
}
