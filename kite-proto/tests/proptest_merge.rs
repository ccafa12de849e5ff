//! State merging under loss, duplication and reordering, and the datagram
//! size limit under random states.

mod support;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use kite_proto::{
    Config, Limits, Node, NodeId, Output, SeededRng, StreamError, StreamId, Timestamp,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Upsert(u8, String),
    Delete(u8),
    /// A gossip round whose datagrams are delivered with faults.
    Round {
        faults: Vec<(bool, bool)>,
        order: Vec<prop::sample::Index>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..12, "[a-z]{0,12}").prop_map(|(k, v)| Op::Upsert(k, v)),
        3 => (0u8..12).prop_map(Op::Delete),
        3 => (
            prop::collection::vec((any::<bool>(), any::<bool>()), 8),
            prop::collection::vec(any::<prop::sample::Index>(), 8),
        )
            .prop_map(|(faults, order)| Op::Round { faults, order }),
    ]
}

struct Pair {
    nodes: [Node; 2],
    addrs: [SocketAddr; 2],
    now: Timestamp,
    /// Datagrams in flight: (to node, bytes).
    in_flight: Vec<(usize, Vec<u8>)>,
}

impl Pair {
    fn new(seed: u64) -> Pair {
        let addrs = [support::addr(0), support::addr(1)];
        let make = |i: usize| {
            let mut c = Config::new(addrs[i]);
            c.node_id = Some(NodeId::new(format!("n{i}")).unwrap());
            c.compact_threshold = 4;
            c.suspicion_threshold = 1e9;
            Node::new(
                c,
                SeededRng::from_seed_u64(seed + i as u64),
                Timestamp::ZERO,
            )
            .unwrap()
        };
        Pair {
            nodes: [make(0), make(1)],
            addrs,
            now: Timestamp::ZERO,
            in_flight: Vec::new(),
        }
    }

    /// Moves node `i`'s outputs into flight; streams are served at once,
    /// losslessly or failed, as `stream_ok` says.
    fn collect(&mut self, i: usize, stream_ok: bool) {
        let mut queue = VecDeque::from([i]);
        while let Some(i) = queue.pop_front() {
            let j = 1 - i;
            loop {
                match self.nodes[i].poll_output() {
                    Output::Timeout(_) => break,
                    Output::Transmit { payload, .. } => self.in_flight.push((j, payload)),
                    Output::Request { id, payload, .. } => {
                        if stream_ok {
                            let now = self.now;
                            self.nodes[j].handle_request(
                                now,
                                StreamId(id.0),
                                self.addrs[i],
                                &payload,
                            );
                            let reply = loop {
                                match self.nodes[j].poll_output() {
                                    Output::Response { payload, .. } => break payload,
                                    Output::Transmit { payload, .. } => {
                                        self.in_flight.push((i, payload))
                                    }
                                    Output::Timeout(_) => break None,
                                    _ => {}
                                }
                            };
                            let reply = reply.ok_or(StreamError::Closed);
                            self.nodes[i].handle_response(
                                now,
                                id,
                                reply.as_deref().map_err(Clone::clone),
                            );
                        } else {
                            self.nodes[i].handle_response(self.now, id, Err(StreamError::TimedOut));
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn deliver(&mut self, to: usize, bytes: &[u8]) {
        let from = self.addrs[1 - to];
        self.nodes[to].handle_datagram(self.now, from, bytes);
    }

    fn version_of_a_at_b(&self) -> u64 {
        self.nodes[1]
            .node(self.nodes[0].id())
            .map_or(0, |n| n.version)
    }

    fn round(&mut self) {
        self.now = self.now + Duration::from_millis(600);
        let now = self.now;
        self.nodes[0].handle_timeout(now);
        self.nodes[1].handle_timeout(now);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn b_converges_on_a_live_map_after_one_lossless_exchange(
        seed in any::<u64>(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let mut p = Pair::new(seed);
        // B learns A over a lossless join.
        let target = p.addrs[0].to_string();
        p.nodes[1].join(p.now, &[target]).unwrap();
        p.collect(1, true);
        p.in_flight.clear();
        let mut seen = p.version_of_a_at_b();
        for op in ops {
            match op {
                Op::Upsert(k, v) => p.nodes[0].upsert_local(&format!("k{k}"), &v).unwrap(),
                Op::Delete(k) => p.nodes[0].delete_local(&format!("k{k}")).unwrap(),
                Op::Round { faults, order } => {
                    p.round();
                    p.collect(0, true);
                    p.collect(1, true);
                    let mut batch = std::mem::take(&mut p.in_flight);
                    // Drop some, duplicate some, keep some for later (reorder across rounds).
                    let mut now_batch = Vec::new();
                    for (n, (to, bytes)) in batch.drain(..).enumerate() {
                        let (drop, dup) = faults[n % faults.len()];
                        if drop && dup {
                            p.in_flight.push((to, bytes));
                            continue;
                        }
                        if drop {
                            continue;
                        }
                        if dup {
                            now_batch.push((to, bytes.clone()));
                        }
                        now_batch.push((to, bytes));
                    }
                    for (n, at) in order.iter().enumerate() {
                        if now_batch.len() > 1 {
                            let len = now_batch.len();
                            now_batch.swap(n % len, at.index(len));
                        }
                    }
                    for (to, bytes) in now_batch {
                        p.deliver(to, &bytes);
                        let v = p.version_of_a_at_b();
                        prop_assert!(v >= seen, "version went from {} to {}", seen, v);
                        seen = v;
                        p.collect(to, true);
                    }
                }
            }
        }
        // Stale packets still in flight arrive late, then one lossless exchange.
        for (to, bytes) in std::mem::take(&mut p.in_flight) {
            p.deliver(to, &bytes);
            let v = p.version_of_a_at_b();
            prop_assert!(v >= seen);
            seen = v;
        }
        p.collect(0, true);
        p.collect(1, true);
        p.in_flight.clear();
        p.round();
        p.collect(0, true);
        p.collect(1, true);
        while !p.in_flight.is_empty() {
            for (to, bytes) in std::mem::take(&mut p.in_flight) {
                p.deliver(to, &bytes);
                p.collect(to, true);
            }
        }
        let a_live = p.nodes[0].local_node().entries;
        let b_view = p.nodes[1].node(p.nodes[0].id()).expect("B knows A").entries;
        prop_assert_eq!(b_view, a_live);
    }
}

fn long_id(i: usize, len: usize) -> NodeId {
    let mut s = format!("{i}-");
    while s.len() < len {
        s.push('x');
    }
    NodeId::new(s).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_datagram_fits_max_packet_size(
        packet in 512usize..2000,
        id_len in 8usize..=64,
        writes in prop::collection::vec((0usize..4, 1usize..=64, 0usize..=3000), 1..40),
        v6 in any::<bool>(),
    ) {
        let limits = Limits { max_key_len: 64, max_value_len: 3000, ..Limits::default() };
        let mut net = support::Net::new(0, |_| {});
        for i in 0..4 {
            let mut c = support::config(i);
            if v6 {
                c.advertise_addr = SocketAddr::new(
                    std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0xffff, 1 + i as u16).into(),
                    65535,
                );
            }
            c.node_id = Some(long_id(i, id_len));
            c.max_packet_size = packet;
            c.limits = limits.clone();
            net.add(c);
        }
        net.form();
        for (node, key_len, value_len) in writes {
            let key: String = std::iter::repeat_n('k', key_len).collect();
            let key = format!("{}{}", key.len(), &key[..key_len - key_len.to_string().len().min(key_len)]);
            let value: String = std::iter::repeat_n('v', value_len).collect();
            net.nodes[node].upsert_local(&key, &value).unwrap();
        }
        net.run_for(Duration::from_secs(4));
        for (from, _, bytes) in &net.datagrams {
            prop_assert!(bytes.len() <= packet, "node {} sent {} > {}", from, bytes.len(), packet);
        }
        // And the state still converged.
        for i in 0..4 {
            for j in 0..4 {
                let id = net.id(j);
                let view = net.nodes[i].node(&id).map(|n| n.entries);
                prop_assert_eq!(view, Some(net.nodes[j].local_node().entries));
            }
        }
    }
}
