//! The prune: a release beyond the count leaves releases/ within the deploy, and
//! is deleted after it, in the background.

use std::os::unix::fs::PermissionsExt;

use deployer_plan::CommandSpec;

use super::{commit, fixture, plan, release_names, releases_left, run, wait_for_pruned_deleted, with_step_env};

#[test]
fn a_pruned_release_leaves_at_once_and_is_deleted_after_the_deploy() {
    let fixture = fixture();
    let root = fixture.root.join("hosts/testing");
    let mut deployed = Vec::new();
    for (number, command) in [CommandSpec::CreateEnvironment, CommandSpec::DeployFull].into_iter().enumerate() {
        let deploy =
            plan(&fixture, command, &format!("20261123T00000{number}Z"), &commit(&fixture, &number.to_string()));
        run(&deploy, &fixture);
        deployed.push(deploy.release_id.unwrap());
    }
    // What an interrupted delete of an earlier prune left.
    let leftover = root.join("releases/.deployer-pruned/20261122T000000Z-0123456789abcdef");
    std::fs::create_dir_all(leftover.join("20261122T000000Z-0000000/app")).unwrap();
    std::fs::write(leftover.join("20261122T000000Z-0000000/app/file"), "old").unwrap();

    // An `rm` on the steps' PATH that holds any delete in pruned/ until told to go on.
    let bin = fixture.root.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let go_on = fixture.root.join("go-on");
    std::fs::write(
        bin.join("rm"),
        "#!/bin/sh\ncase \"$*\" in *.deployer-pruned/*)\n\
         tries=0\nwhile [ ! -e \"$RM_GO_ON\" ] && [ \"$tries\" -lt 3000 ]; do sleep 0.02; tries=$((tries + 1)); done ;;\n\
         esac\nexec /bin/rm \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(bin.join("rm"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap());
    let third = plan(&fixture, CommandSpec::DeployFull, "20261123T000002Z", &commit(&fixture, "2"));
    with_step_env(&[("PATH", &path), ("RM_GO_ON", go_on.as_str())], || run(&third, &fixture));
    let third = third.release_id.unwrap();

    // The deploy ended with the delete still held: the oldest release is out of
    // releases/ (and its marker gone), waiting in this run's pruned/ directory.
    let listed = release_names(&root);
    assert!(!listed.contains(&deployed[0]), "{listed:?}");
    assert!(!root.join(".deployer/complete").join(&deployed[0]).exists());
    let waiting: Vec<_> = std::fs::read_dir(root.join("releases/.deployer-pruned"))
        .unwrap()
        .map(|entry| entry.unwrap().path().join(&deployed[0]))
        .filter(|path| path.join("app.txt").exists())
        .collect();
    assert_eq!(waiting.len(), 1, "the pruned release waits, whole, for its delete");
    assert!(leftover.join("20261122T000000Z-0000000/app/file").exists(), "held too");

    std::fs::write(&go_on, "").unwrap();
    wait_for_pruned_deleted(&root);
    assert!(!leftover.exists(), "the earlier prune's leftover is deleted with this one's");
    assert_eq!(releases_left(&root), [deployed[1].clone(), third]);
}
