//! Before a run touches hosts: enough open files and processes for the fleet.
//! Each host holds an `ssh` master (a process and a socket) and up to two shells
//! waiting for its next phases (a socket and three pipes each) for the whole run,
//! and each host at work a session (a socket and three pipes), so a thousand
//! hosts need thousands of descriptors, more than the usual soft limit of 1024.
//! deployer raises a soft limit that is too low up to its hard limit, and when
//! even the hard limit is too low refuses before connecting, saying what to run.

use rlimit::Resource;

/// Descriptors and processes a run on `hosts` connected hosts, `busy` of them at
/// work at once, needs at most, with room for the runtime, logs and the terminal.
/// A host behind a bastion has a second process: the `ssh -W` that carries its
/// connection through the bastion's master.
pub(crate) fn needs(hosts: usize, busy: usize, behind_bastion: bool) -> (u64, u64) {
    let hosts = hosts as u64;
    let busy = (busy as u64).min(hosts);
    let per_host = if behind_bastion { 2 } else { 1 };
    (64 + hosts * 10 + busy * 4, 32 + hosts * per_host + busy)
}

/// Raises the soft limits as far as `needs` asks (never above the hard limits);
/// `Err` says which limit is too low and how to raise it.
pub(crate) fn ensure(hosts: usize, busy: usize, behind_bastion: bool) -> Result<(), String> {
    let (files, processes) = needs(hosts, busy, behind_bastion);
    raise(Resource::NOFILE, files, "open files", "ulimit -n", hosts)?;
    raise(Resource::NPROC, processes, "processes", "ulimit -u", hosts)
}

fn raise(resource: Resource, needed: u64, what: &str, command: &str, hosts: usize) -> Result<(), String> {
    let Ok((soft, hard)) = resource.get() else { return Ok(()) };
    if soft >= needed {
        return Ok(());
    }
    if hard >= needed && resource.set(needed, hard).is_ok() {
        return Ok(());
    }
    Err(format!(
        "a run on {hosts} hosts needs up to {needed} {what}, but this shell allows {soft} (hard limit {hard}): \
         raise it with `{command} {needed}` (as root, or in /etc/security/limits.conf), or target fewer hosts"
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn needs_grow_with_the_fleet_and_the_hosts_at_work() {
        assert_eq!(super::needs(1, 8, false), (64 + 10 + 4, 32 + 1 + 1));
        assert_eq!(super::needs(1000, 100, false), (64 + 10000 + 400, 32 + 1000 + 100));
        assert_eq!(super::needs(1000, 100, true), (64 + 10000 + 400, 32 + 2000 + 100));
    }
}
