//! Virtual time: a queue of future happenings, ordered by time and then by
//! the order they were scheduled in, so equal times never depend on heap
//! internals. The simulator's clock jumps from one happening to the next;
//! there are no fixed ticks.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use kite_proto::Timestamp;

struct Entry<T> {
    at: Timestamp,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    /// Reversed, so the max-heap pops the earliest entry first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A min-queue of items keyed by time, first-scheduled first among equals.
pub(super) struct EventQueue<T> {
    heap: BinaryHeap<Entry<T>>,
    seq: u64,
}

impl<T> EventQueue<T> {
    pub(super) fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    pub(super) fn push(&mut self, at: Timestamp, item: T) {
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            item,
        });
    }

    /// The time of the earliest item.
    pub(super) fn peek_time(&self) -> Option<Timestamp> {
        self.heap.peek().map(|e| e.at)
    }

    pub(super) fn pop(&mut self) -> Option<(Timestamp, T)> {
        self.heap.pop().map(|e| (e.at, e.item))
    }

    pub(super) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_by_scheduling_order() {
        let mut q = EventQueue::new();
        q.push(Timestamp::from_millis(5), "late");
        q.push(Timestamp::from_millis(1), "first");
        q.push(Timestamp::from_millis(1), "second");
        assert_eq!(q.peek_time(), Some(Timestamp::from_millis(1)));
        let order: Vec<_> = core::iter::from_fn(|| q.pop().map(|(_, s)| s)).collect();
        assert_eq!(order, ["first", "second", "late"]);
        assert_eq!(q.len(), 0);
    }
}
