//! Full syncs: the periodic exchange of whole views that bounds how long a
//! large cluster's anti-entropy takes to tell every node of every other.
//!
//! A datagram digest lists about 85 nodes at 1400 bytes. Once a cluster is
//! larger, a node learns a node it lacks only when a digest it receives
//! happens to list it: at N = 3,000 the last ids took 80 rounds to reach
//! the last nodes while the cluster formed, and the tail grows with N.
//! So, while its digests are truncated and its view is growing, every node
//! sends its whole digest over a stream to one random live peer every
//! [`SYNC_ROUNDS`] rounds, as a join does, and the peer answers with
//! everything it lacks (the push/pull that hashicorp/memberlist runs every
//! 30 s, always). A view grows while a cluster forms, after a partition
//! heals and as nodes join; a node syncs from its first admission of a new
//! node until [`ACTIVE_ROUNDS`] rounds after its last, so a settled cluster
//! pays nothing (a sync costs the sender a digest of every node, the peer
//! a lookup of each). A cluster whose digests fit a datagram never syncs: a
//! complete digest already makes its receiver send everything the sender
//! lacks.

use super::Node;
use super::monitor::ring;
use super::streams::Pending;

/// Gossip rounds between a node's full syncs.
pub(super) const SYNC_ROUNDS: u32 = 30;

/// For how many rounds after admitting a new node a node keeps syncing.
const ACTIVE_ROUNDS: u32 = 2 * SYNC_ROUNDS;

/// When the next full sync is due.
#[derive(Debug)]
pub(super) struct Sync {
    /// Rounds of truncated digests since the last sync.
    rounds: u32,
    /// Rounds left in which syncs are due (see [`ACTIVE_ROUNDS`]).
    active: u32,
    /// A sync is waiting for its answer (one at a time).
    pub(super) in_flight: bool,
}

impl Sync {
    /// A node's first sync comes after a number of rounds given by its id,
    /// so that nodes started together do not all sync in the same round.
    pub(super) fn new(id: &crate::id::NodeId) -> Self {
        Sync {
            rounds: (ring(id) % u64::from(SYNC_ROUNDS)) as u32,
            active: 0,
            in_flight: false,
        }
    }

    /// The view just grew by a node.
    pub(super) fn grew(&mut self) {
        self.active = ACTIVE_ROUNDS;
    }
}

impl Node {
    /// After a round whose digest was `truncated` or not: every
    /// [`SYNC_ROUNDS`] rounds of truncated digests while the view grows,
    /// a full sync with a random live peer.
    pub(super) fn count_sync_round(&mut self, truncated: bool) {
        if !truncated || self.sync.active == 0 {
            return;
        }
        self.sync.active -= 1;
        self.sync.rounds += 1;
        if self.sync.rounds < SYNC_ROUNDS || self.sync.in_flight {
            return;
        }
        let Some(&slot) = self.peers.sample_alive(&mut *self.rng, 1).first() else {
            return;
        };
        self.sync.rounds = 0;
        self.sync.in_flight = true;
        let to = self.peers.addr(slot);
        let msg = self.whole_view();
        self.request(to, &msg, Pending::Sync);
    }
}
