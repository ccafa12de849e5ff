//! Fuzzing support: a node's internal consistency and memory bounds, checked
//! by the harnesses in `kite_sim::fuzzing` after every input (through the
//! hidden `kite_proto::audit` hook).

use super::Node;
use super::exchange::MAX_PUSHES;

/// What a node holds beyond what its snapshots show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Known remote nodes.
    pub peers: usize,
    /// Ids awaiting their state.
    pub wanted: usize,
    /// Expired ids remembered.
    pub forgotten: usize,
    /// Outbound stream requests in flight.
    pub requests: usize,
    /// State pushes in flight.
    pub pushes: usize,
    /// Joined domain names watched.
    pub names: usize,
    /// Bytes charged to every node's state, the local one included.
    pub state_bytes: usize,
    /// Log slots of every node's state.
    pub log_slots: usize,
}

impl Node {
    /// Checks every state's bookkeeping and every bound that the limits
    /// promise, and reports the footprint.
    pub fn audit(&self) -> Result<Footprint, String> {
        let limits = &self.config.limits;
        let (bytes, slots) = self
            .local
            .audit()
            .map_err(|e| format!("local state: {e}"))?;
        if bytes > limits.max_node_state_bytes {
            return Err(format!("local state of {bytes} bytes is over the limit"));
        }
        let mut footprint = Footprint {
            peers: self.peers.len(),
            wanted: self.wanted.len(),
            forgotten: self.forgotten.len(),
            requests: self.requests.len(),
            pushes: self.pushes.len(),
            names: self.names.len(),
            state_bytes: bytes,
            log_slots: slots,
        };
        for (id, peer) in self.peers.iter() {
            let (bytes, slots) = peer
                .state
                .audit()
                .map_err(|e| format!("state of {id}: {e}"))?;
            if bytes > limits.max_node_state_bytes {
                return Err(format!("state of {id} is {bytes} bytes, over the limit"));
            }
            if *id == self.id {
                return Err("the local id is among the peers".to_owned());
            }
            if self.wanted.contains_key(id) || self.forgotten.contains_key(id) {
                return Err(format!("{id} is known and also wanted or forgotten"));
            }
            footprint.state_bytes += bytes;
            footprint.log_slots += slots;
        }
        self.peers.check_counts()?;
        self.peers.check_addresses()?;
        if self.wanted.contains_key(&self.id) || self.forgotten.contains_key(&self.id) {
            return Err("the local id is wanted or forgotten".to_owned());
        }
        let max = limits.max_nodes;
        if footprint.peers > max || footprint.wanted > max || footprint.forgotten > max {
            return Err(format!(
                "{} peers, {} wanted, {} forgotten: over max_nodes {max}",
                footprint.peers, footprint.wanted, footprint.forgotten
            ));
        }
        if footprint.pushes > MAX_PUSHES || footprint.pushes > footprint.requests {
            return Err(format!(
                "{} pushes in flight for {} requests",
                footprint.pushes, footprint.requests
            ));
        }
        Ok(footprint)
    }
}

#[cfg(test)]
mod tests {
    use core::net::SocketAddr;

    use crate::wire::{self, Delta, Digest, DigestEntry, Message, NodeDelta, Update, UpdateKind};
    use crate::{Config, Limits, Node, NodeId, Output, SeededRng, StreamId, Timestamp};

    fn id(i: usize) -> NodeId {
        NodeId::new(format!("n{i}")).unwrap()
    }

    fn addr(i: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1 + i as u8], 7000))
    }

    /// Regression (found by the `node` target): every made-up id arriving with
    /// a left marker was remembered, so a stream of them grew the forgotten set
    /// without bound. It now stays within `max_nodes`.
    #[test]
    fn left_newcomers_are_remembered_within_max_nodes() {
        let mut config = Config::new(addr(0));
        config.limits = Limits {
            max_nodes: 2,
            ..Limits::default()
        };
        let mut node = Node::new(config, SeededRng::from_seed_u64(1), Timestamp::ZERO).unwrap();
        for i in 0..100u64 {
            let id = NodeId::new(format!("gone-{i}")).unwrap();
            let msg = Message::Push {
                from: id.clone(),
                delta: Delta {
                    nodes: vec![NodeDelta {
                        id,
                        generation: 0,
                        addr: addr(1),
                        heartbeat: 1,
                        from_version: 0,
                        updates: vec![Update {
                            version: 1,
                            kind: UpdateKind::Left,
                        }],
                    }],
                },
            };
            let bytes = wire::encode(&msg);
            node.handle_request(Timestamp::from_millis(i), StreamId(i), addr(1), &bytes);
        }
        let footprint = node.audit().unwrap();
        assert!(footprint.forgotten <= 2, "{footprint:?}");
        assert_eq!(footprint.peers, 0);
    }

    /// Hardening (limits review): a digest naming the same node many times is
    /// answered with that node once, so a small datagram cannot make the node
    /// repeat its state up to the frame limit in a push.
    #[test]
    fn a_node_listed_twice_is_answered_once() {
        let mut config = Config::new(addr(0));
        config.node_id = Some(id(0));
        let mut node = Node::new(config, SeededRng::from_seed_u64(1), Timestamp::ZERO).unwrap();
        node.upsert_local("k", &"v".repeat(3000)).unwrap();
        let entry = DigestEntry {
            id: id(0),
            run: 0,
            heartbeat: 0,
            version: 0,
        };
        let msg = Message::DigestRequest {
            from: id(1),
            digest: Digest {
                complete: false,
                entries: vec![entry; 200],
            },
        };
        node.handle_datagram(Timestamp::ZERO, addr(1), &wire::encode(&msg));
        let mut sent = 0;
        loop {
            match node.poll_output() {
                Output::Timeout(_) => break,
                Output::Transmit { payload, .. } | Output::Request { payload, .. } => {
                    let Ok(Message::DigestResponse { delta, .. } | Message::Push { delta, .. }) =
                        wire::decode(&payload)
                    else {
                        continue;
                    };
                    assert!(delta.nodes.len() <= 1, "{} nodes", delta.nodes.len());
                    sent += delta.nodes.len();
                }
                _ => {}
            }
        }
        assert!(sent >= 1, "the node's state was not sent");
    }
}
