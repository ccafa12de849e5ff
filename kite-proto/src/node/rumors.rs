//! Rumor mongering: news about liveness (suspicions, refutations,
//! recoveries) and recent small updates, forwarded eagerly on
//! [`Message::Liveness`] datagrams, each by every node that learns it a
//! bounded number of times, so it reaches every node in about log N rounds
//! whatever the anti-entropy digests carry.
//!
//! [`Message::Liveness`]: crate::wire::Message::Liveness

use crate::wire::size::{MAX_COUNT_LEN, MAX_VARINT_LEN, id_len, varint};
use crate::wire::{NodeDelta, Rumor, RumorKind};

/// Most rumors queued; the most-sent one makes room for a new one.
const MAX_QUEUED: usize = 64;

/// How many times a node sends a rumor, per doubling of the cluster size
/// (`SENDS_PER_DOUBLING` × the bits of `N + 2` in all).
const SENDS_PER_DOUBLING: u32 = 3;

/// What can be spread: how to tell two items that carry the same news, and
/// how many bytes one takes on the wire at most.
pub(super) trait News: Clone {
    fn same(&self, other: &Self) -> bool;
    fn wire_len(&self) -> usize;
}

impl News for Rumor {
    /// The same node, kind and suspecter.
    fn same(&self, other: &Self) -> bool {
        self.id == other.id && self.kind == other.kind
    }

    fn wire_len(&self) -> usize {
        wire_len(self)
    }
}

impl News for NodeDelta {
    /// The same node from the same version.
    fn same(&self, other: &Self) -> bool {
        self.id == other.id && self.from_version == other.from_version
    }

    fn wire_len(&self) -> usize {
        crate::wire::size::node_delta_len(self)
    }
}

/// News waiting to be sent, each with the sends it has left.
#[derive(Debug)]
pub(super) struct RumorQueue<T = Rumor> {
    items: Vec<(T, u32)>,
}

impl<T> Default for RumorQueue<T> {
    fn default() -> Self {
        RumorQueue { items: Vec::new() }
    }
}

impl<T: News> RumorQueue<T> {
    /// Queues `rumor` for a cluster of about `nodes` nodes, replacing one
    /// with the same news.
    pub(super) fn push(&mut self, rumor: T, nodes: usize) {
        let sends = SENDS_PER_DOUBLING * (usize::BITS - (nodes + 2).leading_zeros());
        if let Some(at) = self
            .items
            .iter()
            .position(|(queued, _)| queued.same(&rumor))
        {
            self.items[at] = (rumor, sends);
            return;
        }
        if self.items.len() >= MAX_QUEUED
            && let Some(at) = (0..self.items.len()).min_by_key(|&i| self.items[i].1)
        {
            self.items.swap_remove(at);
        }
        self.items.push((rumor, sends));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The rumors to send on one datagram with `room` bytes free for them,
    /// the least-sent first, each counted as sent once.
    pub(super) fn take(&mut self, room: usize) -> Vec<T> {
        self.items
            .sort_by_key(|(_, left)| core::cmp::Reverse(*left));
        let mut out = Vec::new();
        let mut used = MAX_COUNT_LEN;
        for (rumor, left) in &mut self.items {
            let len = rumor.wire_len();
            if used + len > room {
                continue;
            }
            used += len;
            *left -= 1;
            out.push(rumor.clone());
        }
        self.items.retain(|(_, left)| *left > 0);
        out
    }
}

/// At most the encoded length of `rumor`.
pub(super) fn wire_len(rumor: &Rumor) -> usize {
    let kind = match &rumor.kind {
        RumorKind::Suspect { by } => 1 + id_len(by),
        RumorKind::Alive => 1,
    };
    id_len(&rumor.id) + varint(rumor.generation) + MAX_VARINT_LEN + kind
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, Message};

    fn rumor(id: &str, heartbeat: u64, by: Option<&str>) -> Rumor {
        Rumor {
            id: id.parse().unwrap(),
            generation: 0,
            heartbeat,
            kind: match by {
                Some(by) => RumorKind::Suspect {
                    by: by.parse().unwrap(),
                },
                None => RumorKind::Alive,
            },
        }
    }

    #[test]
    fn a_rumor_is_sent_a_bounded_number_of_times_least_sent_first() {
        let mut queue: RumorQueue = RumorQueue::default();
        queue.push(rumor("x", 5, Some("m")), 6);
        // 6 + 2 = 8 has 4 bits: 12 sends.
        for _ in 0..11 {
            assert_eq!(queue.take(1_000).len(), 1);
        }
        queue.push(rumor("y", 1, None), 6);
        let both = queue.take(1_000);
        assert_eq!(both[0].id.as_str(), "y", "the fresh one first");
        assert_eq!(both.len(), 2);
        assert_eq!(queue.take(1_000).len(), 1, "x is spent");
    }

    #[test]
    fn a_newer_rumor_replaces_the_same_news_and_room_is_respected() {
        let mut queue: RumorQueue = RumorQueue::default();
        queue.push(rumor("x", 5, Some("m")), 6);
        queue.push(rumor("x", 7, Some("m")), 6);
        queue.push(rumor("x", 7, Some("n")), 6);
        let taken = queue.take(1_000);
        assert_eq!(taken.len(), 2);
        assert!(taken.iter().all(|r| r.heartbeat == 7));
        let one = wire_len(&taken[0]) + MAX_COUNT_LEN;
        assert_eq!(queue.take(one).len(), 1);
        let msg = Message::Liveness {
            from: "a".parse().unwrap(),
            run: 0,
            heartbeat: 1,
            monitor: true,
            rumors: taken.clone(),
            news: Vec::new(),
        };
        let encoded = wire::encode(&msg).len();
        let bound =
            2 + 2 + MAX_VARINT_LEN + 1 + MAX_COUNT_LEN + taken.iter().map(wire_len).sum::<usize>();
        assert!(encoded <= bound, "{encoded} > {bound}");
    }
}
