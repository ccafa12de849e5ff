//! The simulator: hosts, the virtual clock and the run loop, and datagram
//! delivery. Streams, DNS and commands are in their own modules.

use core::net::SocketAddr;
use core::time::Duration;
use kite_proto::{
    Config, Event, Node, NodeId, Output, RequestId, SeededRng, StreamError, Timestamp,
};

use crate::clock::EventQueue;
use crate::dns::Dns;
use crate::events::LoggedEvent;
use crate::failure::Failure;
use crate::faults::Partitions;
use crate::host::{Host, HostId};
use crate::invariants::{InvariantConfig, Invariants, Violation};
use crate::metrics::Metrics;
use crate::network::NetworkModel;
use crate::streams::Streams;
use crate::trace::{Record, TraceHash};

/// How many past events a [`Failure`] shows.
const FAILURE_EVENTS: usize = 40;

/// Something scheduled to happen at a point of virtual time.
pub(crate) enum Happening {
    /// A node's deadline (`at` is the deadline it asked for).
    Timer {
        host: HostId,
        incarnation: u32,
        at: Timestamp,
    },
    Datagram {
        to: HostId,
        from: SocketAddr,
        payload: Vec<u8>,
    },
    Request {
        to: HostId,
        from: HostId,
        incarnation: u32,
        request: RequestId,
        payload: Vec<u8>,
    },
    Response {
        to: HostId,
        incarnation: u32,
        request: RequestId,
        result: Result<Vec<u8>, StreamError>,
    },
    StreamTimeout {
        host: HostId,
        incarnation: u32,
        request: RequestId,
    },
    Resolved {
        host: HostId,
        incarnation: u32,
        name: String,
    },
    Sweep,
}

impl Happening {
    /// The host that must be running (and not paused) to take it.
    fn target(&self) -> Option<HostId> {
        match self {
            Happening::Timer { host, .. }
            | Happening::StreamTimeout { host, .. }
            | Happening::Resolved { host, .. } => Some(*host),
            Happening::Datagram { to, .. }
            | Happening::Request { to, .. }
            | Happening::Response { to, .. } => Some(*to),
            Happening::Sweep => None,
        }
    }
}

/// Builds a [`Sim`]: the seed, network model, node configuration and checks.
///
/// ```
/// use core::time::Duration;
/// use kite_sim::{LinkModel, NetworkModel, Sim};
///
/// let mut sim = Sim::builder(42)
///     .network(NetworkModel::default().link(LinkModel::lan().loss(0.01)))
///     .node_config(|c| c.gossip_interval = Duration::from_millis(200))
///     .build();
/// let a = sim.add_node();
/// assert_eq!(sim.node(a).unwrap().config().gossip_interval, Duration::from_millis(200));
/// ```
pub struct SimBuilder {
    seed: u64,
    network: NetworkModel,
    configure: Box<dyn Fn(&mut Config)>,
    invariants: InvariantConfig,
    record_events: bool,
    check_every: Duration,
    clock_drift: f64,
}

impl SimBuilder {
    /// Gives every host its own clock, started at a random reading and
    /// running at a random rate within `1 ± max_drift` of true time (for
    /// example `0.01`: up to 1 % fast or slow; default 0, every clock
    /// exact). Nodes see only their host's clock.
    ///
    /// # Panics
    ///
    /// If `max_drift` is not within `0.0..0.5`.
    pub fn clock_drift(mut self, max_drift: f64) -> Self {
        assert!(
            (0.0..0.5).contains(&max_drift),
            "clock drift must be within 0.0..0.5, not {max_drift}"
        );
        self.clock_drift = max_drift;
        self
    }

    /// With this network model (default: [`NetworkModel::default`]).
    pub fn network(mut self, network: NetworkModel) -> Self {
        self.network = network;
        self
    }

    /// Applies `configure` to every node's [`Config`] (which starts as
    /// `Config::new(host address)`), before any per-node tweak.
    pub fn node_config(mut self, configure: impl Fn(&mut Config) + 'static) -> Self {
        self.configure = Box::new(configure);
        self
    }

    /// With these invariant checks (default: all, swept every second).
    pub fn invariants(mut self, invariants: InvariantConfig) -> Self {
        self.invariants = invariants;
        self
    }

    /// Whether to keep every event in [`Sim::events`] (default true). Large
    /// runs that only count events may turn it off to save memory.
    pub fn record_events(mut self, record: bool) -> Self {
        self.record_events = record;
        self
    }

    /// How often [`Sim::run_until`] evaluates its condition, in simulated
    /// time (default 100 ms).
    pub fn check_every(mut self, every: Duration) -> Self {
        self.check_every = every;
        self
    }

    /// The simulator, with no hosts yet, at time zero.
    pub fn build(self) -> Sim {
        let mut sim = Sim {
            seed: self.seed,
            now: Timestamp::ZERO,
            rng: SeededRng::from_seed_u64(self.seed),
            queue: EventQueue::new(),
            network: self.network,
            partitions: Partitions::default(),
            dns: Dns::default(),
            hosts: Vec::new(),
            streams: Streams::default(),
            invariants: Invariants::new(self.invariants),
            trace: TraceHash::default(),
            actions: Vec::new(),
            metrics: Metrics::default(),
            events: Vec::new(),
            record_events: self.record_events,
            check_every: self.check_every.max(Duration::from_micros(1)),
            configure: self.configure,
            clock_drift: self.clock_drift,
            failure: None,
        };
        if let Some(every) = sim.invariants.config.sweep_every {
            sim.queue.push(Timestamp::ZERO + every, Happening::Sweep);
        }
        sim
    }
}

/// A deterministic cluster of real [`kite_proto::Node`]s over a virtual
/// network. See the [crate documentation](crate) for a walk-through.
///
/// One `u64` seed fixes everything: node ids, gossip choices, and every
/// delay, loss and duplication drawn by the network. Time is virtual and
/// jumps from one scheduled happening to the next.
pub struct Sim {
    pub(crate) seed: u64,
    pub(crate) now: Timestamp,
    /// The network's randomness (nodes have their own, derived from the seed).
    pub(crate) rng: SeededRng,
    pub(crate) queue: EventQueue<Happening>,
    pub(crate) network: NetworkModel,
    pub(crate) partitions: Partitions,
    pub(crate) dns: Dns,
    pub(crate) hosts: Vec<Host>,
    pub(crate) streams: Streams,
    pub(crate) invariants: Invariants,
    pub(crate) trace: TraceHash,
    pub(crate) actions: Vec<String>,
    pub(crate) metrics: Metrics,
    pub(crate) events: Vec<LoggedEvent>,
    pub(crate) record_events: bool,
    pub(crate) check_every: Duration,
    pub(crate) configure: Box<dyn Fn(&mut Config)>,
    /// Largest clock rate error of new hosts (0: exact clocks).
    pub(crate) clock_drift: f64,
    pub(crate) failure: Option<Failure>,
}

impl core::fmt::Debug for Sim {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.seed)
            .field("now", &self.now)
            .field("hosts", &self.hosts.len())
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// A simulator with the default network and node configuration.
    pub fn new(seed: u64) -> Sim {
        Sim::builder(seed).build()
    }

    /// A builder, to choose the network model and node configuration.
    pub fn builder(seed: u64) -> SimBuilder {
        SimBuilder {
            seed,
            network: NetworkModel::default(),
            configure: Box::new(|_| {}),
            invariants: InvariantConfig::default(),
            record_events: true,
            check_every: Duration::from_millis(100),
            clock_drift: 0.0,
        }
    }

    /// The seed the run was built from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// What `host`'s clock reads now (see [`SimBuilder::clock_drift`]).
    pub(crate) fn local_now(&self, host: HostId) -> Timestamp {
        self.hosts[host.0].clock.local(self.now)
    }

    /// The current virtual time (true time; hosts may read their own
    /// drifting clocks, see [`SimBuilder::clock_drift`]).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The running node of `host`, if it is running.
    pub fn node(&self, host: HostId) -> Option<&Node> {
        self.hosts.get(host.0).and_then(|h| h.node.as_ref())
    }

    /// The id of the node running on `host`.
    pub fn id(&self, host: HostId) -> Option<NodeId> {
        self.node(host).map(|n| n.id().clone())
    }

    /// The host whose current node has id `id`.
    pub fn host_of(&self, id: &NodeId) -> Option<HostId> {
        self.hosts()
            .find(|h| self.node(*h).is_some_and(|n| n.id() == id))
    }

    /// Every host, in the order they were added.
    pub fn hosts(&self) -> impl Iterator<Item = HostId> + use<> {
        (0..self.hosts.len()).map(HostId)
    }

    /// Hosts with a running node that has not left: the members the cluster
    /// should agree on.
    pub fn live_hosts(&self) -> Vec<HostId> {
        self.hosts().filter(|h| self.hosts[h.0].is_live()).collect()
    }

    /// The network model in force.
    pub fn network(&self) -> &NetworkModel {
        &self.network
    }

    /// Changes the network model from now on (packets in flight keep the
    /// delays they were given).
    pub fn network_mut(&mut self) -> &mut NetworkModel {
        &mut self.network
    }

    /// Traffic counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Every event emitted so far (if recording, see
    /// [`SimBuilder::record_events`]).
    pub fn events(&self) -> &[LoggedEvent] {
        &self.events
    }

    /// Removes and returns the event log.
    pub fn take_events(&mut self) -> Vec<LoggedEvent> {
        core::mem::take(&mut self.events)
    }

    /// Commands and faults applied so far, rendered with their times.
    pub fn actions(&self) -> &[String] {
        &self.actions
    }

    /// The FNV-1a hash of the canonical trace so far: equal seeds and
    /// commands give equal hashes.
    pub fn trace_hash(&self) -> u64 {
        self.trace.value()
    }

    /// How many gossip rounds of the default configuration `elapsed` is.
    pub fn rounds(&self, elapsed: Duration) -> f64 {
        let mut config = Config::default();
        (self.configure)(&mut config);
        elapsed.as_secs_f64() / config.gossip_interval.as_secs_f64()
    }

    /// Runs for `duration` of virtual time. Fails at the first broken
    /// invariant (and keeps failing after that).
    pub fn run_for(&mut self, duration: Duration) -> Result<(), Failure> {
        self.advance_to(self.now + duration)
    }

    /// Runs until `done` holds (evaluated every `check_every` of virtual
    /// time, see [`SimBuilder::check_every`]) and returns how long it took,
    /// or fails after `limit`.
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&Sim) -> bool,
        limit: Duration,
    ) -> Result<Duration, Failure> {
        let start = self.now;
        let deadline = start + limit;
        loop {
            if let Some(failure) = &self.failure {
                return Err(failure.clone());
            }
            if done(self) {
                return Ok(self.now.saturating_since(start));
            }
            if self.now >= deadline {
                return Err(self.failure(format!("condition not met within {limit:?}")));
            }
            self.advance_to((self.now + self.check_every).min(deadline))?;
        }
    }

    /// A [`Failure`] for this run (seed, time, actions and recent events),
    /// for a test's own assertions.
    pub fn failure(&self, reason: impl Into<String>) -> Failure {
        self.failure_about(reason.into(), &[])
    }

    /// `Ok` if `holds`, else [`Sim::failure`] with the given reason.
    pub fn ensure(&self, holds: bool, reason: impl FnOnce() -> String) -> Result<(), Failure> {
        if holds {
            Ok(())
        } else {
            Err(self.failure(reason()))
        }
    }

    fn failure_about(&self, reason: String, ids: &[NodeId]) -> Failure {
        let mut events: Vec<String> = self
            .events
            .iter()
            .rev()
            .filter(|e| ids.is_empty() || ids.iter().any(|id| e.concerns(id)))
            .take(FAILURE_EVENTS)
            .map(ToString::to_string)
            .collect();
        events.reverse();
        Failure {
            seed: self.seed,
            at: self.now,
            reason,
            actions: self.actions.clone(),
            events,
        }
    }

    pub(crate) fn violated(&mut self, violation: Violation) {
        if self.failure.is_none() {
            self.failure = Some(self.failure_about(violation.what, &violation.ids));
        }
    }

    fn advance_to(&mut self, end: Timestamp) -> Result<(), Failure> {
        while let Some(at) = self.queue.peek_time() {
            if let Some(failure) = &self.failure {
                return Err(failure.clone());
            }
            if at > end {
                break;
            }
            let Some((at, happening)) = self.queue.pop() else {
                break;
            };
            self.now = at;
            self.dispatch(happening);
        }
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        self.now = self.now.max(end);
        Ok(())
    }

    fn dispatch(&mut self, happening: Happening) {
        if let Some(target) = happening.target() {
            let host = &self.hosts[target.0];
            if host.node.is_none() {
                self.undeliverable(target, happening);
                return;
            }
            if host.paused_until > self.now {
                // The process is stalled: inputs wait in the kernel.
                let resume = host.paused_until;
                self.queue.push(resume, happening);
                return;
            }
        }
        match happening {
            Happening::Timer {
                host,
                incarnation,
                at,
            } => {
                let now = self.local_now(host);
                let h = &mut self.hosts[host.0];
                if h.incarnation != incarnation || h.timer != Some(at) {
                    return;
                }
                h.timer = None;
                if let Some(node) = h.node.as_mut() {
                    node.handle_timeout(now);
                }
                self.drain(host);
                let h = &self.hosts[host.0];
                if h.timer.is_some_and(|t| t <= now) {
                    let id = self.id(host).into_iter().collect::<Vec<_>>();
                    self.violated(Violation {
                        what: format!(
                            "{host} asked to be woken at or before the deadline it just handled"
                        ),
                        ids: id,
                    });
                }
            }
            Happening::Datagram { to, from, payload } => {
                self.metrics.delivered += 1;
                self.trace.record(Record::Deliver, self.now, to.0);
                self.trace.u64(payload.len() as u64);
                let now = self.local_now(to);
                if let Some(node) = self.hosts[to.0].node.as_mut() {
                    node.handle_datagram(now, from, &payload);
                }
                self.drain(to);
            }
            Happening::Request {
                to,
                from,
                incarnation,
                request,
                payload,
            } => self.accept_stream(to, from, incarnation, request, &payload),
            Happening::Response {
                to,
                incarnation,
                request,
                result,
            } => self.finish_stream(to, incarnation, request, result),
            Happening::StreamTimeout {
                host,
                incarnation,
                request,
            } => self.finish_stream(host, incarnation, request, Err(StreamError::TimedOut)),
            Happening::Resolved {
                host,
                incarnation,
                name,
            } => self.answer_dns(host, incarnation, &name),
            Happening::Sweep => self.sweep(),
        }
    }

    /// A happening for a host with no running process.
    fn undeliverable(&mut self, target: HostId, happening: Happening) {
        match happening {
            Happening::Datagram { .. } => {
                self.metrics.undeliverable += 1;
                self.trace.record(Record::Drop, self.now, target.0);
            }
            Happening::Request {
                to,
                from,
                incarnation,
                request,
                ..
            } => self.refuse_stream(to, from, incarnation, request),
            _ => {}
        }
    }

    /// Carries out every output of `host`'s node until it asks to be woken.
    pub(crate) fn drain(&mut self, host: HostId) {
        loop {
            let h = &mut self.hosts[host.0];
            let Some(node) = h.node.as_mut() else {
                return;
            };
            match node.poll_output() {
                Output::Timeout(at) => {
                    if h.timer != Some(at) {
                        h.timer = Some(at);
                        let incarnation = h.incarnation;
                        // `at` is in the host's clock.
                        self.queue.push(
                            h.clock.global(at).max(self.now),
                            Happening::Timer {
                                host,
                                incarnation,
                                at,
                            },
                        );
                    }
                    return;
                }
                Output::Transmit { to, payload } => self.send_datagram(host, to, payload),
                Output::Request { id, to, payload } => self.open_stream(host, id, to, payload),
                Output::Response { id, payload } => self.reply_stream(host, id, payload),
                Output::Resolve { name } => self.ask_dns(host, name),
                Output::Event(event) => self.on_event(host, event),
            }
        }
    }

    fn send_datagram(&mut self, from: HostId, to: SocketAddr, payload: Vec<u8>) {
        let len = payload.len();
        let counters = &mut self.metrics.hosts[from.0];
        counters.datagrams += 1;
        counters.datagram_bytes += len as u64;
        counters.largest_datagram = counters.largest_datagram.max(len);
        self.trace.record(Record::Send, self.now, from.0);
        self.trace.u64(len as u64);
        let limit = self.hosts[from.0].config.max_packet_size;
        if len > limit {
            let ids = self.id(from).into_iter().collect();
            self.violated(Violation {
                what: format!(
                    "{from} emitted a {len}-byte datagram, over its max_packet_size of {limit}"
                ),
                ids,
            });
        }
        if len > self.network.max_datagram {
            self.metrics.oversize += 1;
            let ids = self.id(from).into_iter().collect();
            let max = self.network.max_datagram;
            self.violated(Violation {
                what: format!(
                    "{from} emitted a {len}-byte datagram, over the network's {max}-byte limit"
                ),
                ids,
            });
            return;
        }
        let target = match HostId::of(to) {
            Some(t) if t.0 < self.hosts.len() => t,
            _ => {
                self.metrics.undeliverable += 1;
                return;
            }
        };
        if !self.partitions.is_empty() && self.partitions.blocks(from, target) {
            self.metrics.partitioned += 1;
            self.trace.record(Record::Drop, self.now, target.0);
            return;
        }
        let link = *self.network.link_between(from, target);
        if link.lost(&mut self.rng) {
            self.metrics.lost += 1;
            self.trace.record(Record::Drop, self.now, target.0);
            return;
        }
        let from_addr = from.addr();
        if link.duplicated(&mut self.rng) {
            self.metrics.duplicated += 1;
            let at = self.now + link.delay(&mut self.rng);
            let copy = Happening::Datagram {
                to: target,
                from: from_addr,
                payload: payload.clone(),
            };
            self.queue.push(at, copy);
        }
        let at = self.now + link.delay(&mut self.rng);
        self.queue.push(
            at,
            Happening::Datagram {
                to: target,
                from: from_addr,
                payload,
            },
        );
    }

    fn on_event(&mut self, host: HostId, event: Event) {
        self.metrics.events += 1;
        self.trace.record(Record::Event, self.now, host.0);
        self.trace.event(&event);
        let Some(node) = self.hosts[host.0].node.as_ref() else {
            return;
        };
        let checked = self.invariants.on_event(node, &event);
        if self.record_events {
            let node = node.id().clone();
            self.events.push(LoggedEvent {
                at: self.now,
                host,
                node,
                event,
            });
        }
        if let Err(v) = checked {
            self.violated(v);
        }
    }

    fn sweep(&mut self) {
        if let Some(every) = self.invariants.config.sweep_every {
            self.queue.push(self.now + every, Happening::Sweep);
        }
        let mut broken = None;
        for h in &self.hosts {
            if let Some(node) = h.node.as_ref()
                && let Err(v) = self.invariants.sweep(node)
            {
                broken = Some(v);
                break;
            }
        }
        if let Some(v) = broken {
            self.violated(v);
        }
    }

    /// Whether every live node agrees on every live node's live keys (and
    /// sees it alive).
    pub fn converged(&self) -> bool {
        self.disagreements(1).is_empty()
    }

    /// Up to `max` disagreements between live nodes, described.
    pub fn disagreements(&self, max: usize) -> Vec<String> {
        let live = self.live_hosts();
        let truth: Vec<_> = live
            .iter()
            .filter_map(|h| self.node(*h).map(|n| (*h, n.local_node())))
            .collect();
        let mut out = Vec::new();
        for observer in &live {
            let Some(node) = self.node(*observer) else {
                continue;
            };
            for (subject, view) in &truth {
                if subject == observer {
                    continue;
                }
                let problem = match node.node(&view.id) {
                    None => Some("does not know it".to_owned()),
                    Some(seen) if seen.status != kite_proto::NodeStatus::Alive => {
                        Some(format!("sees it {:?}", seen.status))
                    }
                    Some(seen) if seen.entries != view.entries => Some(format!(
                        "holds version {} of it, which is at {}",
                        seen.version, view.version
                    )),
                    Some(_) => None,
                };
                if let Some(problem) = problem {
                    out.push(format!(
                        "{observer} ({}) on {subject} ({}): {problem}",
                        node.id(),
                        view.id
                    ));
                    if out.len() >= max {
                        return out;
                    }
                }
            }
        }
        out
    }

    /// Runs until [`Sim::converged`], failing after `limit` with the
    /// remaining disagreements. Returns how long it took.
    pub fn await_convergence(&mut self, limit: Duration) -> Result<Duration, Failure> {
        match self.run_until(Sim::converged, limit) {
            Ok(took) => Ok(took),
            Err(failure) if self.failure.is_some() => Err(failure),
            Err(_) => {
                let gaps = self.disagreements(10);
                Err(self.failure_about(
                    format!(
                        "no convergence within {limit:?}; disagreements:\n    {}",
                        gaps.join("\n    ")
                    ),
                    &[],
                ))
            }
        }
    }
}
