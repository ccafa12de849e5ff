//! Fixed test vectors pin the wire encoding: a change here is a protocol
//! change and needs a new `PROTOCOL_VERSION`. The vectors live in
//! `tests/vectors.txt` (name, then hex), which also seeds the fuzz corpora.

use std::net::SocketAddr;

use kite_proto::NodeId;
use kite_proto::wire::{
    self, Delta, Digest, DigestEntry, Message, NodeDelta, Rumor, RumorKind, Update, UpdateKind,
};

fn id(s: &str) -> NodeId {
    NodeId::new(s).unwrap()
}

fn sample_delta() -> Delta {
    Delta {
        nodes: vec![NodeDelta {
            id: id("b"),
            generation: 1_764_700_000_000,
            addr: "127.0.0.2:7000".parse::<SocketAddr>().unwrap(),
            heartbeat: 300,
            from_version: 1,
            updates: vec![
                Update {
                    version: 2,
                    kind: UpdateKind::Set {
                        key: "k".into(),
                        value: "v".into(),
                    },
                },
                Update {
                    version: 3,
                    kind: UpdateKind::Delete { key: "k".into() },
                },
                Update {
                    version: 5,
                    kind: UpdateKind::Compacted { floor: 3 },
                },
                Update {
                    version: 6,
                    kind: UpdateKind::Left,
                },
            ],
        }],
    }
}

fn sample_digest() -> Digest {
    Digest {
        complete: true,
        entries: vec![
            DigestEntry {
                id: id("a"),
                run: wire::run_tag(1_764_700_000_000),
                heartbeat: 7,
                version: 0,
            },
            DigestEntry {
                id: id("b"),
                run: 0,
                heartbeat: 0,
                version: 0,
            },
        ],
    }
}

fn vectors() -> Vec<(&'static str, Message)> {
    let v6: SocketAddr = "[::1]:65535".parse().unwrap();
    vec![
        (
            "digest_request",
            Message::DigestRequest {
                from: id("a"),
                digest: sample_digest(),
            },
        ),
        (
            "digest_response",
            Message::DigestResponse {
                from: id("b"),
                delta: sample_delta(),
                digest: Digest::default(),
            },
        ),
        (
            "delta",
            Message::Delta {
                from: id("a"),
                delta: sample_delta(),
            },
        ),
        (
            "join_request",
            Message::JoinRequest {
                from: id("c"),
                delta: Delta {
                    nodes: vec![NodeDelta {
                        id: id("c"),
                        generation: 42,
                        addr: v6,
                        heartbeat: 1,
                        from_version: 0,
                        updates: vec![],
                    }],
                },
                digest: sample_digest(),
            },
        ),
        (
            "join_response",
            Message::JoinResponse {
                from: id("a"),
                delta: sample_delta(),
            },
        ),
        (
            "push",
            Message::Push {
                from: id("b"),
                delta: sample_delta(),
            },
        ),
        ("ack", Message::Ack { from: id("a") }),
        (
            "liveness",
            Message::Liveness {
                from: id("a"),
                run: wire::run_tag(1_764_700_000_000),
                heartbeat: 300,
                monitor: true,
                rumors: vec![
                    Rumor {
                        id: id("b"),
                        generation: 5,
                        heartbeat: 7,
                        kind: RumorKind::Suspect { by: id("c") },
                    },
                    Rumor {
                        id: id("d"),
                        generation: 6,
                        heartbeat: 9,
                        kind: RumorKind::Alive,
                    },
                ],
                news: sample_delta().nodes,
            },
        ),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn encodings_match_the_committed_vectors() {
    let file = include_str!("vectors.txt");
    let committed: Vec<(&str, &str)> = file
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_once(' ').unwrap())
        .collect();
    let ours = vectors();
    assert_eq!(committed.len(), ours.len());
    for ((name, hexed), (our_name, msg)) in committed.iter().zip(&ours) {
        assert_eq!(name, our_name);
        assert_eq!(
            *hexed,
            hex(&wire::encode(msg)),
            "{name} encodes differently"
        );
        assert_eq!(
            wire::decode(&unhex(hexed)),
            Ok(msg.clone()),
            "{name} decodes differently"
        );
    }
}

#[test]
fn a_vector_reads_as_documented() {
    // digest_request: version 3, type 1, from "a", complete, 2 entries:
    // ("a", run tag 3840 of generation 1764700000000, heartbeat 7,
    // version 0), ("b", 0, 0, 0).
    let bytes = wire::encode(&vectors()[0].1);
    assert_eq!(
        hex(&bytes),
        "030101610102 0161 801e 07 00 0162 00 00 00".replace(' ', "")
    );
    // liveness: version 3, type 8, from "a", run tag 3840,
    // heartbeat 300, to a monitor, 2 rumors: "b" (generation 5) at 7
    // suspected by "c", "d" (generation 6) alive at 9; then the news,
    // encoded as a delta's nodes are.
    let bytes = wire::encode(&vectors()[7].1);
    let news = &hex(&wire::encode(&vectors()[2].1))[8..];
    assert_eq!(
        hex(&bytes),
        format!("0308 0161 801e ac02 01 02 0162 05 07 00 0163 0164 06 09 01 {news}")
            .replace(' ', "")
    );
}
