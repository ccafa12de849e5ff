//! Helpers for the real-socket tests. Every test binds its own loopback range
//! 127.0.<test>.x (11 to 18 here) and port, so tests run in parallel.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kite_tokio::{Event, Kite, NodeId, NodeStatus, Options};

/// `127.0.<range>.<host>:<port>`.
pub fn addr(range: u8, host: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, range, host], port))
}

/// Fast gossip and a low suspicion threshold, so a crash is seen in about a
/// second (phi 6 ≈ 14 mean intervals of 50 ms, plus propagation).
pub fn options(addr: SocketAddr) -> Options {
    Options::new()
        .bind_addr(addr)
        .gossip_interval(Duration::from_millis(50))
        .suspicion_threshold(6.0)
        .stream_timeout(Duration::from_secs(2))
}

/// Every event a node emitted, as a watcher records them.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Event>>>);

impl Recorder {
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }

    pub fn count(&self, wanted: &Event) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| *e == wanted)
            .count()
    }

    pub fn has(&self, wanted: &Event) -> bool {
        self.count(wanted) > 0
    }
}

impl kite_tokio::Watcher for Recorder {
    fn on_event(&self, event: &Event) {
        self.0.lock().unwrap().push(event.clone());
    }
}

/// A node with a recorder watching it.
pub async fn start(options: Options) -> (Kite, Recorder) {
    let recorder = Recorder::default();
    let kite = Kite::start(options.watcher(recorder.clone()))
        .await
        .unwrap();
    (kite, recorder)
}

/// Polls `condition` every 20 ms until it holds; panics after `limit` (a
/// generous bound against hangs, not a timing assertion).
pub async fn eventually(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How `observer` sees `id`.
pub fn status(observer: &Kite, id: &NodeId) -> Option<NodeStatus> {
    observer.node(id).map(|n| n.status)
}

/// True when `observer` knows every id in `ids` as alive.
pub fn sees_alive(observer: &Kite, ids: &[NodeId]) -> bool {
    ids.iter()
        .all(|id| status(observer, id) == Some(NodeStatus::Alive))
}
