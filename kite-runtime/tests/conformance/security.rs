//! Sealed gossip over real sockets: two nodes with the same key form a
//! cluster; a node with another key is refused, and the refusals counted.

use std::time::Duration;

use kite_runtime::{Key, SecurityMode};

use crate::api::Runtime;
use crate::support::{addr, eventually, options, sees_alive, start};

pub(crate) async fn nodes_with_the_same_key_form_a_cluster_and_another_key_is_refused<
    R: Runtime,
>() {
    const SCENARIO: u8 = 33;
    let shared: Key = "qUSUnd3mHB33UK7BbRh9kDvXx6ewAW+8Wpqz1ShfMb0="
        .parse()
        .unwrap();
    let other = Key::from_bytes([7; 32]);
    let sealed = |host, key: &Key| {
        options(addr::<R>(SCENARIO, host))
            .cluster_label("conformance")
            .key(key.clone())
            .security_mode(SecurityMode::Encrypted)
    };
    let (a, _) = start::<R::Rt>(sealed(1, &shared)).await;
    let (b, _) = start::<R::Rt>(sealed(2, &shared)).await;
    b.join(&[addr::<R>(SCENARIO, 1).to_string()]).await.unwrap();
    let ids = [a.local_id().clone(), b.local_id().clone()];
    eventually::<R>("a and b see each other", Duration::from_secs(20), || {
        sees_alive(&a, &ids) && sees_alive(&b, &ids)
    })
    .await;

    let (c, _) = start::<R::Rt>(sealed(3, &other)).await;
    assert!(c.join(&[addr::<R>(SCENARIO, 1).to_string()]).await.is_err());
    eventually::<R>(
        "a counts c's refused messages",
        Duration::from_secs(20),
        || a.stats().rejected.unknown_key > 0,
    )
    .await;
    assert!(a.node(c.local_id()).is_none(), "a admitted c");
    assert!(b.node(c.local_id()).is_none(), "b admitted c");
    assert_eq!(c.nodes().len(), 1, "c learned the cluster");
    assert!(c.stats().rejected.total() > 0 || c.stats().stream_failures > 0);
    for kite in [&a, &b, &c] {
        kite.shutdown().await;
    }
}
