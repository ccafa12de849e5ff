//! Telling the application: the [`Watcher`] trait.

use core::net::SocketAddr;

use kite_proto::{Event, NodeId};

/// Receives a node's events, in the order the node emitted them.
///
/// Callbacks run on the node's driver task, outside any lock: they may
/// read the node (`nodes()`, `node(id)`) but **must not block** (no sleeping,
/// no blocking I/O, no waiting on the node itself); hand slow work to a
/// channel or a task. Implement [`on_event`](Watcher::on_event) to see every
/// event, or only the per-kind methods you need (their defaults do nothing).
/// Any `Fn(&Event) + Send + Sync` closure is a watcher too
/// ([`Options::on_event`](crate::Options::on_event) takes one without a
/// type annotation).
///
/// ```
/// use kite_runtime::{NodeId, Watcher};
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
/// let by_closure = |event: &kite_runtime::Event| eprintln!("{event:?}");
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
            Event::JoinCompleted { .. }
            | Event::JoinTargetCompleted { .. }
            | Event::LeaveCompleted { .. } => {}
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
