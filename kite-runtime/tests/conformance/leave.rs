//! A graceful leave is reported as left (never down) by every other node;
//! `leave` errors when nobody can be told.

use std::time::Duration;

use kite_runtime::{Event, LeaveError, LocalStateError, NodeStatus};

use crate::api::Runtime;
use crate::support::{addr, cluster, options, start, status, until_all_see};

pub(crate) async fn every_other_node_reports_a_leaving_node_left_never_down<R: Runtime>() {
    const SCENARIO: u8 = 4;
    // No crash here: a higher threshold keeps a loaded test machine from
    // producing a down that would hide a real one.
    let patient = |at| options(at).suspicion_threshold(12.0);
    let (mut nodes, ids) = cluster::<R>(SCENARIO, 5, patient).await;

    let (leaver, _) = nodes.pop().unwrap();
    let told = leaver.leave().await.unwrap();
    assert!((1..=3).contains(&told), "{told} nodes acknowledged");
    assert_eq!(leaver.leave().await, Err(LeaveError::AlreadyLeft));
    assert_eq!(leaver.upsert_local("k", "v"), Err(LocalStateError::Left));
    let gone = &ids[4];
    let left = NodeStatus::Left;
    until_all_see::<R>("every other node reports the node left", &nodes, gone, left).await;
    leaver.shutdown().await;
    // Longer than a crash takes to be detected: still left, never down.
    R::sleep(Duration::from_secs(2)).await;
    for (i, (kite, recorder)) in nodes.iter().enumerate() {
        assert_eq!(status(kite, gone), Some(NodeStatus::Left), "node {i}");
        assert_eq!(
            recorder.count(&Event::NodeLeft { id: gone.clone() }),
            1,
            "node {i}"
        );
        let downs: Vec<Event> = recorder
            .events()
            .into_iter()
            .filter(|e| matches!(e, Event::NodeDown { .. }))
            .collect();
        assert!(downs.is_empty(), "node {i} reported {downs:?}");
    }
    for (kite, _) in &nodes {
        kite.shutdown().await;
    }
}

pub(crate) async fn leave_succeeds_with_nobody_to_tell_and_fails_with_nobody_answering<
    R: Runtime,
>() {
    const SCENARIO: u8 = 5;
    // Nobody to tell: the leave succeeds, and the node has left.
    let (alone, _) = start::<R::Rt>(options(addr::<R>(SCENARIO, 1))).await;
    assert_eq!(alone.leave().await, Ok(0));
    assert_eq!(alone.local_node().status, NodeStatus::Left);
    assert_eq!(alone.upsert_local("k", "v"), Err(LocalStateError::Left));
    alone.shutdown().await;

    // A peer that is gone but not yet suspected: the notification fails.
    let patient = |host| options(addr::<R>(SCENARIO, host)).suspicion_threshold(1_000.0);
    let (a, _) = start::<R::Rt>(patient(2)).await;
    let (b, _) = start::<R::Rt>(patient(3)).await;
    a.join(&[addr::<R>(SCENARIO, 3).to_string()]).await.unwrap();
    b.shutdown().await;
    assert_eq!(status(&a, b.local_id()), Some(NodeStatus::Alive));
    assert_eq!(a.leave().await, Err(LeaveError::NoneNotified { tried: 1 }));
    a.shutdown().await;
}
