//! Invariants checked while the simulation runs. Event checks run on every
//! event; state checks run on a periodic sweep over every node's snapshots.
//!
//! - **No version regression**: the version a node holds for any node
//!   (itself included) never goes down, unless the node expired it.
//! - **No resurrected key**: once a node has applied the deletion of a key
//!   at version `v` of its owner, the key reappears only with a value the
//!   owner set after `v`; and no node ever shows a value its owner never set.
//! - **Left stays left**: once a node reported another as left, it never
//!   reports it down, up or joined again, and its snapshot keeps it left.
//! - Datagram sizes and timer sanity are checked by the simulator itself.

use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use kite_proto::{Event, Node, NodeId, NodeStatus};

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

/// One write of an owner: the version it made and the value (None: deleted).
type Write = (u64, Option<String>);

#[derive(Default)]
pub(crate) struct Invariants {
    pub(crate) config: InvariantConfig,
    /// Every local write of every node, per key.
    writes: BTreeMap<NodeId, BTreeMap<String, Vec<Write>>>,
    /// observer -> owner -> key -> owner version at which the observer
    /// applied the key's deletion.
    dead: BTreeMap<NodeId, BTreeMap<NodeId, BTreeMap<String, u64>>>,
    /// observer -> nodes it reported left.
    left: BTreeMap<NodeId, BTreeSet<NodeId>>,
    /// observer -> node -> highest version seen.
    versions: BTreeMap<NodeId, BTreeMap<NodeId, u64>>,
}

impl Invariants {
    pub(crate) fn new(config: InvariantConfig) -> Self {
        Invariants {
            config,
            ..Invariants::default()
        }
    }

    /// A node started: it has written nothing yet.
    pub(crate) fn register(&mut self, id: &NodeId) {
        self.writes.entry(id.clone()).or_default();
    }

    /// The owner wrote `key` (`None`: deleted), reaching `version`.
    pub(crate) fn record_write(
        &mut self,
        owner: &NodeId,
        key: &str,
        value: Option<&str>,
        version: u64,
    ) {
        self.writes
            .entry(owner.clone())
            .or_default()
            .entry(key.to_owned())
            .or_default()
            .push((version, value.map(str::to_owned)));
    }

    /// The owner compacted: its live keys were re-versioned, at the latest
    /// at `version` (recording that upper bound keeps the check sound).
    pub(crate) fn record_compaction(&mut self, owner: &Node) {
        let view = owner.local_node();
        for (key, value) in &view.entries {
            self.record_write(&view.id, key, Some(value), view.version);
        }
    }

    pub(crate) fn on_event(&mut self, observer: &Node, event: &Event) -> Result<(), Violation> {
        if !self.config.events {
            return Ok(());
        }
        let me = observer.id();
        match event {
            Event::KeyDeleted { id, key, .. } => {
                let version = observer.node(id).map_or(0, |v| v.version);
                self.dead
                    .entry(me.clone())
                    .or_default()
                    .entry(id.clone())
                    .or_default()
                    .insert(key.clone(), version);
            }
            Event::KeyUpserted { id, key, value } => {
                let history = self.writes.get(id).and_then(|keys| keys.get(key));
                let sets = || {
                    history
                        .into_iter()
                        .flatten()
                        .filter(move |(_, v)| v.as_deref() == Some(value.as_str()))
                };
                if self.writes.contains_key(id) && sets().next().is_none() {
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
                    && !sets().any(|(version, _)| *version > deleted_at)
                {
                    return Err(violation(
                        format!(
                            "{me} resurrected {id}.{key} = {value:?} after applying its \
                             deletion at version {deleted_at}"
                        ),
                        [me, id],
                    ));
                }
            }
            Event::NodeLeft { id } => {
                self.left.entry(me.clone()).or_default().insert(id.clone());
            }
            Event::NodeDown { id } | Event::NodeUp { id } | Event::NodeJoined { id, .. } => {
                if self.left.get(me).is_some_and(|left| left.contains(id)) {
                    return Err(violation(
                        format!(
                            "{me} reported {id}, which it knows left, as {}",
                            kind(event)
                        ),
                        [me, id],
                    ));
                }
            }
            Event::NodeExpired { id } => {
                if let Some(versions) = self.versions.get_mut(me) {
                    versions.remove(id);
                }
            }
            Event::JoinCompleted { .. } | Event::LeaveCompleted { .. } => {}
        }
        Ok(())
    }

    /// Checks one node's whole view against what it showed before.
    pub(crate) fn sweep(&mut self, observer: &Node) -> Result<(), Violation> {
        let me = observer.id();
        let versions = self.versions.entry(me.clone()).or_default();
        let left = self.left.get(me);
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
