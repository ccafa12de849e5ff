//! Everything a runtime adapter needs that involves no I/O and no async,
//! written once for `kite-tokio` and `kite-async-std`: the [`Options`] and
//! their validation, the advertise-address rule, the [`Watcher`] trait and
//! the fan-out of events, the matching of `join`/`leave` outcomes to their
//! callers, the routing of replies to inbound streams, the metric names and
//! values, and [`Shared`], the handle around the core that the adapter's
//! tasks and the application share.
//!
//! It reads no clock, opens no socket and spawns nothing: the adapter passes
//! the time in and carries out the [`Action`]s.
//!
//! # Driving recipe (what an adapter does)
//!
//! 1. `Options::validate`, bind UDP and TCP at `bind_addr`, list the host's
//!    interface addresses if [`Settings::needs_interfaces`], take a seed
//!    from the OS, and call [`Shared::start`] with a wake-up callback.
//! 2. Socket tasks hand inputs in through the [`Shared`] methods, which lock
//!    the driver and wake the driver task: [`Shared::datagrams`] per batch
//!    of datagrams (buffer of [`RECV_BUFFER`] bytes); per accepted stream
//!    [`Shared::admit`], then the request frame read with a
//!    [`FrameReader`] to [`Shared::request`] with a callback that writes the
//!    reply frame (or [`Shared::read_failed`] when it cannot be read);
//!    [`Shared::response`] when an outbound exchange ends;
//!    [`Shared::resolved`] per DNS answer.
//! 3. One task loops: `let turn = shared.turn(now);` (which delivers the
//!    notices with the lock released), publish `turn.metrics`, carry out
//!    every `turn.actions` item, and sleep until `turn.deadline` or a
//!    wake-up.
//!
//! Only that task delivers notices, so watchers see events in order. The
//! lower-level [`Driver`] methods behind [`Shared::lock`] are there for
//! drivers of other shapes (and for tests).
//!
//! The synchronous part of an adapter's public handle is written once, by
//! [`handle_api!`](crate::handle_api).
//!
//! ```
//! use kite_proto::driver::{Action, Options, Shared};
//! use kite_proto::Timestamp;
//!
//! let settings = Options::new().validate()?;
//! let bound = "127.0.0.1:7000".parse()?;
//! assert!(!settings.needs_interfaces(bound));
//! let shared = Shared::start(&settings, bound, &[], 7, Timestamp::ZERO, || { /* wake the driver task */ })?;
//! shared.join(Timestamp::ZERO, &["127.0.0.2:7000"], |result| println!("joined: {result:?}"))?;
//! let turn = shared.turn(Timestamp::ZERO);
//! assert!(matches!(turn.actions[..], [Action::Request { .. }]));
//! assert!(!turn.metrics.is_empty(), "published first at the start");
//! assert!(shared.turn(Timestamp::ZERO).metrics.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod metrics;
mod options;
mod stream;
mod watcher;

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rand_core::RngCore;

pub use options::{DEFAULT_STREAM_TIMEOUT, Options, Settings, StartError, choose_advertise_ip};
pub use stream::{FrameError, FrameReader};
pub use watcher::Watcher;

use crate::config::Config;
use crate::error::{
    ConfigError, DecodeError, JoinError, LeaveError, LocalStateError, ResolveError, StreamError,
};
use crate::event::{Event, JoinId, NodeView};
use crate::id::NodeId;
use crate::node::Node;
use crate::output::{Output, RequestId, StreamId};
use crate::rng::SeededRng;
use crate::stats::Stats;
use crate::time::Timestamp;
use metrics::{MetricValues, PUBLISH_EVERY, Series};
use watcher::Listeners;

/// Most inbound streams an adapter serves at once; it closes further
/// connections.
pub const MAX_INBOUND_STREAMS: usize = 256;

/// Size of an adapter's datagram receive buffer: the largest UDP payload,
/// whatever `max_packet_size` says.
pub const RECV_BUFFER: usize = 64 * 1024;

/// Most datagrams [`Shared::datagrams`] hands in under one lock.
pub const RECV_BATCH: usize = 64;

/// How long an adapter waits after a datagram receive failed before it
/// receives again.
pub const RECV_RETRY: Duration = Duration::from_millis(10);

/// How long an adapter waits after accepting a stream failed (out of file
/// descriptors, usually) before it accepts again, so some streams can end.
pub const ACCEPT_RETRY: Duration = Duration::from_millis(100);

type JoinDone = Box<dyn FnOnce(Result<Vec<NodeId>, JoinError>) + Send>;
type LeaveDone = Box<dyn FnOnce(Result<usize, LeaveError>) + Send>;
type ReplyDone = Box<dyn FnOnce(Option<Vec<u8>>) + Send>;

/// I/O the adapter carries out for the core (see [`Output`] for the details
/// of each).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `payload` as one datagram to `to`.
    Transmit {
        /// Destination.
        to: SocketAddr,
        /// The datagram.
        payload: Vec<u8>,
    },
    /// Connect to `to` over a stream, write `payload` as one frame, read one
    /// reply frame (the stream timeout applies to each step), and hand the
    /// outcome to [`Driver::handle_response`].
    Request {
        /// Names the exchange.
        id: RequestId,
        /// Destination.
        to: SocketAddr,
        /// The request frame's body.
        payload: Vec<u8>,
    },
    /// Resolve `name` and hand the answer to [`Driver::handle_resolved`].
    Resolve {
        /// The domain name, without a port.
        name: String,
    },
}

/// What [`Driver::poll`] drained from the core.
pub struct Batch {
    /// I/O to carry out, in order.
    pub actions: Vec<Action>,
    /// Events and completions, to deliver once the lock is released.
    pub notices: Notices,
    /// When to poll again if nothing happens before.
    pub deadline: Timestamp,
}

enum Notice {
    Event(Event),
    Join(JoinDone, Result<Vec<NodeId>, JoinError>),
    Leave(LeaveDone, Result<usize, LeaveError>),
    Reply(ReplyDone, Option<Vec<u8>>),
}

/// What one turn of the adapter's driver task carries out (see
/// [`Shared::turn`]).
#[derive(Debug)]
pub struct Turn {
    /// I/O to carry out, in order.
    pub actions: Vec<Action>,
    /// When to turn again if nothing wakes the task before.
    pub deadline: Timestamp,
    /// The metrics to publish, every [`PUBLISH_EVERY`]; empty in between.
    pub metrics: Vec<Series>,
}

/// Events for watchers and subscribers, outcomes for the callers of
/// `join`/`leave`, and replies for inbound streams, in the order the core
/// produced them. Deliver them without holding the driver's lock, so a
/// watcher may read the node.
pub struct Notices {
    items: Vec<Notice>,
    listeners: Arc<Listeners>,
}

impl Notices {
    /// True when there is nothing to deliver.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Calls the watchers, subscribers and completion callbacks.
    pub fn deliver(self) {
        for item in self.items {
            match item {
                Notice::Event(event) => self.listeners.tell(&event),
                Notice::Join(done, result) => done(result),
                Notice::Leave(done, result) => done(result),
                Notice::Reply(done, payload) => done(payload),
            }
        }
    }
}

/// The core [`Node`] plus the adapter-facing bookkeeping: listeners, waiting
/// callers, inbound streams awaiting their reply, and counters the core
/// cannot see.
pub struct Driver {
    node: Node,
    /// The latest time handed in; inputs stamped earlier (by a task that was
    /// slower to take the lock) are handled at this time, so the core never
    /// sees time go backwards.
    now: Timestamp,
    listeners: Arc<Listeners>,
    joins: BTreeMap<JoinId, JoinDone>,
    leave: Option<LeaveDone>,
    replies: BTreeMap<StreamId, ReplyDone>,
    next_stream: u64,
    connections_in: u64,
    bad_frames: u64,
    next_metrics: Timestamp,
    stopped: bool,
}

impl core::fmt::Debug for Driver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("node", &self.node)
            .field("now", &self.now)
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// A driver around a new node; `watchers` are told of every event.
    pub fn new(
        config: Config,
        watchers: Vec<Arc<dyn Watcher>>,
        rng: impl RngCore + Send + 'static,
        now: Timestamp,
    ) -> Result<Driver, ConfigError> {
        Ok(Driver {
            node: Node::new(config, rng, now)?,
            now,
            listeners: Arc::new(Listeners::new(watchers)),
            joins: BTreeMap::new(),
            leave: None,
            replies: BTreeMap::new(),
            next_stream: 0,
            connections_in: 0,
            bad_frames: 0,
            next_metrics: now,
            stopped: false,
        })
    }

    /// The core, for reading.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The core's counters, with unreadable inbound frames (which never
    /// reach the core) added to `decode_errors`.
    pub fn stats(&self) -> Stats {
        let mut stats = self.node.stats();
        stats.decode_errors += self.bad_frames;
        stats
    }

    /// Every metric's current value (see [`metrics`]).
    pub fn metrics(&self) -> MetricValues {
        MetricValues::read(self)
    }

    /// Every metric's value if they are due at `now` (every
    /// [`PUBLISH_EVERY`], first at the start).
    pub fn metrics_due(&mut self, now: Timestamp) -> Option<MetricValues> {
        let now = self.at(now);
        if now < self.next_metrics {
            return None;
        }
        self.next_metrics = now + PUBLISH_EVERY;
        Some(self.metrics())
    }

    fn at(&mut self, now: Timestamp) -> Timestamp {
        self.now = self.now.max(now);
        self.now
    }

    /// A datagram arrived.
    pub fn handle_datagram(&mut self, now: Timestamp, from: SocketAddr, bytes: &[u8]) {
        let now = self.at(now);
        self.node.handle_datagram(now, from, bytes);
    }

    /// An inbound stream was accepted (counted for metrics).
    pub fn stream_accepted(&mut self) {
        self.connections_in += 1;
    }

    /// An inbound stream sent a frame that cannot be read: a length over the
    /// frame limit, or a body cut short. Counted as a decode error.
    pub fn bad_frame(&mut self, _error: &DecodeError) {
        self.bad_frames += 1;
    }

    /// An inbound stream delivered one request frame. `reply` is called
    /// exactly once (from [`Notices::deliver`]) with the reply frame's body,
    /// or `None` to close the stream without a reply.
    pub fn handle_request(
        &mut self,
        now: Timestamp,
        from: SocketAddr,
        bytes: &[u8],
        reply: impl FnOnce(Option<Vec<u8>>) + Send + 'static,
    ) {
        let now = self.at(now);
        let stream = StreamId(self.next_stream);
        self.next_stream += 1;
        self.replies.insert(stream, Box::new(reply));
        self.node.handle_request(now, stream, from, bytes);
    }

    /// An outbound exchange asked for by [`Action::Request`] ended.
    pub fn handle_response(
        &mut self,
        now: Timestamp,
        id: RequestId,
        result: Result<&[u8], StreamError>,
    ) {
        let now = self.at(now);
        self.node.handle_response(now, id, result);
    }

    /// A DNS answer asked for by [`Action::Resolve`] arrived.
    pub fn handle_resolved(
        &mut self,
        now: Timestamp,
        name: &str,
        result: Result<Vec<IpAddr>, ResolveError>,
    ) {
        let now = self.at(now);
        self.node.handle_resolved(now, name, result);
    }

    /// Sets a key of the local state.
    pub fn upsert_local(&mut self, key: &str, value: &str) -> Result<(), LocalStateError> {
        self.node.upsert_local(key, value)
    }

    /// Deletes a key of the local state.
    pub fn delete_local(&mut self, key: &str) -> Result<(), LocalStateError> {
        self.node.delete_local(key)
    }

    /// Starts a join; `done` receives its outcome (from [`Notices::deliver`]).
    /// Invalid targets, a node that left and a stopped driver are refused
    /// here, and `done` is then dropped uncalled.
    pub fn join<S: AsRef<str>>(
        &mut self,
        now: Timestamp,
        targets: &[S],
        done: impl FnOnce(Result<Vec<NodeId>, JoinError>) + Send + 'static,
    ) -> Result<(), JoinError> {
        if self.stopped {
            return Err(JoinError::Stopped);
        }
        let now = self.at(now);
        let id = self.node.join(now, targets)?;
        self.joins.insert(id, Box::new(done));
        Ok(())
    }

    /// Starts a graceful leave; `done` receives how many nodes acknowledged
    /// it, or why none did (from [`Notices::deliver`]). A second leave and a
    /// stopped driver are refused here, and `done` is then dropped uncalled.
    pub fn leave(
        &mut self,
        now: Timestamp,
        done: impl FnOnce(Result<usize, LeaveError>) + Send + 'static,
    ) -> Result<(), LeaveError> {
        if self.stopped {
            return Err(LeaveError::Stopped);
        }
        let now = self.at(now);
        self.node.leave(now)?;
        self.leave = Some(Box::new(done));
        Ok(())
    }

    /// Adds a subscriber: `sink` is called with every later event and
    /// returns `false` once its receiver is gone, which unsubscribes it.
    /// It must not block.
    pub fn subscribe(&mut self, sink: impl Fn(&Event) -> bool + Send + Sync + 'static) {
        self.listeners = Arc::new(self.listeners.with(Box::new(sink)));
    }

    /// Runs the core's timeout if it is due at `now`, then drains every
    /// output the core has.
    pub fn poll(&mut self, now: Timestamp) -> Batch {
        let now = self.at(now);
        if now >= self.node.next_timeout() {
            self.node.handle_timeout(now);
        }
        if let Some(pruned) = self.listeners.pruned() {
            self.listeners = Arc::new(pruned);
        }
        let mut actions = Vec::new();
        let mut items = Vec::new();
        let deadline = loop {
            match self.node.poll_output() {
                Output::Timeout(at) => break at,
                Output::Transmit { to, payload } => actions.push(Action::Transmit { to, payload }),
                Output::Request { id, to, payload } => {
                    actions.push(Action::Request { id, to, payload })
                }
                Output::Resolve { name } => actions.push(Action::Resolve { name }),
                Output::Response { id, payload } => {
                    if let Some(done) = self.replies.remove(&id) {
                        items.push(Notice::Reply(done, payload));
                    }
                }
                Output::Event(event) => {
                    match &event {
                        Event::JoinCompleted { join, result } => {
                            if let Some(done) = self.joins.remove(join) {
                                items.push(Notice::Join(done, result.clone()));
                            }
                        }
                        Event::LeaveCompleted { result } => {
                            if let Some(done) = self.leave.take() {
                                items.push(Notice::Leave(done, result.clone()));
                            }
                        }
                        _ => {}
                    }
                    items.push(Notice::Event(event));
                }
            }
        };
        Batch {
            actions,
            notices: Notices {
                items,
                listeners: Arc::clone(&self.listeners),
            },
            deadline,
        }
    }

    /// Stops the driver: later joins and leaves are refused, every caller
    /// still waiting is answered with a `Stopped` error (deliver the returned
    /// notices), inbound streams awaiting a reply are closed, and subscribers
    /// are dropped so their streams end.
    pub fn stop(&mut self) -> Notices {
        self.stopped = true;
        self.listeners = Arc::new(self.listeners.without_subscribers());
        let mut items: Vec<Notice> = core::mem::take(&mut self.joins)
            .into_values()
            .map(|done| Notice::Join(done, Err(JoinError::Stopped)))
            .collect();
        if let Some(done) = self.leave.take() {
            items.push(Notice::Leave(done, Err(LeaveError::Stopped)));
        }
        items.extend(
            core::mem::take(&mut self.replies)
                .into_values()
                .map(|done| Notice::Reply(done, None)),
        );
        Notices {
            items,
            listeners: Arc::clone(&self.listeners),
        }
    }

    /// True once [`stop`](Driver::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }
}

/// The handle around a [`Driver`] that the adapter's tasks and the
/// application share: a mutex, plus a callback that wakes the adapter's
/// driver task after an input. The methods here lock, act and wake, so an
/// adapter's public API is a thin layer over them.
pub struct Shared {
    driver: Mutex<Driver>,
    wake: Box<dyn Fn() + Send + Sync>,
    id: NodeId,
    addr: SocketAddr,
}

impl core::fmt::Debug for Shared {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Shared")
            .field("id", &self.id)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The handle of a new node whose sockets are bound at `bound`. It
    /// advertises the address [`Settings::advertise_for`] picks (given the
    /// host's `interfaces`, needed only when [`Settings::needs_interfaces`]),
    /// its RNG is seeded with `seed` (take it from the OS), and `wake` is as
    /// in [`Shared::new`].
    pub fn start(
        settings: &Settings,
        bound: SocketAddr,
        interfaces: &[IpAddr],
        seed: u64,
        now: Timestamp,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Result<Arc<Shared>, StartError> {
        let config = settings.core_config(settings.advertise_for(bound, interfaces));
        let rng = SeededRng::from_seed_u64(seed);
        let driver = Driver::new(config, settings.watchers.clone(), rng, now)?;
        Ok(Shared::new(driver, wake))
    }

    /// Shares `driver`; `wake` must make the adapter's driver task poll
    /// soon, and must not block.
    pub fn new(driver: Driver, wake: impl Fn() + Send + Sync + 'static) -> Arc<Shared> {
        let id = driver.node.id().clone();
        let addr = driver.node.config().advertise_addr;
        Arc::new(Shared {
            driver: Mutex::new(driver),
            wake: Box::new(wake),
            id,
            addr,
        })
    }

    /// Locks the driver. Hold the guard briefly and never across an await
    /// or while delivering notices.
    pub fn lock(&self) -> MutexGuard<'_, Driver> {
        // A panic while locked cannot leave the driver half-updated in a way
        // that matters more than stopping would, so a poisoned lock is used
        // as is.
        self.driver.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the driver task so it polls the core.
    pub fn wake(&self) {
        (self.wake)();
    }

    /// The local node's id.
    pub fn local_id(&self) -> &NodeId {
        &self.id
    }

    /// The address the local node advertises.
    pub fn advertise_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Snapshot of the local node.
    pub fn local_node(&self) -> NodeView {
        self.lock().node.local_node()
    }

    /// Snapshot of one node, if known.
    pub fn node(&self, id: &NodeId) -> Option<NodeView> {
        self.lock().node.node(id)
    }

    /// Snapshots of every known node, the local one first.
    pub fn nodes(&self) -> Vec<NodeView> {
        self.lock().node.nodes()
    }

    /// Counters since start (see [`Driver::stats`]).
    pub fn stats(&self) -> Stats {
        self.lock().stats()
    }

    /// Every metric's current value.
    pub fn metrics(&self) -> MetricValues {
        self.lock().metrics()
    }

    /// Sets a key of the local state; it spreads with the next gossip rounds.
    pub fn upsert_local(&self, key: &str, value: &str) -> Result<(), LocalStateError> {
        self.lock().upsert_local(key, value)
    }

    /// Deletes a key of the local state.
    pub fn delete_local(&self, key: &str) -> Result<(), LocalStateError> {
        self.lock().delete_local(key)
    }

    /// Starts a join and wakes the driver task (see [`Driver::join`]).
    pub fn join<S: AsRef<str>>(
        &self,
        now: Timestamp,
        targets: &[S],
        done: impl FnOnce(Result<Vec<NodeId>, JoinError>) + Send + 'static,
    ) -> Result<(), JoinError> {
        self.lock().join(now, targets, done)?;
        self.wake();
        Ok(())
    }

    /// Starts a leave and wakes the driver task (see [`Driver::leave`]).
    pub fn leave(
        &self,
        now: Timestamp,
        done: impl FnOnce(Result<usize, LeaveError>) + Send + 'static,
    ) -> Result<(), LeaveError> {
        self.lock().leave(now, done)?;
        self.wake();
        Ok(())
    }

    /// Subscribes `sink` to every later event (see [`Driver::subscribe`]).
    pub fn subscribe(&self, sink: impl Fn(&Event) -> bool + Send + Sync + 'static) {
        self.lock().subscribe(sink);
    }

    /// Stops the driver and answers every waiting caller (see [`Driver::stop`]).
    pub fn stop(&self) {
        let notices = self.lock().stop();
        notices.deliver();
    }

    /// One turn of the adapter's driver task at `now`: polls the core,
    /// delivers the notices with the lock released, and returns the I/O to
    /// carry out, when to turn again, and the metrics when they are due.
    pub fn turn(&self, now: Timestamp) -> Turn {
        let (batch, metrics) = {
            let mut driver = self.lock();
            let batch = driver.poll(now);
            (batch, driver.metrics_due(now))
        };
        batch.notices.deliver();
        Turn {
            actions: batch.actions,
            deadline: batch.deadline,
            metrics: metrics.map_or_else(Vec::new, |values| values.series(&self.id)),
        }
    }

    /// Hands in the datagram `first` names (its length in `buf`, its
    /// sender), then up to [`RECV_BATCH`] `- 1` more that `next` reads into
    /// `buf` without waiting (`None` when there is none), all under one
    /// lock; then wakes the driver task.
    pub fn datagrams(
        &self,
        now: Timestamp,
        buf: &mut [u8],
        first: (usize, SocketAddr),
        mut next: impl FnMut(&mut [u8]) -> Option<(usize, SocketAddr)>,
    ) {
        {
            let mut driver = self.lock();
            let (len, from) = first;
            driver.handle_datagram(now, from, &buf[..len]);
            for _ in 1..RECV_BATCH {
                let Some((len, from)) = next(buf) else { break };
                driver.handle_datagram(now, from, &buf[..len]);
            }
        }
        self.wake();
    }

    /// An inbound stream was accepted while the adapter serves `serving`
    /// others: true (and counted for metrics) if it is to be served, false
    /// if [`MAX_INBOUND_STREAMS`] already are and the adapter closes it.
    pub fn admit(&self, serving: usize) -> bool {
        if serving >= MAX_INBOUND_STREAMS {
            return false;
        }
        self.lock().stream_accepted();
        true
    }

    /// An inbound stream's request frame could not be read; frames that
    /// are too large or cut short count as decode errors.
    pub fn read_failed(&self, err: &FrameError) {
        if let FrameError::Bad(err) = err {
            self.lock().bad_frame(err);
        }
    }

    /// An inbound stream delivered its request frame; `reply` is called
    /// once with the reply frame's body, or `None` to close the stream (see
    /// [`Driver::handle_request`]).
    pub fn request(
        &self,
        now: Timestamp,
        from: SocketAddr,
        body: &[u8],
        reply: impl FnOnce(Option<Vec<u8>>) + Send + 'static,
    ) {
        self.lock().handle_request(now, from, body, reply);
        self.wake();
    }

    /// An outbound exchange asked for by [`Action::Request`] ended.
    pub fn response(&self, now: Timestamp, id: RequestId, result: Result<Vec<u8>, StreamError>) {
        let result = match &result {
            Ok(reply) => Ok(reply.as_slice()),
            Err(err) => Err(err.clone()),
        };
        self.lock().handle_response(now, id, result);
        self.wake();
    }

    /// A DNS answer asked for by [`Action::Resolve`] arrived.
    pub fn resolved(&self, now: Timestamp, name: &str, result: Result<Vec<IpAddr>, ResolveError>) {
        self.lock().handle_resolved(now, name, result);
        self.wake();
    }
}

/// Writes the synchronous methods of an adapter's public handle, delegating
/// to the [`Shared`] held in the field `$shared`, so every adapter offers
/// them with the same names, types and documentation: `local_id`,
/// `advertise_addr`, `local_node`, `node`, `nodes`, `stats`, `upsert_local`
/// and `delete_local`.
///
/// ```
/// use std::sync::Arc;
/// use kite_proto::driver::{Options, Shared};
/// use kite_proto::Timestamp;
///
/// /// An adapter's handle.
/// pub struct Kite {
///     shared: Arc<Shared>,
/// }
///
/// impl Kite {
///     kite_proto::handle_api!(shared);
/// }
///
/// let settings = Options::new().validate()?;
/// let bound = "127.0.0.1:7000".parse()?;
/// let shared = Shared::start(&settings, bound, &[], 7, Timestamp::ZERO, || {})?;
/// let kite = Kite { shared };
/// kite.upsert_local("rpc_addr", "127.0.0.1:9000")?;
/// assert_eq!(kite.local_node().entries["rpc_addr"], "127.0.0.1:9000");
/// assert_eq!(kite.nodes().len(), 1);
/// assert_eq!(kite.advertise_addr(), bound);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[macro_export]
macro_rules! handle_api {
    ($shared:ident) => {
        /// This node's id.
        pub fn local_id(&self) -> &$crate::NodeId {
            self.$shared.local_id()
        }

        /// The address other nodes reach this node at (UDP and TCP).
        pub fn advertise_addr(&self) -> ::core::net::SocketAddr {
            self.$shared.advertise_addr()
        }

        /// Snapshot of the local node.
        pub fn local_node(&self) -> $crate::NodeView {
            self.$shared.local_node()
        }

        /// Snapshot of one node (the local one included), if known.
        pub fn node(&self, id: &$crate::NodeId) -> ::core::option::Option<$crate::NodeView> {
            self.$shared.node(id)
        }

        /// Snapshots of every known node, the local one first, then by id.
        pub fn nodes(&self) -> ::std::vec::Vec<$crate::NodeView> {
            self.$shared.nodes()
        }

        /// Counters since start.
        pub fn stats(&self) -> $crate::Stats {
            self.$shared.stats()
        }

        /// Sets a key of the local state; every node sees it within a few
        /// gossip rounds. Setting a key to its current value does nothing.
        pub fn upsert_local(
            &self,
            key: &str,
            value: &str,
        ) -> ::core::result::Result<(), $crate::LocalStateError> {
            self.$shared.upsert_local(key, value)
        }

        /// Deletes a key of the local state; other nodes report it deleted.
        pub fn delete_local(
            &self,
            key: &str,
        ) -> ::core::result::Result<(), $crate::LocalStateError> {
            self.$shared.delete_local(key)
        }
    };
}

#[cfg(test)]
mod tests;
