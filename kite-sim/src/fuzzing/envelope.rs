//! Target `envelope`: any bytes opened as a datagram or stream frame under
//! a fixed keyring, in every security mode, and sealed and opened again.

use core::net::SocketAddr;

use kite_proto::wire::envelope::{self, Nonces, SEALED};
use kite_proto::{
    Config, Key, Node, Output, Security, SecurityMode, SeededRng, StreamId, Timestamp,
};

use super::oracle::check_output;
use super::{addr, id};

/// The label every input is opened under.
const LABEL: &str = "fuzz";

/// The keyring every input is opened under, in `mode`: label `fuzz`, keys
/// `01 × 32` (primary) and `02 × 32`.
pub(super) fn ring(mode: SecurityMode) -> Security {
    Security {
        label: LABEL.into(),
        keys: vec![Key::from_bytes([1; 32]), Key::from_bytes([2; 32])],
        mode,
    }
}

/// Target `envelope`: `data` as a received envelope, and as a message to
/// seal.
///
/// Checks that opening never panics and yields either a typed rejection or
/// a message no longer than the input, plaintext only in a mode that takes
/// it; that a node under the ring takes `data` as a datagram and as a
/// stream request with exactly one reply, counting a refusal for each input
/// its envelope refuses, and that whatever it sends opens under the ring
/// and passes the single-node checks; and that `data` sealed under either
/// key opens to itself under the ring, while the sealed bytes with one bit
/// flipped (the bit chosen from `data`) are refused.
pub fn open_envelope(data: &[u8]) {
    for mode in [
        SecurityMode::Plaintext,
        SecurityMode::Rolling,
        SecurityMode::Encrypted,
    ] {
        let security = ring(mode);
        if let Ok(message) = envelope::open(&security, data) {
            assert!(message.len() <= data.len(), "opened into more than came");
            assert!(
                data.first() == Some(&SEALED) || mode.takes_plaintext(),
                "plaintext taken in {mode:?}"
            );
            // Whatever opened is decoded as any input is (target `decode`).
            let _ = kite_proto::wire::decode(&message);
        }
    }
    feed_node(data);
    round_trip(data);
}

/// A node under the ring (encrypted) takes `data` as a datagram and as a
/// stream request.
fn feed_node(data: &[u8]) {
    let security = ring(SecurityMode::Encrypted);
    let refused = envelope::open(&security, data).is_err();
    let mut config = Config::new(addr(0));
    config.node_id = Some(id(0));
    config.security = security.clone();
    let mut node = Node::new(config, SeededRng::from_seed_u64(0), Timestamp::ZERO)
        .unwrap_or_else(|e| panic!("{e}"));
    let from: SocketAddr = addr(1);
    node.handle_datagram(Timestamp::from_millis(1), from, data);
    node.handle_request(Timestamp::from_millis(2), StreamId(0), from, data);
    let stats = node.stats();
    assert_eq!(stats.datagrams_in, 1);
    if refused {
        assert_eq!(stats.rejected.total(), 2, "refusals not counted: {stats:?}");
    }
    let limits = node.config().limits.clone();
    let max_packet = node.config().max_packet_size;
    let mut responses = 0;
    loop {
        let out = node.poll_output();
        let payload = match &out {
            Output::Timeout(_) => break,
            Output::Transmit { payload, .. } | Output::Request { payload, .. } => Some(payload),
            Output::Response { id, payload } => {
                assert_eq!(*id, StreamId(0));
                responses += 1;
                payload.as_ref()
            }
            Output::Event(_) | Output::Resolve { .. } => None,
        };
        let Some(payload) = payload else {
            continue;
        };
        let over = match out {
            Output::Transmit { .. } => max_packet,
            _ => limits.max_frame_len,
        };
        assert!(payload.len() <= over, "{} bytes over {over}", payload.len());
        assert_eq!(payload[0], SEALED, "sent in clear: {out:?}");
        let opened = envelope::open(&security, payload)
            .unwrap_or_else(|r| panic!("its own output refused ({r}): {out:?}"))
            .into_owned();
        // The message inside, checked as a plaintext node's output would be,
        // against the limits less the envelope.
        let inner = match out {
            Output::Transmit { to, .. } => Output::Transmit {
                to,
                payload: opened,
            },
            Output::Request { id, to, .. } => Output::Request {
                id,
                to,
                payload: opened,
            },
            Output::Response { id, .. } => Output::Response {
                id,
                payload: Some(opened),
            },
            other => other,
        };
        check_output(&inner, node.id(), max_packet, &limits).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(responses, 1, "one request, {responses} responses");
    node.audit().unwrap_or_else(|e| panic!("{e}"));
}

/// `data` sealed under each key opens to itself under the ring; one bit
/// flipped, it is refused.
fn round_trip(data: &[u8]) {
    let ring = ring(SecurityMode::Encrypted);
    let bit = data.iter().fold(data.len(), |h, &b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    });
    let mut rng = SeededRng::from_seed_u64(data.len() as u64);
    for primary in 0..ring.keys.len() {
        let mut sender = ring.clone();
        sender.keys.rotate_left(primary);
        let sealed = envelope::seal(&sender, data.to_vec(), &mut Nonces::default(), &mut rng);
        assert_eq!(sealed.len(), data.len() + envelope::overhead(&sender));
        assert_eq!(
            envelope::open(&ring, &sealed).as_deref(),
            Ok(data),
            "no round trip under key {primary}"
        );
        let mut flipped = sealed;
        let bit = bit % (flipped.len() * 8);
        flipped[bit / 8] ^= 1 << (bit % 8);
        assert!(
            envelope::open(&ring, &flipped).is_err(),
            "bit {bit} flipped and still opened"
        );
    }
}

/// The seeds of target `envelope`: every committed wire vector sealed
/// under the ring's primary key; the first also under its second key,
/// labelled in clear, and bare.
pub(super) fn envelope_seeds() -> Vec<(String, Vec<u8>)> {
    let mut rng = SeededRng::from_seed_u64(0x656e_7665);
    let sealed = ring(SecurityMode::Encrypted);
    let mut out: Vec<(String, Vec<u8>)> = super::vectors()
        .into_iter()
        .map(|(name, bytes)| {
            let seed = envelope::seal(&sealed, bytes, &mut Nonces::default(), &mut rng);
            (format!("seed-{name}-sealed"), seed)
        })
        .collect();
    if let Some((name, bytes)) = super::vectors().into_iter().next() {
        let mut second = sealed.clone();
        second.keys.rotate_left(1);
        let labelled = ring(SecurityMode::Plaintext);
        let bare = Security::default();
        for (form, security) in [
            ("sealed-second-key", second),
            ("labelled", labelled),
            ("bare", bare),
        ] {
            let seed = envelope::seal(&security, bytes.clone(), &mut Nonces::default(), &mut rng);
            out.push((format!("seed-{name}-{form}"), seed));
        }
    }
    out
}
