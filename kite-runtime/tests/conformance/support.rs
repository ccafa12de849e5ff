//! Helpers every scenario uses. Scenario `s` of runtime `R` binds
//! `127.<R::NET>.<s>.<host>:17000`, so every test of every runtime has
//! addresses of its own and they all run in parallel.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_lite::future;
use kite_runtime::{Event, NodeId, NodeStatus};
use kite_runtime::{Options, Watcher};

use crate::api::{Kite, Runtime};

/// The port every node of the suite binds (on its own IP).
pub(crate) const PORT: u16 = 17_000;

/// `127.<R::NET>.<scenario>.<host>:<PORT>`.
pub(crate) fn addr<R: Runtime>(scenario: u8, host: u8) -> SocketAddr {
    SocketAddr::from(([127, R::NET, scenario, host], PORT))
}

/// Fast gossip and a low suspicion threshold, so a crash is seen in about a
/// second (phi 6 ≈ 14 mean intervals of 50 ms, plus propagation).
pub(crate) fn options(addr: SocketAddr) -> Options {
    Options::new()
        .bind_addr(addr)
        .gossip_interval(Duration::from_millis(50))
        .suspicion_threshold(6.0)
        .stream_timeout(Duration::from_secs(2))
}

/// Every event a node emitted, as a watcher records them.
#[derive(Clone, Default)]
pub(crate) struct Recorder(Arc<Mutex<Vec<Event>>>);

impl Recorder {
    pub(crate) fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }

    pub(crate) fn count(&self, wanted: &Event) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| *e == wanted)
            .count()
    }

    pub(crate) fn has(&self, wanted: &Event) -> bool {
        self.count(wanted) > 0
    }
}

impl Watcher for Recorder {
    fn on_event(&self, event: &Event) {
        self.0.lock().unwrap().push(event.clone());
    }
}

/// A node with a recorder watching it.
pub(crate) async fn start<T: kite_runtime::Runtime + Default>(
    options: Options,
) -> (kite_runtime::Kite<T>, Recorder) {
    let recorder = Recorder::default();
    let kite = kite_runtime::Kite::<T>::start(options.watcher(recorder.clone()))
        .await
        .unwrap();
    (kite, recorder)
}

/// Polls `condition` every 20 ms until it holds; panics after `limit` (a
/// generous bound against hangs, not a timing assertion).
pub(crate) async fn eventually<R: Runtime>(
    what: &str,
    limit: Duration,
    mut condition: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        R::sleep(Duration::from_millis(20)).await;
    }
}

/// `future`'s output, or `None` after `limit`.
pub(crate) async fn timeout<R: Runtime, T>(
    limit: Duration,
    future: impl Future<Output = T>,
) -> Option<T> {
    let expired = async {
        R::sleep(limit).await;
        None
    };
    future::or(async { Some(future.await) }, expired).await
}

/// How `observer` sees `id`.
pub(crate) fn status<T: kite_runtime::Runtime>(
    observer: &kite_runtime::Kite<T>,
    id: &NodeId,
) -> Option<NodeStatus> {
    observer.node(id).map(|n| n.status)
}

/// True when `observer` knows every id in `ids` as alive.
pub(crate) fn sees_alive<T: kite_runtime::Runtime>(
    observer: &kite_runtime::Kite<T>,
    ids: &[NodeId],
) -> bool {
    ids.iter()
        .all(|id| status(observer, id) == Some(NodeStatus::Alive))
}

/// Waits until every node of `nodes` sees `id` with `wanted` status.
pub(crate) async fn until_all_see<R: Runtime>(
    what: &str,
    nodes: &[(Kite<R>, Recorder)],
    id: &NodeId,
    wanted: NodeStatus,
) {
    eventually::<R>(what, Duration::from_secs(20), || {
        nodes.iter().all(|(k, _)| status(k, id) == Some(wanted))
    })
    .await;
}

/// `n` nodes at hosts `1..=n` of `scenario`, started with `options` of
/// their address and joined through the first, once every node sees every
/// other alive.
pub(crate) async fn cluster<R: Runtime>(
    scenario: u8,
    n: u8,
    options: impl Fn(SocketAddr) -> Options,
) -> (Vec<(Kite<R>, Recorder)>, Vec<NodeId>) {
    let mut nodes = Vec::new();
    for host in 1..=n {
        nodes.push(start::<R::Rt>(options(addr::<R>(scenario, host))).await);
    }
    let seed = addr::<R>(scenario, 1).to_string();
    for (kite, _) in &nodes[1..] {
        kite.join(&[seed.as_str()]).await.unwrap();
    }
    let ids: Vec<NodeId> = nodes.iter().map(|(k, _)| k.local_id().clone()).collect();
    eventually::<R>("the cluster forms", Duration::from_secs(20), || {
        nodes.iter().all(|(k, _)| sees_alive(k, &ids))
    })
    .await;
    (nodes, ids)
}
