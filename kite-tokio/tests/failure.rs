//! A node dropped without leaving is reported down by every other node; a
//! node that stalls and resumes (same process, same id) is reported up again.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{Recorder, addr, eventually, options, sees_alive, start, status};
use kite_tokio::{Event, Kite, NodeId, NodeStatus};

async fn cluster(range: u8, port: u16, n: u8) -> (Vec<(Kite, Recorder)>, Vec<NodeId>) {
    let mut nodes = Vec::new();
    for host in 1..=n {
        nodes.push(start(options(addr(range, host, port))).await);
    }
    let seed = addr(range, 1, port).to_string();
    for (kite, _) in &nodes[1..] {
        kite.join(&[seed.as_str()]).await.unwrap();
    }
    let ids: Vec<NodeId> = nodes.iter().map(|(k, _)| k.local_id().clone()).collect();
    eventually("the cluster forms", Duration::from_secs(20), || {
        nodes.iter().all(|(k, _)| sees_alive(k, &ids))
    })
    .await;
    (nodes, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_node_is_reported_down_by_all_and_a_restart_joins_anew() {
    const RANGE: u8 = 12;
    const PORT: u16 = 17_012;
    let (mut nodes, ids) = cluster(RANGE, PORT, 5).await;
    let (crashed, _) = nodes.pop().unwrap();
    drop(crashed);
    let gone = &ids[4];
    eventually(
        "every other node reports the crashed node down",
        Duration::from_secs(20),
        || {
            nodes
                .iter()
                .all(|(k, _)| status(k, gone) == Some(NodeStatus::Down))
        },
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
    let (again, _) = start(options(addr(RANGE, 5, PORT))).await;
    again
        .join(&[addr(RANGE, 1, PORT).to_string()])
        .await
        .unwrap();
    let new_id = again.local_id().clone();
    assert_ne!(&new_id, gone);
    eventually(
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

/// Runs a node on a runtime of its own thread, which `pause` freezes whole
/// (like a suspended VM or a stopped process).
struct Frozen {
    pause: mpsc::Sender<Duration>,
    thread: std::thread::JoinHandle<()>,
}

fn frozen_node(at: std::net::SocketAddr, seed: String) -> (Frozen, NodeId, Recorder) {
    let (pause, paused) = mpsc::channel::<Duration>();
    let (ready, started) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let (kite, recorder) = start(options(at)).await;
            kite.join(&[seed]).await.unwrap();
            ready.send((kite.local_id().clone(), recorder)).unwrap();
            loop {
                match paused.try_recv() {
                    Ok(pause) => std::thread::sleep(pause),
                    Err(mpsc::TryRecvError::Empty) => {
                        tokio::time::sleep(Duration::from_millis(10)).await
                    }
                    Err(mpsc::TryRecvError::Disconnected) => break,
                }
            }
            kite.shutdown().await;
        });
    });
    let (id, recorder) = started.recv().unwrap();
    (Frozen { pause, thread }, id, recorder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_node_is_reported_down_then_up_and_does_not_convict_others() {
    const RANGE: u8 = 13;
    const PORT: u16 = 17_013;
    let (nodes, mut ids) = cluster(RANGE, PORT, 4).await;
    let seed = addr(RANGE, 1, PORT).to_string();
    let (frozen, id, recorder) =
        tokio::task::spawn_blocking(move || frozen_node(addr(RANGE, 5, PORT), seed))
            .await
            .unwrap();
    ids.push(id.clone());
    eventually(
        "every node sees the fifth node",
        Duration::from_secs(20),
        || nodes.iter().all(|(k, _)| sees_alive(k, &ids)),
    )
    .await;

    frozen.pause.send(Duration::from_secs(3)).unwrap();
    eventually(
        "every other node reports the stalled node down",
        Duration::from_secs(20),
        || {
            nodes
                .iter()
                .all(|(k, _)| status(k, &id) == Some(NodeStatus::Down))
        },
    )
    .await;
    eventually(
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
    let downs: Vec<Event> = recorder
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::NodeDown { .. }))
        .collect();
    assert!(downs.is_empty(), "the stalled node convicted {downs:?}");

    drop(frozen.pause);
    tokio::task::spawn_blocking(move || frozen.thread.join().unwrap())
        .await
        .unwrap();
    for (kite, _) in &nodes {
        kite.shutdown().await;
    }
}
