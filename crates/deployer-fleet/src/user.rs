//! The unprivileged user every fleet host accepts.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{DEPLOY_USER, set_mode};

/// Creates the deploy user once per machine: a home, /bin/bash, no password.
pub(crate) fn ensure_user() -> Result<(), String> {
    let exists = || {
        Command::new("id")
            .arg(DEPLOY_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    // Fleets of parallel tests may create and unlock the user at the same time;
    // useradd and usermod then fail on /etc/passwd's lock, so retry for a while.
    let unlocked = || {
        std::fs::read_to_string("/etc/shadow")
            .is_ok_and(|shadow| shadow.lines().any(|line| line.starts_with(&format!("{DEPLOY_USER}:*:"))))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(exists() && unlocked()) {
        if Instant::now() > deadline {
            return Err(format!("cannot create or unlock the user {DEPLOY_USER}"));
        }
        if exists() {
            // `*`: no password, but not locked (sshd refuses locked accounts for key logins too).
            let _ = Command::new("usermod").args(["--password", "*", DEPLOY_USER]).stderr(Stdio::null()).status();
        } else {
            let _ = Command::new("useradd")
                .args(["--create-home", "--shell", "/bin/bash", "--comment", "deployer test fleet", DEPLOY_USER])
                .stderr(Stdio::null())
                .status();
        }
        if !(exists() && unlocked()) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Fleet hosts fetch from repositories the test runner owns (real servers fetch
    // over the network); git refuses repositories of other users unless told.
    // Fleets of parallel tests share this file: write it only when it differs, and
    // by rename, so git never reads it half-written.
    let gitconfig = PathBuf::from(format!("/home/{DEPLOY_USER}/.gitconfig"));
    let wanted = "[safe]\n\tdirectory = *\n";
    if std::fs::read_to_string(&gitconfig).is_ok_and(|text| text == wanted) {
        return Ok(());
    }
    let temporary = gitconfig.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, wanted).map_err(|error| format!("{}: {error}", temporary.display()))?;
    set_mode(&temporary, 0o644)?;
    std::fs::rename(&temporary, &gitconfig).map_err(|error| format!("{}: {error}", gitconfig.display()))
}
