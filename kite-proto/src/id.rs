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
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(String);

impl NodeId {
    /// Checks and wraps `id`.
    pub fn new(id: impl Into<String>) -> Result<Self, NodeIdError> {
        let id = id.into();
        if id.is_empty() {
            return Err(NodeIdError::Empty);
        }
        if id.len() > MAX_NODE_ID_LEN {
            return Err(NodeIdError::TooLong { len: id.len() });
        }
        Ok(NodeId(id))
    }

    /// A random id of 9 lowercase letters and digits drawn from `rng`.
    pub fn random(rng: &mut (impl RngCore + ?Sized)) -> Self {
        let id = (0..RANDOM_NODE_ID_LEN)
            .map(|_| {
                let i = (rng.next_u32() as usize) % ALPHABET.len();
                char::from(ALPHABET[i])
            })
            .collect();
        NodeId(id)
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
        &self.0
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Fuzzing support: mostly one of the eight short ids `n0` to `n7` (the ids
/// the harnesses in `kite_proto::fuzzing` give their nodes, so fuzzed
/// messages keep naming nodes that exist), otherwise any valid id.
#[cfg(any(test, feature = "arbitrary"))]
impl<'a> arbitrary::Arbitrary<'a> for NodeId {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let pick: u8 = u.arbitrary()?;
        if pick < 0xc0 {
            return Ok(NodeId(format!("n{}", pick % 8)));
        }
        let s: &str = u.arbitrary()?;
        let mut end = s.len().min(MAX_NODE_ID_LEN);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        if end == 0 {
            return Ok(NodeId(format!("n{}", pick % 8)));
        }
        Ok(NodeId(s[..end].to_owned()))
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <&str>::deserialize(deserializer)?;
        NodeId::new(s).map_err(serde::de::Error::custom)
    }
}
