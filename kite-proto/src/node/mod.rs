//! The protocol state machine.

#[cfg(any(test, feature = "arbitrary"))]
pub(crate) mod audit;
mod digest;
mod exchange;
mod hasher;
mod liveness;
mod membership;
mod peers;
mod streams;

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand_core::RngCore;

use crate::config::Config;
use crate::error::{
    ConfigError, JoinError, LeaveError, LocalStateError, ResolveError, StreamError,
};
use crate::event::{Event, JoinId, NodeStatus, NodeView};
use crate::id::NodeId;
use crate::output::{Output, RequestId, StreamId};
use crate::phi::IntervalMean;
use crate::state::NodeState;
use crate::stats::Stats;
use crate::time::Timestamp;
use crate::wire::{self, Message};

use membership::Forgotten;
use peers::Peers;
use streams::{NameWatch, Pending, PendingJoin, PendingLeave};

/// One Kite node: the whole protocol, without I/O.
///
/// # Driving contract
///
/// 1. Create it with [`Node::new`], passing the current time and a random
///    number generator (the node's only source of randomness).
/// 2. Hand every input in as it happens, stamped with the current time:
///    [`handle_datagram`](Node::handle_datagram) for each UDP packet,
///    [`handle_request`](Node::handle_request) for each inbound stream
///    request, [`handle_response`](Node::handle_response) when a stream
///    exchange the node asked for ends, [`handle_resolved`](Node::handle_resolved)
///    for each DNS answer, and [`handle_timeout`](Node::handle_timeout) when
///    the deadline passes. Commands ([`join`](Node::join),
///    [`leave`](Node::leave), [`upsert_local`](Node::upsert_local),
///    [`delete_local`](Node::delete_local)) may be called at any time.
/// 3. After each input or command, call [`poll_output`](Node::poll_output)
///    until it returns [`Output::Timeout`], carrying out each output in order.
///    The timeout is the next deadline; it may move after any input.
///
/// Timestamps must never go backwards. The node reads no clock, opens no
/// socket and uses no global randomness: the same seed and inputs always
/// give the same outputs, byte for byte.
///
/// # Example: two nodes over a perfect in-memory network
///
/// ```
/// use core::time::Duration;
/// use kite_proto::{Config, Event, Node, Output, RequestId, SeededRng, StreamError, StreamId, Timestamp};
///
/// fn next(node: &mut Node) -> Option<Output> {
///     match node.poll_output() {
///         Output::Timeout(_) => None,
///         out => Some(out),
///     }
/// }
///
/// let addrs = ["127.0.0.1:7000".parse()?, "127.0.0.2:7000".parse()?];
/// let mut now = Timestamp::ZERO;
/// let a = Node::new(Config::new(addrs[0]), SeededRng::from_seed_u64(1), now)?;
/// let b = Node::new(Config::new(addrs[1]), SeededRng::from_seed_u64(2), now)?;
/// let mut nodes = [a, b];
/// nodes[0].upsert_local("rpc_addr", "127.0.0.1:9000")?;
/// nodes[1].join(now, &["127.0.0.1:7000"])?;
///
/// let mut events = Vec::new();
/// for _ in 0..10 {
///     // Deliver every output until both nodes are idle.
///     let mut busy = true;
///     while busy {
///         busy = false;
///         for i in 0..2 {
///             let j = 1 - i; // with two nodes, the other one
///             while let Some(out) = next(&mut nodes[i]) {
///                 busy = true;
///                 match out {
///                     Output::Transmit { payload, .. } => nodes[j].handle_datagram(now, addrs[i], &payload),
///                     // Streams: the receiver's stream id mirrors our request id.
///                     Output::Request { id, payload, .. } => {
///                         nodes[j].handle_request(now, StreamId(id.0), addrs[i], &payload)
///                     }
///                     Output::Response { id, payload } => {
///                         let reply = payload.as_deref().ok_or(StreamError::Closed);
///                         nodes[j].handle_response(now, RequestId(id.0), reply)
///                     }
///                     Output::Event(event) => events.push(event),
///                     Output::Resolve { .. } | Output::Timeout(_) => {}
///                 }
///             }
///         }
///     }
///     now = now + Duration::from_millis(500);
///     nodes.iter_mut().for_each(|node| node.handle_timeout(now));
/// }
/// assert!(events.iter().any(|e| matches!(e, Event::KeyUpserted { key, .. } if key == "rpc_addr")));
/// let a_id = nodes[0].id().clone();
/// assert_eq!(nodes[1].node(&a_id).unwrap().entries["rpc_addr"], "127.0.0.1:9000");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Node {
    config: Config,
    id: NodeId,
    rng: Box<dyn RngCore + Send>,
    local: NodeState,
    heartbeat: u64,
    /// Intervals between fresh evidence of any peer.
    arrivals: IntervalMean,
    peers: Peers,
    /// The liveness check scans the peers only from this time on: the
    /// earliest a peer may be convicted or expire (lowered whenever one
    /// may be due sooner).
    liveness_due: Timestamp,
    forgotten: BTreeMap<NodeId, Forgotten>,
    /// Ids seen in digests whose state we still lack, until when to ask.
    wanted: BTreeMap<NodeId, Timestamp>,
    /// Addresses given to `join` directly.
    seeds: BTreeSet<SocketAddr>,
    /// Domain names given to `join`, re-resolved periodically.
    names: BTreeMap<String, NameWatch>,
    joins: BTreeMap<JoinId, PendingJoin>,
    requests: BTreeMap<RequestId, Pending>,
    leave: Option<PendingLeave>,
    /// Peers with a state push in flight.
    pushes: BTreeSet<SocketAddr>,
    next_round: Timestamp,
    next_request: u64,
    next_join: u64,
    outputs: VecDeque<Output>,
    stats: Stats,
}

impl core::fmt::Debug for Node {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .field("addr", &self.config.advertise_addr)
            .field("version", &self.local.version())
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A node with the given configuration, randomness and start time.
    pub fn new(
        config: Config,
        rng: impl RngCore + Send + 'static,
        now: Timestamp,
    ) -> Result<Node, ConfigError> {
        config.validate()?;
        let mut rng: Box<dyn RngCore + Send> = Box::new(rng);
        let id = match &config.node_id {
            Some(id) => id.clone(),
            None => NodeId::random(&mut *rng),
        };
        let key = hasher::SipKey::random(&mut *rng);
        let arrivals = IntervalMean::new(config.gossip_interval);
        let mut node = Node {
            config,
            id,
            rng,
            local: NodeState::default(),
            heartbeat: 1,
            arrivals,
            peers: Peers::new(key),
            liveness_due: now,
            forgotten: BTreeMap::new(),
            wanted: BTreeMap::new(),
            seeds: BTreeSet::new(),
            names: BTreeMap::new(),
            joins: BTreeMap::new(),
            requests: BTreeMap::new(),
            leave: None,
            pushes: BTreeSet::new(),
            next_round: now,
            next_request: 0,
            next_join: 0,
            outputs: VecDeque::new(),
            stats: Stats::default(),
        };
        node.next_round = now + node.jittered_interval();
        Ok(node)
    }

    /// This node's id.
    pub fn id(&self) -> &NodeId {
        &self.id
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters since start.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// True once [`leave`](Node::leave) was called.
    pub fn has_left(&self) -> bool {
        self.local.is_left()
    }

    /// Snapshot of the local node.
    pub fn local_node(&self) -> NodeView {
        NodeView {
            id: self.id.clone(),
            addr: self.config.advertise_addr,
            status: if self.local.is_left() {
                NodeStatus::Left
            } else {
                NodeStatus::Alive
            },
            version: self.local.version(),
            entries: owned_entries(&self.local),
        }
    }

    /// Snapshot of one node (the local one included), if known.
    pub fn node(&self, id: &NodeId) -> Option<NodeView> {
        if *id == self.id {
            return Some(self.local_node());
        }
        self.peers.get(id).map(|peer| peer.view(id))
    }

    /// How many known remote nodes have `status` (the local node excluded).
    pub fn peer_count(&self, status: NodeStatus) -> usize {
        self.peers
            .values()
            .filter(|peer| peer.status == status)
            .count()
    }

    /// Snapshots of every known node, the local one first, then by id.
    pub fn nodes(&self) -> Vec<NodeView> {
        let mut peers: Vec<NodeView> = self.peers.iter().map(|(id, peer)| peer.view(id)).collect();
        peers.sort_by(|a, b| a.id.cmp(&b.id));
        core::iter::once(self.local_node()).chain(peers).collect()
    }

    /// Sets a key of the local state. Setting a key to its current value does
    /// nothing.
    pub fn upsert_local(&mut self, key: &str, value: &str) -> Result<(), LocalStateError> {
        self.local.set_local(key, value, &self.config.limits)?;
        Ok(())
    }

    /// Deletes a key of the local state (a no-op if it is not set). When the
    /// tombstones reach `compact_threshold` they are compacted away.
    pub fn delete_local(&mut self, key: &str) -> Result<(), LocalStateError> {
        self.local.delete_local(key)?;
        if self.local.tombstones() >= self.config.compact_threshold {
            self.local.compact();
        }
        Ok(())
    }

    /// Joins the cluster through `targets` (`ip:port`, `ip`, `host:port` or
    /// `host`; bare forms take the advertise port). Domain names are resolved
    /// (see [`Output::Resolve`]) and re-resolved every `dns_refresh_interval`;
    /// every address is contacted over a stream. The outcome arrives as
    /// [`Event::JoinCompleted`] with the returned id. Invalid targets are
    /// refused here, before anything is sent.
    pub fn join<S: AsRef<str>>(
        &mut self,
        now: Timestamp,
        targets: &[S],
    ) -> Result<JoinId, JoinError> {
        self.start_join(now, targets)
    }

    /// Leaves the cluster gracefully: marks the local node left (its state is
    /// frozen from now on) and tells up to 3 live nodes over streams. The
    /// outcome arrives as [`Event::LeaveCompleted`].
    pub fn leave(&mut self, now: Timestamp) -> Result<(), LeaveError> {
        self.start_leave(now)
    }

    /// A UDP datagram from `from` arrived.
    pub fn handle_datagram(&mut self, now: Timestamp, from: SocketAddr, bytes: &[u8]) {
        self.stats.datagrams_in += 1;
        self.stats.datagram_bytes_in += bytes.len() as u64;
        let Some(msg) = self.decode(bytes) else {
            return;
        };
        if !msg.is_datagram() || *msg.from() == self.id {
            self.stats.ignored_messages += 1;
            return;
        }
        self.on_datagram(now, from, msg);
    }

    /// An inbound stream from `from` delivered one request frame. Exactly one
    /// [`Output::Response`] for `stream` follows.
    pub fn handle_request(
        &mut self,
        now: Timestamp,
        stream: StreamId,
        from: SocketAddr,
        bytes: &[u8],
    ) {
        self.stats.stream_requests_in += 1;
        self.stats.stream_bytes_in += bytes.len() as u64;
        let reply = self.on_request(now, from, bytes);
        if let Some(payload) = &reply {
            self.stats.stream_bytes_out += payload.len() as u64;
        }
        self.outputs.push_back(Output::Response {
            id: stream,
            payload: reply,
        });
    }

    /// The stream exchange `request` ended with a reply frame or a failure.
    pub fn handle_response(
        &mut self,
        now: Timestamp,
        request: RequestId,
        result: Result<&[u8], StreamError>,
    ) {
        if let Ok(reply) = &result {
            self.stats.stream_bytes_in += reply.len() as u64;
        }
        self.on_response(now, request, result);
    }

    /// The domain `name` (as given in [`Output::Resolve`]) resolved.
    pub fn handle_resolved(
        &mut self,
        now: Timestamp,
        name: &str,
        result: Result<Vec<IpAddr>, ResolveError>,
    ) {
        self.on_resolved(now, name, result);
    }

    /// The deadline passed: run the gossip round, failure detection and DNS
    /// refreshes that are due.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if now >= self.next_round {
            let late = now.saturating_since(self.next_round);
            if late > self.config.gossip_interval {
                // We stalled (a pause, an overloaded executor): peers were
                // silent only because we were not listening.
                for peer in self.peers.values_mut() {
                    peer.detector.forgive(late, now);
                }
            }
            self.round(now);
            self.next_round = now + self.jittered_interval();
        }
        self.refresh_names(now);
    }

    /// The next thing for the driver to do; [`Output::Timeout`] once there is
    /// nothing left until that time.
    pub fn poll_output(&mut self) -> Output {
        self.outputs
            .pop_front()
            .unwrap_or_else(|| Output::Timeout(self.next_timeout()))
    }

    /// When [`handle_timeout`](Node::handle_timeout) should next be called.
    pub fn next_timeout(&self) -> Timestamp {
        self.names
            .values()
            .map(|watch| watch.deadline(self.config.dns_refresh_interval))
            .fold(self.next_round, Timestamp::min)
    }

    fn jittered_interval(&mut self) -> Duration {
        // ±10 % so that nodes started together do not gossip in lockstep.
        let unit = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        self.config.gossip_interval.mul_f64(0.9 + 0.2 * unit)
    }

    fn decode(&mut self, bytes: &[u8]) -> Option<Message> {
        match wire::decode(bytes) {
            Ok(msg) => {
                self.stats.messages_in.count(&msg);
                Some(msg)
            }
            Err(err) => {
                self.stats.decode_errors += 1;
                if matches!(err, crate::DecodeError::UnsupportedVersion(_)) {
                    self.stats.unsupported_version += 1;
                }
                None
            }
        }
    }

    fn transmit(&mut self, to: SocketAddr, msg: &Message) {
        let payload = wire::encode(msg);
        self.stats.messages_out.count(msg);
        debug_assert!(
            payload.len() <= self.config.max_packet_size,
            "datagram of {} bytes over the limit",
            payload.len()
        );
        self.stats.datagrams_out += 1;
        self.stats.datagram_bytes_out += payload.len() as u64;
        self.outputs.push_back(Output::Transmit { to, payload });
    }

    fn request(&mut self, to: SocketAddr, msg: &Message, pending: Pending) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let payload = wire::encode(msg);
        self.stats.messages_out.count(msg);
        self.stats.stream_requests_out += 1;
        self.stats.stream_bytes_out += payload.len() as u64;
        self.requests.insert(id, pending);
        self.outputs.push_back(Output::Request { id, to, payload });
        id
    }

    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }
}

fn owned_entries(state: &NodeState) -> BTreeMap<String, String> {
    state
        .live()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
