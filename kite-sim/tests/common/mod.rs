//! Shorthands shared by the scenario tests (forming a cluster and waiting
//! for what nodes see are `Sim` methods: `form_cluster`, `await_all_saw`,
//! `await_status`, ...).

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use kite_sim::{Event, NodeId, Sim};

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Events matching `pred`, from any observer.
pub fn count(sim: &Sim, pred: impl Fn(&Event) -> bool) -> usize {
    sim.events().iter().filter(|e| pred(&e.event)).count()
}

/// Whether an event reports `id` down.
pub fn is_down(id: &NodeId) -> impl Fn(&Event) -> bool + '_ {
    move |e| matches!(e, Event::NodeDown { id: x } if x == id)
}
