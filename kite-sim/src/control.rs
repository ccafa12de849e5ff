//! Cluster control: adding nodes, joining, local writes, crashes, restarts,
//! pauses, graceful leaves, partitions and DNS names. Every command is
//! recorded in the trace.

use core::net::IpAddr;
use core::time::Duration;

use kite_proto::{
    Config, JoinError, JoinId, LeaveError, LocalStateError, Node, NodeId, SeededRng, Timestamp,
};

use crate::drift::HostClock;
use crate::faults::PartitionId;
use crate::host::{Host, HostId};
use crate::metrics::HostCounters;
use crate::sim::Sim;
use crate::trace::Record;

/// `h0, h1, h2` (or `h0..h9` for a run), for the trace.
fn link_names(hosts: &[HostId]) -> String {
    let contiguous = hosts.windows(2).all(|w| w[1].0 == w[0].0 + 1);
    match hosts {
        [] => "nobody".to_owned(),
        [first, .., last] if contiguous && hosts.len() > 3 => format!("{first}..{last}"),
        _ => hosts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A node's RNG seed: a mix of the run's seed, the host and the
/// incarnation, so adding a host never changes another host's draws.
fn node_seed(seed: u64, host: HostId, incarnation: u32) -> u64 {
    let mut x = seed ^ mix(host.0 as u64 + 1) ^ mix(u64::from(incarnation) << 40 | 0xabcd);
    x = mix(x);
    x
}

/// The splitmix64 finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Sim {
    fn act(&mut self, what: String) {
        self.trace.record(Record::Action, self.now, 0);
        self.trace.str(&what);
        let line = format!("{:>10.3}s {what}", self.now.as_duration().as_secs_f64());
        self.actions.push(line);
    }

    fn running(&mut self, host: HostId) -> &mut Node {
        match self.hosts.get_mut(host.0).and_then(|h| h.node.as_mut()) {
            Some(node) => node,
            None => panic!("{host} has no running node"),
        }
    }

    /// Adds a host running a new node with the builder's configuration.
    /// Returns its host id; the node knows nobody until it joins.
    ///
    /// # Panics
    ///
    /// If the configuration is invalid.
    pub fn add_node(&mut self) -> HostId {
        self.add_node_with(|_| {})
    }

    /// Adds `n` hosts, see [`Sim::add_node`].
    pub fn add_nodes(&mut self, n: usize) -> Vec<HostId> {
        (0..n).map(|_| self.add_node()).collect()
    }

    /// Adds a host whose configuration is the builder's, then `tweak`ed.
    /// The advertise address is the host's (see [`HostId::addr`]).
    ///
    /// # Panics
    ///
    /// If the configuration is invalid.
    pub fn add_node_with(&mut self, tweak: impl FnOnce(&mut Config)) -> HostId {
        let host = HostId(self.hosts.len());
        let mut config = Config::new(host.addr());
        (self.configure)(&mut config);
        tweak(&mut config);
        config.advertise_addr = host.addr();
        let clock = match self.clock_drift {
            0.0 => HostClock::EXACT,
            max => HostClock::random(&mut self.rng, max),
        };
        self.hosts.push(Host {
            config,
            clock,
            node: None,
            incarnation: 0,
            paused_until: Timestamp::ZERO,
            timer: None,
            join_targets: Vec::new(),
        });
        self.metrics.hosts.push(HostCounters::default());
        let id = self.spawn(host);
        self.act(format!("add {host} ({}) as {id}", host.addr()));
        host
    }

    /// Starts a new process on `host` (its incarnation already bumped).
    fn spawn(&mut self, host: HostId) -> NodeId {
        let h = &mut self.hosts[host.0];
        let rng = SeededRng::from_seed_u64(node_seed(self.seed, host, h.incarnation));
        let node = match Node::new(h.config.clone(), rng, h.clock.local(self.now)) {
            Ok(node) => node,
            Err(err) => panic!("invalid configuration for {host}: {err}"),
        };
        let id = node.id().clone();
        h.node = Some(node);
        h.timer = None;
        h.paused_until = self.now;
        self.invariants.register(&id);
        self.drain(host);
        id
    }

    /// Makes `host` join through `targets` (`ip:port`, `ip`, `name:port` or
    /// `name`, as [`Node::join`]); a restart joins through them again.
    ///
    /// # Panics
    ///
    /// If `host` has no running node.
    pub fn join<S: AsRef<str>>(
        &mut self,
        host: HostId,
        targets: &[S],
    ) -> Result<JoinId, JoinError> {
        let targets: Vec<String> = targets.iter().map(|t| t.as_ref().to_owned()).collect();
        self.act(format!("{host} joins via {}", targets.join(", ")));
        let now = self.local_now(host);
        let result = self.running(host).join(now, &targets);
        self.hosts[host.0].join_targets = targets;
        self.drain(host);
        result
    }

    /// Sets `key` on `host`'s node.
    ///
    /// # Panics
    ///
    /// If `host` has no running node.
    pub fn upsert(&mut self, host: HostId, key: &str, value: &str) -> Result<(), LocalStateError> {
        self.act(format!("{host} sets {key} ({} bytes)", value.len()));
        let node = self.running(host);
        node.upsert_local(key, value)?;
        let (id, version) = (node.id().clone(), node.local_node().version);
        self.invariants.record_write(&id, key, Some(value), version);
        Ok(())
    }

    /// Deletes `key` on `host`'s node (compacting when the node decides to).
    ///
    /// # Panics
    ///
    /// If `host` has no running node.
    pub fn delete(&mut self, host: HostId, key: &str) -> Result<(), LocalStateError> {
        self.act(format!("{host} deletes {key}"));
        let node = self.running(host);
        let before = node.local_node().version;
        node.delete_local(key)?;
        let (id, version) = (node.id().clone(), node.local_node().version);
        if version > before {
            self.invariants.record_write(&id, key, None, before + 1);
        }
        if version > before + 1 {
            // Compaction re-versioned the live keys.
            let h = &self.hosts[host.0];
            if let Some(node) = h.node.as_ref() {
                self.invariants.record_compaction(node);
            }
        }
        Ok(())
    }

    /// Makes `host`'s node leave gracefully. The process keeps running
    /// (answering streams) until crashed; it no longer gossips.
    ///
    /// # Panics
    ///
    /// If `host` has no running node.
    pub fn leave(&mut self, host: HostId) -> Result<(), LeaveError> {
        self.act(format!("{host} leaves"));
        let now = self.local_now(host);
        let result = self.running(host).leave(now);
        self.drain(host);
        result
    }

    /// Kills `host`'s process without a goodbye: packets to it vanish and
    /// stream connections are refused. A no-op if it is not running.
    pub fn crash(&mut self, host: HostId) {
        let h = &mut self.hosts[host.0];
        if h.node.take().is_some() {
            h.incarnation += 1;
            h.timer = None;
            self.act(format!("crash {host}"));
        }
    }

    /// Starts a new process on `host` (crashing the old one if it runs): a
    /// new node id on the same address, which joins through the host's last
    /// join targets again. Returns the new id.
    pub fn restart(&mut self, host: HostId) -> NodeId {
        self.crash(host);
        self.hosts[host.0].incarnation += 1;
        self.hosts[host.0].config.node_id = None;
        let id = self.spawn(host);
        self.act(format!("restart {host} as {id}"));
        let targets = self.hosts[host.0].join_targets.clone();
        if !targets.is_empty() {
            // The targets were accepted before, so they parse again.
            let _ = self.join(host, &targets);
        }
        id
    }

    /// Stalls `host`'s process for `duration` (a long GC pause, a suspended
    /// VM): its inputs and timers wait and are all handled when it resumes.
    pub fn pause(&mut self, host: HostId, duration: Duration) {
        self.act(format!("pause {host} for {duration:?}"));
        let h = &mut self.hosts[host.0];
        h.paused_until = h.paused_until.max(self.now + duration);
    }

    /// Cuts every link between `a` and `b`, both ways, until healed.
    /// Packets already in flight still arrive; hosts added later are in
    /// neither side.
    ///
    /// ```
    /// use core::time::Duration;
    /// use kite_sim::Sim;
    ///
    /// # fn main() -> Result<(), kite_sim::Failure> {
    /// let mut sim = Sim::new(3);
    /// let hosts = sim.add_nodes(4);
    /// for h in &hosts[1..] {
    ///     sim.join(*h, &[hosts[0].addr().to_string()]).unwrap();
    /// }
    /// sim.await_convergence(Duration::from_secs(30))?;
    /// let cut = sim.partition(&hosts[..2], &hosts[2..]);
    /// sim.run_for(Duration::from_secs(60))?;
    /// assert!(!sim.converged()); // each side sees the other down
    /// sim.heal(cut);
    /// sim.await_convergence(Duration::from_secs(60))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn partition(&mut self, a: &[HostId], b: &[HostId]) -> PartitionId {
        let id = self.partitions.add(a, b, true);
        self.act(format!(
            "partition {:?}: {} <-> {}",
            id.0,
            link_names(a),
            link_names(b)
        ));
        id
    }

    /// Cuts the links from `from` to `to` only.
    pub fn partition_one_way(&mut self, from: &[HostId], to: &[HostId]) -> PartitionId {
        let id = self.partitions.add(from, to, false);
        self.act(format!(
            "partition {:?}: {} -> {}",
            id.0,
            link_names(from),
            link_names(to)
        ));
        id
    }

    /// Cuts `host` off from every other host, both ways.
    pub fn isolate(&mut self, host: HostId) -> PartitionId {
        let others: Vec<HostId> = self.hosts().filter(|h| *h != host).collect();
        self.partition(&[host], &others)
    }

    /// Heals one partition.
    pub fn heal(&mut self, id: PartitionId) {
        if self.partitions.heal(id) {
            self.act(format!("heal partition {}", id.0));
        }
    }

    /// Heals every partition.
    pub fn heal_all(&mut self) {
        self.partitions.heal_all();
        self.act("heal all partitions".to_owned());
    }

    /// Makes `name` resolve to the addresses of `hosts` from now on.
    pub fn set_dns(&mut self, name: &str, hosts: &[HostId]) {
        let ips: Vec<IpAddr> = hosts.iter().map(|h| h.ip()).collect();
        self.set_dns_ips(name, ips);
    }

    /// Makes `name` resolve to `ips` from now on.
    pub fn set_dns_ips(&mut self, name: &str, ips: Vec<IpAddr>) {
        let list: Vec<String> = ips.iter().map(ToString::to_string).collect();
        self.act(format!("dns {name} -> [{}]", list.join(", ")));
        self.dns.set(name, ips);
    }

    /// Makes `name` fail to resolve from now on.
    pub fn remove_dns(&mut self, name: &str) {
        self.act(format!("dns {name} removed"));
        self.dns.remove(name);
    }
}
