//! Security: the cluster label, the sealed envelope, the keyring and its
//! rotation, rolling enablement, and what is refused and counted. Nodes are
//! driven by hand over a perfect in-memory network (`Net`), which records
//! every datagram and stream message so tests can tamper with them and
//! replay them.

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::BTreeMap;

use kite_proto::wire::envelope::Nonces;
use kite_proto::wire::{self, Message, envelope};
use kite_proto::{
    Config, ConfigError, Event, Key, Node, NodeId, NodeStatus, Output, RequestId, Security,
    SecurityError, SecurityMode, SeededRng, StreamError, StreamId, Timestamp,
};
use proptest::prelude::*;

fn key(n: u8) -> Key {
    Key::from_bytes([n; 32])
}

fn security(label: &str, keys: &[u8], mode: SecurityMode) -> Security {
    Security {
        label: label.into(),
        keys: keys.iter().map(|&n| key(n)).collect(),
        mode,
    }
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1 + i as u8], 7000))
}

fn config(i: usize, security: Security) -> Config {
    let mut c = Config::new(addr(i));
    c.node_id = Some(NodeId::new(format!("n{i}")).unwrap());
    c.security = security;
    c
}

fn node(i: usize, security: Security) -> Node {
    Node::new(
        config(i, security),
        SeededRng::from_seed_u64(i as u64 + 1),
        Timestamp::ZERO,
    )
    .unwrap()
}

/// One message that crossed the network: sender, receiver, bytes.
#[derive(Clone)]
struct Sent {
    from: usize,
    to: usize,
    bytes: Vec<u8>,
}

/// A perfect network between nodes `n0`, `n1`, ... at `addr(i)`, driven by
/// hand; every output is carried out at once.
struct Net {
    nodes: Vec<Node>,
    now: Timestamp,
    events: Vec<Vec<Event>>,
    datagrams: Vec<Sent>,
    requests: Vec<Sent>,
    replies: Vec<Sent>,
    /// Inbound stream id -> (requesting node, its request id).
    streams: BTreeMap<u64, (usize, RequestId)>,
    next_stream: u64,
}

impl Net {
    fn new(securities: Vec<Security>) -> Net {
        let nodes: Vec<Node> = securities
            .into_iter()
            .enumerate()
            .map(|(i, s)| node(i, s))
            .collect();
        Net {
            events: vec![Vec::new(); nodes.len()],
            nodes,
            now: Timestamp::ZERO,
            datagrams: Vec::new(),
            requests: Vec::new(),
            replies: Vec::new(),
            streams: BTreeMap::new(),
            next_stream: 0,
        }
    }

    /// Nodes `1..` join through `n0`, then gossip for a few rounds.
    fn formed(securities: Vec<Security>) -> Net {
        let mut net = Net::new(securities);
        for i in 1..net.nodes.len() {
            net.nodes[i].join(net.now, &[addr(0).to_string()]).unwrap();
        }
        net.rounds(10);
        net
    }

    fn index(&self, to: SocketAddr) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| addr(i) == to)
    }

    /// Carries out every output until every node is idle.
    fn deliver(&mut self) {
        loop {
            let mut busy = false;
            for i in 0..self.nodes.len() {
                loop {
                    let out = self.nodes[i].poll_output();
                    if matches!(out, Output::Timeout(_)) {
                        break;
                    }
                    busy = true;
                    self.carry_out(i, out);
                }
            }
            if !busy {
                return;
            }
        }
    }

    fn carry_out(&mut self, i: usize, out: Output) {
        let now = self.now;
        match out {
            Output::Transmit { to, payload } => {
                if let Some(j) = self.index(to) {
                    self.datagrams.push(Sent {
                        from: i,
                        to: j,
                        bytes: payload.clone(),
                    });
                    self.nodes[j].handle_datagram(now, addr(i), &payload);
                }
            }
            Output::Request { id, to, payload } => match self.index(to) {
                Some(j) => {
                    self.requests.push(Sent {
                        from: i,
                        to: j,
                        bytes: payload.clone(),
                    });
                    let stream = self.next_stream;
                    self.next_stream += 1;
                    self.streams.insert(stream, (i, id));
                    self.nodes[j].handle_request(now, StreamId(stream), addr(i), &payload);
                }
                None => {
                    let refused = Err(StreamError::Connect("refused".into()));
                    self.nodes[i].handle_response(now, id, refused);
                }
            },
            Output::Response { id, payload } => {
                let (j, request) = self.streams.remove(&id.0).unwrap();
                if let Some(bytes) = &payload {
                    self.replies.push(Sent {
                        from: i,
                        to: j,
                        bytes: bytes.clone(),
                    });
                }
                let reply = payload.as_deref().ok_or(StreamError::Closed);
                self.nodes[j].handle_response(now, request, reply);
            }
            Output::Event(event) => self.events[i].push(event),
            Output::Resolve { .. } | Output::Timeout(_) => {}
        }
    }

    /// `n` gossip intervals, every output carried out after each.
    fn rounds(&mut self, n: usize) {
        self.deliver();
        for _ in 0..n {
            self.now = self.now + Duration::from_millis(500);
            for node in &mut self.nodes {
                node.handle_timeout(self.now);
            }
            self.deliver();
        }
    }

    /// Whether every node sees every other alive.
    fn is_formed(&self) -> bool {
        let n = self.nodes.len();
        self.nodes
            .iter()
            .all(|node| node.peer_count(NodeStatus::Alive) == n - 1)
    }

    /// Node `i` writes `key = value`; true once every other node sees it
    /// within `rounds` rounds.
    fn spreads(&mut self, i: usize, key: &str, value: &str, rounds: usize) -> bool {
        self.nodes[i].upsert_local(key, value).unwrap();
        let id = self.nodes[i].id().clone();
        for _ in 0..rounds {
            self.rounds(1);
            let seen = (0..self.nodes.len()).filter(|&j| j != i).all(|j| {
                self.nodes[j]
                    .node(&id)
                    .is_some_and(|view| view.entries.get(key).map(String::as_str) == Some(value))
            });
            if seen {
                return true;
            }
        }
        false
    }

    fn rejections(&self) -> u64 {
        self.nodes
            .iter()
            .map(|node| node.stats().rejected.total())
            .sum()
    }

    fn downs(&self) -> usize {
        self.events
            .iter()
            .flatten()
            .filter(|e| matches!(e, Event::NodeDown { .. }))
            .count()
    }
}

#[test]
fn nodes_sharing_a_key_form_a_cluster_and_nothing_travels_in_clear() {
    let s = security("prod", &[1], SecurityMode::Encrypted);
    let mut net = Net::formed(vec![s.clone(), s.clone(), s]);
    assert!(net.is_formed());
    assert!(net.spreads(2, "rpc_addr", "a-very-recognisable-value", 10));
    assert_eq!(net.rejections(), 0);
    let all = net
        .datagrams
        .iter()
        .chain(&net.requests)
        .chain(&net.replies);
    for sent in all {
        assert_eq!(sent.bytes[0], envelope::SEALED, "sent in clear");
        let clear = b"a-very-recognisable-value";
        assert!(!sent.bytes.windows(clear.len()).any(|w| w == clear));
    }
}

#[test]
fn the_same_seeds_seal_the_same_bytes() {
    let s = security("", &[1], SecurityMode::Encrypted);
    let a = Net::formed(vec![s.clone(), s.clone()]);
    let b = Net::formed(vec![s.clone(), s]);
    let bytes =
        |net: &Net| -> Vec<Vec<u8>> { net.datagrams.iter().map(|d| d.bytes.clone()).collect() };
    assert!(!a.datagrams.is_empty());
    assert_eq!(bytes(&a), bytes(&b));
}

#[test]
fn other_keys_or_labels_do_not_form_a_cluster() {
    use SecurityMode::{Encrypted, Plaintext};
    let cases = [
        (security("", &[1], Encrypted), security("", &[2], Encrypted)),
        (security("a", &[], Plaintext), security("b", &[], Plaintext)),
        (security("", &[], Plaintext), security("b", &[], Plaintext)),
        (
            security("a", &[1], Encrypted),
            security("b", &[1], Encrypted),
        ),
        (security("", &[1], Encrypted), security("", &[], Plaintext)),
    ];
    for (ours, theirs) in cases {
        let case = format!("{ours:?} / {theirs:?}");
        let mut net = Net::formed(vec![ours.clone(), theirs.clone()]);
        assert_eq!(net.nodes[0].peer_count(NodeStatus::Alive), 0, "{case}");
        assert_eq!(net.nodes[1].peer_count(NodeStatus::Alive), 0, "{case}");
        let failed = net.events[1]
            .iter()
            .any(|e| matches!(e, Event::JoinCompleted { result: Err(_), .. }));
        assert!(failed, "{case}: the join did not fail");
        let rejected = net.nodes[0].stats().rejected;
        let expected = if ours.label != theirs.label {
            rejected.label
        } else if theirs.keys.is_empty() {
            rejected.plaintext
        } else {
            rejected.unknown_key
        };
        assert!(expected > 0, "{case}: {rejected:?}");
        assert_eq!(rejected.total(), expected, "{case}: {rejected:?}");
        assert!(!net.spreads(0, "k", "v", 5), "{case}");
    }
}

#[test]
fn a_ring_opens_what_any_of_its_keys_sealed() {
    let ring = security("prod", &[1, 2, 3], SecurityMode::Encrypted);
    let message = wire::encode(&Message::Ack {
        from: NodeId::new("a").unwrap(),
    });
    let mut rng = SeededRng::from_seed_u64(9);
    for n in [1, 2, 3] {
        let sender = security("prod", &[n], SecurityMode::Encrypted);
        let sealed = envelope::seal(&sender, message.clone(), &mut Nonces::default(), &mut rng);
        assert_eq!(sealed.len(), message.len() + envelope::overhead(&sender));
        assert_eq!(
            envelope::open(&ring, &sealed).as_deref(),
            Ok(&message[..]),
            "key {n}"
        );
    }
    // And between nodes: a node whose primary is another key of the ring.
    let theirs = security("prod", &[3, 1], SecurityMode::Encrypted);
    let mut net = Net::formed(vec![ring, theirs]);
    assert!(net.is_formed());
    assert!(net.spreads(0, "k", "v", 5));
    assert!(net.spreads(1, "k", "v", 5));
    assert_eq!(net.rejections(), 0);
}

/// The first sealed datagram `n1` sent `n0` while forming a cluster, the
/// request frame of its join, and `n0`'s reply.
fn captured(mode: SecurityMode) -> (Security, Vec<u8>, Vec<u8>, Vec<u8>) {
    let s = security("prod", &[1, 2], mode);
    let net = Net::formed(vec![s.clone(), s.clone()]);
    let datagram = net.datagrams.iter().find(|d| d.from == 1).unwrap();
    let request = net.requests.iter().find(|r| r.from == 1).unwrap();
    let reply = net.replies.iter().find(|r| r.to == 1).unwrap();
    assert_eq!(datagram.bytes[0], envelope::SEALED);
    (
        s,
        datagram.bytes.clone(),
        request.bytes.clone(),
        reply.bytes.clone(),
    )
}

fn flipped(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

/// Whether `node` did nothing but count one refusal.
fn refused_quietly(node: &mut Node) -> Result<(), String> {
    let stats = node.stats();
    let refused = stats.rejected.total() + stats.decode_errors;
    if refused != 1 {
        return Err(format!("{refused} refusals counted: {stats:?}"));
    }
    if stats.messages_in != Default::default() {
        return Err(format!("a message was taken in: {stats:?}"));
    }
    if node.nodes().len() != 1 {
        return Err("a node was learned".into());
    }
    loop {
        match node.poll_output() {
            Output::Timeout(_) => return Ok(()),
            Output::Response { payload: None, .. } => {}
            Output::Event(Event::JoinCompleted { result: Err(_), .. }) => {}
            out => return Err(format!("acted on it: {out:?}")),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn a_flipped_bit_in_a_sealed_datagram_is_refused(pick in 0usize..1 << 20, rolling: bool) {
        let mode = if rolling { SecurityMode::Rolling } else { SecurityMode::Encrypted };
        let (s, datagram, _, _) = captured(mode);
        let bad = flipped(&datagram, pick % (datagram.len() * 8));
        let mut n0 = node(0, s);
        n0.handle_datagram(Timestamp::ZERO, addr(1), &bad);
        prop_assert_eq!(refused_quietly(&mut n0), Ok(()));
    }

    #[test]
    fn a_flipped_bit_in_a_sealed_frame_is_refused(pick in 0usize..1 << 20, reply: bool) {
        let (s, _, request, response) = captured(SecurityMode::Encrypted);
        if reply {
            let bad = flipped(&response, pick % (response.len() * 8));
            let mut n1 = node(1, s);
            n1.join(Timestamp::ZERO, &[addr(0).to_string()]).unwrap();
            let Output::Request { id, .. } = n1.poll_output() else {
                panic!("no join request");
            };
            n1.handle_response(Timestamp::ZERO, id, Ok(&bad));
            prop_assert_eq!(refused_quietly(&mut n1), Ok(()));
        } else {
            let bad = flipped(&request, pick % (request.len() * 8));
            let mut n0 = node(0, s);
            n0.handle_request(Timestamp::ZERO, StreamId(0), addr(1), &bad);
            prop_assert_eq!(refused_quietly(&mut n0), Ok(()));
        }
    }
}

#[test]
fn each_refusal_is_counted_under_its_reason() {
    let ours = security("prod", &[1], SecurityMode::Encrypted);
    let message = wire::encode(&Message::DigestRequest {
        from: NodeId::new("n1").unwrap(),
        digest: Default::default(),
    });
    let mut rng = SeededRng::from_seed_u64(3);
    let mut tampered = envelope::seal(&ours, message.clone(), &mut Nonces::default(), &mut rng);
    *tampered.last_mut().unwrap() ^= 1;
    let cases = [
        (
            "unknown key",
            envelope::seal(
                &security("prod", &[9], SecurityMode::Encrypted),
                message.clone(),
                &mut Nonces::default(),
                &mut rng,
            ),
        ),
        (
            "label",
            envelope::seal(
                &security("test", &[1], SecurityMode::Encrypted),
                message.clone(),
                &mut Nonces::default(),
                &mut rng,
            ),
        ),
        ("auth", tampered),
        (
            "plaintext",
            envelope::seal(
                &security("prod", &[1], SecurityMode::Plaintext),
                message.clone(),
                &mut Nonces::default(),
                &mut rng,
            ),
        ),
        ("label (none)", message.clone()),
    ];
    for (reason, bytes) in cases {
        let mut n0 = node(0, ours.clone());
        n0.handle_datagram(Timestamp::ZERO, addr(1), &bytes);
        let r = n0.stats().rejected;
        let counted = match reason {
            "unknown key" => r.unknown_key,
            "label" | "label (none)" => r.label,
            "auth" => r.auth,
            _ => r.plaintext,
        };
        assert_eq!((counted, r.total()), (1, 1), "{reason}: {r:?}");
        assert_eq!(refused_quietly(&mut n0), Ok(()), "{reason}");
    }
}

#[test]
fn plaintext_is_refused_when_encrypted_and_taken_when_rolling() {
    use SecurityMode::{Encrypted, Plaintext, Rolling};
    // n1 holds the key but still sends in clear (the first step of a
    // rolling enablement).
    let keyed_plaintext = security("", &[1], Plaintext);
    let net = Net::formed(vec![security("", &[1], Encrypted), keyed_plaintext.clone()]);
    assert_eq!(net.nodes[0].peer_count(NodeStatus::Alive), 0);
    assert!(net.nodes[0].stats().rejected.plaintext > 0);

    let mut net = Net::formed(vec![security("", &[1], Rolling), keyed_plaintext]);
    assert!(net.is_formed());
    assert!(net.spreads(0, "k", "v", 5));
    assert!(net.spreads(1, "k", "v", 5));
    assert_eq!(net.rejections(), 0);
    // n0 sends sealed, n1 in clear, and each takes the other's.
    assert!(
        net.datagrams
            .iter()
            .all(|d| (d.bytes[0] == envelope::SEALED) == (d.from == 0))
    );
}

#[test]
fn keys_rotate_on_a_running_cluster() {
    let s = security("", &[1], SecurityMode::Encrypted);
    let mut net = Net::formed(vec![s.clone(), s.clone(), s]);
    assert!(net.is_formed());
    let (k1, k2) = (key(1), key(2));
    let mut step = 0;
    let mut check = |net: &mut Net, what: &str| {
        for i in 0..3 {
            step += 1;
            assert!(
                net.spreads(i, "step", &step.to_string(), 10),
                "{what}: from n{i}"
            );
        }
        assert_eq!(net.rejections(), 0, "{what}");
        assert_eq!(net.downs(), 0, "{what}");
    };
    for node in &mut net.nodes {
        node.install_key(k2.clone());
        assert_eq!(node.keys(), [k1.hint(), k2.hint()]);
    }
    check(&mut net, "k2 installed everywhere");
    net.nodes[0].use_key(&k2).unwrap();
    assert_eq!(net.nodes[0].keys(), [k2.hint(), k1.hint()]);
    check(&mut net, "k2 in use at n0 only");
    for node in &mut net.nodes[1..] {
        node.use_key(&k2).unwrap();
    }
    check(&mut net, "k2 in use everywhere");
    for node in &mut net.nodes {
        assert_eq!(
            node.remove_key(&k2),
            Err(SecurityError::RemovePrimary { hint: k2.hint() })
        );
        node.remove_key(&k1).unwrap();
        assert_eq!(node.keys(), [k2.hint()]);
    }
    check(&mut net, "k1 removed everywhere");
    assert_eq!(
        net.nodes[0].use_key(&k1),
        Err(SecurityError::NotInstalled { hint: k1.hint() })
    );
    assert_eq!(
        net.nodes[0].remove_key(&k1),
        Err(SecurityError::NotInstalled { hint: k1.hint() })
    );
}

#[test]
fn encryption_is_enabled_node_by_node_without_a_false_down() {
    use SecurityMode::{Encrypted, Plaintext, Rolling};
    let s = security("prod", &[], Plaintext);
    let mut net = Net::formed(vec![s.clone(), s.clone(), s]);
    assert!(net.is_formed());
    assert_eq!(
        net.nodes[0].set_security_mode(Rolling),
        Err(SecurityError::NoKey { mode: Rolling })
    );
    let mut step = 0;
    let mut check = |net: &mut Net, what: &str| {
        for i in 0..3 {
            step += 1;
            assert!(
                net.spreads(i, "step", &step.to_string(), 10),
                "{what}: from n{i}"
            );
        }
        assert!(net.is_formed(), "{what}");
        assert_eq!(net.rejections(), 0, "{what}");
        assert_eq!(net.downs(), 0, "{what}");
    };
    for node in &mut net.nodes {
        node.install_key(key(1));
    }
    check(&mut net, "key installed");
    for mode in [Rolling, Encrypted] {
        for i in 0..3 {
            net.nodes[i].set_security_mode(mode).unwrap();
            assert_eq!(net.nodes[i].config().security.mode, mode);
            check(&mut net, &format!("n{i} {mode:?}"));
        }
    }
    let before = net.datagrams.len();
    net.rounds(3);
    assert!(
        net.datagrams[before..]
            .iter()
            .all(|d| d.bytes[0] == envelope::SEALED)
    );
}

/// Four nodes with 150 keys of 40-byte values each, the longest label and
/// encryption on, joined and gossiping with `max_packet_size` datagrams.
fn large_state(max_packet_size: usize) -> Net {
    let label = "l".repeat(kite_proto::security::MAX_LABEL_LEN);
    let s = security(&label, &[1], SecurityMode::Encrypted);
    let mut net = Net::new(vec![s; 4]);
    for (i, node) in net.nodes.iter_mut().enumerate() {
        let mut c = config(i, node.config().security.clone());
        c.max_packet_size = max_packet_size;
        *node = Node::new(c, SeededRng::from_seed_u64(i as u64), Timestamp::ZERO).unwrap();
        for k in 0..150 {
            node.upsert_local(&format!("key-{k:03}"), &"v".repeat(40))
                .unwrap();
        }
    }
    for i in 1..4 {
        net.nodes[i].join(net.now, &[addr(0).to_string()]).unwrap();
    }
    net.rounds(30);
    net
}

#[test]
fn no_datagram_exceeds_max_packet_size_when_sealed() {
    for max in [kite_proto::MIN_PACKET_SIZE, 1400] {
        let net = large_state(max);
        assert!(net.is_formed(), "{max}");
        let largest = net.datagrams.iter().map(|d| d.bytes.len()).max().unwrap();
        assert!(largest <= max, "{largest} bytes over {max}");
        // Filled up to the limit, not left half empty.
        assert!(largest + 100 > max, "{largest} bytes under {max}");
        let frame = net.nodes[0].config().limits.max_frame_len;
        assert!(
            net.requests
                .iter()
                .chain(&net.replies)
                .all(|r| r.bytes.len() <= frame)
        );
        for i in 0..4 {
            let id = net.nodes[i].id().clone();
            for j in 0..4 {
                assert_eq!(net.nodes[j].node(&id).unwrap().entries.len(), 150, "{max}");
            }
        }
        assert_eq!(net.rejections(), 0);
    }
}

#[test]
fn replaying_earlier_messages_changes_nothing() {
    let s = security("prod", &[1], SecurityMode::Encrypted);
    let mut net = Net::formed(vec![s.clone(), s]);
    for v in 0..5 {
        assert!(net.spreads(0, "counter", &v.to_string(), 5));
        assert!(net.spreads(0, &format!("gone-{v}"), "x", 5));
        net.nodes[0].delete_local(&format!("gone-{v}")).unwrap();
        net.rounds(3);
    }
    net.rounds(5);
    let n0 = net.nodes[0].id().clone();
    let view = net.nodes[1].node(&n0).unwrap();
    assert_eq!(view.entries.len(), 1);
    let events = net.events[1].len();
    let datagrams: Vec<Sent> = net
        .datagrams
        .iter()
        .filter(|d| d.to == 1)
        .cloned()
        .collect();
    let requests: Vec<Sent> = net.requests.iter().filter(|r| r.to == 1).cloned().collect();
    let replies: Vec<Sent> = net.replies.iter().filter(|r| r.to == 1).cloned().collect();
    assert!(datagrams.len() > 50);
    for order in [false, true] {
        let mut all = datagrams.clone();
        if order {
            all.reverse();
        }
        for d in &all {
            net.nodes[1].handle_datagram(net.now, addr(0), &d.bytes);
        }
        for (i, r) in requests.iter().enumerate() {
            net.nodes[1].handle_request(net.now, StreamId(1_000 + i as u64), addr(0), &r.bytes);
        }
        for r in &replies {
            // Replies to requests long answered: no request waits for them.
            net.nodes[1].handle_response(net.now, RequestId(0), Ok(&r.bytes));
        }
        // Whatever n1 answers goes nowhere.
        while !matches!(net.nodes[1].poll_output(), Output::Timeout(_)) {}
        assert_eq!(net.nodes[1].node(&n0).unwrap(), view);
    }
    assert_eq!(net.events[1].len(), events);
    assert_eq!(net.rejections(), 0);
}

#[test]
fn the_security_configuration_is_checked() {
    let check = |s: Security| {
        let mut c = Config::new(addr(0));
        c.security = s;
        c.validate()
    };
    assert_eq!(check(Security::default()), Ok(()));
    let long = "l".repeat(kite_proto::security::MAX_LABEL_LEN + 1);
    assert_eq!(
        check(security(&long, &[], SecurityMode::Plaintext)),
        Err(ConfigError::LabelTooLong { len: long.len() })
    );
    for mode in [SecurityMode::Rolling, SecurityMode::Encrypted] {
        assert_eq!(
            check(security("", &[], mode)),
            Err(ConfigError::NoKey { mode })
        );
        assert_eq!(check(security("", &[1], mode)), Ok(()));
    }
    assert_eq!(Security::default().mode, SecurityMode::Plaintext);
}

#[test]
fn an_envelope_reads_as_documented() {
    let message = wire::encode(&Message::Ack {
        from: NodeId::new("a").unwrap(),
    });
    assert_eq!(message, [3, 7, 1, b'a']);
    // Plaintext without a label: the message alone.
    let plain = security("", &[], SecurityMode::Plaintext);
    let mut rng = SeededRng::from_seed_u64(1);
    assert_eq!(
        envelope::seal(&plain, message.clone(), &mut Nonces::default(), &mut rng),
        message
    );
    // Plaintext with a label: marker 'L', label length, label, message.
    let labelled = security("prod", &[], SecurityMode::Plaintext);
    assert_eq!(
        envelope::seal(&labelled, message.clone(), &mut Nonces::default(), &mut rng),
        b"L\x04prod\x03\x07\x01a"
    );
    // Sealed: marker 'S', label length, label, 4-byte key hint, 12-byte
    // nonce (an 8-byte salt from the RNG, then a 4-byte counter from 0),
    // the message encrypted, the 16-byte tag.
    let sealed = security("prod", &[7], SecurityMode::Encrypted);
    let mut nonces = Nonces::default();
    let bytes = envelope::seal(
        &sealed,
        message.clone(),
        &mut nonces,
        &mut SeededRng::from_seed_u64(1),
    );
    let mut salt = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut SeededRng::from_seed_u64(1), &mut salt);
    assert_eq!(&bytes[..6], b"S\x04prod");
    assert_eq!(bytes[6..10], key(7).hint().to_bytes());
    assert_eq!(bytes[10..18], salt);
    assert_eq!(bytes[18..22], [0, 0, 0, 0]);
    assert_eq!(bytes.len(), 22 + message.len() + 16);
    assert_eq!(envelope::overhead(&sealed), 34 + 4);
    assert_eq!(envelope::overhead(&labelled), 2 + 4);
    assert_eq!(envelope::overhead(&plain), 0);
    assert_eq!(
        hex(&bytes),
        "5304 70726f64 ".replace(' ', "")
            + &hex(&key(7).hint().to_bytes())
            + &hex(&salt)
            + "00000000"
            + &SEALED_ACK_CIPHERTEXT_AND_TAG.replace(' ', "")
    );
    assert_eq!(key(7).hint().to_string(), KEY_7_HINT);
    // The next message of the same sender: the same salt, counter 1.
    let next = envelope::seal(
        &sealed,
        message,
        &mut nonces,
        &mut SeededRng::from_seed_u64(99),
    );
    assert_eq!(next[10..18], salt);
    assert_eq!(next[18..22], [0, 0, 0, 1]);
}

/// The encryption of `03 07 01 61` and its tag under key `07 × 32`, the
/// nonce of `SeededRng::from_seed_u64(1)`'s first 8 bytes and counter 0,
/// and the header `S 04 prod hint` as associated data. Computed
/// independently (Python's `cryptography` ChaCha20Poly1305), as was the
/// hint: the first 4 bytes of the tag of the empty message with associated
/// data `kite key hint v1` under the all-zero nonce.
const SEALED_ACK_CIPHERTEXT_AND_TAG: &str = "76d49f75 ac6b4f8f8f8c35b5b33ddf92a5bf9564";
const KEY_7_HINT: &str = "c0684419";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
