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
    /// 10 forms in about 4 gossip rounds and one of 100 in about 11, so
    /// `limit` is a bound for a broken run, not a timing to tune.
    ///
    /// Formed is not yet watched: a node picks its monitors among the
    /// peers it knows, at its next heartbeat round, and a monitor ignores
    /// heartbeats from a node it does not know yet. A node that crashes
    /// within its first round after this returns may have fewer watching
    /// monitors than a verdict needs, and is then seen down only by every
    /// node's own gossip-fed detector: 49 to 91 rounds instead of 3 to 7
    /// (14 seeds of 200 at N = 10, none of 200 at N = 100). Run one or two
    /// gossip intervals first if a test's bound assumes steady-state
    /// detection; `docs/testing.md` has the figures.
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
