//! Starting a cluster the way most tests do: `n` nodes that all join
//! through the first, and optionally the wait until they see each other.

use core::time::Duration;

use super::Sim;
use crate::failure::Failure;
use crate::hosts::HostId;

impl Sim {
    /// Adds `n` hosts (see [`Sim::add_node`]) and makes every one after
    /// the first join through the first one's address. Returns them in the
    /// order added; the first is the cluster's seed node.
    ///
    /// It does not wait: no simulated time passes, and the joins complete
    /// as the simulation runs. Use [`Sim::form_cluster`] to also wait until
    /// the nodes see each other. Calling it again starts another cluster,
    /// which knows nothing of the first.
    ///
    /// ```
    /// use core::time::Duration;
    /// use kite_sim::Sim;
    ///
    /// # fn main() -> Result<(), kite_sim::Failure> {
    /// let mut sim = Sim::new(1);
    /// let hosts = sim.add_cluster(5);
    /// assert_eq!(hosts.len(), 5);
    /// assert!(!sim.formed());
    /// sim.await_formed(Duration::from_secs(30))?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If the builder's node configuration is invalid.
    pub fn add_cluster(&mut self, n: usize) -> Vec<HostId> {
        let hosts = self.add_nodes(n);
        if let Some(first) = hosts.first() {
            let seed = self.addr(*first).to_string();
            for host in &hosts[1..] {
                // A fresh node joining an address: the target always parses.
                let _ = self.join(*host, &[&seed]);
            }
        }
        hosts
    }

    /// [`Sim::add_cluster`], then runs until every one of its `n` nodes sees
    /// every other alive, failing after `limit` of simulated time with a
    /// [`Failure`] that lists who does not see whom. Returns the hosts, in
    /// the order added.
    ///
    /// Only the new nodes are waited for: hosts added before are neither
    /// required to know them nor to be known. At the defaults a cluster of
    /// 10 forms in about 1 gossip round and one of 100 in about 4, so
    /// `limit` is a bound for a broken run, not a timing to tune.
    ///
    /// Formed is also watched: a node's monitors hear from it as soon as
    /// it learns of them, so a node that crashes right after this returns
    /// is seen down in steady-state time (3 to 7 rounds at N = 10 and 100;
    /// `docs/testing.md` has the figures).
    ///
    /// ```
    /// use core::time::Duration;
    /// use kite_sim::{NodeStatus, Sim};
    ///
    /// # fn main() -> Result<(), kite_sim::Failure> {
    /// let mut sim = Sim::new(1);
    /// let hosts = sim.form_cluster(10, Duration::from_secs(60))?;
    /// let node = sim.node(hosts[9]).unwrap();
    /// assert_eq!(node.peer_count(NodeStatus::Alive), 9);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The [`Failure`] of a broken invariant, or of the nodes not seeing
    /// each other within `limit`.
    ///
    /// # Panics
    ///
    /// If the builder's node configuration is invalid.
    pub fn form_cluster(&mut self, n: usize, limit: Duration) -> Result<Vec<HostId>, Failure> {
        let hosts = self.add_cluster(n);
        self.await_views(limit, "the cluster did not form", &[], |sim, max| {
            sim.gaps(&hosts, false, max)
        })?;
        Ok(hosts)
    }
}
