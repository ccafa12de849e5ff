//! Simulated DNS: a table of names whose answers the test changes over time.
//! The simulator answers a node's question after the network's DNS latency,
//! as the table reads then.

use core::net::IpAddr;
use std::collections::BTreeMap;

use kite_proto::ResolveError;

/// Names and the addresses they resolve to. An unknown name fails to
/// resolve, like NXDOMAIN. Names are matched lowercase, as the core asks.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dns {
    names: BTreeMap<String, Vec<IpAddr>>,
}

impl Dns {
    /// Makes `name` resolve to `addrs`.
    pub(crate) fn set(&mut self, name: &str, addrs: Vec<IpAddr>) {
        self.names.insert(name.to_ascii_lowercase(), addrs);
    }

    /// Makes `name` fail to resolve.
    pub(crate) fn remove(&mut self, name: &str) {
        self.names.remove(&name.to_ascii_lowercase());
    }

    /// The answer at this moment.
    pub(crate) fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        self.names
            .get(name)
            .cloned()
            .ok_or_else(|| ResolveError(format!("{name}: no such name")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_change_and_unknown_names_fail() {
        let mut dns = Dns::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(dns.resolve("kite.svc").is_err());
        dns.set("Kite.SVC", vec![ip]);
        assert_eq!(dns.resolve("kite.svc"), Ok(vec![ip]));
        dns.remove("kite.svc");
        assert!(dns.resolve("kite.svc").is_err());
    }
}
