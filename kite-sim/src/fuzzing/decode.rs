//! Targets `decode` and `message`: the codec on any bytes, and on any
//! message.

use core::net::SocketAddr;

use kite_proto::audit::{digest_entry_budget, encoded_len, node_header_budget, update_budget};
use kite_proto::wire::{self, Delta, Digest, Message, RumorKind, UpdateKind, frame};
use kite_proto::{
    Config, DecodeError, Limits, Node, NodeId, Output, SeededRng, StreamId, Timestamp,
};

use super::mutate::{delta_mut, digest_mut};
use super::oracle::check_output;

/// Frame limits every byte string is framed against.
const FRAME_LIMITS: [usize; 4] = [0, 16, 1 << 12, 4 << 20];

/// Target `decode`: `data` as a datagram or stream message, as a framed
/// stream (a 4-byte length, then the body), and handed to a fresh node as a
/// datagram and as a stream request.
///
/// Checks that decoding never panics, that whatever decodes re-encodes to a
/// form no longer than the input and decodes back to the same message, that
/// frame lengths are checked against the limit before anything is read, and
/// that the node's outputs stay within its limits.
pub fn decode_bytes(data: &[u8]) {
    check_decode(data);
    if let Some((header, body)) = data.split_first_chunk::<{ frame::HEADER_LEN }>() {
        for max in FRAME_LIMITS {
            match frame::body_len(*header, max) {
                Ok(len) => {
                    assert!(len <= max, "frame of {len} bytes accepted under {max}");
                    if let Some(body) = body.get(..len) {
                        check_decode(body);
                    }
                }
                Err(DecodeError::FrameTooLarge { len, max: limit }) => {
                    assert!(len > max && limit == max, "bad refusal {len} > {limit}");
                }
                Err(other) => panic!("frame header refused with {other:?}"),
            }
        }
    }
    let mut node = fresh_node();
    let from: SocketAddr = ([127, 0, 0, 2], 7000).into();
    let before = node.stats();
    node.handle_datagram(Timestamp::from_millis(1), from, data);
    node.handle_request(Timestamp::from_millis(2), StreamId(0), from, data);
    let limits = node.config().limits.clone();
    let max_packet = node.config().max_packet_size;
    let mut responses = 0;
    loop {
        match node.poll_output() {
            Output::Timeout(_) => break,
            Output::Response { id, .. } => {
                assert_eq!(id, StreamId(0));
                responses += 1;
            }
            out => {
                check_output(&out, node.id(), max_packet, &limits).unwrap_or_else(|e| panic!("{e}"))
            }
        }
    }
    assert_eq!(responses, 1, "one request, {responses} responses");
    let after = node.stats();
    assert_eq!(after.datagrams_in, before.datagrams_in + 1);
    node.audit().unwrap_or_else(|e| panic!("{e}"));
}

/// Decodes `bytes` and checks what comes out.
fn check_decode(bytes: &[u8]) {
    let Ok(msg) = wire::decode(bytes) else {
        return;
    };
    let again = wire::encode(&msg);
    assert!(
        again.len() <= bytes.len(),
        "{} bytes decoded to a message that encodes to {}",
        bytes.len(),
        again.len()
    );
    assert_eq!(wire::decode(&again).as_ref(), Ok(&msg), "no round trip");
    assert!(
        heap_bytes(&msg) <= bytes.len(),
        "{} bytes of strings from {} bytes of input",
        heap_bytes(&msg),
        bytes.len()
    );
}

/// Bytes of strings a decoded message holds (each came off the input).
fn heap_bytes(msg: &Message) -> usize {
    let delta = |d: &Delta| -> usize {
        d.nodes
            .iter()
            .map(|n| {
                n.id.as_str().len()
                    + n.updates
                        .iter()
                        .map(|u| match &u.kind {
                            UpdateKind::Set { key, value } => key.len() + value.len(),
                            UpdateKind::Delete { key } => key.len(),
                            UpdateKind::Left | UpdateKind::Compacted { .. } => 0,
                        })
                        .sum::<usize>()
            })
            .sum()
    };
    let digest = |d: &Digest| -> usize { d.entries.iter().map(|e| e.id.as_str().len()).sum() };
    msg.from().as_str().len()
        + match msg {
            Message::DigestRequest { digest: g, .. } => digest(g),
            Message::DigestResponse {
                delta: d,
                digest: g,
                ..
            }
            | Message::JoinRequest {
                delta: d,
                digest: g,
                ..
            } => delta(d) + digest(g),
            Message::Delta { delta: d, .. }
            | Message::JoinResponse { delta: d, .. }
            | Message::Push { delta: d, .. } => delta(d),
            Message::Ack { .. } => 0,
            Message::Liveness { rumors, .. } => rumors
                .iter()
                .map(|r| {
                    r.id.as_str().len()
                        + match &r.kind {
                            RumorKind::Suspect { by } => by.as_str().len(),
                            RumorKind::Alive => 0,
                        }
                })
                .sum(),
        }
}

fn fresh_node() -> Node {
    let mut config = Config::new(([127, 0, 0, 1], 7000).into());
    config.node_id = Some(NodeId::new("n0").unwrap_or_else(|_| unreachable!()));
    config.limits = Limits {
        max_nodes: 8,
        ..Limits::default()
    };
    Node::new(config, SeededRng::from_seed_u64(0), Timestamp::ZERO)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Target `message`: any message encodes, decodes to itself, and the byte
/// budgets the core fills datagrams with match the real encoding exactly
/// (digest entries and updates) or bound it (delta node headers). The core
/// relies on them to keep every datagram within `max_packet_size`.
pub fn roundtrip(msg: &Message) {
    let bytes = wire::encode(msg);
    assert_eq!(bytes[0], wire::PROTOCOL_VERSION);
    assert_eq!(bytes[1], msg.type_byte());
    // IPv6 flow information and scope ids are not carried (see `wire`).
    let mut m = msg.clone();
    let nodes = match &mut m {
        Message::Liveness { news, .. } => Some(news),
        other => delta_mut(other).map(|delta| &mut delta.nodes),
    };
    for node in nodes.into_iter().flatten() {
        if let SocketAddr::V6(v6) = &mut node.addr {
            v6.set_flowinfo(0);
            v6.set_scope_id(0);
        }
    }
    assert_eq!(wire::decode(&bytes), Ok(m.clone()), "no round trip");
    if let Some(digest) = digest_mut(&mut m) {
        for entry in &digest.entries {
            let real = encoded_len(entry);
            assert_eq!(digest_entry_budget(entry), real, "digest entry {entry:?}");
        }
    }
    if let Some(delta) = delta_mut(&mut m) {
        for node in &delta.nodes {
            let header = node_header_budget(node);
            let mut empty = node.clone();
            empty.updates.clear();
            // The budget counts the update count at its largest (5 bytes).
            assert_eq!(encoded_len(&empty) + 4, header, "node header of {node:?}");
            for update in &node.updates {
                assert_eq!(
                    update_budget(update),
                    encoded_len(update),
                    "update {update:?}"
                );
            }
        }
    }
    // Framing keeps the payload whole.
    let framed = frame::encode(&bytes);
    let header: [u8; frame::HEADER_LEN] = framed[..frame::HEADER_LEN]
        .try_into()
        .unwrap_or_else(|_| unreachable!());
    assert_eq!(frame::body_len(header, usize::MAX), Ok(bytes.len()));
    assert_eq!(&framed[frame::HEADER_LEN..], &bytes[..]);
}
