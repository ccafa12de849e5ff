//! Cluster control: adding nodes, joining, local writes, crashes, restarts,
//! pauses, graceful leaves, partitions, deafness to datagrams, DNS names and
//! direct inputs to one node. Every command is recorded in the trace.

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use kite_proto::{Config, JoinError, JoinId, LeaveError, LocalStateError, Node, NodeId, Timestamp};

use super::Sim;
use crate::hosts::HostId;
use crate::metrics::HostCounters;
use crate::network::PartitionId;
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

impl Sim {
    fn act(&mut self, what: String) {
        self.trace.record(Record::Action, self.now, 0);
        self.trace.str(&what);
        let line = format!("{:>10.3}s {what}", self.now.as_duration().as_secs_f64());
        self.actions.push(line);
    }

    fn running(&mut self, host: HostId) -> &mut Node {
        match self.hosts.node_mut(host) {
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
        self.add_host(None, tweak)
    }

    /// Adds a host at `addr` instead of its [`HostId::addr`] (an IPv6
    /// address, another port), otherwise as [`Sim::add_node_with`]. Peers
    /// reach it at `addr` and see its datagrams and streams come from there;
    /// [`Sim::addr`] gives it back.
    ///
    /// ```
    /// use core::time::Duration;
    /// use kite_sim::Sim;
    ///
    /// # fn main() -> Result<(), kite_sim::Failure> {
    /// let mut sim = Sim::new(1);
    /// let a = sim.add_node_at("[fd00::1]:65535".parse().unwrap(), |_| {});
    /// let b = sim.add_node();
    /// sim.join(b, &["[fd00::1]:65535"]).unwrap();
    /// sim.await_convergence(Duration::from_secs(10))?;
    /// assert_eq!(sim.addr(a).to_string(), "[fd00::1]:65535");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If another host has `addr`, or the configuration is invalid.
    pub fn add_node_at(&mut self, addr: SocketAddr, tweak: impl FnOnce(&mut Config)) -> HostId {
        self.add_host(Some(addr), tweak)
    }

    /// Adds a host at `addr` (`None`: its [`HostId::addr`]) and starts its
    /// node.
    fn add_host(&mut self, addr: Option<SocketAddr>, tweak: impl FnOnce(&mut Config)) -> HostId {
        let host = self.hosts.add(&mut self.rng, addr, tweak);
        self.metrics.hosts.push(HostCounters::default());
        let id = self.spawn(host);
        self.act(format!("add {host} ({}) as {id}", self.addr(host)));
        host
    }

    /// Starts a new process on `host` (its incarnation already bumped).
    fn spawn(&mut self, host: HostId) -> NodeId {
        let id = self.hosts.start(host, self.now).id().clone();
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
        self.hosts.set_join_targets(host, targets);
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
        let view = node.local_node();
        self.invariants
            .record_write(&view.id, view.generation, key, Some(value), view.version);
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
        let view = node.local_node();
        let version = view.version;
        if version > before {
            self.invariants
                .record_write(&view.id, view.generation, key, None, before + 1);
        }
        if version > before + 1 {
            // Compaction re-versioned the live keys.
            if let Some(node) = self.hosts.node(host) {
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
    ///
    /// At the defaults, in a cluster of 10 to 100 nodes on the default
    /// network, every other node that knew it sees it down within 3 to 8
    /// gossip rounds, also right after formation or its join (see
    /// [`Sim::form_cluster`] and `docs/testing.md`).
    pub fn crash(&mut self, host: HostId) {
        if self.hosts.crash(host) {
            self.act(format!("crash {host}"));
        }
    }

    /// Starts a new process on `host` (crashing the old one if it runs): a
    /// new node id on the same address, which joins through the host's last
    /// join targets again. Returns the new id.
    pub fn restart(&mut self, host: HostId) -> NodeId {
        self.restart_as(host, None)
    }

    /// Starts a new process on `host` under the id of the one before
    /// (crashing it if it runs), as a StatefulSet pod or a host named after
    /// its machine restarts: a later generation of the same id (see
    /// [`Config::generation`]), which joins through the host's last join
    /// targets again. Peers replace the earlier run's state with the new
    /// run's. Returns the id.
    ///
    /// ```
    /// use core::time::Duration;
    /// use kite_sim::Sim;
    ///
    /// # fn main() -> Result<(), kite_sim::Failure> {
    /// let mut sim = Sim::new(2);
    /// let hosts = sim.add_nodes(3);
    /// for h in &hosts[1..] {
    ///     sim.join(*h, &[hosts[0].addr().to_string()]).unwrap();
    /// }
    /// sim.upsert(hosts[2], "before", "1").unwrap();
    /// sim.await_convergence(Duration::from_secs(30))?;
    /// let id = sim.restart_with_same_id(hosts[2]);
    /// sim.upsert(hosts[2], "after", "2").unwrap();
    /// sim.await_convergence(Duration::from_secs(30))?;
    /// let seen = sim.node(hosts[0]).unwrap().node(&id).unwrap();
    /// assert_eq!(seen.entries.keys().collect::<Vec<_>>(), ["after"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn restart_with_same_id(&mut self, host: HostId) -> NodeId {
        let id = self
            .hosts
            .last_id(host)
            .unwrap_or_else(|| panic!("{host} never ran a node"));
        self.restart_as(host, Some(id))
    }

    fn restart_as(&mut self, host: HostId, id: Option<NodeId>) -> NodeId {
        self.crash(host);
        let same = id.is_some();
        self.hosts.renew(host, id);
        let id = self.spawn(host);
        let how = if same { " with the same id" } else { "" };
        self.act(format!("restart {host}{how} as {id}"));
        let targets = self.hosts.join_targets(host).to_vec();
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
        self.hosts.pause(host, self.now + duration);
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
    /// let hosts = sim.form_cluster(4, Duration::from_secs(30))?;
    /// let cut = sim.partition(&hosts[..2], &hosts[2..]);
    /// sim.run_for(Duration::from_secs(60))?;
    /// assert!(!sim.converged()); // each side sees the other down
    /// sim.heal(cut);
    /// sim.await_convergence(Duration::from_secs(60))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn partition(&mut self, a: &[HostId], b: &[HostId]) -> PartitionId {
        let id = self.network.partition(a, b, true);
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
        let id = self.network.partition(from, to, false);
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

    /// Makes `host` drop every datagram sent to it from now on (`true`), or
    /// hear them again (`false`), while its stream exchanges keep working: a
    /// firewall that blocks only UDP. Datagrams already in flight still
    /// arrive; dropped ones count as
    /// [`Metrics::partitioned`](crate::Metrics::partitioned).
    ///
    /// ```
    /// use core::time::Duration;
    /// use kite_sim::Sim;
    ///
    /// # fn main() -> Result<(), kite_sim::Failure> {
    /// let mut sim = Sim::new(1);
    /// let hosts = sim.add_nodes(2);
    /// sim.join(hosts[1], &[hosts[0].addr().to_string()]).unwrap();
    /// sim.await_convergence(Duration::from_secs(10))?;
    /// sim.set_deaf(hosts[0], true);
    /// sim.run_for(Duration::from_secs(5))?;
    /// assert!(sim.metrics().partitioned > 0);
    /// sim.set_deaf(hosts[0], false);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_deaf(&mut self, host: HostId, deaf: bool) {
        if self.network.set_deaf(host, deaf) {
            let what = if deaf { "drops" } else { "hears" };
            self.act(format!("{host} {what} inbound datagrams"));
        }
    }

    /// Heals one partition.
    pub fn heal(&mut self, id: PartitionId) {
        if self.network.heal(id) {
            self.act(format!("heal partition {}", id.0));
        }
    }

    /// Heals every partition.
    pub fn heal_all(&mut self) {
        self.network.heal_all();
        self.act("heal all partitions".to_owned());
    }

    /// Makes `name` resolve to the IPs of `hosts` (see [`Sim::addr`]) from
    /// now on.
    pub fn set_dns(&mut self, name: &str, hosts: &[HostId]) {
        let ips: Vec<IpAddr> = hosts.iter().map(|h| self.addr(*h).ip()).collect();
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

    /// Hands `host`'s running node and its clock's reading to `f`, for
    /// inputs the simulator does not model (a hostile or hand-made message,
    /// a look at the outputs of one call), then carries out whatever
    /// outputs `f` left in the node's queue. Outputs `f` polls itself are
    /// not carried out. Make local writes with [`Sim::upsert`] and
    /// [`Sim::delete`] instead, so the invariant checks know of them.
    ///
    /// ```
    /// use kite_sim::proto::StreamId;
    /// use kite_sim::Sim;
    ///
    /// let mut sim = Sim::new(1);
    /// let host = sim.add_node();
    /// let stranger = "10.0.0.1:4000".parse().unwrap();
    /// sim.with_node(host, |node, now| node.handle_request(now, StreamId(0), stranger, b"junk"));
    /// assert_eq!(sim.node(host).unwrap().stats().decode_errors, 1);
    /// ```
    ///
    /// # Panics
    ///
    /// If `host` has no running node.
    pub fn with_node<R>(&mut self, host: HostId, f: impl FnOnce(&mut Node, Timestamp) -> R) -> R {
        self.act(format!("{host} takes direct inputs"));
        let now = self.local_now(host);
        let result = f(self.running(host), now);
        self.drain(host);
        result
    }
}
