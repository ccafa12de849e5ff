//! The simulator: the [`Sim`] a test drives, made of parts that each own
//! one concern and know nothing of the others: the hosts and their
//! processes ([`crate::hosts`]), the network ([`crate::network`]), DNS
//! ([`crate::dns`]), the invariant checks ([`crate::invariants`]) and the
//! trace ([`crate::trace`]). This module holds the state and the queries;
//! [`run`] moves virtual time and carries the nodes' outputs between the
//! parts, [`control`] holds the commands (add, join, crash, partition,
//! ...), [`cluster`] starts a cluster, and [`views`] checks and waits for
//! what the nodes see.

mod cluster;
mod control;
#[cfg(any(test, feature = "fuzzing"))]
mod hold;
mod queue;
mod run;
mod views;

use core::net::SocketAddr;
use core::time::Duration;
use kite_proto::{Config, Event, Node, NodeId, SeededRng, Timestamp};

use crate::dns::Dns;
use crate::events::LoggedEvent;
use crate::failure::Failure;
use crate::hosts::{HostId, Hosts};
use crate::invariants::{InvariantConfig, Invariants, Violation};
use crate::metrics::Metrics;
use crate::network::{Network, NetworkModel};
use crate::trace::TraceHash;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use hold::{HeldDatagram, HeldRequest};
use queue::EventQueue;
use run::Happening;
pub use run::LoggedOutput;

/// How many past events a [`Failure`] shows.
const FAILURE_EVENTS: usize = 40;

/// Which events a [`Sim`] keeps in its log ([`Sim::set_event_filter`]).
pub type EventFilter = fn(&Event) -> bool;

fn all_events(_: &Event) -> bool {
    true
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
    record_events: Option<EventFilter>,
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
        self.record_events = record.then_some(all_events as EventFilter);
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
            network: Network::new(self.network),
            dns: Dns::default(),
            hosts: Hosts::new(self.seed, self.configure, self.clock_drift),
            invariants: Invariants::new(self.invariants),
            trace: TraceHash::default(),
            actions: Vec::new(),
            metrics: Metrics::default(),
            events: Vec::new(),
            record_events: self.record_events,
            check_every: self.check_every.max(Duration::from_micros(1)),
            failure: None,
            outputs: None,
            #[cfg(any(test, feature = "fuzzing"))]
            held: None,
        };
        if let Some(every) = sim.invariants.sweep_every() {
            sim.queue.push(Timestamp::ZERO + every, Happening::Sweep);
        }
        sim
    }
}

/// A deterministic cluster of real [`Node`](crate::Node)s over a virtual
/// network. See the [crate documentation](crate) for a walk-through.
///
/// One `u64` seed fixes everything: node ids, gossip choices, and every
/// delay, loss and duplication drawn by the network. Time is virtual and
/// jumps from one scheduled happening to the next.
pub struct Sim {
    seed: u64,
    /// True time.
    now: Timestamp,
    /// The world's randomness: link fates and host clocks (nodes have their
    /// own generators, derived from the seed).
    rng: SeededRng,
    queue: EventQueue<Happening>,
    network: Network,
    dns: Dns,
    hosts: Hosts,
    invariants: Invariants,
    trace: TraceHash,
    actions: Vec<String>,
    metrics: Metrics,
    events: Vec<LoggedEvent>,
    record_events: Option<EventFilter>,
    check_every: Duration,
    failure: Option<Failure>,
    /// Every output of every node, once [`Sim::record_outputs`] was called.
    outputs: Option<Vec<LoggedOutput>>,
    /// Traffic held for a fuzz harness, when it holds traffic.
    #[cfg(any(test, feature = "fuzzing"))]
    held: Option<hold::Held>,
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
            record_events: Some(all_events),
            check_every: Duration::from_millis(100),
            clock_drift: 0.0,
        }
    }

    /// The seed the run was built from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// What `host`'s clock reads now (see [`SimBuilder::clock_drift`]).
    fn local_now(&self, host: HostId) -> Timestamp {
        self.hosts.local_now(host, self.now)
    }

    /// The current virtual time (true time; hosts may read their own
    /// drifting clocks, see [`SimBuilder::clock_drift`]).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The running node of `host`, if it is running.
    pub fn node(&self, host: HostId) -> Option<&Node> {
        self.hosts.node(host)
    }

    /// The address of `host`: its [`HostId::addr`], unless it was added at
    /// another with [`Sim::add_node_at`].
    ///
    /// # Panics
    ///
    /// If `host` was never added.
    pub fn addr(&self, host: HostId) -> SocketAddr {
        self.hosts.addr(host)
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
        self.hosts().filter(|h| self.hosts.is_live(*h)).collect()
    }

    /// The network model in force.
    pub fn network(&self) -> &NetworkModel {
        self.network.model()
    }

    /// Changes the network model from now on (packets in flight keep the
    /// delays they were given).
    pub fn network_mut(&mut self) -> &mut NetworkModel {
        self.network.model_mut()
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

    /// From now on, keeps in [`Sim::events`] only the events `filter`
    /// accepts (`None`: none). A large cluster's formation emits a joined
    /// event per pair of nodes, 10^8 at N = 10,000: a run that does not need
    /// them keeps only those it counts.
    ///
    /// ```
    /// use core::time::Duration;
    /// use kite_sim::Sim;
    /// use kite_sim::proto::Event;
    ///
    /// let mut sim = Sim::new(1);
    /// sim.set_event_filter(Some(|e: &Event| matches!(e, Event::NodeDown { .. })));
    /// sim.form_cluster(3, Duration::from_secs(30))?;
    /// assert!(sim.events().is_empty()); // the joins were not kept
    /// # Ok::<(), kite_sim::Failure>(())
    /// ```
    pub fn set_event_filter(&mut self, filter: Option<EventFilter>) {
        self.record_events = filter;
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
        elapsed.as_secs_f64() / self.hosts.base_config().gossip_interval.as_secs_f64()
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

    /// Fails the run with `violation`, unless it already failed.
    fn violated(&mut self, violation: Violation) {
        if self.failure.is_none() {
            self.failure = Some(self.failure_about(violation.what, &violation.ids));
        }
    }
}
