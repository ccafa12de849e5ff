//! Cost of the gossip exchange with a 1,000-node view: building and encoding
//! digests and deltas, and decoding and applying them.
//!
//! `cargo bench -p kite-proto --bench exchange`

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use kite_proto::wire::{self, Delta, Digest, DigestEntry, Message, NodeDelta, Update, UpdateKind};
use kite_proto::{Config, Node, NodeId, Output, SeededRng, StreamId, Timestamp};

const NODES: usize = 1_000;
const KEYS: u64 = 5;

fn peer_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 1, (i / 250) as u8, (i % 250) as u8 + 1], 7000))
}

fn peer_id(i: usize) -> NodeId {
    NodeId::new(format!("node{i:05}")).unwrap()
}

/// A push carrying the state of 1,000 nodes, 5 keys each.
fn full_view() -> Vec<u8> {
    let nodes = (0..NODES)
        .map(|i| NodeDelta {
            id: peer_id(i),
            generation: 1,
            addr: peer_addr(i),
            heartbeat: 10,
            from_version: 0,
            updates: (1..=KEYS)
                .map(|v| Update {
                    version: v,
                    kind: UpdateKind::Set {
                        key: format!("key-{v}"),
                        value: format!("value-{i}-{v}"),
                    },
                })
                .collect(),
        })
        .collect();
    wire::encode(&Message::Push {
        from: peer_id(0),
        delta: Delta { nodes },
    })
}

fn node(packet: usize) -> Node {
    let mut config = Config::new("10.0.0.1:7000".parse().unwrap());
    config.max_packet_size = packet;
    config.suspicion_threshold = 1e9;
    config.node_expiry = Duration::from_secs(1_000_000);
    Node::new(config, SeededRng::from_seed_u64(1), Timestamp::ZERO).unwrap()
}

fn node_with_view(packet: usize, view: &[u8]) -> Node {
    let mut n = node(packet);
    n.handle_request(Timestamp::ZERO, StreamId(0), peer_addr(0), view);
    drain(&mut n);
    n
}

fn drain(node: &mut Node) -> Vec<Output> {
    let mut out = Vec::new();
    loop {
        match node.poll_output() {
            Output::Timeout(_) => return out,
            o => out.push(o),
        }
    }
}

/// A digest from a peer that knows every node at version 0 (so it lacks all).
fn behind_digest(packet: usize) -> Vec<u8> {
    let entries: Vec<DigestEntry> = (0..NODES)
        .map(|i| DigestEntry {
            id: peer_id(i),
            run: 1,
            heartbeat: 1,
            version: 0,
        })
        .collect();
    let mut digest = Digest {
        complete: false,
        entries,
    };
    while wire::encode(&Message::DigestRequest {
        from: peer_id(1),
        digest: digest.clone(),
    })
    .len()
        > packet
    {
        digest.entries.pop();
    }
    wire::encode(&Message::DigestRequest {
        from: peer_id(1),
        digest,
    })
}

fn benches(c: &mut Criterion) {
    let view = full_view();
    for packet in [1400, 65_000] {
        let mut n = node_with_view(packet, &view);
        let mut now = Timestamp::ZERO;
        c.bench_function(
            &format!("round: build+encode digest (1000 nodes, {packet} B)"),
            |b| {
                b.iter(|| {
                    now = now + Duration::from_millis(600);
                    n.handle_timeout(now);
                    black_box(drain(&mut n))
                })
            },
        );

        let request = behind_digest(packet);
        let mut n = node_with_view(packet, &view);
        c.bench_function(
            &format!("answer digest: build+encode delta ({packet} B)"),
            |b| {
                b.iter(|| {
                    n.handle_datagram(Timestamp::ZERO, peer_addr(1), &request);
                    let out = drain(&mut n);
                    // Let the push slot free up so every iteration does the same work.
                    for o in &out {
                        if let Output::Request { id, .. } = o {
                            n.handle_response(
                                Timestamp::ZERO,
                                *id,
                                Err(kite_proto::StreamError::TimedOut),
                            );
                        }
                    }
                    black_box(out)
                })
            },
        );

        let reply = drain(&mut node_with_view(packet, &view))
            .into_iter()
            .chain({
                let mut a = node_with_view(packet, &view);
                a.handle_datagram(Timestamp::ZERO, peer_addr(1), &request);
                drain(&mut a)
            })
            .find_map(|o| match o {
                Output::Transmit { payload, .. } => Some(payload),
                _ => None,
            })
            .unwrap();
        c.bench_function(&format!("decode+apply delta datagram ({packet} B)"), |b| {
            b.iter_batched(
                || node(packet),
                |mut fresh| {
                    fresh.handle_datagram(Timestamp::ZERO, peer_addr(0), &reply);
                    black_box(drain(&mut fresh))
                },
                BatchSize::SmallInput,
            )
        });
    }
    c.bench_function("decode+apply full 1000-node view (stream push)", |b| {
        b.iter_batched(
            || node(1400),
            |mut fresh| {
                fresh.handle_request(Timestamp::ZERO, StreamId(1), peer_addr(0), &view);
                black_box(drain(&mut fresh))
            },
            BatchSize::LargeInput,
        )
    });
}

criterion_group!(exchange, benches);
criterion_main!(exchange);
