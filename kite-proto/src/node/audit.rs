//! Fuzzing support: a node's internal consistency and memory bounds, checked
//! by the harnesses in `crate::fuzzing` after every input.

use super::Node;
use super::exchange::MAX_PUSHES;

/// What a node holds beyond what its snapshots show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Footprint {
    /// Known remote nodes.
    pub(crate) peers: usize,
    /// Ids awaiting their state.
    pub(crate) wanted: usize,
    /// Expired ids remembered.
    pub(crate) forgotten: usize,
    /// Outbound stream requests in flight.
    pub(crate) requests: usize,
    /// State pushes in flight.
    pub(crate) pushes: usize,
    /// Joined domain names watched.
    pub(crate) names: usize,
    /// Bytes charged to every node's state, the local one included.
    pub(crate) state_bytes: usize,
    /// Log slots of every node's state.
    pub(crate) log_slots: usize,
}

impl Node {
    /// Checks every state's bookkeeping and every bound that the limits
    /// promise, and reports the footprint.
    pub(crate) fn audit(&self) -> Result<Footprint, String> {
        let limits = &self.config.limits;
        let (bytes, slots) = self
            .local
            .audit()
            .map_err(|e| format!("local state: {e}"))?;
        if bytes > limits.max_node_state_bytes {
            return Err(format!("local state of {bytes} bytes is over the limit"));
        }
        let mut footprint = Footprint {
            peers: self.peers.len(),
            wanted: self.wanted.len(),
            forgotten: self.forgotten.len(),
            requests: self.requests.len(),
            pushes: self.pushes.len(),
            names: self.names.len(),
            state_bytes: bytes,
            log_slots: slots,
        };
        for (id, peer) in self.peers.iter() {
            let (bytes, slots) = peer
                .state
                .audit()
                .map_err(|e| format!("state of {id}: {e}"))?;
            if bytes > limits.max_node_state_bytes {
                return Err(format!("state of {id} is {bytes} bytes, over the limit"));
            }
            if *id == self.id {
                return Err("the local id is among the peers".to_owned());
            }
            if self.wanted.contains_key(id) || self.forgotten.contains_key(id) {
                return Err(format!("{id} is known and also wanted or forgotten"));
            }
            footprint.state_bytes += bytes;
            footprint.log_slots += slots;
        }
        if self.wanted.contains_key(&self.id) || self.forgotten.contains_key(&self.id) {
            return Err("the local id is wanted or forgotten".to_owned());
        }
        let max = limits.max_nodes;
        if footprint.peers > max || footprint.wanted > max || footprint.forgotten > max {
            return Err(format!(
                "{} peers, {} wanted, {} forgotten: over max_nodes {max}",
                footprint.peers, footprint.wanted, footprint.forgotten
            ));
        }
        if footprint.pushes > MAX_PUSHES || footprint.pushes > footprint.requests {
            return Err(format!(
                "{} pushes in flight for {} requests",
                footprint.pushes, footprint.requests
            ));
        }
        Ok(footprint)
    }
}
