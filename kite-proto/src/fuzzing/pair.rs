//! Target `converge`: two nodes exchange faulty traffic (drops, duplicates,
//! reordering, delays, corruption, failed streams, strangers' messages) and
//! local writes; after one clean, lossless exchange each node's view of the
//! other must equal the other's live state exactly.
//!
//! The wire format carries no authentication, so a corrupted message that
//! still decodes and lies about a node's state (a forged version, a forged
//! key) cannot be told from the truth by any receiver. Such forgeries are
//! the `node` target's business (they must not crash or corrupt the
//! bookkeeping); here they are filtered out: a corrupted payload is
//! delivered only when it no longer decodes, or when what it says about the
//! two nodes is exactly what the original said. Strangers' messages are
//! delivered only when they say nothing about the two nodes.

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};

use arbitrary::Arbitrary;

use super::mutate::{Mutation, claims};
use super::node::{Checker, check_output};
use super::{Key, Value, addr, id};
use crate::config::MIN_PACKET_SIZE;
use crate::wire::{self, Message};
use crate::{
    Config, Event, Node, NodeId, Output, RequestId, SeededRng, StreamError, StreamId, Timestamp,
};

/// Most gossip rounds the clean exchange may take.
pub const MAX_CLEAN_ROUNDS: usize = 200;

/// Most steps of one script that are run.
const MAX_STEPS: usize = 256;

/// Most datagrams in flight; older ones are lost.
const IN_FLIGHT: usize = 64;

/// The two nodes' configuration, chosen by the fuzzer.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct PairKnobs {
    /// Seeds the nodes' RNGs.
    pub seed: u64,
    /// `max_packet_size` is 512 plus this modulo 1024.
    pub packet: u16,
    /// `compact_threshold` is 1 + this modulo 8.
    pub compact: u8,
    /// Selects `suspicion_threshold` among 3, 8, 20 and 10^9.
    pub suspicion: u8,
    /// Before the clean exchange, every datagram still in flight arrives
    /// (late and stale) rather than being lost.
    pub flush_stale: bool,
}

/// A whole input of the `converge` target.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct PairScript {
    /// The nodes' configuration.
    pub knobs: PairKnobs,
    /// The faulty phase, in order.
    pub steps: Vec<PairStep>,
}

/// One event of the faulty phase. `second` picks node `n1` over `n0`.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum PairStep {
    /// A local upsert.
    Upsert {
        /// Which node.
        second: bool,
        /// The key.
        key: Key,
        /// The value.
        value: Value,
    },
    /// A local delete.
    Delete {
        /// Which node.
        second: bool,
        /// The key.
        key: Key,
    },
    /// Time passes; due deadlines are handled.
    Advance {
        /// Milliseconds.
        millis: u16,
    },
    /// One datagram in flight meets its fate.
    Deliver {
        /// Which datagram.
        pick: u8,
        /// Its fate.
        fault: Fault,
    },
    /// One open stream request meets its fate.
    Serve {
        /// Which request.
        pick: u8,
        /// Its fate.
        served: Served,
    },
    /// A stranger sends a message.
    Inject {
        /// To which node.
        second: bool,
        /// The message.
        message: Message,
        /// As a stream request rather than a datagram.
        request: bool,
    },
    /// A stranger sends bytes.
    Garbage {
        /// To which node.
        second: bool,
        /// The datagram.
        bytes: Vec<u8>,
    },
}

/// What happens to a datagram.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// It arrives.
    Deliver,
    /// It is lost.
    Drop,
    /// It arrives twice.
    Duplicate,
    /// It arrives mutated (forgeries are filtered, see the module docs).
    Mutate(Mutation),
}

/// What happens to a stream request.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Served {
    /// The peer gets the (mutated) request and its reply comes back.
    Serve(Mutation),
    /// The connection is refused.
    Refuse,
    /// The peer gets the request but the reply is lost (a timeout).
    LoseReply,
}

struct Pair {
    nodes: [Node; 2],
    now: Timestamp,
    /// Datagrams in flight: (to, bytes).
    in_flight: VecDeque<(usize, Vec<u8>)>,
    /// Open stream requests: (requester, id, destination, bytes).
    streams: Vec<(usize, RequestId, SocketAddr, Vec<u8>)>,
    /// Inbound streams awaiting a reply: (server, stream) -> requester, or
    /// `None` when the reply is to be lost.
    inbound: BTreeMap<(usize, StreamId), Option<(usize, RequestId)>>,
    next_stream: u64,
    /// Deliver everything at once (the clean phase).
    clean: bool,
    checkers: [Checker; 2],
    events: [Vec<Event>; 2],
}

fn index_of(to: SocketAddr) -> Option<usize> {
    (0..2).find(|&i| addr(i) == to)
}

/// The stranger every injected message comes from.
fn stranger() -> SocketAddr {
    SocketAddr::from(([10, 9, 9, 9], 7000))
}

/// Whether `mutated`, standing for `original`, says nothing false about
/// the two nodes (or does not decode at all).
fn honest(original: &[u8], mutated: &[u8], ids: &[&NodeId]) -> bool {
    let Ok(new) = wire::decode(mutated) else {
        return true;
    };
    let Ok(old) = wire::decode(original) else {
        return false;
    };
    let (new_nodes, new_entries) = claims(&new, ids);
    let (old_nodes, old_entries) = claims(&old, ids);
    new_nodes.iter().all(|n| old_nodes.contains(n))
        && new_entries.iter().all(|e| old_entries.contains(e))
}

/// Runs a `converge` script, panicking if an invariant breaks or the clean
/// exchange does not converge.
pub fn run_pair(script: &PairScript) {
    let knobs = &script.knobs;
    let make = |i: usize| {
        let mut c = Config::new(addr(i));
        c.node_id = Some(id(i));
        c.max_packet_size = MIN_PACKET_SIZE + usize::from(knobs.packet % 1024);
        c.compact_threshold = 1 + usize::from(knobs.compact % 8);
        c.suspicion_threshold = [3.0, 8.0, 20.0, 1e9][usize::from(knobs.suspicion % 4)];
        c.limits.max_value_len = 8192;
        Node::new(
            c,
            SeededRng::from_seed_u64(knobs.seed.wrapping_add(i as u64)),
            Timestamp::ZERO,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let nodes = [make(0), make(1)];
    let checkers = [Checker::new(&nodes[0]), Checker::new(&nodes[1])];
    let mut pair = Pair {
        nodes,
        now: Timestamp::ZERO,
        in_flight: VecDeque::new(),
        streams: Vec::new(),
        inbound: BTreeMap::new(),
        next_stream: 0,
        clean: false,
        checkers,
        events: [Vec::new(), Vec::new()],
    };
    // n1 joins through n0 (the join itself may be lost below).
    let _ = pair.nodes[1].join(Timestamp::ZERO, &[addr(0).to_string()]);
    pair.settle();
    for (n, step) in script.steps.iter().take(MAX_STEPS).enumerate() {
        let local = pair.step(step);
        pair.settle();
        if let Err(e) = pair.check(&local) {
            panic!("after step {n} ({step:?}): {e}");
        }
    }
    pair.clean_exchange(knobs.flush_stale);
}

impl Pair {
    fn ids(&self) -> [NodeId; 2] {
        [self.nodes[0].id().clone(), self.nodes[1].id().clone()]
    }

    /// Runs one step; returns which nodes had local writes.
    fn step(&mut self, step: &PairStep) -> [bool; 2] {
        let now = self.now;
        let mut local = [false; 2];
        match step {
            PairStep::Upsert { second, key, value } => {
                let i = usize::from(*second);
                let (key, value) = (key.text(), value.text());
                let result = self.nodes[i].upsert_local(&key, &value);
                if let Err(e) = self.checkers[i].local_write(&key, Some(&value), &result) {
                    panic!("{e}");
                }
                local[i] = true;
            }
            PairStep::Delete { second, key } => {
                let i = usize::from(*second);
                let key = key.text();
                let result = self.nodes[i].delete_local(&key);
                if let Err(e) = self.checkers[i].local_write(&key, None, &result) {
                    panic!("{e}");
                }
                local[i] = true;
            }
            PairStep::Advance { millis } => {
                self.now = now + Duration::from_millis(u64::from(*millis));
                for node in &mut self.nodes {
                    if node.next_timeout() <= self.now {
                        node.handle_timeout(self.now);
                    }
                }
            }
            PairStep::Deliver { pick, fault } => {
                if self.in_flight.is_empty() {
                    return local;
                }
                let i = usize::from(*pick) % self.in_flight.len();
                let Some((to, bytes)) = self.in_flight.remove(i) else {
                    return local;
                };
                let from = addr(1 - to);
                match fault {
                    Fault::Deliver => self.nodes[to].handle_datagram(now, from, &bytes),
                    Fault::Drop => {}
                    Fault::Duplicate => {
                        self.nodes[to].handle_datagram(now, from, &bytes);
                        self.nodes[to].handle_datagram(now, from, &bytes);
                    }
                    Fault::Mutate(mutation) => {
                        let mutated = mutation.apply(&bytes);
                        let ids = self.ids();
                        if mutation.is_honest() || honest(&bytes, &mutated, &[&ids[0], &ids[1]]) {
                            self.nodes[to].handle_datagram(now, from, &mutated);
                        }
                    }
                }
            }
            PairStep::Serve { pick, served } => {
                if self.streams.is_empty() {
                    return local;
                }
                let i = usize::from(*pick) % self.streams.len();
                let (requester, id, to, bytes) = self.streams.remove(i);
                let server = index_of(to).filter(|&s| s != requester);
                match (served, server) {
                    (Served::Serve(mutation), Some(server)) => {
                        let mutated = mutation.apply(&bytes);
                        let ids = self.ids();
                        if mutation.is_honest() || honest(&bytes, &mutated, &[&ids[0], &ids[1]]) {
                            self.open(server, Some((requester, id)), &mutated);
                        } else {
                            self.nodes[requester].handle_response(
                                now,
                                id,
                                Err(StreamError::TimedOut),
                            );
                        }
                    }
                    (Served::LoseReply, Some(server)) => {
                        self.open(server, None, &bytes);
                        self.nodes[requester].handle_response(now, id, Err(StreamError::TimedOut));
                    }
                    _ => self.nodes[requester].handle_response(
                        now,
                        id,
                        Err(StreamError::Connect("refused".into())),
                    ),
                }
            }
            PairStep::Inject {
                second,
                message,
                request,
            } => {
                let ids = self.ids();
                let (nodes, entries) = claims(message, &[&ids[0], &ids[1]]);
                if nodes.is_empty() && entries.is_empty() {
                    let to = usize::from(*second);
                    let bytes = wire::encode(message);
                    if *request {
                        self.open(to, None, &bytes);
                    } else {
                        self.nodes[to].handle_datagram(now, stranger(), &bytes);
                    }
                }
            }
            PairStep::Garbage { second, bytes } => {
                let ids = self.ids();
                let says_nothing = match wire::decode(bytes) {
                    Ok(msg) => {
                        let (nodes, entries) = claims(&msg, &[&ids[0], &ids[1]]);
                        nodes.is_empty() && entries.is_empty()
                    }
                    Err(_) => true,
                };
                if says_nothing {
                    self.nodes[usize::from(*second)].handle_datagram(now, stranger(), bytes);
                }
            }
        }
        local
    }

    /// Hands a stream request to `server`; its reply goes to `requester`.
    fn open(&mut self, server: usize, requester: Option<(usize, RequestId)>, bytes: &[u8]) {
        self.next_stream += 1;
        let stream = StreamId(self.next_stream);
        self.inbound.insert((server, stream), requester);
        let from = requester.map_or_else(stranger, |(r, _)| addr(r));
        self.nodes[server].handle_request(self.now, stream, from, bytes);
    }

    /// Carries out every output until both nodes are idle. In the faulty
    /// phase datagrams and stream requests wait in flight; in the clean
    /// phase they are delivered at once.
    fn settle(&mut self) {
        let mut work = VecDeque::new();
        loop {
            for i in 0..2 {
                loop {
                    let out = self.nodes[i].poll_output();
                    let node = &self.nodes[i];
                    if let Err(e) = check_output(
                        &out,
                        node.id(),
                        node.config().max_packet_size,
                        &node.config().limits,
                    ) {
                        panic!("{e}");
                    }
                    if matches!(out, Output::Timeout(_)) {
                        break;
                    }
                    work.push_back((i, out));
                }
            }
            if work.is_empty() {
                return;
            }
            while let Some((i, out)) = work.pop_front() {
                self.carry(i, out);
            }
        }
    }

    fn carry(&mut self, i: usize, out: Output) {
        let now = self.now;
        match out {
            Output::Transmit { to, payload } => {
                if let Some(j) = index_of(to).filter(|&j| j != i) {
                    if self.clean {
                        self.nodes[j].handle_datagram(now, addr(i), &payload);
                    } else {
                        self.in_flight.push_back((j, payload));
                        if self.in_flight.len() > IN_FLIGHT {
                            self.in_flight.pop_front();
                        }
                    }
                }
            }
            Output::Request { id, to, payload } => {
                let server = index_of(to).filter(|&j| j != i);
                match server {
                    Some(j) if self.clean => self.open(j, Some((i, id)), &payload),
                    Some(_) => self.streams.push((i, id, to, payload)),
                    None => self.nodes[i].handle_response(
                        now,
                        id,
                        Err(StreamError::Connect("nobody there".into())),
                    ),
                }
            }
            Output::Response { id, payload } => match self.inbound.remove(&(i, id)) {
                Some(Some((requester, request))) => {
                    let reply = payload.as_deref().ok_or(StreamError::Closed);
                    self.nodes[requester].handle_response(now, request, reply);
                }
                Some(None) => {}
                None => panic!("node {i} answered stream {id:?}, which is not open"),
            },
            Output::Resolve { name } => panic!("node {i} resolves {name:?} but joined no name"),
            Output::Event(event) => self.events[i].push(event),
            Output::Timeout(_) => {}
        }
    }

    fn check(&mut self, local: &[bool; 2]) -> Result<(), String> {
        for (i, local) in local.iter().enumerate() {
            let events = core::mem::take(&mut self.events[i]);
            self.checkers[i].check(&self.nodes[i], &events, *local)?;
        }
        Ok(())
    }

    /// Ends every open stream, delivers or loses what is in flight, then
    /// gossips losslessly until each node holds the other's exact state.
    fn clean_exchange(&mut self, flush_stale: bool) {
        let now = self.now;
        for (requester, id, ..) in core::mem::take(&mut self.streams) {
            self.nodes[requester].handle_response(now, id, Err(StreamError::TimedOut));
        }
        let stale = core::mem::take(&mut self.in_flight);
        self.clean = true;
        if flush_stale {
            for (to, bytes) in stale {
                self.nodes[to].handle_datagram(now, addr(1 - to), &bytes);
            }
        }
        self.settle();
        let interval = self.nodes[0].config().gossip_interval.mul_f64(1.1);
        for _ in 0..MAX_CLEAN_ROUNDS {
            if self.converged() {
                return;
            }
            self.now = self.now + interval;
            for node in &mut self.nodes {
                node.handle_timeout(self.now);
            }
            self.settle();
            if let Err(e) = self.check(&[false; 2]) {
                panic!("clean exchange: {e}");
            }
        }
        if !self.converged() {
            let views: Vec<_> = (0..2)
                .map(|i| {
                    let other = self.nodes[1 - i].id().clone();
                    (self.nodes[1 - i].local_node(), self.nodes[i].node(&other))
                })
                .collect();
            panic!("no convergence after {MAX_CLEAN_ROUNDS} clean rounds: {views:#?}");
        }
    }

    fn converged(&self) -> bool {
        (0..2).all(|i| {
            let truth = self.nodes[1 - i].local_node();
            self.nodes[i]
                .node(&truth.id)
                .is_some_and(|view| view.entries == truth.entries && view.version == truth.version)
        })
    }
}
