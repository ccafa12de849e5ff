//! Hidden hooks for the fuzz harnesses (`kite_sim::fuzzing`): a node's
//! internal consistency and memory bounds ([`Node::audit`](crate::Node)),
//! and the byte budgets the core fills datagrams with, to check against the
//! real encoding. Compiled with the `arbitrary` feature (and in this crate's
//! tests); not part of the supported API.

use serde::Serialize;

pub use crate::node::audit::Footprint;
use crate::state::UpdateRef;
use crate::wire::size::{digest_entry_len, node_header_len};
use crate::wire::{DigestEntry, NodeDelta, Update, UpdateKind};

/// The bytes the core budgets for `entry` in a digest.
pub fn digest_entry_budget(entry: &DigestEntry) -> usize {
    digest_entry_len(entry)
}

/// The bytes the core budgets for the header of `node` in a delta (its
/// update count at the largest).
pub fn node_header_budget(node: &NodeDelta) -> usize {
    node_header_len(
        &node.id,
        node.generation,
        &node.addr,
        node.heartbeat,
        node.from_version,
    )
}

/// The bytes the core budgets for `update` in a delta.
pub fn update_budget(update: &Update) -> usize {
    match &update.kind {
        UpdateKind::Set { key, value } => UpdateRef::Set { key, value },
        UpdateKind::Delete { key } => UpdateRef::Delete { key },
        UpdateKind::Left => UpdateRef::Left,
        UpdateKind::Compacted { floor } => UpdateRef::Compacted { floor: *floor },
    }
    .wire_len(update.version)
}

/// The length of `value`'s real encoding in a message body.
///
/// # Panics
///
/// If `value` cannot be encoded (no wire type fails to).
pub fn encoded_len<T: Serialize>(value: &T) -> usize {
    postcard::experimental::serialized_size(value).unwrap_or_else(|e| panic!("{e}"))
}
