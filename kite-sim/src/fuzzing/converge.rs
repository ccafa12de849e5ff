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
//!
//! The two nodes run in the simulator ([`Sim`]) on hosts `h0` and `h1`,
//! with its invariant checks; during the faulty phase their traffic is held
//! for the script to deliver (see `Sim::hold_traffic`), and the clean
//! exchange runs over perfect links.

use core::net::SocketAddr;
use core::time::Duration;

use kite_proto::wire::{self, Message};
use kite_proto::{Event, MIN_PACKET_SIZE, NodeId, Output};

use super::grammar::{Fault, MAX_CLEAN_ROUNDS, MAX_STEPS, PairScript, PairStep, Served};
use super::id;
use super::mutate::claims;
use super::oracle::{Checker, check_output};
use crate::sim::{HeldDatagram, HeldRequest};
use crate::{HostId, LinkModel, NetworkModel, Sim};

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

/// Whether `msg` says nothing about the two nodes.
fn says_nothing(msg: &Message, ids: &[&NodeId]) -> bool {
    let (nodes, entries) = claims(msg, ids);
    nodes.is_empty() && entries.is_empty()
}

/// Runs a `converge` script, panicking if an invariant breaks or the clean
/// exchange does not converge.
pub fn run_pair(script: &PairScript) {
    let knobs = &script.knobs;
    let mut sim = Sim::builder(knobs.seed)
        .network(NetworkModel::default().link(LinkModel::perfect()))
        .node_config(|c| c.limits.max_value_len = 8192)
        .build();
    sim.hold_traffic(true);
    let hosts = [0, 1].map(|i| {
        sim.add_node_with(|c| {
            c.node_id = Some(id(i));
            c.max_packet_size = MIN_PACKET_SIZE + usize::from(knobs.packet % 1024);
            c.compact_threshold = 1 + usize::from(knobs.compact % 8);
            c.suspicion_threshold = [3.0, 8.0, 20.0, 1e9][usize::from(knobs.suspicion % 4)];
        })
    });
    let checkers = hosts.map(|h| Checker::new(running(&sim, h)));
    let mut pair = Pair {
        sim,
        hosts,
        checkers,
        seen: 0,
    };
    // h1 joins through h0 (the join itself may be lost below).
    let _ = pair.sim.join(hosts[1], &[hosts[0].addr().to_string()]);
    pair.settle();
    for (n, step) in script.steps.iter().take(MAX_STEPS).enumerate() {
        let local = pair.step(step);
        pair.settle();
        if let Err(e) = pair.check(local) {
            panic!("after step {n} ({step:?}): {e}");
        }
    }
    pair.clean_exchange(knobs.flush_stale);
}

fn running(sim: &Sim, host: HostId) -> &kite_proto::Node {
    sim.node(host)
        .unwrap_or_else(|| panic!("{host} stopped running"))
}

/// The two nodes in the simulator, and their checks.
struct Pair {
    sim: Sim,
    hosts: [HostId; 2],
    checkers: [Checker; 2],
    /// Events of the log already checked.
    seen: usize,
}

impl Pair {
    fn ids(&self) -> [NodeId; 2] {
        self.hosts.map(|h| running(&self.sim, h).id().clone())
    }

    /// Runs one step; returns which nodes had local writes.
    fn step(&mut self, step: &PairStep) -> [bool; 2] {
        let mut local = [false; 2];
        let ids = self.ids();
        let ids = [&ids[0], &ids[1]];
        match step {
            PairStep::Upsert { second, key, value } => {
                let i = usize::from(*second);
                let (key, value) = (key.text(), value.text());
                let result = self.sim.upsert(self.hosts[i], &key, &value);
                if let Err(e) = self.checkers[i].local_write(&key, Some(&value), &result) {
                    panic!("{e}");
                }
                local[i] = true;
            }
            PairStep::Delete { second, key } => {
                let i = usize::from(*second);
                let key = key.text();
                let result = self.sim.delete(self.hosts[i], &key);
                if let Err(e) = self.checkers[i].local_write(&key, None, &result) {
                    panic!("{e}");
                }
                local[i] = true;
            }
            PairStep::Advance { millis } => {
                let run = self.sim.run_for(Duration::from_millis(u64::from(*millis)));
                run.unwrap_or_else(|failure| panic!("{failure}"));
            }
            PairStep::Deliver { pick, fault } => {
                let Some(datagram) = self.sim.take_held_datagram(usize::from(*pick)) else {
                    return local;
                };
                self.check_datagram(&datagram);
                let HeldDatagram { from, to, payload } = datagram;
                let from = from.addr();
                match fault {
                    Fault::Deliver => self.sim.deliver_datagram(to, from, payload),
                    Fault::Drop => {}
                    Fault::Duplicate => {
                        self.sim.deliver_datagram(to, from, payload.clone());
                        self.sim.deliver_datagram(to, from, payload);
                    }
                    Fault::Mutate(mutation) => {
                        let mutated = mutation.apply(&payload);
                        if mutation.is_honest() || honest(&payload, &mutated, &ids) {
                            self.sim.deliver_datagram(to, from, mutated);
                        }
                    }
                }
            }
            PairStep::Serve { pick, served } => {
                let Some(request) = self.sim.take_held_request(usize::from(*pick)) else {
                    return local;
                };
                self.check_request(&request);
                let HeldRequest {
                    requester,
                    to,
                    payload,
                } = request;
                let from = requester.0.addr();
                match served {
                    Served::Serve(mutation) => {
                        // A forgery is not delivered: the requester times out.
                        let mutated = mutation.apply(&payload);
                        if mutation.is_honest() || honest(&payload, &mutated, &ids) {
                            self.sim.deliver_request(to, from, Some(requester), mutated);
                        }
                    }
                    Served::LoseReply => self.sim.deliver_request(to, from, None, payload),
                    Served::Refuse => self.sim.refuse_request(requester),
                }
            }
            PairStep::Inject {
                second,
                message,
                request,
            } => {
                if says_nothing(message, &ids) {
                    let to = self.hosts[usize::from(*second)];
                    let bytes = wire::encode(message);
                    if *request {
                        self.sim.deliver_request(to, stranger(), None, bytes);
                    } else {
                        self.sim.deliver_datagram(to, stranger(), bytes);
                    }
                }
            }
            PairStep::Garbage { second, bytes } => {
                let harmless = wire::decode(bytes).map_or(true, |msg| says_nothing(&msg, &ids));
                if harmless {
                    let to = self.hosts[usize::from(*second)];
                    self.sim.deliver_datagram(to, stranger(), bytes.clone());
                }
            }
        }
        local
    }

    /// Runs what is due now (deliveries the step scheduled, and everything
    /// they cause).
    fn settle(&mut self) {
        let run = self.sim.run_for(Duration::ZERO);
        run.unwrap_or_else(|failure| panic!("{failure}"));
    }

    /// Checks a datagram a node sent, as the oracle checks every output.
    fn check_datagram(&self, datagram: &HeldDatagram) {
        let out = Output::Transmit {
            to: datagram.to.addr(),
            payload: datagram.payload.clone(),
        };
        self.check_output(datagram.from, &out);
    }

    /// Checks a stream request a node sent.
    fn check_request(&self, request: &HeldRequest) {
        let (host, _, id) = request.requester;
        let out = Output::Request {
            id,
            to: request.to.addr(),
            payload: request.payload.clone(),
        };
        self.check_output(host, &out);
    }

    fn check_output(&self, host: HostId, out: &Output) {
        let node = running(&self.sim, host);
        let config = node.config();
        if let Err(e) = check_output(out, node.id(), config.max_packet_size, &config.limits) {
            panic!("{e}");
        }
    }

    /// Checks both nodes: the simulator's invariants over their views now,
    /// then each node's single-node checks against the events it emitted
    /// since the last check.
    fn check(&mut self, local: [bool; 2]) -> Result<(), String> {
        self.sim
            .check_now()
            .map_err(|failure| failure.to_string())?;
        let log = &self.sim.events()[self.seen..];
        for (i, local) in local.into_iter().enumerate() {
            let host = self.hosts[i];
            let events: Vec<Event> = log
                .iter()
                .filter(|e| e.host == host)
                .map(|e| e.event.clone())
                .collect();
            self.checkers[i].check(running(&self.sim, host), &events, local)?;
        }
        self.seen = self.sim.events().len();
        Ok(())
    }

    /// Stops holding traffic (held stream requests are lost, so their
    /// requesters time out), delivers or loses the datagrams still held,
    /// then gossips losslessly until each node holds the other's exact
    /// state, h1 joining again if its join failed.
    fn clean_exchange(&mut self, flush_stale: bool) {
        let stale = self.sim.take_held_datagrams();
        self.sim.hold_traffic(false);
        if flush_stale {
            for datagram in stale {
                self.check_datagram(&datagram);
                let from = datagram.from.addr();
                self.sim
                    .deliver_datagram(datagram.to, from, datagram.payload);
            }
        }
        self.settle();
        let interval = running(&self.sim, self.hosts[0])
            .config()
            .gossip_interval
            .mul_f64(1.1);
        let mut joins = 1;
        for _ in 0..MAX_CLEAN_ROUNDS {
            if self.converged() {
                return;
            }
            // A failed join leaves nothing behind (`Node::join`): h1 joins
            // again, as an application does, once its last join failed.
            if self.join_outcomes() == (joins, false) {
                joins += 1;
                let _ = self
                    .sim
                    .join(self.hosts[1], &[self.hosts[0].addr().to_string()]);
                self.settle();
            }
            let run = self.sim.run_for(interval);
            run.unwrap_or_else(|failure| panic!("clean exchange: {failure}"));
            if let Err(e) = self.check([false; 2]) {
                panic!("clean exchange: {e}");
            }
        }
        if !self.converged() {
            let views: Vec<_> = (0..2)
                .map(|i| {
                    let other = running(&self.sim, self.hosts[1 - i]);
                    let view = running(&self.sim, self.hosts[i]).node(other.id());
                    (other.local_node(), view)
                })
                .collect();
            panic!("no convergence after {MAX_CLEAN_ROUNDS} clean rounds: {views:#?}");
        }
    }

    /// How many of h1's joins completed, and whether the last succeeded.
    fn join_outcomes(&self) -> (usize, bool) {
        let host = self.hosts[1];
        self.sim
            .events()
            .iter()
            .filter_map(|e| match &e.event {
                Event::JoinCompleted { result, .. } if e.host == host => Some(result.is_ok()),
                _ => None,
            })
            .fold((0, false), |(n, _), ok| (n + 1, ok))
    }

    fn converged(&self) -> bool {
        (0..2).all(|i| {
            let truth = running(&self.sim, self.hosts[1 - i]).local_node();
            running(&self.sim, self.hosts[i])
                .node(&truth.id)
                .is_some_and(|view| view.entries == truth.entries && view.version == truth.version)
        })
    }
}
