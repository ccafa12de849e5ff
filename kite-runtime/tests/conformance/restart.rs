//! A process restarted under the same id, on the same address: the peer
//! replaces the earlier run's keys with the new run's.

use std::time::Duration;

use kite_runtime::{Event, NodeId};

use crate::api::Runtime;
use crate::support::{addr, eventually, options, start};

pub(crate) async fn a_restart_with_the_same_id_replaces_the_earlier_run_at_the_peer<R: Runtime>() {
    const SCENARIO: u8 = 30;
    let id: NodeId = "web-0".parse().unwrap();
    let (peer, seen) = start::<R::Rt>(options(addr::<R>(SCENARIO, 1))).await;
    let run = |generation| {
        options(addr::<R>(SCENARIO, 2))
            .node_id(id.clone())
            .generation(generation)
    };
    let (old, _) = start::<R::Rt>(run(1)).await;
    old.upsert_local("role", "old").unwrap();
    old.upsert_local("only-old", "1").unwrap();
    old.join(&[addr::<R>(SCENARIO, 1).to_string()])
        .await
        .unwrap();
    eventually::<R>("the peer sees the old run", Duration::from_secs(20), || {
        peer.node(&id).is_some_and(|n| n.entries.len() == 2)
    })
    .await;
    old.shutdown().await;

    let (new, _) = start::<R::Rt>(run(2)).await;
    new.upsert_local("role", "new").unwrap();
    new.join(&[addr::<R>(SCENARIO, 1).to_string()])
        .await
        .unwrap();
    eventually::<R>(
        "the peer holds the new run",
        Duration::from_secs(20),
        || {
            peer.node(&id).is_some_and(|n| {
                n.generation == 2 && n.entries.len() == 1 && n.entries["role"] == "new"
            })
        },
    )
    .await;
    assert!(seen.has(&Event::KeyDeleted {
        id: id.clone(),
        key: "only-old".into(),
        value: "1".into(),
    }));
    assert_eq!(peer.stats().dropped_updates, 0);
    new.shutdown().await;
    peer.shutdown().await;
}
