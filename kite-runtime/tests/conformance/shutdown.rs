//! Shutdown releases the ports: a new node binds the same address right after.

use std::time::Duration;

use futures_lite::StreamExt;
use kite_runtime::StartError;
use kite_runtime::{JoinError, LeaveError, LocalStateError};

use crate::api::{Kite, Runtime};
use crate::support::{addr, eventually, options, sees_alive, start};

pub(crate) async fn shutdown_releases_the_ports_for_a_new_node<R: Runtime>() {
    const SCENARIO: u8 = 9;
    let at = addr::<R>(SCENARIO, 1);
    let (a, _) = start::<R::Rt>(options(at)).await;
    let (b, _) = start::<R::Rt>(options(addr::<R>(SCENARIO, 2))).await;
    b.join(&[at.to_string()]).await.unwrap();
    let ids = [a.local_id().clone(), b.local_id().clone()];
    eventually::<R>("both know each other", Duration::from_secs(20), || {
        sees_alive(&a, &ids) && sees_alive(&b, &ids)
    })
    .await;
    let taken = Kite::<R>::start(options(at)).await.unwrap_err();
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
    let mut stream = a.events();
    a.shutdown().await;
    assert_eq!(events.recv().await, None);
    assert_eq!(stream.next().await, None, "as a `Stream` too");
    assert_eq!(
        a.join(&[addr::<R>(SCENARIO, 2).to_string()]).await,
        Err(JoinError::Stopped)
    );
    assert_eq!(a.leave().await, Err(LeaveError::Stopped));
    assert_eq!(a.upsert_local("k", "v"), Err(LocalStateError::Stopped));
    assert_eq!(a.delete_local("k"), Err(LocalStateError::Stopped));
    assert_eq!(a.local_node().id, ids[0], "the last state stays readable");
    let (again, _) = start::<R::Rt>(options(at)).await;
    again
        .join(&[addr::<R>(SCENARIO, 2).to_string()])
        .await
        .unwrap();
    again.shutdown().await;

    // Dropping stops the node too; the sockets close as its tasks end.
    drop(again);
    drop(a);
    eventually::<R>(
        "the address is free after a drop",
        Duration::from_secs(5),
        || std::net::UdpSocket::bind(at).is_ok() && std::net::TcpListener::bind(at).is_ok(),
    )
    .await;
    b.shutdown().await;
}

pub(crate) async fn dropping_a_node_releases_its_ports<R: Runtime>() {
    const SCENARIO: u8 = 10;
    let at = addr::<R>(SCENARIO, 3);
    let (kite, _) = start::<R::Rt>(options(at)).await;
    drop(kite);
    // The UDP socket and the TCP listener close as their tasks end, not
    // together: wait until both are free (on async-std the listener's task
    // can end a moment after the socket's).
    eventually::<R>(
        "the address is free after a drop",
        Duration::from_secs(5),
        || std::net::UdpSocket::bind(at).is_ok() && std::net::TcpListener::bind(at).is_ok(),
    )
    .await;
    let (again, _) = start::<R::Rt>(options(at)).await;
    again.shutdown().await;
}
