//! Exact encoded sizes (postcard: LEB128 varints, length-prefixed strings and
//! sequences, varint enum tags), so messages can be filled up to a byte budget
//! without encoding them twice. Sequence counts are budgeted at their largest.

use core::net::SocketAddr;

use super::{DigestEntry, HEADER_LEN};
use crate::id::{MAX_NODE_ID_LEN, NodeId};

/// Bytes reserved for a sequence count (a varint of up to `u32::MAX`).
pub(crate) const MAX_COUNT_LEN: usize = 5;
pub(crate) const MAX_VARINT_LEN: usize = 10;
const MAX_ID_LEN: usize = 1 + MAX_NODE_ID_LEN;
const MAX_ADDR_LEN: usize = 1 + 16 + 3;

/// Header, sender id, a digest's flag and count, and a delta's count.
pub(crate) const MESSAGE_OVERHEAD: usize = HEADER_LEN + MAX_ID_LEN + 2 * (1 + MAX_COUNT_LEN);

/// The largest per-node header of a delta (id, generation, address,
/// heartbeat, from-version, update count).
pub(crate) const MAX_NODE_HEADER_LEN: usize =
    MAX_ID_LEN + MAX_ADDR_LEN + 3 * MAX_VARINT_LEN + MAX_COUNT_LEN;

/// The largest overhead of one update beyond its key and value bytes, with
/// room for the internal left and compaction markers.
pub(crate) const MAX_UPDATE_OVERHEAD: usize = 3 * (MAX_VARINT_LEN + 1 + 2 * MAX_COUNT_LEN);

pub(crate) fn varint(v: u64) -> usize {
    let bits = 64 - v.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

pub(crate) fn str_len(s: &str) -> usize {
    varint(s.len() as u64) + s.len()
}

pub(crate) fn id_len(id: &NodeId) -> usize {
    varint(id.byte_len() as u64) + id.byte_len()
}

fn addr_len(addr: &SocketAddr) -> usize {
    let ip = if addr.is_ipv4() { 4 } else { 16 };
    1 + ip + varint(u64::from(addr.port()))
}

pub(crate) fn digest_entry_len(entry: &DigestEntry) -> usize {
    id_len(&entry.id)
        + varint(u64::from(entry.run))
        + varint(entry.heartbeat)
        + varint(entry.version)
}

/// A delta node header, with its update count budgeted at the largest.
pub(crate) fn node_header_len(
    id: &NodeId,
    generation: u64,
    addr: &SocketAddr,
    heartbeat: u64,
    from: u64,
) -> usize {
    id_len(id)
        + varint(generation)
        + addr_len(addr)
        + varint(heartbeat)
        + varint(from)
        + MAX_COUNT_LEN
}

/// The encoded length of one node's delta.
pub(crate) fn node_delta_len(node: &super::NodeDelta) -> usize {
    postcard::experimental::serialized_size(node).unwrap_or(usize::MAX / 2)
}
