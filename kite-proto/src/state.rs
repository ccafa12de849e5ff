//! One node's versioned key-value state, as its owner writes it and as
//! other nodes replay it.
//!
//! Every write stamps the entry with the node's next version; the log indexed
//! by version holds exactly one slot per entry (plus the internal left and
//! compaction markers), so "everything after version v, in version order" is
//! a range scan and any prefix of it is a valid update.

use std::collections::BTreeMap;

use crate::config::{ENTRY_OVERHEAD, Limits};
use crate::error::LocalStateError;
use crate::wire::size::{str_len, varint};
use crate::wire::{Update, UpdateKind};

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// `None` is a tombstone.
    value: Option<String>,
    version: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Slot {
    Key(String),
    Left,
    Compacted { floor: u64 },
}

/// A borrowed view of one update in a node's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UpdateRef<'a> {
    Set { key: &'a str, value: &'a str },
    Delete { key: &'a str },
    Left,
    Compacted { floor: u64 },
}

impl UpdateRef<'_> {
    /// Encoded length of this update at `version`.
    pub(crate) fn wire_len(&self, version: u64) -> usize {
        varint(version)
            + 1
            + match self {
                UpdateRef::Set { key, value } => str_len(key) + str_len(value),
                UpdateRef::Delete { key } => str_len(key),
                UpdateRef::Left => 0,
                UpdateRef::Compacted { floor } => varint(*floor),
            }
    }

    pub(crate) fn to_update(self, version: u64) -> Update {
        let kind = match self {
            UpdateRef::Set { key, value } => UpdateKind::Set {
                key: key.to_owned(),
                value: value.to_owned(),
            },
            UpdateRef::Delete { key } => UpdateKind::Delete {
                key: key.to_owned(),
            },
            UpdateRef::Left => UpdateKind::Left,
            UpdateRef::Compacted { floor } => UpdateKind::Compacted { floor },
        };
        Update { version, kind }
    }
}

/// What applying an update changed, as the application sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Upserted { key: String, value: String },
    Deleted { key: String, value: String },
    Left,
}

/// Why a remote update was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Over a size limit.
    Limit,
    /// Inconsistent (a compaction floor at or above its own version).
    Malformed,
}

/// The state of one node.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeState {
    version: u64,
    /// Keys and log, allocated at the first update: a node holds one state
    /// per peer, and most peers' states stay empty or small, so an empty
    /// state costs one pointer instead of two maps and two counters.
    maps: Option<Box<Maps>>,
}

/// The keys of a state and its update log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Maps {
    /// The node left (its log holds the left marker).
    left: bool,
    entries: BTreeMap<String, Entry>,
    log: BTreeMap<u64, Slot>,
    tombstones: usize,
    bytes: usize,
}

/// What a state without updates reads as.
static EMPTY: Maps = Maps {
    left: false,
    entries: BTreeMap::new(),
    log: BTreeMap::new(),
    tombstones: 0,
    bytes: 0,
};

/// The maps of a state, allocated if it had none.
fn grow(maps: &mut Option<Box<Maps>>) -> &mut Maps {
    maps.get_or_insert_with(Box::default)
}

impl PartialEq for NodeState {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version && self.maps() == other.maps()
    }
}

impl Eq for NodeState {}

fn cost(key: &str, value: Option<&str>) -> usize {
    key.len() + value.map_or(0, str::len) + ENTRY_OVERHEAD
}

impl NodeState {
    fn maps(&self) -> &Maps {
        self.maps.as_deref().unwrap_or(&EMPTY)
    }

    /// Highest version written or applied.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    pub(crate) fn is_left(&self) -> bool {
        self.maps().left
    }

    pub(crate) fn tombstones(&self) -> usize {
        self.maps().tombstones
    }

    /// Live keys and values, in key order.
    pub(crate) fn live(&self) -> impl Iterator<Item = (&str, &str)> {
        self.maps()
            .entries
            .iter()
            .filter_map(|(k, e)| e.value.as_deref().map(|v| (k.as_str(), v)))
    }

    /// The live value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.maps()
            .entries
            .get(key)
            .and_then(|e| e.value.as_deref())
    }

    /// Every update after `version`, in version order.
    pub(crate) fn updates_since(&self, version: u64) -> impl Iterator<Item = (u64, UpdateRef<'_>)> {
        self.maps()
            .log
            .range(version.saturating_add(1)..)
            .map(move |(v, slot)| (*v, self.slot_ref(slot)))
    }

    fn slot_ref<'a>(&'a self, slot: &'a Slot) -> UpdateRef<'a> {
        match slot {
            Slot::Key(key) => match self
                .maps()
                .entries
                .get(key)
                .and_then(|e| e.value.as_deref())
            {
                Some(value) => UpdateRef::Set { key, value },
                None => UpdateRef::Delete { key },
            },
            Slot::Left => UpdateRef::Left,
            Slot::Compacted { floor } => UpdateRef::Compacted { floor: *floor },
        }
    }

    /// Sets `key` locally. Returns whether anything changed.
    pub(crate) fn set_local(
        &mut self,
        key: &str,
        value: &str,
        limits: &Limits,
    ) -> Result<bool, LocalStateError> {
        if self.is_left() {
            return Err(LocalStateError::Left);
        }
        if key.is_empty() {
            return Err(LocalStateError::EmptyKey);
        }
        if key.len() > limits.max_key_len {
            return Err(LocalStateError::KeyTooLong {
                len: key.len(),
                max: limits.max_key_len,
            });
        }
        if value.len() > limits.max_value_len {
            return Err(LocalStateError::ValueTooLong {
                len: value.len(),
                max: limits.max_value_len,
            });
        }
        if self.get(key) == Some(value) {
            return Ok(false);
        }
        let size = self.size_after(key, Some(value));
        if size > limits.max_node_state_bytes {
            return Err(LocalStateError::StateTooLarge {
                size,
                max: limits.max_node_state_bytes,
            });
        }
        self.write(self.version + 1, key.to_owned(), Some(value.to_owned()));
        Ok(true)
    }

    /// Deletes `key` locally, leaving a tombstone. Returns whether it was live.
    pub(crate) fn delete_local(&mut self, key: &str) -> Result<bool, LocalStateError> {
        if self.is_left() {
            return Err(LocalStateError::Left);
        }
        if key.is_empty() {
            return Err(LocalStateError::EmptyKey);
        }
        if self.get(key).is_none() {
            return Ok(false);
        }
        self.write(self.version + 1, key.to_owned(), None);
        Ok(true)
    }

    /// Marks the local node as left; later writes are refused.
    pub(crate) fn mark_left(&mut self) {
        if !self.is_left() {
            self.version += 1;
            let maps = grow(&mut self.maps);
            maps.log.insert(self.version, Slot::Left);
            maps.left = true;
        }
    }

    /// Drops every tombstone: re-versions the live keys (in their current
    /// order) after the current version, then writes a compaction marker
    /// telling peers to drop everything at or below the old version. The
    /// marker comes last so a peer replaying a prefix never loses a live key.
    pub(crate) fn compact(&mut self) {
        let floor = self.version;
        let mut live: Vec<(u64, String)> = self
            .maps()
            .entries
            .iter()
            .filter(|(_, e)| e.value.is_some())
            .map(|(k, e)| (e.version, k.clone()))
            .collect();
        live.sort_unstable();
        for (old, key) in live {
            self.version += 1;
            grow(&mut self.maps).log.remove(&old);
            if let Some(entry) = grow(&mut self.maps).entries.get_mut(&key) {
                entry.version = self.version;
            }
            grow(&mut self.maps)
                .log
                .insert(self.version, Slot::Key(key));
        }
        self.version += 1;
        self.drop_up_to(floor, &mut Vec::new());
        grow(&mut self.maps)
            .log
            .insert(self.version, Slot::Compacted { floor });
    }

    /// Replays one update made by the node that owns this state. Updates at
    /// or below the current version are ignored (duplicates and stale copies).
    pub(crate) fn apply(
        &mut self,
        update: Update,
        limits: &Limits,
        changes: &mut Vec<Change>,
    ) -> Result<(), Refused> {
        let version = update.version;
        if version <= self.version || self.is_left() {
            return Ok(());
        }
        match update.kind {
            UpdateKind::Set { key, value } => {
                if key.is_empty()
                    || key.len() > limits.max_key_len
                    || value.len() > limits.max_value_len
                {
                    return Err(Refused::Limit);
                }
                if self.size_after(&key, Some(&value)) > limits.max_node_state_bytes {
                    return Err(Refused::Limit);
                }
                if let Some(change) = self.write(version, key, Some(value)) {
                    changes.push(change);
                }
            }
            UpdateKind::Delete { key } => {
                if key.is_empty()
                    || key.len() > limits.max_key_len
                    || self.size_after(&key, None) > limits.max_node_state_bytes
                {
                    return Err(Refused::Limit);
                }
                if let Some(change) = self.write(version, key, None) {
                    changes.push(change);
                }
            }
            UpdateKind::Left => {
                self.version = version;
                let maps = grow(&mut self.maps);
                maps.log.insert(version, Slot::Left);
                maps.left = true;
                changes.push(Change::Left);
            }
            UpdateKind::Compacted { floor } => {
                if floor >= version {
                    return Err(Refused::Malformed);
                }
                // A node compacts at its current version, so a new marker's
                // floor always covers the previous marker. One that does not
                // is forged, and would pile up uncharged markers without bound.
                if self
                    .maps()
                    .log
                    .range(floor.saturating_add(1)..)
                    .any(|(_, slot)| matches!(slot, Slot::Compacted { .. }))
                {
                    return Err(Refused::Malformed);
                }
                self.version = version;
                self.drop_up_to(floor, changes);
                grow(&mut self.maps)
                    .log
                    .insert(version, Slot::Compacted { floor });
            }
        }
        Ok(())
    }

    /// Removes every slot at or below `floor` (an older compaction marker is
    /// always there), reporting live keys removed as deletions.
    fn drop_up_to(&mut self, floor: u64, changes: &mut Vec<Change>) {
        let kept = grow(&mut self.maps).log.split_off(&floor.saturating_add(1));
        let dropped = core::mem::replace(&mut grow(&mut self.maps).log, kept);
        for slot in dropped.into_values() {
            let Slot::Key(key) = slot else { continue };
            if let Some(entry) = grow(&mut self.maps).entries.remove(&key) {
                grow(&mut self.maps).bytes -= cost(&key, entry.value.as_deref());
                match entry.value {
                    Some(value) => changes.push(Change::Deleted { key, value }),
                    None => grow(&mut self.maps).tombstones -= 1,
                }
            }
        }
    }

    fn size_after(&self, key: &str, value: Option<&str>) -> usize {
        let old = self
            .maps()
            .entries
            .get(key)
            .map_or(0, |e| cost(key, e.value.as_deref()));
        self.maps().bytes - old + cost(key, value)
    }

    fn write(&mut self, version: u64, key: String, value: Option<String>) -> Option<Change> {
        self.version = version;
        grow(&mut self.maps).bytes += cost(&key, value.as_deref());
        if value.is_none() {
            grow(&mut self.maps).tombstones += 1;
        }
        grow(&mut self.maps)
            .log
            .insert(version, Slot::Key(key.clone()));
        let new = Entry {
            value: value.clone(),
            version,
        };
        let old = grow(&mut self.maps).entries.insert(key.clone(), new);
        let old_value = match old {
            Some(old) => {
                grow(&mut self.maps).log.remove(&old.version);
                grow(&mut self.maps).bytes -= cost(&key, old.value.as_deref());
                if old.value.is_none() {
                    grow(&mut self.maps).tombstones -= 1;
                }
                old.value
            }
            None => None,
        };
        match (old_value, value) {
            (old, Some(value)) if old.as_ref() != Some(&value) => {
                Some(Change::Upserted { key, value })
            }
            (Some(old), None) => Some(Change::Deleted { key, value: old }),
            _ => None,
        }
    }
}

/// Fuzzing support: the bookkeeping checked against the entries.
#[cfg(any(test, feature = "arbitrary"))]
impl NodeState {
    /// Recomputes the byte and tombstone counts and checks that every entry
    /// and every log slot point at each other, with at most one left marker
    /// and one compaction marker. Returns the bytes charged and the number
    /// of log slots.
    pub(crate) fn audit(&self) -> Result<(usize, usize), String> {
        let bytes: usize = self
            .maps()
            .entries
            .iter()
            .map(|(k, e)| cost(k, e.value.as_deref()))
            .sum();
        if bytes != self.maps().bytes {
            return Err(format!("{} bytes charged, {bytes} held", self.maps().bytes));
        }
        let tombstones = self
            .maps()
            .entries
            .values()
            .filter(|e| e.value.is_none())
            .count();
        if tombstones != self.maps().tombstones {
            return Err(format!(
                "{} tombstones counted, {tombstones} held",
                self.maps().tombstones
            ));
        }
        for (key, entry) in &self.maps().entries {
            match self.maps().log.get(&entry.version) {
                Some(Slot::Key(k)) if k == key => {}
                other => {
                    return Err(format!(
                        "entry {key:?} at version {} has log slot {other:?}",
                        entry.version
                    ));
                }
            }
        }
        let mut markers = 0;
        let mut compactions = 0;
        for slot in self.maps().log.values() {
            match slot {
                Slot::Key(_) => {}
                Slot::Left => markers += 1,
                Slot::Compacted { .. } => compactions += 1,
            }
        }
        if self.maps().log.len() != self.maps().entries.len() + markers + compactions {
            return Err(format!(
                "{} log slots for {} entries",
                self.maps().log.len(),
                self.maps().entries.len()
            ));
        }
        if markers > 1 || compactions > 1 {
            return Err(format!(
                "{markers} left markers and {compactions} compaction markers"
            ));
        }
        if markers == 1 && !self.is_left() {
            return Err("a left marker on a node that has not left".to_owned());
        }
        if let Some((top, _)) = self.maps().log.last_key_value()
            && *top > self.version
        {
            return Err(format!("log slot {top} above version {}", self.version));
        }
        Ok((self.maps().bytes, self.maps().log.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(from: &NodeState, into: &mut NodeState) -> Vec<Change> {
        let mut changes = Vec::new();
        for (v, u) in from.updates_since(into.version()) {
            into.apply(u.to_update(v), &Limits::default(), &mut changes)
                .expect("valid update");
        }
        changes
    }

    #[test]
    fn unchanged_upsert_is_a_no_op() {
        let mut s = NodeState::default();
        let limits = Limits::default();
        assert_eq!(s.set_local("k", "v", &limits), Ok(true));
        assert_eq!(s.set_local("k", "v", &limits), Ok(false));
        assert_eq!(s.version(), 1);
    }

    #[test]
    fn delete_leaves_a_tombstone_that_replays() {
        let limits = Limits::default();
        let mut a = NodeState::default();
        a.set_local("k", "v", &limits).unwrap();
        let mut b = NodeState::default();
        replay(&a, &mut b);
        assert_eq!(b.get("k"), Some("v"));
        assert_eq!(a.delete_local("k"), Ok(true));
        assert_eq!(a.tombstones(), 1);
        let changes = replay(&a, &mut b);
        assert_eq!(
            changes,
            vec![Change::Deleted {
                key: "k".into(),
                value: "v".into()
            }]
        );
        assert_eq!(b.get("k"), None);
    }

    #[test]
    fn compaction_keeps_live_keys_and_drops_tombstones_on_peers() {
        let limits = Limits::default();
        let mut a = NodeState::default();
        let mut behind = NodeState::default();
        a.set_local("gone", "1", &limits).unwrap();
        a.set_local("kept", "2", &limits).unwrap();
        replay(&a, &mut behind);
        a.set_local("also-gone", "3", &limits).unwrap();
        a.delete_local("gone").unwrap();
        a.delete_local("also-gone").unwrap();
        let mut current = NodeState::default();
        replay(&a, &mut current);
        a.compact();
        assert_eq!(a.tombstones(), 0);
        assert_eq!(a.live().collect::<Vec<_>>(), vec![("kept", "2")]);

        let changes = replay(&a, &mut current);
        assert!(changes.is_empty(), "no spurious events: {changes:?}");
        assert_eq!(current.tombstones(), 0);

        let changes = replay(&a, &mut behind);
        assert_eq!(
            changes,
            vec![Change::Deleted {
                key: "gone".into(),
                value: "1".into()
            }]
        );
        assert_eq!(behind.live().collect::<Vec<_>>(), vec![("kept", "2")]);
        assert_eq!(behind.version(), a.version());
    }

    #[test]
    fn a_compaction_below_an_earlier_marker_is_refused() {
        // Found by the `node` fuzz target: markers whose floors do not cover
        // the previous marker piled up, uncharged, without bound.
        let limits = Limits::default();
        let mut s = NodeState::default();
        let update = |version, floor| Update {
            version,
            kind: UpdateKind::Compacted { floor },
        };
        let mut changes = Vec::new();
        assert_eq!(s.apply(update(10, 5), &limits, &mut changes), Ok(()));
        assert_eq!(
            s.apply(update(11, 3), &limits, &mut changes),
            Err(Refused::Malformed)
        );
        assert_eq!(s.apply(update(12, 10), &limits, &mut changes), Ok(()));
        assert_eq!(s.version(), 12);
        assert_eq!(s.audit().map(|(_, slots)| slots), Ok(1));
    }

    #[test]
    fn left_state_refuses_writes() {
        let mut s = NodeState::default();
        s.mark_left();
        assert_eq!(
            s.set_local("k", "v", &Limits::default()),
            Err(LocalStateError::Left)
        );
        assert_eq!(s.delete_local("k"), Err(LocalStateError::Left));
    }

    #[test]
    fn limits_are_enforced_locally_and_remotely() {
        let limits = Limits {
            max_key_len: 4,
            max_value_len: 8,
            max_node_state_bytes: 100,
            ..Limits::default()
        };
        let mut s = NodeState::default();
        assert!(matches!(
            s.set_local("too-long", "v", &limits),
            Err(LocalStateError::KeyTooLong { len: 8, max: 4 })
        ));
        assert!(matches!(
            s.set_local("k", "123456789", &limits),
            Err(LocalStateError::ValueTooLong { .. })
        ));
        s.set_local("a", "12345678", &limits).unwrap();
        s.set_local("b", "12345678", &limits).unwrap();
        assert!(matches!(
            s.set_local("c", "12345678", &limits),
            Err(LocalStateError::StateTooLarge { .. })
        ));
        let update = Update {
            version: 1,
            kind: UpdateKind::Set {
                key: "k".into(),
                value: "123456789".into(),
            },
        };
        let mut remote = NodeState::default();
        assert_eq!(
            remote.apply(update, &limits, &mut Vec::new()),
            Err(Refused::Limit)
        );
        assert_eq!(remote.version(), 0);
    }
}
