//! Five nodes join through one seed; every key upsert and delete reaches
//! every node, with the right events, through watchers and event streams.

use std::time::Duration;

use futures_lite::StreamExt;
use kite_runtime::{Event, NodeId};

use crate::api::{Kite, Runtime};
use crate::support::{Recorder, addr, eventually, options, sees_alive, start, timeout};

const SCENARIO: u8 = 1;

fn upserted(id: &NodeId, key: &str, value: &str) -> Event {
    Event::KeyUpserted {
        id: id.clone(),
        key: key.into(),
        value: value.into(),
    }
}

pub(crate) async fn five_nodes_join_through_one_seed_and_see_every_key_change<R: Runtime>() {
    let mut nodes: Vec<(Kite<R>, Recorder)> = Vec::new();
    for host in 1..=5 {
        nodes.push(start(options(addr::<R>(SCENARIO, host))).await);
    }
    let mut stream = nodes[4].0.events();
    let ids: Vec<NodeId> = nodes.iter().map(|(k, _)| k.local_id().clone()).collect();
    let seed = addr::<R>(SCENARIO, 1).to_string();
    for (kite, _) in &nodes[1..] {
        assert_eq!(
            kite.join(&[seed.as_str()]).await.unwrap(),
            vec![ids[0].clone()]
        );
    }
    eventually::<R>(
        "every node sees every node alive",
        Duration::from_secs(20),
        || {
            nodes
                .iter()
                .all(|(k, _)| sees_alive(k, &ids) && k.nodes().len() == 5)
        },
    )
    .await;

    // Each node publishes what the seed's users publish.
    let rpc = |i: usize| format!("127.{}.{SCENARIO}.{}:9000", R::NET, i + 1);
    for (i, (kite, _)) in nodes.iter().enumerate() {
        kite.upsert_local("rpc_addr", &rpc(i)).unwrap();
        kite.upsert_local("version", "1.0.0").unwrap();
        kite.upsert_local("status", "ready").unwrap();
    }
    let complete = |kite: &Kite<R>| {
        ids.iter().all(|id| {
            kite.node(id)
                .is_some_and(|n| n.entries.len() == 3 && n.entries["status"] == "ready")
        })
    };
    eventually::<R>("every node sees every key", Duration::from_secs(20), || {
        nodes.iter().all(|(k, _)| complete(k))
    })
    .await;
    // The view changes under the core's lock; watchers hear of it when the
    // driver task next takes the core's outputs, a moment later.
    eventually::<R>(
        "every watcher heard of every key",
        Duration::from_secs(20),
        || {
            nodes.iter().enumerate().all(|(i, (_, recorder))| {
                ids.iter()
                    .enumerate()
                    .all(|(j, id)| i == j || recorder.count(&upserted(id, "status", "ready")) > 0)
            })
        },
    )
    .await;
    for (i, (kite, recorder)) in nodes.iter().enumerate() {
        for (j, id) in ids.iter().enumerate() {
            if i == j {
                assert!(
                    recorder
                        .events()
                        .iter()
                        .all(|e| !matches!(e, Event::NodeJoined { id: x, .. } if x == id))
                );
                continue;
            }
            let joined = recorder
                .events()
                .iter()
                .filter(|e| matches!(e, Event::NodeJoined { id: x, .. } if x == id))
                .count();
            assert_eq!(joined, 1, "node {i} saw node {j} join once");
            assert_eq!(
                recorder.count(&upserted(id, "rpc_addr", &rpc(j))),
                1,
                "node {i} about {j}"
            );
            assert_eq!(recorder.count(&upserted(id, "version", "1.0.0")), 1);
            assert_eq!(recorder.count(&upserted(id, "status", "ready")), 1);
            assert_eq!(kite.node(id).unwrap().entries["rpc_addr"], rpc(j));
        }
    }

    // A change and a delete on node 2.
    nodes[2].0.upsert_local("version", "1.1.0").unwrap();
    nodes[2].0.delete_local("status").unwrap();
    let deleted = Event::KeyDeleted {
        id: ids[2].clone(),
        key: "status".into(),
        value: "ready".into(),
    };
    eventually::<R>(
        "every node sees the change and the delete",
        Duration::from_secs(20),
        || {
            nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 2)
                .all(|(_, (k, r))| {
                    let view = k.node(&ids[2]).unwrap();
                    r.has(&deleted)
                        && !view.entries.contains_key("status")
                        && view.entries["version"] == "1.1.0"
                })
        },
    )
    .await;
    for (i, (_, recorder)) in nodes.iter().enumerate().filter(|(i, _)| *i != 2) {
        assert_eq!(recorder.count(&deleted), 1, "node {i}");
        assert_eq!(
            recorder.count(&upserted(&ids[2], "version", "1.1.0")),
            1,
            "node {i}"
        );
    }

    // The event stream of node 4 saw what its watcher saw, in order.
    let watched = nodes[4].1.events();
    let mut streamed = Vec::new();
    while streamed.len() < watched.len() {
        let next = timeout::<R, _>(Duration::from_secs(5), stream.recv()).await;
        streamed.push(next.expect("stream keeps up").expect("stream open"));
    }
    assert_eq!(streamed, watched);

    for (kite, _) in &nodes {
        kite.shutdown().await;
    }
    assert_eq!(
        stream.next().await,
        None,
        "the stream (a `Stream` too) ends when the node stops"
    );
}
