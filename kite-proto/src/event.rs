//! What the core tells the application, and the snapshots it reads.

use core::net::SocketAddr;
use std::collections::BTreeMap;

use crate::error::{JoinError, LeaveError};
use crate::id::NodeId;

/// Names one `join` call, so its outcome can be matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JoinId(pub u64);

/// Something the application should know about. Node and key events describe
/// remote nodes; changes to the local node are the application's own calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A node was discovered (its key events follow).
    NodeJoined {
        /// The node.
        id: NodeId,
        /// Its gossip address.
        addr: SocketAddr,
    },
    /// A node left gracefully.
    NodeLeft {
        /// The node.
        id: NodeId,
    },
    /// A node is suspected to have failed.
    NodeDown {
        /// The node.
        id: NodeId,
    },
    /// A node that was down shows fresh signs of life.
    NodeUp {
        /// The node.
        id: NodeId,
    },
    /// A left or down node was removed after `node_expiry`.
    NodeExpired {
        /// The node.
        id: NodeId,
    },
    /// A key of a remote node was created or changed.
    KeyUpserted {
        /// The node.
        id: NodeId,
        /// The key.
        key: String,
        /// Its new value.
        value: String,
    },
    /// A key of a remote node was deleted.
    KeyDeleted {
        /// The node.
        id: NodeId,
        /// The key.
        key: String,
        /// The value it had.
        value: String,
    },
    /// The outcome of a `join` call: the id of the first node that answered
    /// (the join completes then, see [`Node::join`](crate::Node::join)), an
    /// empty list if every target was this node itself, or why none could
    /// be joined.
    JoinCompleted {
        /// The call.
        join: JoinId,
        /// The node joined through, or why none could be joined.
        result: Result<Vec<NodeId>, JoinError>,
    },
    /// The outcome of one target of a successful `join` that its
    /// [`Event::JoinCompleted`] does not name: a target that failed before
    /// another answered, or one still pending when the join completed.
    /// With `JoinCompleted`, every target is reported exactly once (a
    /// target that turns out to be this node itself, never).
    JoinTargetCompleted {
        /// The call.
        join: JoinId,
        /// The target: an address, or a name and the address it resolved
        /// to (as in [`JoinFailure`](crate::JoinFailure)).
        target: String,
        /// The id of the node that answered, or why it could not be joined.
        result: Result<NodeId, String>,
    },
    /// The outcome of `leave`: how many nodes acknowledged it.
    LeaveCompleted {
        /// Number of nodes told, or why none was.
        result: Result<usize, LeaveError>,
    },
}

/// How this node sees another node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeStatus {
    /// Heard from recently enough.
    Alive,
    /// Suspicion above the threshold.
    Down,
    /// Left gracefully.
    Left,
}

/// An owned snapshot of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    /// The node.
    pub id: NodeId,
    /// Which run of it this is (see
    /// [`Config::generation`](crate::Config::generation)).
    pub generation: u64,
    /// Its gossip address.
    pub addr: SocketAddr,
    /// How this node sees it (always `Alive` or `Left` for the local node).
    pub status: NodeStatus,
    /// The highest state version held for it.
    pub version: u64,
    /// Its live keys (internal entries and tombstones are hidden).
    pub entries: BTreeMap<String, String>,
}
