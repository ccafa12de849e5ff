//! The event log: every event every node emitted, with when and where.

use core::fmt;

use kite_proto::{Event, NodeId, Timestamp};

use crate::hosts::HostId;

/// One event emitted by one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedEvent {
    /// When it was emitted.
    pub at: Timestamp,
    /// The host whose node emitted it.
    pub host: HostId,
    /// The id of the node that emitted it.
    pub node: NodeId,
    /// The event.
    pub event: Event,
}

impl LoggedEvent {
    /// Whether the event was emitted by, or is about, `id`.
    pub fn concerns(&self, id: &NodeId) -> bool {
        self.node == *id || subject(&self.event) == Some(id)
    }
}

impl fmt::Display for LoggedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>10.3}s {} {}: {:?}",
            self.at.as_duration().as_secs_f64(),
            self.host,
            self.node,
            self.event
        )
    }
}

/// The node an event is about, if any.
pub fn subject(event: &Event) -> Option<&NodeId> {
    match event {
        Event::NodeJoined { id, .. }
        | Event::NodeLeft { id }
        | Event::NodeDown { id }
        | Event::NodeUp { id }
        | Event::NodeExpired { id }
        | Event::KeyUpserted { id, .. }
        | Event::KeyDeleted { id, .. } => Some(id),
        Event::JoinCompleted { .. }
        | Event::JoinTargetCompleted { .. }
        | Event::LeaveCompleted { .. } => None,
    }
}
