//! Domain names given to `join`: resolved for the joins that name them,
//! then, once a join through them succeeded, re-resolved every
//! `dns_refresh_interval`, their latest answer giving seeds.

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::collections::BTreeSet;

use super::Node;
use crate::error::ResolveError;
use crate::event::JoinId;
use crate::output::Output;
use crate::time::Timestamp;

/// Most addresses taken from one DNS answer.
const MAX_ADDRS_PER_NAME: usize = 256;

/// A domain name given to `join`.
pub(super) struct NameWatch {
    /// Ports it was joined with by joins that succeeded. While empty it is
    /// resolved only for the pending joins that name it.
    ports: BTreeSet<u16>,
    /// What it last resolved to.
    ips: Vec<IpAddr>,
    next_resolve: Timestamp,
    /// When the pending resolution was asked for.
    in_flight: Option<Timestamp>,
}

impl NameWatch {
    /// When to resolve again: at `next_resolve` if a join through it
    /// succeeded, or, if an answer is overdue, one refresh interval after
    /// asking.
    pub(super) fn deadline(&self, refresh: Duration) -> Option<Timestamp> {
        match self.in_flight {
            Some(asked) => Some(asked + refresh),
            None if self.watched() => Some(self.next_resolve),
            None => None,
        }
    }

    /// Whether a join through it succeeded.
    fn watched(&self) -> bool {
        !self.ports.is_empty()
    }

    /// Its seeds: every address of the last answer at every joined port
    /// (`me` excluded).
    pub(super) fn seeds(&self, me: SocketAddr) -> impl Iterator<Item = SocketAddr> + '_ {
        self.ips
            .iter()
            .flat_map(|ip| self.ports.iter().map(|port| SocketAddr::new(*ip, *port)))
            .filter(move |addr| *addr != me)
    }
}

impl Node {
    /// Resolves `name` for a join (unless an answer is already awaited).
    pub(super) fn resolve_for_join(&mut self, now: Timestamp, name: &str) {
        let watch = self
            .names
            .entry(name.to_owned())
            .or_insert_with(|| NameWatch {
                ports: BTreeSet::new(),
                ips: Vec::new(),
                next_resolve: now,
                in_flight: None,
            });
        if watch.in_flight.is_none() {
            watch.in_flight = Some(now);
            self.outputs.push_back(Output::Resolve {
                name: name.to_owned(),
            });
        }
    }

    /// A join through `name` at `port` succeeded: it is re-resolved from
    /// now on, and its addresses at `port` are seeds.
    pub(super) fn watch_name(&mut self, name: &str, port: u16) {
        if let Some(watch) = self.names.get_mut(name) {
            watch.ports.insert(port);
        }
    }

    /// A join through `name` failed: it is forgotten, unless a join through
    /// it succeeded before or another pending join names it.
    pub(super) fn unwatch_name(&mut self, name: &str) {
        let named = self.joins.values().any(|pending| pending.names(name));
        if !named && self.names.get(name).is_some_and(|w| !w.watched()) {
            self.names.remove(name);
        }
    }

    pub(super) fn on_resolved(
        &mut self,
        now: Timestamp,
        name: &str,
        result: Result<Vec<IpAddr>, ResolveError>,
    ) {
        let refresh = self.config.dns_refresh_interval;
        let Some(watch) = self.names.get_mut(name) else {
            self.stats.ignored_messages += 1;
            return;
        };
        watch.in_flight = None;
        watch.next_resolve = now + refresh;
        let result = result.map(|mut ips| {
            ips.truncate(MAX_ADDRS_PER_NAME);
            ips
        });
        if let Ok(ips) = &result {
            watch.ips.clone_from(ips);
        }
        let waiting: Vec<(JoinId, BTreeSet<u16>)> = self
            .joins
            .iter_mut()
            .filter_map(|(join, p)| p.resolved(name).map(|ports| (*join, ports)))
            .collect();
        for (join, ports) in waiting {
            self.join_resolved(join, name, &ports, &result);
        }
    }

    /// Asks again for the joined names that are due. New addresses in the
    /// answers become seeds, gossiped with until heard from.
    pub(super) fn refresh_names(&mut self, now: Timestamp) {
        let refresh = self.config.dns_refresh_interval;
        let mut due = Vec::new();
        for (name, watch) in &mut self.names {
            if watch.deadline(refresh).is_some_and(|at| at <= now) {
                watch.in_flight = Some(now);
                due.push(name.clone());
            }
        }
        for name in due {
            self.outputs.push_back(Output::Resolve { name });
        }
    }
}
