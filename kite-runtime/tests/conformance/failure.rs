//! A node dropped without leaving is reported down by every other node, and
//! a restart (a new id) joins as a new node.

use std::time::Duration;

use kite_runtime::{Event, NodeStatus};

use crate::api::Runtime;
use crate::support::{
    addr, cluster, eventually, options, sees_alive, start, status, until_all_see,
};

pub(crate) async fn a_dropped_node_is_reported_down_by_all_and_a_restart_joins_anew<R: Runtime>() {
    const SCENARIO: u8 = 2;
    let (mut nodes, ids) = cluster::<R>(SCENARIO, 5, options).await;
    let (crashed, _) = nodes.pop().unwrap();
    drop(crashed);
    let gone = &ids[4];
    let down = NodeStatus::Down;
    until_all_see::<R>(
        "every other node reports the crashed node down",
        &nodes,
        gone,
        down,
    )
    .await;
    for (i, (_, recorder)) in nodes.iter().enumerate() {
        assert_eq!(
            recorder.count(&Event::NodeDown { id: gone.clone() }),
            1,
            "node {i}"
        );
        assert!(
            !recorder.has(&Event::NodeLeft { id: gone.clone() }),
            "node {i}"
        );
        let false_downs = recorder
            .events()
            .iter()
            .filter(|e| matches!(e, Event::NodeDown { id } if id != gone))
            .count();
        assert_eq!(false_downs, 0, "node {i}");
    }

    // A restarted process takes a new id and joins as a new node.
    let (again, _) = start::<R::Rt>(options(addr::<R>(SCENARIO, 5))).await;
    again
        .join(&[addr::<R>(SCENARIO, 1).to_string()])
        .await
        .unwrap();
    let new_id = again.local_id().clone();
    assert_ne!(&new_id, gone);
    eventually::<R>(
        "every node sees the restarted node",
        Duration::from_secs(20),
        || {
            nodes
                .iter()
                .all(|(k, _)| sees_alive(k, std::slice::from_ref(&new_id)))
        },
    )
    .await;
    for (kite, _) in &nodes {
        assert_eq!(status(kite, gone), Some(NodeStatus::Down));
    }
    again.shutdown().await;
    for (kite, _) in &nodes {
        kite.shutdown().await;
    }
}
