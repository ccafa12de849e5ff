//! `kite` agents as separate processes on 127.0.77.1-5: three form a
//! cluster, a `--set` key and a key set through stdin reach the others, an
//! agent killed with SIGKILL is reported down, and one stopped with SIGTERM
//! is reported left (never down) and exits 0; an agent started before its
//! seed joins it once it is up.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A port no other test uses.
const PORT: u16 = 7477;
/// Only against hangs: every step normally takes well under a second.
const PATIENCE: Duration = Duration::from_secs(30);

/// One agent process; killed when dropped.
struct Agent {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Agent {
    /// Starts agent `n` (id `aN` on 127.0.77.N), its JSON events sent to
    /// `events` as `(n, event)`.
    fn start(n: u8, extra: &[&str], events: Sender<(u8, Value)>) -> Agent {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kite"))
            .args([
                &format!("--bind=127.0.77.{n}:{PORT}"),
                &format!("--id=a{n}"),
                "--gossip-interval=100ms",
                "--suspicion-threshold=8",
                "--format=json",
            ])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start kite");
        let stdout = child.stdout.take().expect("stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let event = serde_json::from_str(&line)
                    .unwrap_or_else(|err| panic!("agent {n} printed {line:?}: {err}"));
                if events.send((n, event)).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Agent { child, stdin }
    }

    fn command(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("write a command");
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "agent did not exit");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every event seen so far, and the channel bringing more.
struct Events {
    receiver: Receiver<(u8, Value)>,
    seen: Vec<(u8, Value)>,
}

impl Events {
    /// Waits until agent `observer` has printed `event` about `node`
    /// (with `key` and `value` when given).
    fn wait_for(&mut self, observer: u8, event: &str, node: &str, key_value: Option<(&str, &str)>) {
        let matches = |(n, e): &(u8, Value)| {
            *n == observer
                && e["event"] == event
                && e["node"] == node
                && key_value.is_none_or(|(k, v)| e["key"] == k && e["value"] == v)
                && e["at"].as_str().is_some_and(|at| at.ends_with('Z'))
        };
        let deadline = Instant::now() + PATIENCE;
        while !self.seen.iter().any(matches) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.receiver.recv_timeout(left) {
                Ok(seen) => self.seen.push(seen),
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "agent {observer} never reported {event} {node} {key_value:?}; saw {:#?}",
                        self.seen
                    )
                }
                Err(RecvTimeoutError::Disconnected) => panic!("every agent exited"),
            }
        }
    }

    /// Reads whatever arrives for `period`.
    fn drain_for(&mut self, period: Duration) {
        let deadline = Instant::now() + period;
        while let Ok(seen) = self
            .receiver
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(seen);
        }
    }

    fn count(&self, observer: u8, event: &str, node: &str) -> usize {
        let hits =
            |(n, e): &&(u8, Value)| *n == observer && e["event"] == event && e["node"] == node;
        self.seen.iter().filter(hits).count()
    }
}

#[test]
fn agents_form_a_cluster_see_keys_and_report_down_and_left() {
    let (sender, receiver) = channel();
    let mut events = Events {
        receiver,
        seen: Vec::new(),
    };
    let seed = format!("--join=127.0.77.1:{PORT}");
    let mut a1 = Agent::start(1, &["--set=color=blue"], sender.clone());
    let mut a2 = Agent::start(2, &[&seed], sender.clone());
    let a3 = Agent::start(3, &[&seed], sender);

    // Formation: everyone sees everyone, and the --set key.
    for (observer, node) in [
        (1, "a2"),
        (1, "a3"),
        (2, "a1"),
        (2, "a3"),
        (3, "a1"),
        (3, "a2"),
    ] {
        events.wait_for(observer, "node_joined", node, None);
    }
    for observer in [2, 3] {
        events.wait_for(observer, "key_upserted", "a1", Some(("color", "blue")));
    }

    // A key set through stdin.
    a2.command("set zone eu west");
    for observer in [1, 3] {
        events.wait_for(observer, "key_upserted", "a2", Some(("zone", "eu west")));
    }

    // A crash.
    drop(a3);
    for observer in [1, 2] {
        events.wait_for(observer, "node_down", "a3", None);
    }

    // A graceful stop.
    a2.signal("TERM");
    events.wait_for(1, "node_left", "a2", None);
    assert!(a2.wait_exit().success(), "SIGTERM must exit 0");
    events.drain_for(Duration::from_secs(2));
    assert_eq!(
        events.count(1, "node_down", "a2"),
        0,
        "a2 left, it was not down"
    );

    // Alone, it still stops cleanly on SIGTERM (nobody to tell).
    a1.signal("TERM");
    assert!(a1.wait_exit().success(), "SIGTERM must exit 0 when alone");
}

#[test]
fn an_agent_started_before_its_seed_joins_it_once_it_is_up() {
    let (sender, receiver) = channel();
    let mut events = Events {
        receiver,
        seen: Vec::new(),
    };
    // The first join is refused: nobody listens yet. Nothing but the
    // agent's own retries can bring the two together.
    let _early = Agent::start(5, &[&format!("--join=127.0.77.4:{PORT}")], sender.clone());
    thread::sleep(Duration::from_millis(500));
    let _seed = Agent::start(4, &[], sender);
    events.wait_for(5, "node_joined", "a4", None);
    events.wait_for(4, "node_joined", "a5", None);
}
