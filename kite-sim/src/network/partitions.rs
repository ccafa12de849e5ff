//! Partitions: full (both directions) and one-way, set and healed by the test.

use std::collections::BTreeMap;

use crate::hosts::HostId;

/// Names one partition, to heal it later with [`crate::Sim::heal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionId(pub u64);

struct Rule {
    /// Membership of the first side, indexed by host.
    from: Vec<bool>,
    /// Membership of the second side.
    to: Vec<bool>,
    /// Blocks `to -> from` too.
    both_ways: bool,
}

/// The partitions in force.
#[derive(Default)]
pub(super) struct Partitions {
    rules: BTreeMap<PartitionId, Rule>,
    next: u64,
}

fn members(hosts: &[HostId]) -> Vec<bool> {
    let len = hosts.iter().map(|h| h.0 + 1).max().unwrap_or(0);
    let mut set = vec![false; len];
    for h in hosts {
        set[h.0] = true;
    }
    set
}

fn contains(set: &[bool], h: usize) -> bool {
    set.get(h).copied().unwrap_or(false)
}

impl Partitions {
    /// Blocks `from -> to`, and `to -> from` too when `both_ways`.
    pub(super) fn add(&mut self, from: &[HostId], to: &[HostId], both_ways: bool) -> PartitionId {
        let id = PartitionId(self.next);
        self.next += 1;
        let rule = Rule {
            from: members(from),
            to: members(to),
            both_ways,
        };
        self.rules.insert(id, rule);
        id
    }

    pub(super) fn heal(&mut self, id: PartitionId) -> bool {
        self.rules.remove(&id).is_some()
    }

    pub(super) fn heal_all(&mut self) {
        self.rules.clear();
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether packets from `from` to `to` are blocked now.
    pub(super) fn blocks(&self, from: HostId, to: HostId) -> bool {
        self.rules.values().any(|r| {
            (contains(&r.from, from.0) && contains(&r.to, to.0))
                || (r.both_ways && contains(&r.to, from.0) && contains(&r.from, to.0))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_one_way_partitions_block_and_heal() {
        let (a, b, c) = (HostId(0), HostId(1), HostId(2));
        let mut p = Partitions::default();
        let full = p.add(&[a], &[b], true);
        assert!(p.blocks(a, b) && p.blocks(b, a));
        assert!(!p.blocks(a, c) && !p.blocks(c, b));
        let one = p.add(&[c], &[a], false);
        assert!(p.blocks(c, a) && !p.blocks(a, c));
        assert!(p.heal(full));
        assert!(!p.blocks(a, b));
        assert!(!p.heal(full));
        p.heal(one);
        assert!(p.is_empty());
    }
}
