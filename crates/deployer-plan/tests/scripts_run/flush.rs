//! The durability flush: what a host makes durable before a release is marked
//! complete, seen through a `sync` that records what it is asked.

use std::os::unix::fs::PermissionsExt;

use deployer_plan::CommandSpec;

use super::{Fixture, commit, hardlink_fixture, plan, run, url_fixture, with_step_env};

/// Runs `body` with a `sync` on the steps' PATH that only records what it was
/// given, and returns the paths it was asked to flush (relative to the host's
/// root) and every option it was passed.
fn recording_flushes(fixture: &Fixture, body: impl FnOnce()) -> (Vec<String>, Vec<String>) {
    let bin = fixture.root.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = fixture.root.join("flushed.log");
    std::fs::write(bin.join("sync"), "#!/bin/sh\nfor path; do printf '%s\\n' \"$path\"; done >>\"$SYNC_LOG\"\n")
        .unwrap();
    std::fs::set_permissions(bin.join("sync"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap());
    with_step_env(&[("PATH", &path), ("SYNC_LOG", log.as_str())], body);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    std::fs::remove_file(&log).ok();
    let host = format!("{}/", fixture.root.join("hosts/testing"));
    let (options, paths): (Vec<String>, Vec<String>) =
        text.lines().map(str::to_owned).partition(|l| l.starts_with('-'));
    (paths.iter().map(|path| path.strip_prefix(&host).unwrap_or(path).to_owned()).collect(), options)
}

#[test]
fn the_durability_flush_covers_the_release_and_nothing_else() {
    let fixture = url_fixture();
    std::fs::write(fixture.root.join("source/lib.txt"), "library\n").unwrap();
    let stamp = "20261123T000001Z";
    let pinned = commit(&fixture, "one");
    let first = plan(&fixture, CommandSpec::CreateEnvironment, stamp, &pinned);
    let (flushed, options) = recording_flushes(&fixture, || {
        run(&first, &fixture);
    });
    let release = format!("releases/{}", first.release_id.unwrap());
    assert!(options.iter().all(|option| option == "--"), "never the whole filesystem: {options:?}");
    for path in ["", "/app.txt", "/lib.txt", "/built.txt", "/config", "/config/app.conf"] {
        assert!(flushed.contains(&format!("{release}{path}")), "{release}{path} was not flushed: {flushed:?}");
    }
    assert!(flushed.contains(&".deployer/complete".to_owned()), "{flushed:?}");
    // Besides the release: complete/ (its marker) and the root (`current`'s rename).
    let root = fixture.root.join("hosts/testing").to_string();
    assert!(
        flushed.iter().all(|path| path.starts_with(&release) || path == ".deployer/complete" || *path == root),
        "{flushed:?}"
    );

    // Many new files: one flush of the release's filesystem (one journal commit).
    for file in 0..300 {
        std::fs::write(fixture.root.join(format!("source/many-{file}.txt")), "many\n").unwrap();
    }
    let plan_many = plan(&fixture, CommandSpec::DeployFull, "20261123T000002Z", &commit(&fixture, "two"));
    let (flushed, options) = recording_flushes(&fixture, || {
        run(&plan_many, &fixture);
    });
    let release = format!("releases/{}", plan_many.release_id.unwrap());
    assert!(options.contains(&"-f".to_owned()), "{options:?}");
    assert!(flushed.contains(&release) && !flushed.contains(&format!("{release}/many-1.txt")), "{flushed:?}");
}

#[test]
fn a_hardlinked_release_flushes_only_the_files_git_or_the_build_wrote() {
    let fixture = hardlink_fixture();
    let first = commit(&fixture, "one");
    let (flushed, _) = recording_flushes(&fixture, || {
        run(&plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &first), &fixture);
    });
    for path in [".deployer/tree/app.txt", ".deployer/tree/lib.txt"] {
        assert!(flushed.contains(&path.to_owned()), "the first deploy wrote {path}: {flushed:?}");
    }

    let second = commit(&fixture, "two");
    let plan = plan(&fixture, CommandSpec::DeployFull, "20261123T000002Z", &second);
    let (flushed, options) = recording_flushes(&fixture, || {
        run(&plan, &fixture);
    });
    let release = format!("releases/{}", plan.release_id.unwrap());
    assert!(options.iter().all(|option| option == "--"), "never the whole filesystem: {options:?}");
    let wanted =
        [".deployer/tree/app.txt".to_owned(), format!("{release}/built.txt"), format!("{release}/config/app.conf")];
    for path in wanted.iter().chain([&release, &format!("{release}/config")]) {
        assert!(flushed.contains(path), "{path} was not flushed: {flushed:?}");
    }
    for path in [
        ".deployer/tree/lib.txt".to_owned(),
        ".deployer/tree".to_owned(),
        format!("{release}/lib.txt"),
        format!("{release}/app.txt"),
    ] {
        assert!(!flushed.contains(&path), "{path} was flushed again: {flushed:?}");
    }
}

#[test]
fn a_name_with_a_newline_flushes_the_whole_filesystem_never_its_halves() {
    let fixture = url_fixture();
    // Its halves name files that exist, so flushing them would succeed and
    // leave the real file unflushed.
    std::fs::write(fixture.root.join("source/half"), "a\n").unwrap();
    std::fs::write(fixture.root.join("source/half\nlib.txt"), "b\n").unwrap();
    std::fs::write(fixture.root.join("source/lib.txt"), "c\n").unwrap();
    let first = plan(&fixture, CommandSpec::CreateEnvironment, "20261123T000001Z", &commit(&fixture, "one"));
    let (flushed, options) = recording_flushes(&fixture, || {
        run(&first, &fixture);
    });
    let release = format!("releases/{}", first.release_id.unwrap());
    assert!(options.contains(&"-f".to_owned()), "{options:?}");
    assert!(!flushed.contains(&format!("{release}/half")), "{flushed:?}");
}
