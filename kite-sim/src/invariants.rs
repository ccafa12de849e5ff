//! Invariants between nodes, checked while the simulation runs (and by the
//! fuzz harnesses after every step, see `crate::fuzzing`). Event checks
//! run on every event; state checks run on a periodic sweep over every
//! node's snapshots.
//!
//! - **No version regression**: the version a node holds for any node
//!   (itself included) never goes down, unless the node expired it or
//!   replaced its run by a later one; and no node goes back from a later
//!   run of an id to an earlier one.
//! - **Membership events match the view**: a node appears in another's view
//!   only after a `NodeJoined` and leaves it only with a `NodeExpired`
//!   (checked by the sweep).
//! - **No event about oneself**: a node reports only on other nodes.
//! - **No resurrected key**: once a node has applied the deletion of a key
//!   at version `v` of its owner, the key reappears only with a value the
//!   owner set after `v`; and no node ever shows a value its owner never set.
//! - **Left stays left**: once a node reported another as left, it never
//!   reports it down, up or joined again, and its snapshot keeps it left
//!   (until a later run of the same id replaces the one that left).
//!
//! Everything a node held of one run of an id starts over when it moves to
//! a later run ([`kite_proto::Config::generation`]).
//!
//! The last two concern the nodes whose writes are known
//! ([`Invariants::register`]: every node the simulator starts); ids made up
//! by a fuzzer's forged messages are held only to the first three, which no
//! forgery may break. Datagram sizes and timer sanity are checked by the
//! simulator itself.

use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use kite_proto::{Event, Node, NodeId, NodeStatus};

use crate::events::subject;

/// Which invariant checks run, and how often the state sweep runs.
///
/// ```
/// use core::time::Duration;
/// use kite_sim::InvariantConfig;
///
/// let cheap = InvariantConfig { sweep_every: None, ..InvariantConfig::default() };
/// assert_eq!(InvariantConfig::default().sweep_every, Some(Duration::from_secs(1)));
/// assert!(cheap.events);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantConfig {
    /// How often every node's snapshots are checked (version regression,
    /// left stays left); `None` disables the sweep, which costs a snapshot of
    /// every node's whole view (N² per sweep). Default every second.
    pub sweep_every: Option<Duration>,
    /// Whether every event is checked (resurrection, left stays left).
    /// Default true.
    pub events: bool,
}

impl Default for InvariantConfig {
    fn default() -> Self {
        InvariantConfig {
            sweep_every: Some(Duration::from_secs(1)),
            events: true,
        }
    }
}

/// A broken invariant.
pub(crate) struct Violation {
    pub(crate) what: String,
    /// The nodes involved, to pick the trace to show.
    pub(crate) ids: Vec<NodeId>,
}

/// One write of an owner: the run it was made in, the version it made and
/// the value (None: deleted).
type Write = (u64, u64, Option<String>);

#[derive(Default)]
pub(crate) struct Invariants {
    config: InvariantConfig,
    /// Every local write of every node, per key.
    writes: BTreeMap<NodeId, BTreeMap<String, Vec<Write>>>,
    /// observer -> owner -> key -> owner version at which the observer
    /// applied the key's deletion.
    dead: BTreeMap<NodeId, BTreeMap<NodeId, BTreeMap<String, u64>>>,
    /// observer -> owner -> key -> the owner version of the write the
    /// observer's last event for the key showed (events of one input are
    /// matched to the owner's writes in order).
    cursors: BTreeMap<NodeId, BTreeMap<NodeId, BTreeMap<String, u64>>>,
    /// observer -> nodes it reported left.
    left: BTreeMap<NodeId, BTreeSet<NodeId>>,
    /// observer -> node -> highest version seen.
    versions: BTreeMap<NodeId, BTreeMap<NodeId, u64>>,
    /// observer -> node -> the run of it the observer holds.
    runs: BTreeMap<NodeId, BTreeMap<NodeId, u64>>,
    /// (observer, node) that just moved to a later run: the key deletions
    /// that follow at once are the earlier run's keys going away.
    renewing: Option<(NodeId, NodeId)>,
    /// observer -> nodes it reported joined and not expired since (kept
    /// only when the sweep runs).
    members: BTreeMap<NodeId, BTreeSet<NodeId>>,
}

impl Invariants {
    pub(crate) fn new(config: InvariantConfig) -> Self {
        Invariants {
            config,
            ..Invariants::default()
        }
    }

    /// How often the state sweep runs, if it does.
    pub(crate) fn sweep_every(&self) -> Option<Duration> {
        self.config.sweep_every
    }

    /// A node started: it has written nothing yet.
    ///
    /// A process restarted under the id of an earlier one starts with an
    /// empty view: what the earlier run observed is forgotten.
    pub(crate) fn register(&mut self, id: &NodeId) {
        self.writes.entry(id.clone()).or_default();
        self.dead.remove(id);
        self.cursors.remove(id);
        self.left.remove(id);
        self.versions.remove(id);
        self.runs.remove(id);
        self.members.remove(id);
    }

    /// The owner, in its run `generation`, wrote `key` (`None`: deleted),
    /// reaching `version`.
    pub(crate) fn record_write(
        &mut self,
        owner: &NodeId,
        generation: u64,
        key: &str,
        value: Option<&str>,
        version: u64,
    ) {
        self.writes
            .entry(owner.clone())
            .or_default()
            .entry(key.to_owned())
            .or_default()
            .push((generation, version, value.map(str::to_owned)));
    }

    /// The owner compacted: its live keys were re-versioned, at the latest
    /// at `version` (recording that upper bound keeps the check sound).
    pub(crate) fn record_compaction(&mut self, owner: &Node) {
        let view = owner.local_node();
        for (key, value) in &view.entries {
            self.record_write(&view.id, view.generation, key, Some(value), view.version);
        }
    }

    /// Checks one event of `observer`, its state as it emitted it.
    pub(crate) fn on_event(&mut self, observer: &Node, event: &Event) -> Result<(), Violation> {
        let me = observer.id();
        if self.config.sweep_every.is_some() {
            self.track_membership(me, event);
        }
        if !self.config.events {
            return Ok(());
        }
        if subject(event) == Some(me) {
            return Err(violation(
                format!("{me} reported on itself: {event:?}"),
                [me],
            ));
        }
        let Some(id) = subject(event) else {
            return Ok(());
        };
        // The run the observer holds now; the keys deleted as it moved to a
        // later run belong to the run before, and check nothing.
        let generation = self.follow_run(observer, id)?;
        let renewing = self
            .renewing
            .as_ref()
            .is_some_and(|(o, n)| o == me && n == id);
        if !(renewing && matches!(event, Event::KeyDeleted { .. })) {
            self.renewing = None;
        }
        match event {
            Event::KeyDeleted { .. } if renewing => {}
            Event::KeyDeleted { id, key, value } if self.writes.contains_key(id) => {
                // The owner's first deletion of the key after the write the
                // observer's last event for it showed, up to the version the
                // observer holds (one input may carry several writes of the
                // key, whose events follow in order). Without one, the
                // observer dropped the key under a compaction marker while
                // the owner had re-versioned it: only a write after the
                // deleted value may bring the key back.
                let held = observer.node(id).map_or(0, |v| v.version);
                let cursor = self.cursor(me, id, key);
                let history = self
                    .writes
                    .get(id)
                    .and_then(|keys| keys.get(key))
                    .into_iter()
                    .flatten()
                    .filter(|(run, _, _)| *run == generation);
                let deleted = history
                    .clone()
                    .filter(|(_, version, value)| {
                        value.is_none() && *version > cursor && *version <= held
                    })
                    .map(|(_, version, _)| *version)
                    .min();
                let set = history
                    .filter(|(_, _, v)| v.as_deref() == Some(value.as_str()))
                    .map(|(_, version, _)| *version)
                    .min();
                let version = deleted.or(set).unwrap_or(held);
                self.set_cursor(me, id, key, version);
                self.dead
                    .entry(me.clone())
                    .or_default()
                    .entry(id.clone())
                    .or_default()
                    .insert(key.clone(), version);
            }
            Event::KeyUpserted { id, key, value } if self.writes.contains_key(id) => {
                let history = self.writes.get(id).and_then(|keys| keys.get(key));
                let sets = || {
                    history.into_iter().flatten().filter(move |(run, _, v)| {
                        *run == generation && v.as_deref() == Some(value.as_str())
                    })
                };
                if sets().next().is_none() {
                    return Err(violation(
                        format!("{me} shows {id}.{key} = {value:?}, a value {id} never set"),
                        [me, id],
                    ));
                }
                let dead = self
                    .dead
                    .get_mut(me)
                    .and_then(|owners| owners.get_mut(id))
                    .and_then(|keys| keys.remove(key));
                if let Some(deleted_at) = dead
                    && !sets().any(|(_, version, _)| *version > deleted_at)
                {
                    return Err(violation(
                        format!(
                            "{me} resurrected {id}.{key} = {value:?} after applying its \
                             deletion at version {deleted_at}"
                        ),
                        [me, id],
                    ));
                }
                // The write this event shows: the first setting this value
                // after the last one shown (or the deletion).
                let after = dead.unwrap_or(0).max(self.cursor(me, id, key));
                let shown = sets()
                    .map(|(_, version, _)| *version)
                    .filter(|v| *v > after)
                    .min();
                if let Some(version) = shown {
                    self.set_cursor(me, id, key, version);
                }
            }
            Event::NodeLeft { id } if self.writes.contains_key(id) => {
                self.left.entry(me.clone()).or_default().insert(id.clone());
            }
            Event::NodeDown { id } | Event::NodeUp { id } | Event::NodeJoined { id, .. }
                if self.left.get(me).is_some_and(|left| left.contains(id)) =>
            {
                return Err(violation(
                    format!(
                        "{me} reported {id}, which it knows left, as {}",
                        kind(event)
                    ),
                    [me, id],
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// The owner version of the write `observer`'s last event for `owner`'s
    /// `key` showed (0 before any).
    fn cursor(&self, observer: &NodeId, owner: &NodeId, key: &str) -> u64 {
        self.cursors
            .get(observer)
            .and_then(|owners| owners.get(owner))
            .and_then(|keys| keys.get(key))
            .copied()
            .unwrap_or(0)
    }

    fn set_cursor(&mut self, observer: &NodeId, owner: &NodeId, key: &str, version: u64) {
        self.cursors
            .entry(observer.clone())
            .or_default()
            .entry(owner.clone())
            .or_default()
            .insert(key.to_owned(), version);
    }

    /// Which run of `id` `observer` holds. When it just moved to it from an
    /// earlier one, everything held of the earlier run is forgotten. Going
    /// back to an earlier run is a violation.
    fn follow_run(&mut self, observer: &Node, id: &NodeId) -> Result<u64, Violation> {
        let me = observer.id();
        let Some(now) = observer.node(id).map(|view| view.generation) else {
            return Ok(0);
        };
        let runs = self.runs.entry(me.clone()).or_default();
        let before = *runs.entry(id.clone()).or_insert(now);
        if now < before {
            return Err(violation(
                format!("{me} went back from run {before} of {id} to the earlier {now}"),
                [me, id],
            ));
        }
        if now == before {
            return Ok(now);
        }
        runs.insert(id.clone(), now);
        self.renewing = Some((me.clone(), id.clone()));
        self.forget_run(me, id);
        Ok(now)
    }

    /// Forgets what `observer` held of the run of `id` it no longer holds:
    /// versions seen, left, deleted keys and event cursors.
    fn forget_run(&mut self, observer: &NodeId, id: &NodeId) {
        if let Some(versions) = self.versions.get_mut(observer) {
            versions.remove(id);
        }
        if let Some(left) = self.left.get_mut(observer) {
            left.remove(id);
        }
        if let Some(dead) = self.dead.get_mut(observer) {
            dead.remove(id);
        }
        if let Some(cursors) = self.cursors.get_mut(observer) {
            cursors.remove(id);
        }
    }

    /// Keeps the sweep's view of what `observer` reported joined and
    /// expired.
    fn track_membership(&mut self, observer: &NodeId, event: &Event) {
        match event {
            Event::NodeJoined { id, .. } => {
                self.members
                    .entry(observer.clone())
                    .or_default()
                    .insert(id.clone());
            }
            Event::NodeExpired { id } => {
                if let Some(members) = self.members.get_mut(observer) {
                    members.remove(id);
                }
                if let Some(versions) = self.versions.get_mut(observer) {
                    versions.remove(id);
                }
                if let Some(runs) = self.runs.get_mut(observer) {
                    runs.remove(id);
                }
            }
            _ => {}
        }
    }

    /// Checks one node's whole view against what it showed and reported
    /// before.
    pub(crate) fn sweep(&mut self, observer: &Node) -> Result<(), Violation> {
        let me = observer.id();
        for view in observer.nodes().iter().skip(1) {
            self.follow_run(observer, &view.id)?;
        }
        self.renewing = None;
        let versions = self.versions.entry(me.clone()).or_default();
        let left = self.left.get(me);
        let members = self.members.entry(me.clone()).or_default();
        let mut listed = 0;
        for view in observer.nodes() {
            let seen = versions.entry(view.id.clone()).or_insert(0);
            if view.version < *seen {
                return Err(violation(
                    format!(
                        "{me} holds {} at version {}, below the {} it held before",
                        view.id, view.version, seen
                    ),
                    [me, &view.id],
                ));
            }
            *seen = view.version;
            if left.is_some_and(|l| l.contains(&view.id)) && view.status != NodeStatus::Left {
                return Err(violation(
                    format!(
                        "{me} shows {} as {:?} after reporting it left",
                        view.id, view.status
                    ),
                    [me, &view.id],
                ));
            }
            if view.id == *me {
                continue;
            }
            if !members.contains(&view.id) {
                return Err(violation(
                    format!("{me} shows {} without having reported it joined", view.id),
                    [me, &view.id],
                ));
            }
            listed += 1;
        }
        if listed != members.len() {
            let ids: BTreeSet<NodeId> = observer.nodes().into_iter().map(|v| v.id).collect();
            let gone = members.iter().find(|id| !ids.contains(*id)).unwrap_or(me);
            return Err(violation(
                format!("{me} no longer shows {gone}, which it never reported expired"),
                [me, gone],
            ));
        }
        Ok(())
    }
}

fn violation<'a>(what: String, ids: impl IntoIterator<Item = &'a NodeId>) -> Violation {
    Violation {
        what,
        ids: ids.into_iter().cloned().collect(),
    }
}

fn kind(event: &Event) -> &'static str {
    match event {
        Event::NodeDown { .. } => "down",
        Event::NodeUp { .. } => "up",
        _ => "joined",
    }
}
