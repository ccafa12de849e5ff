//! A mixed cluster: kite-tokio nodes and kite-async-std nodes gossip with
//! each other, converge on every key, and report each other's crash.

use std::time::Duration;

use kite_runtime::{Event, NodeId, NodeStatus};

use crate::api::Runtime;
use crate::support::{Recorder, addr, eventually, options, start, status};

const SCENARIO: u8 = 11;

/// What the checks read from a node, whatever its adapter.
trait View {
    fn id(&self) -> &NodeId;
    fn status_of(&self, id: &NodeId) -> Option<NodeStatus>;
    fn key(&self, id: &NodeId, key: &str) -> Option<String>;
}

impl<T: kite_runtime::Runtime> View for kite_runtime::Kite<T> {
    fn id(&self) -> &NodeId {
        self.local_id()
    }
    fn status_of(&self, id: &NodeId) -> Option<NodeStatus> {
        status(self, id)
    }
    fn key(&self, id: &NodeId, key: &str) -> Option<String> {
        self.node(id).and_then(|n| n.entries.get(key).cloned())
    }
}

/// Every node of both kinds, with its recorder.
fn everyone<'a, T: kite_runtime::Runtime, A: kite_runtime::Runtime>(
    tokio: &'a [(kite_runtime::Kite<T>, Recorder)],
    other: &'a [(kite_runtime::Kite<A>, Recorder)],
) -> Vec<(&'a dyn View, &'a Recorder)> {
    let tokio = tokio.iter().map(|(k, r)| (k as &dyn View, r));
    tokio
        .chain(other.iter().map(|(k, r)| (k as &dyn View, r)))
        .collect()
}

/// Runs under `R` (async-std or smol) with a tokio runtime entered, so the
/// kite-tokio nodes start on it.
pub(crate) async fn tokio_and_async_std_nodes_converge_and_detect_each_others_crash<R: Runtime>() {
    let mut tokio_nodes = Vec::new();
    for host in 1..=3 {
        let at = addr::<R>(SCENARIO, host);
        tokio_nodes.push(start::<kite_tokio::Tokio>(options(at)).await);
    }
    let mut other_nodes = Vec::new();
    for host in 4..=6 {
        other_nodes.push(start::<R::Rt>(options(addr::<R>(SCENARIO, host))).await);
    }
    // Joins go both ways: async-std nodes through a tokio seed, tokio
    // nodes through an async-std seed.
    for (kite, _) in &other_nodes {
        kite.join(&[addr::<R>(SCENARIO, 1).to_string()])
            .await
            .unwrap();
    }
    for (kite, _) in &tokio_nodes[1..] {
        kite.join(&[addr::<R>(SCENARIO, 4).to_string()])
            .await
            .unwrap();
    }
    for (kite, _) in &tokio_nodes {
        kite.upsert_local("runtime", "tokio").unwrap();
    }
    for (kite, _) in &other_nodes {
        kite.upsert_local("runtime", "async-io").unwrap();
    }
    let all = everyone(&tokio_nodes, &other_nodes);
    let ids: Vec<NodeId> = all.iter().map(|(k, _)| k.id().clone()).collect();
    let runtime_of = |i: usize| if i < 3 { "tokio" } else { "async-io" };
    eventually::<R>(
        "every node sees every node alive, with its key",
        Duration::from_secs(20),
        || {
            all.iter().all(|(k, _)| {
                ids.iter().enumerate().all(|(i, id)| {
                    k.status_of(id) == Some(NodeStatus::Alive)
                        && k.key(id, "runtime").as_deref() == Some(runtime_of(i))
                })
            })
        },
    )
    .await;
    drop(all);

    // A tokio node crashes, then an async-std one; each kind detects both.
    let (tokio_crashed, _) = tokio_nodes.pop().unwrap();
    drop(tokio_crashed);
    let (other_crashed, _) = other_nodes.pop().unwrap();
    drop(other_crashed);
    let crashed = [ids[2].clone(), ids[5].clone()];
    let all = everyone(&tokio_nodes, &other_nodes);
    eventually::<R>(
        "every other node reports both crashed nodes down",
        Duration::from_secs(20),
        || {
            all.iter().all(|(k, _)| {
                crashed
                    .iter()
                    .all(|id| k.status_of(id) == Some(NodeStatus::Down))
            })
        },
    )
    .await;
    for (kite, recorder) in &all {
        for id in &crashed {
            assert_eq!(recorder.count(&Event::NodeDown { id: id.clone() }), 1);
        }
        let false_downs: Vec<Event> = recorder
            .events()
            .into_iter()
            .filter(|e| matches!(e, Event::NodeDown { id } if !crashed.contains(id)))
            .collect();
        assert!(
            false_downs.is_empty(),
            "{} reported {false_downs:?}",
            kite.id()
        );
    }
    drop(all);
    for (kite, _) in &tokio_nodes {
        kite.shutdown().await;
    }
    for (kite, _) in &other_nodes {
        kite.shutdown().await;
    }
}
