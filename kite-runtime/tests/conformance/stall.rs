//! A node whose whole process stalls and resumes (same id) is reported
//! down, then up again, and does not hold its own stall against the others.
//! The stall is a real one: a helper process (this test binary, running
//! [`stalled_node_process`]) frozen with SIGSTOP, like a suspended VM or a
//! stopped container, on any runtime. Unix only.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kite_runtime::{Event, NodeId, NodeStatus};
use rustix::process::{Pid, Signal, kill_process};

use crate::api::{Kite, Runtime};
use crate::support::{addr, cluster, eventually, options, sees_alive, status, until_all_see};

/// Tells the helper process which node to run: `"<bind addr> <seed addr>"`.
const STALLED_NODE: &str = "KITE_CONFORMANCE_STALLED_NODE";
/// Prefix of the helper's report lines on stdout (libtest writes there too).
const REPORT: &str = "kite-report";

/// The helper process's test body: runs one node that joins the seed,
/// reports its id, then every node it reports down, until its stdin closes.
/// Does nothing unless started by the stall scenario.
pub(crate) async fn stalled_node_process<R: Runtime>() {
    let Ok(spec) = std::env::var(STALLED_NODE) else {
        return;
    };
    let (at, seed) = spec.split_once(' ').unwrap();
    let report_downs = |event: &Event| {
        if let Event::NodeDown { id } = event {
            println!("{REPORT} down {id}");
        }
    };
    let options = options(at.parse().unwrap()).watcher(report_downs);
    let kite = Kite::<R>::start(options).await.unwrap();
    kite.join(&[seed]).await.unwrap();
    println!("{REPORT} id {}", kite.local_id());
    // The node runs on other threads; this one waits for the parent.
    std::io::stdin().read_to_end(&mut Vec::new()).unwrap();
    kite.shutdown().await;
}

/// The helper process, and the report lines it prints.
struct Stalled {
    child: Child,
    reports: mpsc::Receiver<String>,
}

impl Stalled {
    /// Runs the test `test` (the helper's path in this binary) in a new
    /// process of this test binary.
    fn spawn(test: &str, at: &str, seed: &str) -> Stalled {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--ignored", "--nocapture"])
            .env(STALLED_NODE, format!("{at} {seed}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, reports) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Some(report) = line.strip_prefix(REPORT) {
                    let _ = tx.send(report.trim().to_string());
                }
            }
        });
        Stalled { child, reports }
    }

    /// Sends `signal` (stop or continue) to the whole process.
    fn signal(&self, signal: Signal) {
        let pid = i32::try_from(self.child.id()).ok().and_then(Pid::from_raw);
        kill_process(pid.unwrap(), signal).unwrap();
    }
}

impl Drop for Stalled {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn a_stalled_node_is_reported_down_then_up_and_does_not_convict_others<
    R: Runtime,
>(
    helper: &str,
) {
    const SCENARIO: u8 = 3;
    let (nodes, mut ids) = cluster::<R>(SCENARIO, 4, options).await;
    let seed = addr::<R>(SCENARIO, 1).to_string();
    let mut stalled = Stalled::spawn(helper, &addr::<R>(SCENARIO, 5).to_string(), &seed);
    let mut reports = Vec::new();
    eventually::<R>("the helper process joins", Duration::from_secs(20), || {
        reports.extend(stalled.reports.try_iter());
        !reports.is_empty()
    })
    .await;
    let id: NodeId = reports[0].strip_prefix("id ").unwrap().parse().unwrap();
    ids.push(id.clone());
    eventually::<R>(
        "every node sees the fifth node",
        Duration::from_secs(20),
        || nodes.iter().all(|(k, _)| sees_alive(k, &ids)),
    )
    .await;

    // Freeze the whole process (a suspended VM, a stopped container) for
    // at least 3 s, and until every other node has reported it down.
    let stopped = Instant::now();
    stalled.signal(Signal::STOP);
    let down = NodeStatus::Down;
    until_all_see::<R>(
        "every other node reports the stalled node down",
        &nodes,
        &id,
        down,
    )
    .await;
    R::sleep(Duration::from_secs(3).saturating_sub(stopped.elapsed())).await;
    stalled.signal(Signal::CONT);
    eventually::<R>(
        "every other node reports it up again",
        Duration::from_secs(20),
        || {
            nodes.iter().all(|(k, r)| {
                status(k, &id) == Some(NodeStatus::Alive)
                    && r.has(&Event::NodeUp { id: id.clone() })
            })
        },
    )
    .await;

    // Its own stall is not held against the others.
    drop(stalled.child.stdin.take());
    let exited = stalled.child.wait().unwrap();
    assert!(exited.success(), "the helper process failed: {exited}");
    // Every line, now that the process has exited.
    reports.extend(stalled.reports.iter());
    let downs: Vec<&String> = reports.iter().filter(|r| r.starts_with("down")).collect();
    assert!(downs.is_empty(), "the stalled node convicted {downs:?}");

    for (kite, _) in &nodes {
        kite.shutdown().await;
    }
}
