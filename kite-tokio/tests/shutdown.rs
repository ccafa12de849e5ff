//! Shutdown releases the ports: a new node binds the same address right after.

mod common;

use std::time::Duration;

use common::{addr, eventually, options, sees_alive, start};
use kite_tokio::{JoinError, Kite, LeaveError, StartError};

const RANGE: u8 = 18;
const PORT: u16 = 17_018;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_releases_the_ports_for_a_new_node() {
    let at = addr(RANGE, 1, PORT);
    let (a, _) = start(options(at)).await;
    let (b, _) = start(options(addr(RANGE, 2, PORT))).await;
    b.join(&[at.to_string()]).await.unwrap();
    let ids = [a.local_id().clone(), b.local_id().clone()];
    eventually("both know each other", Duration::from_secs(20), || {
        sees_alive(&a, &ids) && sees_alive(&b, &ids)
    })
    .await;
    let taken = Kite::start(options(at)).await.unwrap_err();
    assert!(
        matches!(
            taken,
            StartError::Bind {
                protocol: "UDP",
                ..
            }
        ),
        "{taken}"
    );

    // Streams were accepted on this address; shutting down still frees it.
    let mut events = a.events();
    a.shutdown().await;
    assert_eq!(events.recv().await, None);
    assert_eq!(
        a.join(&[addr(RANGE, 2, PORT).to_string()]).await,
        Err(JoinError::Stopped)
    );
    assert_eq!(a.leave().await, Err(LeaveError::Stopped));
    assert_eq!(a.local_node().id, ids[0], "the last state stays readable");
    let (again, _) = start(options(at)).await;
    again
        .join(&[addr(RANGE, 2, PORT).to_string()])
        .await
        .unwrap();
    again.shutdown().await;

    // Dropping stops the node too; the sockets close as its tasks end.
    drop(again);
    drop(a);
    eventually(
        "the address is free after a drop",
        Duration::from_secs(5),
        || std::net::UdpSocket::bind(at).is_ok() && std::net::TcpListener::bind(at).is_ok(),
    )
    .await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_node_releases_its_ports() {
    let at = addr(RANGE, 3, PORT);
    let (kite, _) = start(options(at)).await;
    drop(kite);
    eventually(
        "the address is free after a drop",
        Duration::from_secs(5),
        || std::net::UdpSocket::bind(at).is_ok(),
    )
    .await;
    let (again, _) = start(options(at)).await;
    again.shutdown().await;
}
