//! Hostile input while a cluster runs: 10,000 random datagrams and random
//! stream bytes (oversized frame lengths, garbage bodies, cut-short frames)
//! hit one node. Nothing panics, nothing changes, the decode errors are
//! counted, and the cluster keeps converging.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::time::Duration;

use kite_proto::SeededRng;
use kite_proto::wire::{self, frame};
use kite_runtime::{Limits, NodeId, NodeStatus};
use rand_core::RngCore;

use crate::api::Runtime;
use crate::support::{addr, eventually, options, sees_alive, start};

const SCENARIO: u8 = 8;

/// What must not change: every node's status and keys, as `kite` sees them.
fn view<T: kite_runtime::Runtime>(
    kite: &kite_runtime::Kite<T>,
) -> BTreeMap<NodeId, (NodeStatus, BTreeMap<String, String>)> {
    kite.nodes()
        .into_iter()
        .map(|n| (n.id, (n.status, n.entries)))
        .collect()
}

fn random_bytes(rng: &mut SeededRng, max: usize) -> Vec<u8> {
    let len = (rng.next_u32() as usize) % (max + 1);
    let mut bytes = vec![0; len];
    rng.fill_bytes(&mut bytes);
    // Half of them look like a Kite datagram, to get past the header.
    if len >= 2 && rng.next_u32().is_multiple_of(2) {
        bytes[0] = wire::PROTOCOL_VERSION;
        bytes[1] = 1 + (rng.next_u32() % 3) as u8;
    }
    bytes
}

pub(crate) async fn random_datagrams_and_stream_bytes_change_nothing_and_are_counted<R: Runtime>() {
    let opts = |host| options(addr::<R>(SCENARIO, host)).suspicion_threshold(12.0);
    let mut nodes = Vec::new();
    for host in 1..=3 {
        nodes.push(start::<R::Rt>(opts(host)).await.0);
    }
    for (i, kite) in nodes.iter().enumerate() {
        kite.upsert_local("rpc_addr", &format!("10.0.0.{i}:9000"))
            .unwrap();
    }
    let seed = addr::<R>(SCENARIO, 1).to_string();
    for kite in &nodes[1..] {
        kite.join(&[seed.as_str()]).await.unwrap();
    }
    let ids: Vec<NodeId> = nodes.iter().map(|k| k.local_id().clone()).collect();
    eventually::<R>("the cluster converges", Duration::from_secs(20), || {
        nodes
            .iter()
            .all(|k| sees_alive(k, &ids) && k.nodes().iter().all(|n| n.entries.len() == 1))
    })
    .await;
    let victim = &nodes[0];
    let target = victim.advertise_addr();
    let before = view(victim);
    let stats_before = victim.stats();
    let mut rng = SeededRng::from_seed_u64(0x6b69_7465);

    // 10,000 random datagrams, paced so the socket buffer does not overflow.
    // The attacker uses plain std sockets: only the victim's runtime matters.
    let attacker = UdpSocket::bind(addr::<R>(SCENARIO, 100)).unwrap();
    let mut invalid_datagrams = 0;
    for i in 0..10_000 {
        let bytes = random_bytes(&mut rng, 1_500);
        invalid_datagrams += usize::from(wire::decode(&bytes).is_err());
        attacker.send_to(&bytes, target).unwrap();
        if i % 50 == 49 {
            R::sleep(Duration::from_millis(2)).await;
        }
    }

    // Random stream bytes: oversized lengths, garbage bodies, short bodies.
    let max_frame = Limits::default().max_frame_len;
    let mut invalid_streams = 0;
    for i in 0..150u32 {
        let payload = match i % 3 {
            0 => {
                let len = u32::try_from(max_frame).unwrap() + 1 + rng.next_u32() % 1_000_000;
                let mut bytes = len.to_be_bytes().to_vec();
                bytes.extend(random_bytes(&mut rng, 200));
                invalid_streams += 1;
                bytes
            }
            1 => {
                let body = random_bytes(&mut rng, 2_000);
                invalid_streams += usize::from(wire::decode(&body).is_err());
                frame::encode(&body)
            }
            _ => {
                let mut bytes = frame::encode(&random_bytes(&mut rng, 2_000));
                bytes.truncate(frame::HEADER_LEN + 1);
                bytes[..frame::HEADER_LEN].copy_from_slice(&5_000u32.to_be_bytes());
                invalid_streams += 1;
                bytes
            }
        };
        let mut stream = TcpStream::connect(target).unwrap();
        // The node may close first, after an oversized header.
        let _ = stream.write_all(&payload);
        let _ = stream.shutdown(Shutdown::Write);
    }

    let expected = invalid_streams + invalid_datagrams * 9 / 10;
    eventually::<R>(
        "the decode errors are counted",
        Duration::from_secs(20),
        || victim.stats().decode_errors - stats_before.decode_errors >= expected as u64,
    )
    .await;
    let stats = victim.stats();
    assert!(
        stats.decode_errors - stats_before.decode_errors
            <= (invalid_streams + invalid_datagrams) as u64
    );
    assert!(stats.datagrams_in - stats_before.datagrams_in >= 9_000);
    assert_eq!(
        view(victim),
        before,
        "hostile input changed the victim's view"
    );
    for kite in &nodes[1..] {
        assert_eq!(
            kite.node(&ids[0]).map(|n| n.status),
            Some(NodeStatus::Alive)
        );
    }

    // The cluster keeps converging, the victim included.
    nodes[2].upsert_local("after", "flood").unwrap();
    victim.upsert_local("victim", "fine").unwrap();
    eventually::<R>("updates still spread", Duration::from_secs(20), || {
        nodes.iter().all(|k| {
            k.node(&ids[2])
                .is_some_and(|n| n.entries.get("after").is_some_and(|v| v == "flood"))
                && k.node(&ids[0])
                    .is_some_and(|n| n.entries.get("victim").is_some_and(|v| v == "fine"))
        })
    })
    .await;
    for kite in &nodes {
        kite.shutdown().await;
    }
}
