//! Node identity.

use core::fmt;
use core::str::FromStr;

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
/// The bytes are stored inline (no heap allocation), so ids are cheap to
/// decode, clone and compare: the protocol handles one per digest entry.
#[derive(Clone)]
pub struct NodeId {
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
        Ok(NodeId::inline(id.as_bytes()))
    }

    /// Stores `bytes`: whole UTF-8 of 1 to [`MAX_NODE_ID_LEN`] bytes.
    fn inline(bytes: &[u8]) -> Self {
        let mut id = NodeId {
            len: bytes.len() as u8,
            bytes: [0; MAX_NODE_ID_LEN],
        };
        id.bytes[..bytes.len()].copy_from_slice(bytes);
        id
    }

    /// A random id of 9 lowercase letters and digits drawn from `rng`.
    pub fn random(rng: &mut (impl RngCore + ?Sized)) -> Self {
        let mut bytes = [0u8; RANDOM_NODE_ID_LEN];
        for b in &mut bytes {
            *b = ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()];
        }
        NodeId::inline(&bytes)
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        // Always valid: the bytes are copied whole from a `str`.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Length in bytes.
    pub(crate) fn byte_len(&self) -> usize {
        usize::from(self.len)
    }

    /// The bytes as little-endian words, zero-padded: as many words as the
    /// id needs (for hashing without a byte-by-byte loop).
    pub(crate) fn words(&self) -> impl Iterator<Item = u64> + '_ {
        self.bytes
            .chunks_exact(8)
            .take(usize::from(self.len).div_ceil(8))
            .map(|word| u64::from_le_bytes(word.try_into().unwrap_or_default()))
    }
}

impl PartialEq for NodeId {
    fn eq(&self, other: &Self) -> bool {
        // Bytes past `len` are always zero, so they compare like the strings
        // 16 bytes at a time, without a call to `memcmp`.
        let word = |id: &NodeId, i: usize| {
            let chunk: [u8; 16] = id.bytes[16 * i..16 * (i + 1)]
                .try_into()
                .unwrap_or_default();
            u128::from_ne_bytes(chunk)
        };
        self.len == other.len
            && (0..usize::from(self.len).div_ceil(16)).all(|i| word(self, i) == word(other, i))
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
            return Ok(NodeId::inline(format!("n{}", pick % 8).as_bytes()));
        }
        let s: &str = u.arbitrary()?;
        let mut end = s.len().min(MAX_NODE_ID_LEN);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        if end == 0 {
            return Ok(NodeId::inline(format!("n{}", pick % 8).as_bytes()));
        }
        Ok(NodeId::inline(&s.as_bytes()[..end]))
    }
}

/// Decoded from the bytes of a string (every digest entry carries an id, so
/// the common all-ASCII case skips the general UTF-8 check).
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
                if v.is_ascii() {
                    if v.is_empty() {
                        return Err(E::custom(NodeIdError::Empty));
                    }
                    if v.len() > MAX_NODE_ID_LEN {
                        return Err(E::custom(NodeIdError::TooLong { len: v.len() }));
                    }
                    return Ok(NodeId::inline(v));
                }
                let s = core::str::from_utf8(v).map_err(E::custom)?;
                self.visit_str(s)
            }
        }

        deserializer.deserialize_bytes(IdVisitor)
    }
}
