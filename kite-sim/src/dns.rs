//! Simulated DNS: a table of names whose answers the test changes over time.

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
    pub(crate) fn set(&mut self, name: &str, addrs: Vec<IpAddr>) {
        self.names.insert(name.to_ascii_lowercase(), addrs);
    }

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

impl crate::sim::Sim {
    /// A node asked to resolve `name`; the answer comes after the DNS
    /// latency, as the table reads then.
    pub(crate) fn ask_dns(&mut self, host: crate::HostId, name: String) {
        let incarnation = self.hosts[host.0].incarnation;
        let at = self.now + self.network.dns_latency;
        let answer = crate::sim::Happening::Resolved {
            host,
            incarnation,
            name,
        };
        self.queue.push(at, answer);
    }

    pub(crate) fn answer_dns(&mut self, host: crate::HostId, incarnation: u32, name: &str) {
        let h = &mut self.hosts[host.0];
        if h.incarnation != incarnation {
            return;
        }
        let answer = self.dns.resolve(name);
        self.metrics.resolutions += 1;
        self.trace
            .record(crate::trace::Record::Resolve, self.now, host.0);
        self.trace.str(name);
        if let Ok(ips) = &answer {
            for ip in ips {
                self.trace.str(&ip.to_string());
            }
        }
        if let Some(node) = h.node.as_mut() {
            node.handle_resolved(h.clock.local(self.now), name, answer);
        }
        self.drain(host);
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
