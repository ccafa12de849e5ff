//! Telling the application: the [`Watcher`] trait and the fan-out of events
//! to watchers and subscribers.

use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::event::Event;
use crate::id::NodeId;

/// Receives a node's events, in the order the node emitted them.
///
/// Callbacks run on the adapter's driver task, outside any lock: they may
/// read the node (`nodes()`, `node(id)`) but **must not block** (no sleeping,
/// no blocking I/O, no waiting on the node itself); hand slow work to a
/// channel or a task. Implement [`on_event`](Watcher::on_event) to see every
/// event, or only the per-kind methods you need (their defaults do nothing).
/// Any `Fn(&Event) + Send + Sync` closure is a watcher too.
///
/// ```
/// use kite_proto::NodeId;
/// use kite_proto::driver::Watcher;
///
/// struct Log;
///
/// impl Watcher for Log {
///     fn on_node_down(&self, id: &NodeId) {
///         eprintln!("{id} is down");
///     }
///     fn on_key_upserted(&self, id: &NodeId, key: &str, value: &str) {
///         eprintln!("{id}: {key} = {value}");
///     }
/// }
///
/// let by_closure = |event: &kite_proto::Event| eprintln!("{event:?}");
/// let watchers: Vec<Box<dyn Watcher>> = vec![Box::new(Log), Box::new(by_closure)];
/// # drop(watchers);
/// ```
pub trait Watcher: Send + Sync {
    /// Every event. The default calls the per-kind method below (the
    /// outcomes of `join` and `leave` go only here).
    fn on_event(&self, event: &Event) {
        match event {
            Event::NodeJoined { id, addr } => self.on_node_joined(id, *addr),
            Event::NodeLeft { id } => self.on_node_left(id),
            Event::NodeDown { id } => self.on_node_down(id),
            Event::NodeUp { id } => self.on_node_up(id),
            Event::NodeExpired { id } => self.on_node_expired(id),
            Event::KeyUpserted { id, key, value } => self.on_key_upserted(id, key, value),
            Event::KeyDeleted { id, key, value } => self.on_key_deleted(id, key, value),
            Event::JoinCompleted { .. } | Event::LeaveCompleted { .. } => {}
        }
    }

    /// A node was discovered at `addr` (its key events follow).
    fn on_node_joined(&self, _id: &NodeId, _addr: SocketAddr) {}

    /// A node left gracefully.
    fn on_node_left(&self, _id: &NodeId) {}

    /// A node is suspected to have failed.
    fn on_node_down(&self, _id: &NodeId) {}

    /// A node that was down shows fresh signs of life.
    fn on_node_up(&self, _id: &NodeId) {}

    /// A left or down node was removed after `node_expiry`.
    fn on_node_expired(&self, _id: &NodeId) {}

    /// A key of a remote node was created or changed.
    fn on_key_upserted(&self, _id: &NodeId, _key: &str, _value: &str) {}

    /// A key of a remote node was deleted; `value` is the value it had.
    fn on_key_deleted(&self, _id: &NodeId, _key: &str, _value: &str) {}
}

impl<F: Fn(&Event) + Send + Sync> Watcher for F {
    fn on_event(&self, event: &Event) {
        self(event);
    }
}

/// A sink the adapter plugs its channel into (see `Driver::subscribe`).
pub(super) struct Subscriber {
    sink: Box<dyn Fn(&Event) -> bool + Send + Sync>,
    closed: AtomicBool,
}

/// Everyone told of events. Replaced, never mutated, when it changes, so a
/// batch of notices keeps the set it was drained with while the lock is free.
#[derive(Default)]
pub(super) struct Listeners {
    watchers: Vec<Arc<dyn Watcher>>,
    subscribers: Vec<Arc<Subscriber>>,
}

impl Listeners {
    pub(super) fn new(watchers: Vec<Arc<dyn Watcher>>) -> Self {
        Listeners {
            watchers,
            subscribers: Vec::new(),
        }
    }

    /// These listeners plus `sink`.
    pub(super) fn with(&self, sink: Box<dyn Fn(&Event) -> bool + Send + Sync>) -> Self {
        let subscriber = Arc::new(Subscriber {
            sink,
            closed: AtomicBool::new(false),
        });
        let mut subscribers = self.subscribers.clone();
        subscribers.push(subscriber);
        Listeners {
            watchers: self.watchers.clone(),
            subscribers,
        }
    }

    /// These listeners without the subscribers whose receiver is gone, or
    /// `None` if every subscriber is still open.
    pub(super) fn pruned(&self) -> Option<Self> {
        let open = |s: &&Arc<Subscriber>| !s.closed.load(Ordering::Relaxed);
        if self.subscribers.iter().all(|s| open(&s)) {
            return None;
        }
        Some(Listeners {
            watchers: self.watchers.clone(),
            subscribers: self.subscribers.iter().filter(open).cloned().collect(),
        })
    }

    /// These listeners without any subscriber.
    pub(super) fn without_subscribers(&self) -> Self {
        Listeners::new(self.watchers.clone())
    }

    #[cfg(test)]
    pub(super) fn subscribers_len(&self) -> usize {
        self.subscribers.len()
    }

    pub(super) fn tell(&self, event: &Event) {
        for watcher in &self.watchers {
            watcher.on_event(event);
        }
        for subscriber in &self.subscribers {
            if !subscriber.closed.load(Ordering::Relaxed) && !(subscriber.sink)(event) {
                subscriber.closed.store(true, Ordering::Relaxed);
            }
        }
    }
}
