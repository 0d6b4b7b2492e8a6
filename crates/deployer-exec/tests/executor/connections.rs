//! The connection budget: `max_connections` and reconnects.

use super::*;

/// The local transport, counting open connections, refusing to run a script on
/// a host that is not connected, and recording for each script how many scripts
/// were announced to come after it on its host.
#[derive(Default)]
struct Counting {
    open: Mutex<std::collections::BTreeSet<usize>>,
    peak: std::sync::atomic::AtomicUsize,
    connects: std::sync::atomic::AtomicUsize,
    announced: Mutex<std::collections::BTreeMap<usize, usize>>,
    /// (host, the phase's name from the script's `logged` line, scripts announced after it)
    runs: Mutex<Vec<(usize, String, Option<usize>)>>,
}

impl Transport for Counting {
    async fn connect(&self, index: usize, _host: &PlanHost) -> Result<Connected, TransportError> {
        let mut open = self.open.lock().unwrap();
        assert!(open.insert(index), "host {index} connected twice");
        self.peak.fetch_max(open.len(), std::sync::atomic::Ordering::SeqCst);
        self.connects.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Connected::default())
    }
    async fn disconnect(&self, index: usize) {
        assert!(self.open.lock().unwrap().remove(&index), "host {index} closed while not connected");
    }
    fn scripts_after_next(&self, index: usize, left: usize) {
        self.announced.lock().unwrap().insert(index, left);
    }
    async fn run(
        &self,
        index: usize,
        host: &PlanHost,
        script: String,
        sink: &mut dyn OutputSink,
    ) -> Result<i32, TransportError> {
        if !self.open.lock().unwrap().contains(&index) {
            return Err(TransportError::Other(format!("host {index} is not connected")));
        }
        let name = script.split("echo '").nth(1).and_then(|rest| rest.split(' ').next()).unwrap_or_default();
        let left = self.announced.lock().unwrap().remove(&index);
        self.runs.lock().unwrap().push((index, name.to_owned(), left));
        LocalTransport.run(index, host, script, sink).await
    }
    async fn close(&self) {
        self.open.lock().unwrap().clear();
    }
}

#[tokio::test]
async fn max_connections_bounds_open_connections_and_every_host_still_works_in_every_phase() {
    let fixture = fixture();
    let plan = plan(
        10,
        vec![
            phase("one", 10, POOL, logged(&fixture.log, "one", "")),
            phase("two", 10, POOL, logged(&fixture.log, "two", "")),
            phase("three", 10, Concurrency::Pool { size: 2 }, logged(&fixture.log, "three", "")),
        ],
    );
    let transport = Counting::default();
    let options = ExecOptions { max_connections: Some(3), ..ExecOptions::default() };
    let outcome = execute_on(&plan, &transport, options).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
    assert_eq!(log_lines(&fixture).len(), 30, "every host ran every phase");
    assert_eq!(transport.peak.load(std::sync::atomic::Ordering::SeqCst), 3);
    let connects = transport.connects.load(std::sync::atomic::Ordering::SeqCst);
    // Hosts beyond the budget reconnect for each phase; the ones still open do not.
    assert!(connects > 10 && connects < 40, "{connects} connects");
    assert_eq!(outcome.connections_opened, connects);
}

#[tokio::test]
async fn without_a_budget_each_host_connects_once() {
    let fixture = fixture();
    let plan = plan(
        6,
        vec![
            phase("one", 6, POOL, logged(&fixture.log, "one", "")),
            phase("two", 6, POOL, logged(&fixture.log, "two", "")),
        ],
    );
    let transport = Counting::default();
    let outcome = execute_on(&plan, &transport, ExecOptions::default()).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
    assert_eq!(transport.connects.load(std::sync::atomic::Ordering::SeqCst), 6);
    assert_eq!(transport.peak.load(std::sync::atomic::Ordering::SeqCst), 6);
}

#[tokio::test]
async fn each_script_is_announced_with_the_scripts_its_host_runs_after_it() {
    let fixture = fixture();
    // Phase two works on host 0 only: hosts 1 and 2 have two scripts, host 0 three.
    let plan = plan(
        3,
        vec![
            phase("one", 3, POOL, logged(&fixture.log, "one", "")),
            phase("two", 1, POOL, logged(&fixture.log, "two", "")),
            phase("three", 3, POOL, logged(&fixture.log, "three", "")),
        ],
    );
    let transport = Counting::default();
    let outcome = execute_on(&plan, &transport, ExecOptions::default()).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.failures);
    let mut runs = transport.runs.lock().unwrap().clone();
    runs.sort();
    let expected =
        [(0, "one", 2), (0, "three", 0), (0, "two", 1), (1, "one", 1), (1, "three", 0), (2, "one", 1), (2, "three", 0)];
    assert_eq!(runs, expected.map(|(host, name, left)| (host, name.to_owned(), Some(left))));
}
