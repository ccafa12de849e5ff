//! [`Shared`]: the core [`Node`] behind a lock, with what the node's tasks
//! and the application's handle share around it: the callers waiting for a
//! `join` or `leave`, inbound streams waiting for their reply, event
//! subscribers, and the counters the core cannot see.
//!
//! It does no I/O and never awaits: the tasks in [`crate::tasks`] hand
//! inputs in, and the driver task takes the core's outputs with
//! [`Shared::turn`] and carries them out.

use core::net::{IpAddr, SocketAddr};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use async_channel::{Receiver, Sender};
use kite_proto::{
    Config, ConfigError, Event, JoinError, JoinId, LeaveError, LocalStateError, Node, NodeId,
    NodeView, Output, RequestId, ResolveError, SeededRng, Stats, StreamError, StreamId, Timestamp,
};

use crate::metrics::{MetricValues, PUBLISH_EVERY};
use crate::watcher::Watcher;

/// Most inbound streams a node serves at once; it closes further
/// connections.
pub const MAX_INBOUND_STREAMS: usize = 256;

/// Most datagrams [`Shared::datagrams`] hands in under one lock.
pub(crate) const RECV_BATCH: usize = 64;

/// The outcome of a `join`, for its caller.
pub(crate) type JoinResult = Result<Vec<NodeId>, JoinError>;
/// The outcome of a `leave`, for its caller.
pub(crate) type LeaveResult = Result<usize, LeaveError>;

/// What is behind the lock.
struct Core {
    node: Node,
    /// The latest time handed in; inputs stamped earlier (by a task that was
    /// slower to take the lock) are handled at this time, so the core never
    /// sees time go backwards.
    now: Timestamp,
    joins: BTreeMap<JoinId, Sender<JoinResult>>,
    leave: Option<Sender<LeaveResult>>,
    replies: BTreeMap<StreamId, Sender<Vec<u8>>>,
    subscribers: Vec<Sender<Event>>,
    next_stream: u64,
    connections_in: u64,
    bad_frames: u64,
    next_metrics: Timestamp,
    stopped: bool,
}

impl Core {
    fn at(&mut self, now: Timestamp) -> Timestamp {
        self.now = self.now.max(now);
        self.now
    }

    /// The core's counters, with unreadable inbound frames (which never
    /// reach the core) added to `decode_errors`.
    fn stats(&self) -> Stats {
        let mut stats = self.node.stats();
        stats.decode_errors += self.bad_frames;
        stats
    }

    fn metrics(&self) -> MetricValues {
        MetricValues::read(&self.node, &self.stats(), self.connections_in)
    }
}

/// What one turn of the driver task carries out (see [`Shared::turn`]).
pub(crate) struct Turn {
    /// The core's outputs, in order, up to (not including) its deadline.
    pub(crate) outputs: Vec<Output>,
    /// When to turn again if nothing wakes the driver task before.
    pub(crate) deadline: Timestamp,
    /// The metrics, when they are due (every [`PUBLISH_EVERY`]).
    pub(crate) metrics: Option<MetricValues>,
}

/// The core and everything around it that the node's tasks and the
/// application share.
pub(crate) struct Shared {
    core: Mutex<Core>,
    watchers: Vec<Arc<dyn Watcher>>,
    wake: Sender<()>,
    id: NodeId,
    addr: SocketAddr,
    start: Instant,
}

impl Shared {
    /// A new node configured by `config`, its RNG seeded with `seed`, its
    /// clock started at `start`; `watchers` are told of every event, and
    /// the driver task is woken through the receiver returned.
    pub(crate) fn new(
        config: Config,
        watchers: Vec<Arc<dyn Watcher>>,
        seed: u64,
        start: Instant,
    ) -> Result<(Shared, Receiver<()>), ConfigError> {
        let node = Node::new(config, SeededRng::from_seed_u64(seed), Timestamp::ZERO)?;
        let (wake, woken) = async_channel::bounded(1);
        let shared = Shared {
            id: node.id().clone(),
            addr: node.config().advertise_addr,
            core: Mutex::new(Core {
                node,
                now: Timestamp::ZERO,
                joins: BTreeMap::new(),
                leave: None,
                replies: BTreeMap::new(),
                subscribers: Vec::new(),
                next_stream: 0,
                connections_in: 0,
                bad_frames: 0,
                next_metrics: Timestamp::ZERO,
                stopped: false,
            }),
            watchers,
            wake,
            start,
        };
        Ok((shared, woken))
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic while locked cannot leave the core half-updated in a way
        // that matters more than stopping would, so a poisoned lock is used
        // as is.
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the driver task so it takes the core's outputs.
    fn wake(&self) {
        // A full channel already holds a wake-up.
        let _ = self.wake.try_send(());
    }

    /// The node's clock: the time since it started.
    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::from_duration(self.start.elapsed())
    }

    /// The instant a timestamp of the node's clock stands for.
    pub(crate) fn instant(&self, at: Timestamp) -> Instant {
        self.start + at.as_duration()
    }

    pub(crate) fn local_id(&self) -> &NodeId {
        &self.id
    }

    pub(crate) fn advertise_addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn local_node(&self) -> NodeView {
        self.lock().node.local_node()
    }

    pub(crate) fn node(&self, id: &NodeId) -> Option<NodeView> {
        self.lock().node.node(id)
    }

    pub(crate) fn nodes(&self) -> Vec<NodeView> {
        self.lock().node.nodes()
    }

    pub(crate) fn stats(&self) -> Stats {
        self.lock().stats()
    }

    pub(crate) fn upsert_local(&self, key: &str, value: &str) -> Result<(), LocalStateError> {
        let mut core = self.lock();
        if core.stopped {
            return Err(LocalStateError::Stopped);
        }
        core.node.upsert_local(key, value)
    }

    pub(crate) fn delete_local(&self, key: &str) -> Result<(), LocalStateError> {
        let mut core = self.lock();
        if core.stopped {
            return Err(LocalStateError::Stopped);
        }
        core.node.delete_local(key)
    }

    /// Runs `f` on the core (the keyring and mode methods of [`Node`]).
    pub(crate) fn with_node<T>(&self, f: impl FnOnce(&mut Node) -> T) -> T {
        f(&mut self.lock().node)
    }

    /// Starts a join; its outcome arrives on the receiver. Invalid targets,
    /// a node that left and a stopped node are refused here.
    pub(crate) fn join<S: AsRef<str>>(
        &self,
        targets: &[S],
    ) -> Result<Receiver<JoinResult>, JoinError> {
        let (done, outcome) = async_channel::bounded(1);
        {
            let mut core = self.lock();
            if core.stopped {
                return Err(JoinError::Stopped);
            }
            let now = core.at(self.now());
            let id = core.node.join(now, targets)?;
            core.joins.insert(id, done);
        }
        self.wake();
        Ok(outcome)
    }

    /// Starts a graceful leave; how many nodes acknowledged it, or why none
    /// did, arrives on the receiver. A second leave and a stopped node are
    /// refused here.
    pub(crate) fn leave(&self) -> Result<Receiver<LeaveResult>, LeaveError> {
        let (done, outcome) = async_channel::bounded(1);
        {
            let mut core = self.lock();
            if core.stopped {
                return Err(LeaveError::Stopped);
            }
            let now = core.at(self.now());
            core.node.leave(now)?;
            core.leave = Some(done);
        }
        self.wake();
        Ok(outcome)
    }

    /// Every later event, on an unbounded channel; dropping the receiver
    /// unsubscribes. A stopped node's channel is closed at once.
    pub(crate) fn subscribe(&self) -> Receiver<Event> {
        let (sink, events) = async_channel::unbounded();
        let mut core = self.lock();
        if !core.stopped {
            core.subscribers.push(sink);
        }
        events
    }

    /// Stops the node: later joins and leaves are refused, every caller
    /// still waiting is answered with a `Stopped` error, inbound streams
    /// awaiting a reply are closed, and event subscriptions end.
    pub(crate) fn stop(&self) {
        let mut core = self.lock();
        core.stopped = true;
        for (_, done) in core::mem::take(&mut core.joins) {
            let _ = done.try_send(Err(JoinError::Stopped));
        }
        if let Some(done) = core.leave.take() {
            let _ = done.try_send(Err(LeaveError::Stopped));
        }
        core.replies.clear();
        core.subscribers.clear();
    }

    /// One turn of the driver task at `now` (of [`Shared::now`]): runs the
    /// core's timeout if it is due, and takes every output the core has.
    pub(crate) fn turn(&self, now: Timestamp) -> Turn {
        let mut core = self.lock();
        let now = core.at(now);
        if now >= core.node.next_timeout() {
            core.node.handle_timeout(now);
        }
        let mut outputs = Vec::new();
        let deadline = loop {
            match core.node.poll_output() {
                Output::Timeout(at) => break at,
                output => outputs.push(output),
            }
        };
        let metrics = (now >= core.next_metrics).then(|| {
            core.next_metrics = now + PUBLISH_EVERY;
            core.metrics()
        });
        Turn {
            outputs,
            deadline,
            metrics,
        }
    }

    /// Tells everyone concerned of an event the core emitted: the caller of
    /// the `join` or `leave` it completes, the subscribers, then the
    /// watchers (with the lock released, so they may read the node).
    pub(crate) fn tell(&self, event: &Event) {
        {
            let mut core = self.lock();
            match event {
                Event::JoinCompleted { join, result } => {
                    if let Some(done) = core.joins.remove(join) {
                        let _ = done.try_send(result.clone());
                    }
                }
                Event::LeaveCompleted { result } => {
                    if let Some(done) = core.leave.take() {
                        let _ = done.try_send(result.clone());
                    }
                }
                _ => {}
            }
            core.subscribers
                .retain(|sink| sink.try_send(event.clone()).is_ok());
        }
        for watcher in &self.watchers {
            watcher.on_event(event);
        }
    }

    /// Hands the reply the core gave to an inbound stream to the task
    /// serving it; `None` closes the stream without a reply.
    pub(crate) fn reply(&self, stream: StreamId, payload: Option<Vec<u8>>) {
        let waiting = self.lock().replies.remove(&stream);
        if let (Some(done), Some(payload)) = (waiting, payload) {
            let _ = done.try_send(payload);
        }
    }

    /// Hands in the datagram `first` names (its length in `buf`, its
    /// sender), then up to [`RECV_BATCH`] `- 1` more that `next` reads into
    /// `buf` without waiting (`None` when there is none), all under one
    /// lock; then wakes the driver task.
    pub(crate) fn datagrams(
        &self,
        buf: &mut [u8],
        first: (usize, SocketAddr),
        mut next: impl FnMut(&mut [u8]) -> Option<(usize, SocketAddr)>,
    ) {
        {
            let mut core = self.lock();
            let now = core.at(self.now());
            let (len, from) = first;
            core.node.handle_datagram(now, from, &buf[..len]);
            for _ in 1..RECV_BATCH {
                let Some((len, from)) = next(buf) else { break };
                core.node.handle_datagram(now, from, &buf[..len]);
            }
        }
        self.wake();
    }

    /// An inbound stream was accepted while `serving` others are served:
    /// true (and counted for metrics) if it is to be served, false if
    /// [`MAX_INBOUND_STREAMS`] already are and it is to be closed.
    pub(crate) fn admit(&self, serving: usize) -> bool {
        if serving >= MAX_INBOUND_STREAMS {
            return false;
        }
        self.lock().connections_in += 1;
        true
    }

    /// An inbound stream sent a frame that cannot be read: a length over the
    /// frame limit, or a body cut short. Counted as a decode error.
    pub(crate) fn bad_frame(&self) {
        self.lock().bad_frames += 1;
    }

    /// An inbound stream delivered its request frame; the reply frame's
    /// body arrives on the receiver, which closes without one when the core
    /// has no reply (or the node stops).
    pub(crate) fn request(&self, from: SocketAddr, body: &[u8]) -> Receiver<Vec<u8>> {
        let (done, reply) = async_channel::bounded(1);
        {
            let mut core = self.lock();
            if core.stopped {
                return reply;
            }
            let now = core.at(self.now());
            let stream = StreamId(core.next_stream);
            core.next_stream += 1;
            core.replies.insert(stream, done);
            core.node.handle_request(now, stream, from, body);
        }
        self.wake();
        reply
    }

    /// An outbound exchange the core asked for ended.
    pub(crate) fn response(&self, id: RequestId, result: Result<Vec<u8>, StreamError>) {
        {
            let mut core = self.lock();
            let now = core.at(self.now());
            core.node
                .handle_response(now, id, result.as_deref().map_err(Clone::clone));
        }
        self.wake();
    }

    /// A DNS answer the core asked for arrived.
    pub(crate) fn resolved(&self, name: &str, result: Result<Vec<IpAddr>, ResolveError>) {
        {
            let mut core = self.lock();
            let now = core.at(self.now());
            core.node.handle_resolved(now, name, result);
        }
        self.wake();
    }
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
