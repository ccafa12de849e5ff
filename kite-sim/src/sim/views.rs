//! What the nodes see, checked across the cluster: convergence, formation,
//! one node's status or key at every other node, and an event every
//! observer emitted. Each check has a wait that runs the simulation until
//! it holds and returns how long that took, or fails after a bound in
//! simulated time with a [`Failure`] listing who does not see it yet.

use core::time::Duration;
use std::collections::BTreeSet;

use kite_proto::{Event, Node, NodeId, NodeStatus};

use super::Sim;
use crate::failure::Failure;
use crate::hosts::HostId;

/// How many observers a failed wait lists.
const LISTED: usize = 10;

impl Sim {
    /// Whether every live node (see [`Sim::live_hosts`]) agrees on every
    /// live node's live keys and sees it alive.
    pub fn converged(&self) -> bool {
        self.disagreements(1).is_empty()
    }

    /// Up to `max` disagreements between live nodes, described.
    pub fn disagreements(&self, max: usize) -> Vec<String> {
        self.gaps(&self.live_hosts(), true, max)
    }

    /// Runs until [`Sim::converged`], failing after `limit` with the
    /// remaining disagreements. Returns how long it took.
    ///
    /// # Errors
    ///
    /// The [`Failure`] of a broken invariant, or of no convergence within
    /// `limit`.
    pub fn await_convergence(&mut self, limit: Duration) -> Result<Duration, Failure> {
        self.await_views(limit, "no convergence", &[], |sim, max| {
            sim.disagreements(max)
        })
    }

    /// Whether every live node sees every other live node alive: the
    /// membership part of [`Sim::converged`], whatever keys are still
    /// spreading.
    pub fn formed(&self) -> bool {
        self.gaps(&self.live_hosts(), false, 1).is_empty()
    }

    /// Runs until [`Sim::formed`], failing after `limit` of simulated time
    /// with a [`Failure`] listing who does not see whom alive. Returns how
    /// long it took (to the next check, see
    /// [`SimBuilder::check_every`](crate::SimBuilder::check_every)).
    ///
    /// ```
    /// use core::time::Duration;
    /// use kite_sim::Sim;
    ///
    /// # fn main() -> Result<(), kite_sim::Failure> {
    /// let mut sim = Sim::new(1);
    /// let hosts = sim.add_cluster(3);
    /// sim.upsert(hosts[2], "big", &"x".repeat(100_000)).unwrap();
    /// sim.await_formed(Duration::from_secs(30))?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The [`Failure`] of a broken invariant, or of the live nodes not
    /// seeing each other within `limit`.
    pub fn await_formed(&mut self, limit: Duration) -> Result<Duration, Failure> {
        self.await_views(limit, "the cluster did not form", &[], |sim, max| {
            sim.gaps(&sim.live_hosts(), false, max)
        })
    }

    /// Runs until every live node other than `subject` itself holds
    /// `subject` with `status`, failing after `limit` of simulated time
    /// with a [`Failure`] listing who sees it otherwise (or not at all).
    /// Returns how long it took, to the next check (see
    /// [`SimBuilder::check_every`](crate::SimBuilder::check_every)).
    ///
    /// The observers are the live nodes when each check runs, so a crashed
    /// or left subject is not asked about itself. A node that expired
    /// (`node_expiry` after it left or went down) is seen as nothing, and
    /// never with a status.
    ///
    /// ```
    /// use core::time::Duration;
    /// use kite_sim::{NodeStatus, Sim};
    ///
    /// # fn main() -> Result<(), kite_sim::Failure> {
    /// let mut sim = Sim::new(1);
    /// let hosts = sim.form_cluster(5, Duration::from_secs(30))?;
    /// let id = sim.id(hosts[3]).unwrap();
    /// sim.crash(hosts[3]);
    /// sim.await_status(&id, NodeStatus::Down, Duration::from_secs(60))?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The [`Failure`] of a broken invariant, or of a node not seeing
    /// `subject` with `status` within `limit`.
    pub fn await_status(
        &mut self,
        subject: &NodeId,
        status: NodeStatus,
        limit: Duration,
    ) -> Result<Duration, Failure> {
        let what = format!("not every live node sees {subject} {status:?}");
        let ids = [subject.clone()];
        self.await_views(limit, &what, &ids, |sim, max| {
            sim.observers_lacking(subject, max, |node| match node.node(subject) {
                Some(view) if view.status == status => None,
                Some(view) => Some(format!("sees it {:?}", view.status)),
                None => Some("does not know it".to_owned()),
            })
        })
    }

    /// Runs until every live node other than `subject` itself holds `key`
    /// of `subject` at `value` (`None`: holds no such key, as after a
    /// delete), failing after `limit` of simulated time with a [`Failure`]
    /// listing who holds what. Returns how long it took, to the next check
    /// (see [`SimBuilder::check_every`](crate::SimBuilder::check_every)).
    ///
    /// The observers are the live nodes when each check runs; a node that
    /// does not know `subject` holds none of its keys.
    ///
    /// ```
    /// use core::time::Duration;
    /// use kite_sim::Sim;
    ///
    /// # fn main() -> Result<(), kite_sim::Failure> {
    /// let mut sim = Sim::new(1);
    /// let hosts = sim.form_cluster(5, Duration::from_secs(30))?;
    /// let id = sim.id(hosts[0]).unwrap();
    /// sim.upsert(hosts[0], "rpc_addr", "127.0.0.1:9000").unwrap();
    /// sim.await_key(&id, "rpc_addr", Some("127.0.0.1:9000"), Duration::from_secs(30))?;
    /// sim.delete(hosts[0], "rpc_addr").unwrap();
    /// sim.await_key(&id, "rpc_addr", None, Duration::from_secs(30))?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The [`Failure`] of a broken invariant, or of a node not holding the
    /// key at `value` within `limit`.
    pub fn await_key(
        &mut self,
        subject: &NodeId,
        key: &str,
        value: Option<&str>,
        limit: Duration,
    ) -> Result<Duration, Failure> {
        let what = format!("not every live node holds {key} = {value:?} of {subject}");
        let ids = [subject.clone()];
        self.await_views(limit, &what, &ids, |sim, max| {
            sim.observers_lacking(subject, max, |node| {
                let Some(view) = node.node(subject) else {
                    return value.map(|_| "does not know it".to_owned());
                };
                match view.entries.get(key) {
                    held if held.map(String::as_str) == value => None,
                    Some(held) => Some(format!("holds {key} = {held:?}")),
                    None => Some(format!("holds no {key}")),
                }
            })
        })
    }

    /// Whether every host in `observers` has emitted, from the node it runs
    /// now, an event for which `saw` holds: what the application's watcher
    /// on each of them was told. A restarted host's new node has seen
    /// nothing its old one saw; a host with no running node has seen
    /// nothing. Needs the event log (see
    /// [`SimBuilder::record_events`](crate::SimBuilder::record_events)), and
    /// sees only events since the last [`Sim::take_events`].
    ///
    /// ```
    /// use core::time::Duration;
    /// use kite_sim::{Event, Sim};
    ///
    /// # fn main() -> Result<(), kite_sim::Failure> {
    /// let mut sim = Sim::new(1);
    /// let hosts = sim.form_cluster(3, Duration::from_secs(30))?;
    /// let joined = |e: &Event| matches!(e, Event::NodeJoined { .. });
    /// assert!(sim.all_saw(&hosts, joined));
    /// # Ok(())
    /// # }
    /// ```
    pub fn all_saw(&self, observers: &[HostId], saw: impl Fn(&Event) -> bool) -> bool {
        self.not_seen_by(observers, 1, &saw).is_empty()
    }

    /// Runs until [`Sim::all_saw`] holds, failing after `limit` of simulated
    /// time with a [`Failure`] listing the observers that have not seen
    /// such an event. Returns how long it took, to the next check (see
    /// [`SimBuilder::check_every`](crate::SimBuilder::check_every)).
    ///
    /// ```
    /// use core::time::Duration;
    /// use kite_sim::{Event, Sim};
    ///
    /// # fn main() -> Result<(), kite_sim::Failure> {
    /// let mut sim = Sim::new(1);
    /// let hosts = sim.form_cluster(4, Duration::from_secs(30))?;
    /// let id = sim.id(hosts[3]).unwrap();
    /// sim.leave(hosts[3]).unwrap();
    /// let left = |e: &Event| *e == Event::NodeLeft { id: id.clone() };
    /// sim.await_all_saw(&hosts[..3], left, Duration::from_secs(30))?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The [`Failure`] of a broken invariant, or of an observer not having
    /// seen such an event within `limit`.
    pub fn await_all_saw(
        &mut self,
        observers: &[HostId],
        saw: impl Fn(&Event) -> bool,
        limit: Duration,
    ) -> Result<Duration, Failure> {
        self.await_views(
            limit,
            "not every observer saw the event",
            &[],
            |sim, max| sim.not_seen_by(observers, max, &saw),
        )
    }

    /// Runs until `gaps` finds none, or fails after `limit` with the reason
    /// `what` and the gaps left, showing the events about `ids` (all events
    /// if empty). A broken invariant fails it as it is.
    pub(super) fn await_views(
        &mut self,
        limit: Duration,
        what: &str,
        ids: &[NodeId],
        gaps: impl Fn(&Sim, usize) -> Vec<String>,
    ) -> Result<Duration, Failure> {
        match self.run_until(|sim| gaps(sim, 1).is_empty(), limit) {
            Ok(took) => Ok(took),
            Err(failure) if self.failure.is_some() => Err(failure),
            Err(_) => {
                let left = gaps(self, LISTED);
                let reason = format!("{what} within {limit:?}:\n    {}", left.join("\n    "));
                Err(self.failure_about(reason, ids))
            }
        }
    }

    /// Up to `max` pairs of `hosts` where the observer does not see the
    /// other alive (or, with `keys`, holds other live keys than it has).
    pub(super) fn gaps(&self, hosts: &[HostId], keys: bool, max: usize) -> Vec<String> {
        let truth: Vec<_> = hosts
            .iter()
            .filter_map(|h| self.node(*h).map(|n| (*h, n.local_node())))
            .collect();
        let mut out = Vec::new();
        for observer in hosts {
            let Some(node) = self.node(*observer) else {
                continue;
            };
            for (subject, view) in &truth {
                if subject == observer {
                    continue;
                }
                let problem = match node.node(&view.id) {
                    None => Some("does not know it".to_owned()),
                    Some(seen) if seen.status != NodeStatus::Alive => {
                        Some(format!("sees it {:?}", seen.status))
                    }
                    Some(seen) if keys && seen.entries != view.entries => Some(format!(
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

    /// Up to `max` live nodes other than `subject` for which `lacks` says
    /// what they see instead.
    fn observers_lacking(
        &self,
        subject: &NodeId,
        max: usize,
        lacks: impl Fn(&Node) -> Option<String>,
    ) -> Vec<String> {
        self.live_hosts()
            .into_iter()
            .filter_map(|host| self.node(host).map(|node| (host, node)))
            .filter(|(_, node)| node.id() != subject)
            .filter_map(|(host, node)| lacks(node).map(|l| format!("{host} ({}) {l}", node.id())))
            .take(max)
            .collect()
    }

    /// Up to `max` of `observers` whose current node emitted no event for
    /// which `saw` holds.
    fn not_seen_by(
        &self,
        observers: &[HostId],
        max: usize,
        saw: &impl Fn(&Event) -> bool,
    ) -> Vec<String> {
        let saw_it: BTreeSet<HostId> = self
            .events
            .iter()
            .filter(|e| saw(&e.event) && self.node(e.host).is_some_and(|n| *n.id() == e.node))
            .map(|e| e.host)
            .collect();
        observers
            .iter()
            .filter(|host| !saw_it.contains(host))
            .map(|host| match self.id(*host) {
                Some(id) => format!("{host} ({id}) has not"),
                None => format!("{host} (not running) has not"),
            })
            .take(max)
            .collect()
    }
}
