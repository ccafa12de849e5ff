//! The custom loop example (`examples/custom_loop.rs`: a node driven over
//! `std::net` and threads, no async runtime) run in-process against
//! kite-tokio nodes. It joins through a DNS name, serves a join, spreads a
//! key both ways while one of its exchanges hangs on a silent peer (the
//! loop must not wait for it), and leaves with both peers notified.
//!
//! Addresses: 127.0.0.1 (so that `localhost` names it), 127.0.0.42 to
//! 127.0.0.44, all on port 7341, which no other test uses.

#[allow(dead_code)] // its `main` and what only `main` uses
#[path = "../examples/custom_loop.rs"]
mod custom_loop;

use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use custom_loop::StdKite;
use kite_proto::{Config, Event, JoinId, NodeId, NodeStatus, NodeView};
use kite_tokio::{Kite, Options};

const PORT: u16 = 7341;
/// Upper bound of every wait; a passing run takes a few seconds.
const WAIT: Duration = Duration::from_secs(20);
const GOSSIP: Duration = Duration::from_millis(100);

fn addr(host: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, host], PORT))
}

/// Every event of a node so far, in order.
struct Log {
    events: Receiver<Event>,
    seen: Vec<Event>,
}

impl Log {
    /// The first event `wanted` picks, waiting for up to [`WAIT`].
    fn wait_for(&mut self, what: &str, wanted: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(event) = self.seen.iter().find(|e| wanted(e)) {
                return event.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => self.seen.push(event),
                Err(_) => panic!("no {what} within {WAIT:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// Every event so far.
    fn all(&mut self) -> &[Event] {
        self.seen.extend(self.events.try_iter());
        &self.seen
    }
}

/// Polls `condition` every 20 ms until it holds, for up to [`WAIT`].
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "not within {WAIT:?}: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn has(view: Option<NodeView>, key: &str, value: &str) -> bool {
    view.is_some_and(|n| {
        n.status == NodeStatus::Alive && n.entries.get(key).map(String::as_str) == Some(value)
    })
}

fn view_of(nodes: &[NodeView], id: &NodeId) -> Option<NodeView> {
    nodes.iter().find(|n| n.id == *id).cloned()
}

#[test]
fn a_std_loop_joins_spreads_a_key_both_ways_and_leaves() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let options = |host| Options::new().bind_addr(addr(host)).gossip_interval(GOSSIP);
    let a = runtime.block_on(Kite::start(options(1))).unwrap();
    a.upsert_local("from", "tokio-a").unwrap();
    // Accepts streams and never answers: an exchange with it lasts the
    // whole stream timeout.
    let silent = TcpListener::bind(addr(44)).unwrap();

    let mut config = Config::new(addr(42));
    config.gossip_interval = GOSSIP;
    // Longer than this whole test takes when it passes, so that the join
    // through the silent peer is still waiting at the end.
    config.stream_timeout = Duration::from_secs(60);
    let mut b = StdKite::start(config).unwrap();
    let mut b_events = Log {
        events: b.events(),
        seen: Vec::new(),
    };
    let b_id = b.call(|node, _| node.id().clone()).unwrap();
    let hanging = b
        .call(|node, now| node.join(now, &[addr(44).to_string()]))
        .unwrap()
        .unwrap();

    // Through a name: `Output::Resolve`, answered by a lookup thread.
    let through_a = b
        .call(|node, now| node.join(now, &[format!("localhost:{PORT}")]))
        .unwrap()
        .unwrap();
    let joined = |join: JoinId| move |e: &Event| matches!(e, Event::JoinCompleted { join: j, .. } if *j == join);
    let Event::JoinCompleted { result, .. } =
        b_events.wait_for("join through A", joined(through_a))
    else {
        unreachable!()
    };
    assert_eq!(result.unwrap(), vec![a.local_id().clone()]);
    b.call(|node, _| node.upsert_local("from", "std-b"))
        .unwrap()
        .unwrap();

    // C joins through B: B serves the join request on an inbound stream.
    let c = runtime.block_on(Kite::start(options(43))).unwrap();
    c.upsert_local("from", "tokio-c").unwrap();
    let joined_c = runtime.block_on(c.join(&[addr(42).to_string()])).unwrap();
    assert_eq!(joined_c, vec![b_id.clone()]);

    // The key spreads both ways, over gossip.
    let (a_id, c_id) = (a.local_id().clone(), c.local_id().clone());
    eventually("A and C see B's key, B sees A's and C's", || {
        let seen_by_b = b.call(|node, _| node.nodes()).unwrap();
        has(a.node(&b_id), "from", "std-b")
            && has(c.node(&b_id), "from", "std-b")
            && has(view_of(&seen_by_b, &a_id), "from", "tokio-a")
            && has(view_of(&seen_by_b, &c_id), "from", "tokio-c")
    });
    // All the while the exchange with the silent peer was hanging on its
    // own thread. (Done inline, it would have held the loop, and every
    // call above, until it timed out.)
    assert!(
        !b_events.all().iter().any(joined(hanging)),
        "the join through the silent peer ended first: {:#?}",
        b_events.all()
    );

    // A graceful leave reaches both peers.
    b.call(|node, now| node.leave(now)).unwrap().unwrap();
    let left = b_events.wait_for("the leave's outcome", |e| {
        matches!(e, Event::LeaveCompleted { .. })
    });
    assert!(
        matches!(left, Event::LeaveCompleted { result: Ok(2) }),
        "{left:?}"
    );
    let left_at = |kite: &Kite| {
        kite.node(&b_id)
            .is_some_and(|n| n.status == NodeStatus::Left)
    };
    eventually("A and C see B left", || left_at(&a) && left_at(&c));

    b.stop();
    drop(silent);
    runtime.block_on(async {
        c.shutdown().await;
        a.shutdown().await;
    });
}
