//! The protocol state machine.

#[cfg(any(test, feature = "arbitrary"))]
pub(crate) mod audit;
mod digest;
mod exchange;
mod hasher;
mod liveness;
mod membership;
mod monitor;
mod names;
mod peers;
mod rumors;
mod security;
mod streams;
mod sync;

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

use exchange::SeedPeer;
use membership::Forgotten;
use names::NameWatch;
use peers::Peers;
use streams::{Pending, PendingJoin, PendingLeave};

/// Outputs a drained queue keeps room for.
const OUTPUTS_KEPT: usize = 64;

/// One Kite node: the whole protocol, without I/O.
///
/// # Driving contract
///
/// A *driver* is the event loop that owns the node, its sockets and a
/// clock. `kite-tokio` and `kite-async-std` are drivers; a complete one over
/// `std::net` and threads, with no async runtime, is
/// `examples/examples/custom_loop.rs` in the repository.
///
/// 1. Create the node with [`Node::new`], passing the current time and a
///    random number generator (its only source of randomness: seed it from
///    the OS, not a constant, so that restarted nodes draw new ids).
/// 2. Bind UDP and a TCP listener on the same port, where
///    [`Config::advertise_addr`] reaches you: peers send datagrams and open
///    streams to that address, and the node answers a datagram at its
///    source address, so send every datagram from that one UDP socket.
/// 3. Hand every input in as it happens, stamped with the current time:
///    [`handle_datagram`](Node::handle_datagram) for each UDP packet,
///    [`handle_request`](Node::handle_request) for each inbound stream
///    request, [`handle_response`](Node::handle_response) when a stream
///    exchange the node asked for ends, [`handle_resolved`](Node::handle_resolved)
///    for each DNS answer, and [`handle_timeout`](Node::handle_timeout) when
///    the deadline passes. Commands ([`join`](Node::join),
///    [`leave`](Node::leave), [`upsert_local`](Node::upsert_local),
///    [`delete_local`](Node::delete_local)) may be called at any time.
/// 4. After each input or command, call [`poll_output`](Node::poll_output)
///    until it returns [`Output::Timeout`], carrying out each output in
///    order:
///    - [`Output::Transmit`]: send one datagram from the bound UDP socket.
///    - [`Output::Request`]: start an outbound stream exchange **in the
///      background** and, when it ends, hand its reply or failure to
///      [`handle_response`](Node::handle_response) (framing and timeouts
///      there).
///    - [`Output::Response`]: write the reply on the inbound stream it
///      names, or close that stream (framing on
///      [`handle_request`](Node::handle_request)).
///    - [`Output::Resolve`]: look the name up **in the background** and
///      hand the addresses, or the failure, to
///      [`handle_resolved`](Node::handle_resolved).
///    - [`Output::Event`]: tell the application.
///    - [`Output::Timeout`]`(at)`: nothing more to do until `at`. Wait for
///      the next input until then; once the clock reaches `at`, call
///      [`handle_timeout`](Node::handle_timeout) with the current time
///      (not `at`, which may still be ahead), and poll again. The deadline
///      may move after any input, so take it afresh from every poll.
///
/// Timestamps come from a monotonic clock (for instance
/// `Timestamp::from_duration(start.elapsed())` for a fixed
/// `std::time::Instant`) and must never go backwards. The node reads no
/// clock, opens no socket and uses no global randomness: the same seed and
/// inputs always give the same outputs, byte for byte.
///
/// ## Never block the loop
///
/// Gossip rounds, heartbeats to the node's monitors and the failure
/// detector all run from this loop. A stream exchange takes up to three
/// stream timeouts (connect, write and read each get
/// [`Config::stream_timeout`], 10 s by default) and a DNS lookup can take
/// seconds: carried out inline, each one stalls the node for as long.
/// Meanwhile it sends no heartbeat (peers may report it down), reads no
/// datagram and serves no stream, so the peers' own exchanges with it time
/// out: a leave done that way can end with no peer notified. So:
///
/// - carry out each [`Output::Request`] and [`Output::Resolve`] on a thread
///   or task of its own, and feed its outcome back into the loop (a channel
///   the loop waits on, beside the sockets), where the loop calls
///   [`handle_response`](Node::handle_response) or
///   [`handle_resolved`](Node::handle_resolved);
/// - serve each inbound stream on a thread or task of its own too: it reads
///   the request frame and hands the body to the loop, which calls
///   [`handle_request`](Node::handle_request) and passes the
///   [`Output::Response`] back for that thread to write.
///
/// ```no_run
/// use std::io::{Read, Write};
/// use std::net::{SocketAddr, TcpStream};
/// use std::sync::mpsc;
/// use std::time::Instant;
/// use kite_proto::wire::frame;
/// use kite_proto::{Config, Node, Output, RequestId, SeededRng, StreamError, Timestamp};
///
/// /// One outbound exchange, on its own thread: connect, write one frame,
/// /// read one, under the stream timeout (here per system call; the
/// /// example bounds each whole step).
/// fn exchange(to: SocketAddr, payload: &[u8], config: &Config) -> Result<Vec<u8>, StreamError> {
///     let limit = config.stream_timeout;
///     let io = |err: std::io::Error| match err.kind() {
///         std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => StreamError::TimedOut,
///         _ => StreamError::Io(err.to_string()),
///     };
///     let mut stream = TcpStream::connect_timeout(&to, limit).map_err(|err| match err.kind() {
///         std::io::ErrorKind::TimedOut => StreamError::TimedOut,
///         _ => StreamError::Connect(err.to_string()),
///     })?;
///     stream.set_write_timeout(Some(limit)).map_err(io)?;
///     stream.set_read_timeout(Some(limit)).map_err(io)?;
///     stream.write_all(&frame::encode(payload)).map_err(io)?;
///     let mut reader = frame::Reader::new(config.limits.max_frame_len);
///     loop {
///         let n = stream.read(reader.buf()).map_err(io)?;
///         if let Some(reply) = reader.advance(n)? {
///             return Ok(reply);
///         }
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let start = Instant::now();
/// let now = || Timestamp::from_duration(start.elapsed());
/// let config = Config::new("127.0.0.1:7000".parse()?);
/// let mut node = Node::new(config.clone(), SeededRng::from_seed_u64(7), now())?;
/// // Every input reaches the loop through this channel (datagrams and
/// // inbound streams too, in a full driver).
/// let (inputs, waiting) = mpsc::channel::<(RequestId, Result<Vec<u8>, StreamError>)>();
/// node.join(now(), &["127.0.0.2:7000"])?;
/// loop {
///     let deadline = loop {
///         match node.poll_output() {
///             Output::Request { id, to, payload } => {
///                 let (inputs, config) = (inputs.clone(), config.clone());
///                 std::thread::spawn(move || {
///                     let _ = inputs.send((id, exchange(to, &payload, &config)));
///                 });
///             }
///             Output::Timeout(at) => break at,
///             _ => { /* the other outputs */ }
///         }
///     };
///     if now() >= deadline {
///         node.handle_timeout(now());
///         continue;
///     }
///     let wait = deadline.saturating_since(now());
///     if let Ok((id, result)) = waiting.recv_timeout(wait) {
///         node.handle_response(now(), id, result.as_deref().map_err(Clone::clone));
///     }
/// }
/// # }
/// ```
///
/// ## Every request gets one answer
///
/// - Each [`Output::Request`] gets exactly one
///   [`handle_response`](Node::handle_response), failures included. A
///   [`join`](Node::join) or [`leave`](Node::leave) completes (its
///   [`Event::JoinCompleted`] or [`Event::LeaveCompleted`]) only once every
///   exchange it started has its answer.
/// - Each [`Output::Resolve`] gets exactly one
///   [`handle_resolved`](Node::handle_resolved): the addresses, or a
///   [`ResolveError`] when the lookup failed. A join through that name
///   waits for it; a failure counts as a failed target.
/// - Each [`handle_request`](Node::handle_request) is followed by exactly
///   one [`Output::Response`] for its stream.
///
/// ## Streams
///
/// A stream carries one request frame and one reply frame, then closes. A
/// frame is a 4-byte big-endian length ([`wire::frame::HEADER_LEN`])
/// followed by that many bytes; [`wire::frame::encode`] writes one,
/// [`wire::frame::Reader`] reads one, refusing a length over
/// `config.limits.max_frame_len` before allocating anything. Every frame
/// the node emits fits that limit. Each step (connect, write, read) gets
/// [`Config::stream_timeout`]. The details are on
/// [`handle_request`](Node::handle_request) (streams served) and
/// [`handle_response`](Node::handle_response) (streams the node asked
/// for).
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
    /// Where the next liveness sweep of a large table starts.
    sweep_from: usize,
    /// When the next full sync is due.
    sync: sync::Sync,
    /// Peers changed or heard from lately (a large cluster's digests).
    recent: digest::Recent,
    /// The peer last found at each seed address, and when to look again
    /// for one that was not found (see `round_targets`).
    seed_peers: BTreeMap<SocketAddr, SeedPeer>,
    forgotten: BTreeMap<NodeId, Forgotten>,
    /// Ids seen in digests whose state we still lack, until when to ask.
    wanted: BTreeMap<NodeId, Timestamp>,
    /// Addresses given to joins that succeeded.
    seeds: BTreeSet<SocketAddr>,
    /// Domain names given to `join`: resolved for the joins that name them,
    /// re-resolved periodically once a join through them succeeded.
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
    /// Monitors, watched nodes, suspicions and rumors (fast detection).
    monitoring: monitor::Monitoring,
    /// Nodes of which the message being handled carried an earlier run than
    /// ours (answered with ours, see `answer_outdated`).
    outdated: Vec<NodeId>,
    /// The nonces of the messages this node seals.
    nonces: wire::envelope::Nonces,
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
        let sync = sync::Sync::new(&id);
        let mut node = Node {
            config,
            id,
            rng,
            local: NodeState::default(),
            heartbeat: 1,
            arrivals,
            peers: Peers::new(key),
            liveness_due: now,
            sweep_from: 0,
            sync,
            recent: digest::Recent::default(),
            seed_peers: BTreeMap::new(),
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
            monitoring: monitor::Monitoring::default(),
            outdated: Vec::new(),
            nonces: wire::envelope::Nonces::default(),
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
            generation: self.config.generation,
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
        self.peers.slot(id).map(|slot| self.peers.view(slot))
    }

    /// How many known remote nodes have `status` (the local node excluded).
    pub fn peer_count(&self, status: NodeStatus) -> usize {
        let (len, alive, listable) = (
            self.peers.len(),
            self.peers.alive_count(),
            self.peers.listable_count(),
        );
        match status {
            NodeStatus::Alive => alive,
            NodeStatus::Down => len - listable,
            NodeStatus::Left => listable - alive,
        }
    }

    /// Snapshots of every known node, the local one first, then by id.
    pub fn nodes(&self) -> Vec<NodeView> {
        let mut peers: Vec<NodeView> = self.peers.views().collect();
        peers.sort_by(|a, b| a.id.cmp(&b.id));
        core::iter::once(self.local_node()).chain(peers).collect()
    }

    /// Sets a key of the local state. Setting a key to its current value does
    /// nothing. The key must be non-empty and the key, value and whole state
    /// within the [`Limits`](crate::Limits) (which list every rule); a
    /// refused write changes nothing.
    pub fn upsert_local(&mut self, key: &str, value: &str) -> Result<(), LocalStateError> {
        let before = self.local.version();
        self.local.set_local(key, value, &self.config.limits)?;
        self.announce(before);
        Ok(())
    }

    /// Deletes a key of the local state (a no-op if it is not set). When the
    /// tombstones reach `compact_threshold` they are compacted away.
    pub fn delete_local(&mut self, key: &str) -> Result<(), LocalStateError> {
        let before = self.local.version();
        self.local.delete_local(key)?;
        if self.local.tombstones() >= self.config.compact_threshold {
            self.local.compact();
        } else {
            self.announce(before);
        }
        Ok(())
    }

    /// Pushes the local updates after version `before` as news.
    fn announce(&mut self, before: u64) {
        if self.local.version() == before {
            return;
        }
        let updates = self
            .local
            .updates_since(before)
            .map(|(version, update)| update.to_update(version))
            .collect();
        self.push_news(wire::NodeDelta {
            id: self.id.clone(),
            generation: self.config.generation,
            addr: self.config.advertise_addr,
            heartbeat: self.heartbeat,
            from_version: before,
            updates,
        });
    }

    /// Joins the cluster through `targets` (`ip:port`, `ip`, `host:port` or
    /// `host`; bare forms take the advertise port). Invalid targets are
    /// refused here, before anything is sent. Domain names are resolved
    /// (see [`Output::Resolve`]); every address is contacted over a stream
    /// with this node's state, and answers with what this node lacks.
    ///
    /// # Outcome
    ///
    /// One [`Event::JoinCompleted`] with the returned id:
    ///
    /// - **`Ok(vec![id])` as soon as the first target answers**, `id` being
    ///   the node that answered. Targets still pending go on in the
    ///   background. Every target that `JoinCompleted` does not name (one
    ///   that failed before, one that answers or fails later) is reported
    ///   once, as [`Event::JoinTargetCompleted`].
    /// - `Ok(vec![])` at once if there is nothing to contact: no targets,
    ///   or every target is this node itself (a name that resolves only to
    ///   this node's address).
    /// - `Err(JoinError::NoneJoined)` once every target has failed.
    ///
    /// When the join completes, this node knows every node the answering
    /// node holds alive, within one stream frame (`max_frame_len`), except
    /// one that node learned over two gossip intervals before and has had
    /// no fresh evidence of since (a newer heartbeat, or a message from the
    /// node itself): possibly the stale state of a dead node, which is not
    /// passed on (DESIGN §8). So joining through a node that has only just
    /// joined itself brings the whole cluster. The rest comes by gossip.
    ///
    /// # Afterwards
    ///
    /// A join that succeeded makes its targets seeds: each address is
    /// gossiped with every round while no live node holds it, and each name
    /// is re-resolved every `dns_refresh_interval`, the addresses of its
    /// latest answer being its seeds. A join that failed leaves nothing
    /// behind: no target is contacted again and no name resolved again
    /// (join again to retry). This node still becomes a member if another
    /// node contacts it: one that joins through it, or a target that got
    /// the request but whose answer was lost or came after the stream
    /// timeout (it learned this node from the request, and gossips with
    /// it). Either is reported with [`Event::NodeJoined`], as any node
    /// discovered.
    pub fn join<S: AsRef<str>>(
        &mut self,
        now: Timestamp,
        targets: &[S],
    ) -> Result<JoinId, JoinError> {
        self.start_join(now, targets)
    }

    /// Leaves the cluster gracefully: marks the local node left (its state is
    /// frozen from now on) and tells up to 3 live nodes over streams. The
    /// outcome arrives as [`Event::LeaveCompleted`]: how many acknowledged
    /// (`Ok(0)` at once when no live node is known: nobody needs telling),
    /// or an error when every notification failed. Whatever the outcome,
    /// once this returns `Ok` the node has left: writes and joins are
    /// refused and it no longer gossips (peers that were not told see it
    /// down, then expire it). Only a second call fails, with
    /// [`LeaveError::AlreadyLeft`], and changes nothing.
    pub fn leave(&mut self, now: Timestamp) -> Result<(), LeaveError> {
        self.start_leave(now)
    }

    /// A UDP datagram arrived; `from` is its source address, as
    /// `recv_from` reports it. Replies go to that address, which is why a
    /// driver sends its own datagrams from the socket bound at its
    /// advertise port (see the [driving contract](Node#driving-contract)).
    pub fn handle_datagram(&mut self, now: Timestamp, from: SocketAddr, bytes: &[u8]) {
        self.stats.datagrams_in += 1;
        self.stats.datagram_bytes_in += bytes.len() as u64;
        let Ok(msg) = self.receive(bytes) else {
            return;
        };
        if !msg.is_datagram() || *msg.from() == self.id {
            self.stats.ignored_messages += 1;
            return;
        }
        let sender = msg.from().clone();
        self.on_datagram(now, from, msg);
        self.heard_from(&sender);
        self.greet_new_monitors();
    }

    /// An inbound stream delivered one request frame. Exactly one
    /// [`Output::Response`] for `stream` follows (from the next
    /// [`poll_output`](Node::poll_output) calls).
    ///
    /// - `stream`: any id the driver chooses, unique among the inbound
    ///   streams it is serving, to find the connection again when the
    ///   [`Output::Response`] names it.
    /// - `from`: the remote address of the accepted connection, as `accept`
    ///   (or `TcpStream::peer_addr`) reports it: usually an ephemeral port,
    ///   not the peer's advertise address, and that is expected. The node
    ///   neither answers nor records it: the reply goes back on the stream,
    ///   and the request names its sender inside.
    /// - `bytes`: the request frame's body, without the length prefix.
    ///
    /// # Serving a stream
    ///
    /// Off the loop (see [never block the loop](Node#never-block-the-loop)),
    /// on the connection's own thread or task:
    ///
    /// 1. Read one frame: a 4-byte big-endian length
    ///    ([`wire::frame::HEADER_LEN`]), then that many bytes. A
    ///    [`wire::frame::Reader`] built with
    ///    `config().limits.max_frame_len` does it, refusing a longer frame
    ///    before allocating anything (then just close the connection), or
    ///    check the header yourself with [`wire::frame::body_len`].
    /// 2. Hand the body to this method, on the loop, with a fresh `stream`
    ///    id.
    /// 3. When the loop gets the [`Output::Response`] for `stream`: with a
    ///    payload, write [`wire::frame::encode`]`(&payload)` and close; with
    ///    `None` (the request was invalid), close without writing.
    ///
    /// Apply [`Config::stream_timeout`] to the read and to the write, so a
    /// silent peer cannot hold a connection for ever.
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
        self.greet_new_monitors();
        if let Some(payload) = &reply {
            self.stats.stream_bytes_out += payload.len() as u64;
        }
        self.outputs.push_back(Output::Response {
            id: stream,
            payload: reply,
        });
    }

    /// The stream exchange `request` (an [`Output::Request`]) ended with a
    /// reply frame's body (without its length prefix) or a failure. Call it
    /// exactly once per request, failures included: a join or a leave
    /// completes only once each of its exchanges has its answer.
    ///
    /// # Carrying out an exchange
    ///
    /// Off the loop (see [never block the loop](Node#never-block-the-loop)),
    /// for `Output::Request { id, to, payload }`:
    ///
    /// 1. Connect to `to` over TCP.
    /// 2. Write one frame: [`wire::frame::encode`]`(&payload)` (a 4-byte
    ///    big-endian length, [`wire::frame::HEADER_LEN`], then the payload).
    /// 3. Read one reply frame with a [`wire::frame::Reader`] built with
    ///    `config().limits.max_frame_len` (a reply announcing more is
    ///    refused before anything is allocated), then close.
    /// 4. Back on the loop, call `handle_response(now, id, ..)`.
    ///
    /// Each of the three steps gets [`Config::stream_timeout`]. Failures
    /// map to [`StreamError`]: a refused or failed connect is
    /// [`Connect`](StreamError::Connect), a step past the timeout
    /// [`TimedOut`](StreamError::TimedOut), a stream closed before any
    /// reply [`Closed`](StreamError::Closed), anything else
    /// [`Io`](StreamError::Io); a [`wire::frame::ReadError`] converts with
    /// `into()`.
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
        self.greet_new_monitors();
    }

    /// The lookup of the domain `name` (as given in [`Output::Resolve`])
    /// ended: its IP addresses (the node adds the ports), or a
    /// [`ResolveError`] when it failed or found nothing. Call it exactly once
    /// per [`Output::Resolve`], failures included: a join through the name
    /// waits for the answer, and the name is asked for again every
    /// `dns_refresh_interval` after it (or, if no answer came, after it was
    /// asked for). Look names up off the loop (see
    /// [never block the loop](Node#never-block-the-loop)), e.g. with
    /// `std::net::ToSocketAddrs` on `(name, 0)` on a thread.
    pub fn handle_resolved(
        &mut self,
        now: Timestamp,
        name: &str,
        result: Result<Vec<IpAddr>, ResolveError>,
    ) {
        self.on_resolved(now, name, result);
    }

    /// The deadline passed: run the gossip round, failure detection and DNS
    /// refreshes that are due. Call it with the current time once that
    /// reaches the last [`Output::Timeout`] (calling it earlier is harmless:
    /// nothing is due yet).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if now >= self.next_round {
            let late = now.saturating_since(self.next_round);
            if late > self.config.gossip_interval {
                // We stalled (a pause, an overloaded executor): peers were
                // silent only because we were not listening.
                for detector in self.peers.detectors_mut() {
                    detector.forgive(late, now);
                }
                self.forgive_watched(late, now);
            }
            self.round(now);
            self.next_round = now + self.jittered_interval();
        }
        self.refresh_names(now);
    }

    /// The next thing for the driver to do; [`Output::Timeout`] once there is
    /// nothing left until that time.
    pub fn poll_output(&mut self) -> Output {
        if let Some(output) = self.outputs.pop_front() {
            return output;
        }
        if self.outputs.capacity() > OUTPUTS_KEPT {
            // A burst (a join's whole view, an event per node) is not kept
            // allocated in every node of a large cluster.
            self.outputs.shrink_to(OUTPUTS_KEPT);
        }
        Output::Timeout(self.next_timeout())
    }

    /// When [`handle_timeout`](Node::handle_timeout) should next be called.
    pub fn next_timeout(&self) -> Timestamp {
        self.names
            .values()
            .filter_map(|watch| watch.deadline(self.config.dns_refresh_interval))
            .fold(self.next_round, Timestamp::min)
    }

    fn jittered_interval(&mut self) -> Duration {
        // ±10 % so that nodes started together do not gossip in lockstep.
        let unit = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        self.config.gossip_interval.mul_f64(0.9 + 0.2 * unit)
    }

    fn transmit(&mut self, to: SocketAddr, msg: &Message) {
        let payload = self.seal(msg);
        self.stats.messages_out.count(msg);
        debug_assert!(
            payload.len() <= self.config.max_packet_size,
            "datagram of {} bytes over the limit",
            payload.len()
        );
        self.stats.datagrams_out += 1;
        self.stats.datagram_bytes_out += payload.len() as u64;
        self.stats.largest_datagram_out = self.stats.largest_datagram_out.max(payload.len() as u64);
        self.outputs.push_back(Output::Transmit { to, payload });
    }

    fn request(&mut self, to: SocketAddr, msg: &Message, pending: Pending) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let payload = self.seal(msg);
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
