//! Node identity.

use core::fmt;
use core::num::NonZeroU8;
use core::str::FromStr;
use std::sync::Arc;

use rand_core::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::NodeIdError;

/// The longest node id, in bytes.
pub const MAX_NODE_ID_LEN: usize = 64;

/// Length of ids made by [`NodeId::random`].
pub const RANDOM_NODE_ID_LEN: usize = 9;

const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// The identity of one node for one process run: 1 to 64 bytes of UTF-8.
///
/// A restarted process takes a new id; liveness and state are attributed to
/// ids, never to addresses.
///
/// ```
/// use kite_proto::{NodeId, SeededRng};
///
/// let id: NodeId = "node-a".parse()?;
/// assert_eq!(id.as_str(), "node-a");
/// let random = NodeId::random(&mut SeededRng::from_seed_u64(7));
/// assert_eq!(random.as_str().len(), 9);
/// assert!("".parse::<NodeId>().is_err());
/// # Ok::<(), kite_proto::NodeIdError>(())
/// ```
///
/// Ids of up to 15 bytes (random ids, most host names) are stored inline,
/// longer ones once on the heap and shared by clones, so an id is 16
/// bytes: cheap to decode, clone and compare, and small in a peer table of
/// thousands (the protocol handles one per digest entry; a node of a
/// 10,000-node cluster keeps 10,000).
#[derive(Clone)]
pub struct NodeId(Repr);

/// The longest id stored inline.
const INLINE_LEN: usize = 15;

/// Sixteen bytes: the inline variant's zero-free length leaves a niche
/// for the shared one's tag, and a pointer to a fixed-size block is thin
/// (an `Arc<str>` would be two words and make the id 24 bytes).
#[derive(Clone)]
enum Repr {
    /// `len` bytes, then zeros.
    Inline {
        len: NonZeroU8,
        bytes: [u8; INLINE_LEN],
    },
    Shared(Arc<LongId>),
}

/// An id longer than [`INLINE_LEN`]: one allocation, whatever its length.
struct LongId {
    len: u8,
    bytes: [u8; MAX_NODE_ID_LEN],
}

impl NodeId {
    /// Checks and wraps `id`.
    pub fn new(id: impl AsRef<str>) -> Result<Self, NodeIdError> {
        let id = id.as_ref();
        if id.is_empty() {
            return Err(NodeIdError::Empty);
        }
        if id.len() > MAX_NODE_ID_LEN {
            return Err(NodeIdError::TooLong { len: id.len() });
        }
        Ok(NodeId::from_valid(id))
    }

    /// Stores `id`: 1 to [`MAX_NODE_ID_LEN`] bytes.
    fn from_valid(id: &str) -> Self {
        match NonZeroU8::new(id.len() as u8) {
            Some(len) if id.len() <= INLINE_LEN => {
                let mut bytes = [0; INLINE_LEN];
                bytes[..id.len()].copy_from_slice(id.as_bytes());
                NodeId(Repr::Inline { len, bytes })
            }
            _ => {
                let mut bytes = [0; MAX_NODE_ID_LEN];
                bytes[..id.len()].copy_from_slice(id.as_bytes());
                let len = id.len() as u8;
                NodeId(Repr::Shared(Arc::new(LongId { len, bytes })))
            }
        }
    }

    /// A random id of 9 lowercase letters and digits drawn from `rng`.
    pub fn random(rng: &mut (impl RngCore + ?Sized)) -> Self {
        let mut bytes = [0u8; RANDOM_NODE_ID_LEN];
        for b in &mut bytes {
            *b = ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()];
        }
        // The alphabet is ASCII.
        NodeId::from_valid(core::str::from_utf8(&bytes).unwrap_or("0"))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Always valid: the bytes are copied whole from a `str`.
            Repr::Inline { len, bytes } => {
                core::str::from_utf8(&bytes[..usize::from(len.get())]).unwrap_or_default()
            }
            Repr::Shared(id) => core::str::from_utf8(id.get()).unwrap_or_default(),
        }
    }

    /// The bytes, without the UTF-8 check of [`NodeId::as_str`] (digest
    /// sizes and hashing read them for every entry).
    fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(len.get())],
            Repr::Shared(id) => id.get(),
        }
    }

    /// Length in bytes.
    pub(crate) fn byte_len(&self) -> usize {
        self.as_bytes().len()
    }

    /// The bytes as little-endian words, the last zero-padded (for hashing
    /// without a byte-by-byte loop).
    pub(crate) fn words(&self) -> impl Iterator<Item = u64> + '_ {
        self.as_bytes().chunks(8).map(|chunk| {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            u64::from_le_bytes(word)
        })
    }
}

impl LongId {
    fn get(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl PartialEq for NodeId {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            // Bytes past `len` are zero, so the arrays compare like the
            // strings, without a call to `memcmp`.
            (Repr::Inline { len: a, bytes: x }, Repr::Inline { len: b, bytes: y }) => {
                a == b && x == y
            }
            _ => self.as_bytes() == other.as_bytes(),
        }
    }
}

impl Eq for NodeId {}

impl PartialOrd for NodeId {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Ordered as the strings are.
impl Ord for NodeId {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl core::hash::Hash for NodeId {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        // As `str` hashes: the bytes, then a terminator.
        state.write(self.as_bytes());
        state.write_u8(0xff);
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NodeId {
    type Err = NodeIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NodeId::new(s)
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A string either way; compact formats (the wire) encode a string
        // and bytes alike, and take bytes without re-checking the UTF-8.
        if serializer.is_human_readable() {
            serializer.serialize_str(self.as_str())
        } else {
            serializer.serialize_bytes(self.as_bytes())
        }
    }
}

/// Fuzzing support: mostly one of the eight short ids `n0` to `n7` (the ids
/// the harnesses in `kite_sim::fuzzing` give their nodes, so fuzzed
/// messages keep naming nodes that exist), otherwise any valid id.
#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for NodeId {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let pick: u8 = u.arbitrary()?;
        if pick < 0xc0 {
            return Ok(NodeId::from_valid(&format!("n{}", pick % 8)));
        }
        let s: &str = u.arbitrary()?;
        let mut end = s.len().min(MAX_NODE_ID_LEN);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        if end == 0 {
            return Ok(NodeId::from_valid(&format!("n{}", pick % 8)));
        }
        Ok(NodeId::from_valid(&s[..end]))
    }
}

/// Decoded from the bytes of a string (every digest entry carries one).
impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl serde::de::Visitor<'_> for IdVisitor {
            type Value = NodeId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a node id: 1 to 64 bytes of UTF-8")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NodeId, E> {
                NodeId::new(v).map_err(E::custom)
            }

            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<NodeId, E> {
                // Validation is quick for the common all-ASCII id.
                let s = core::str::from_utf8(v).map_err(E::custom)?;
                self.visit_str(s)
            }
        }

        deserializer.deserialize_bytes(IdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_ids_behave_alike_in_16_bytes() {
        assert_eq!(core::mem::size_of::<NodeId>(), 16);
        let short = "a".repeat(INLINE_LEN);
        let long = "b".repeat(MAX_NODE_ID_LEN);
        let just_long = "c".repeat(INLINE_LEN + 1);
        for s in [short.as_str(), long.as_str(), &just_long, "é-node", "n1"] {
            let id = NodeId::new(s).unwrap();
            assert_eq!(id.as_str(), s);
            assert_eq!(id.byte_len(), s.len());
            assert_eq!(id, id.clone());
            let bytes = postcard::to_allocvec(&id).unwrap();
            assert_eq!(postcard::from_bytes::<NodeId>(&bytes).unwrap(), id);
            let words: Vec<u64> = id.words().collect();
            assert_eq!(words.len(), s.len().div_ceil(8));
        }
        let mut ids: Vec<NodeId> = ["b", "a", &long, &short]
            .iter()
            .map(|s| NodeId::new(s).unwrap())
            .collect();
        ids.sort();
        let sorted: Vec<&str> = ids.iter().map(NodeId::as_str).collect();
        assert_eq!(sorted, ["a", short.as_str(), "b", long.as_str()]);
        assert_ne!(NodeId::new("a").unwrap(), NodeId::new(&short).unwrap());
        assert!(NodeId::new("x".repeat(MAX_NODE_ID_LEN + 1)).is_err());
    }
}
