//! The codec: every message round-trips; no byte string panics the decoder.

use std::net::SocketAddr;

use kite_proto::NodeId;
use kite_proto::wire::{
    self, Delta, Digest, DigestEntry, Message, NodeDelta, Rumor, RumorKind, Update, UpdateKind,
};
use proptest::prelude::*;

fn node_id() -> impl Strategy<Value = NodeId> {
    "[a-z0-9-]{1,64}".prop_map(|s| NodeId::new(s).unwrap())
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
    ]
}

fn digest() -> impl Strategy<Value = Digest> {
    (
        any::<bool>(),
        prop::collection::vec(
            (node_id(), any::<u16>(), any::<u64>(), any::<u64>()).prop_map(
                |(id, run, heartbeat, version)| DigestEntry {
                    id,
                    run,
                    heartbeat,
                    version,
                },
            ),
            0..8,
        ),
    )
        .prop_map(|(complete, entries)| Digest { complete, entries })
}

fn update() -> impl Strategy<Value = Update> {
    let kind = prop_oneof![
        (".{0,20}", ".{0,40}").prop_map(|(key, value)| UpdateKind::Set { key, value }),
        ".{0,20}".prop_map(|key| UpdateKind::Delete { key }),
        Just(UpdateKind::Left),
        any::<u64>().prop_map(|floor| UpdateKind::Compacted { floor }),
    ];
    (any::<u64>(), kind).prop_map(|(version, kind)| Update { version, kind })
}

fn delta() -> impl Strategy<Value = Delta> {
    prop::collection::vec(
        (
            node_id(),
            any::<u64>(),
            socket_addr(),
            any::<u64>(),
            any::<u64>(),
            prop::collection::vec(update(), 0..5),
        )
            .prop_map(|(id, generation, addr, heartbeat, from_version, updates)| {
                NodeDelta {
                    id,
                    generation,
                    addr,
                    heartbeat,
                    from_version,
                    updates,
                }
            }),
        0..4,
    )
    .prop_map(|nodes| Delta { nodes })
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (node_id(), digest()).prop_map(|(from, digest)| Message::DigestRequest { from, digest }),
        (node_id(), delta(), digest()).prop_map(|(from, delta, digest)| Message::DigestResponse {
            from,
            delta,
            digest
        }),
        (node_id(), delta()).prop_map(|(from, delta)| Message::Delta { from, delta }),
        (node_id(), delta(), digest()).prop_map(|(from, delta, digest)| Message::JoinRequest {
            from,
            delta,
            digest
        }),
        (node_id(), delta()).prop_map(|(from, delta)| Message::JoinResponse { from, delta }),
        (node_id(), delta()).prop_map(|(from, delta)| Message::Push { from, delta }),
        node_id().prop_map(|from| Message::Ack { from }),
        (
            node_id(),
            any::<u16>(),
            any::<u64>(),
            any::<bool>(),
            rumors(),
            delta()
        )
            .prop_map(|(from, run, heartbeat, monitor, rumors, news)| {
                Message::Liveness {
                    from,
                    run,
                    heartbeat,
                    monitor,
                    rumors,
                    news: news.nodes,
                }
            }),
    ]
}

fn rumors() -> impl Strategy<Value = Vec<Rumor>> {
    let kind = prop_oneof![
        node_id().prop_map(|by| RumorKind::Suspect { by }),
        Just(RumorKind::Alive),
    ];
    prop::collection::vec(
        (node_id(), any::<u64>(), any::<u64>(), kind).prop_map(
            |(id, generation, heartbeat, kind)| Rumor {
                id,
                generation,
                heartbeat,
                kind,
            },
        ),
        0..8,
    )
}

proptest! {
    #[test]
    fn every_message_round_trips(msg in message()) {
        let bytes = wire::encode(&msg);
        prop_assert_eq!(bytes[0], wire::PROTOCOL_VERSION);
        prop_assert_eq!(bytes[1], msg.type_byte());
        prop_assert_eq!(wire::decode(&bytes), Ok(msg));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = wire::decode(&bytes);
        let mut with_header = vec![wire::PROTOCOL_VERSION, bytes.first().copied().unwrap_or(1) % 9];
        with_header.extend_from_slice(&bytes);
        let _ = wire::decode(&with_header);
    }

    #[test]
    fn mutated_messages_never_panic_and_truncations_are_errors(
        msg in message(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = wire::encode(&msg);
        let mut mutated = bytes.clone();
        for (at, value) in flips {
            let i = at.index(mutated.len());
            mutated[i] = value;
        }
        let _ = wire::decode(&mutated);
        let cut = cut.index(bytes.len());
        prop_assert!(wire::decode(&bytes[..cut]).is_err());
    }
}

#[test]
fn other_versions_and_types_are_typed_errors() {
    use kite_proto::DecodeError;
    assert_eq!(wire::decode(&[]), Err(DecodeError::TooShort));
    // Version 2, the last without generations, is refused.
    assert_eq!(
        wire::decode(&[2, 1, 0]),
        Err(DecodeError::UnsupportedVersion(2))
    );
    assert_eq!(wire::decode(&[3, 99]), Err(DecodeError::UnknownType(99)));
    assert_eq!(wire::decode(&[3, 7]), Err(DecodeError::Malformed));
    assert_eq!(
        wire::decode(&[3, 7, 1, b'a', 0]),
        Err(DecodeError::TrailingBytes)
    );
    // An id longer than 64 bytes is malformed.
    let mut long = vec![3, 7, 65];
    long.extend(std::iter::repeat_n(b'a', 65));
    assert_eq!(wire::decode(&long), Err(DecodeError::Malformed));
}

#[test]
fn a_huge_claimed_length_allocates_nothing_big() {
    // A delta claiming 2^32 nodes in a few bytes fails fast.
    let bytes = [2, 3, 1, b'a', 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert!(wire::decode(&bytes).is_err());
    // So do rumors claiming 2^32 entries.
    let rumors = [2, 8, 1, b'a', 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert!(wire::decode(&rumors).is_err());
}
