//! Where a node's datagram bytes go: datagrams and bytes per node per
//! round by message kind, at the default configuration on the default
//! network, over 100 rounds of a formed cluster.
//!
//! The phase is `quiet` (nothing happens), `crash` (a node crashes every
//! 10 s and stays down) or `update` (a key is written on some node every
//! 5 s).
//!
//! ```text
//! cargo run -p kite-sim --release --example bytes_by_kind -- [N] [quiet|crash|update]
//! ```
//!
//! Defaults: N = 100, `quiet`. Figures: `docs/design.md`, "The gossip
//! exchange".

use core::time::Duration;
use std::collections::BTreeMap;

use kite_sim::Sim;
use kite_sim::proto::Output;
use kite_sim::proto::wire::{Message, decode};

fn main() -> Result<(), kite_sim::Failure> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map_or(100, |a| a.parse().expect("N is a number"));
    let phase = args.next().unwrap_or_else(|| "quiet".to_owned());
    let mut sim = Sim::new(1);
    sim.form_cluster(n, Duration::from_secs(600))?;
    sim.run_for(Duration::from_secs(30))?;
    sim.record_outputs();
    let interval = Duration::from_millis(500);
    let rounds = 100;
    for step in 0..10 {
        let live = sim.live_hosts();
        match phase.as_str() {
            "crash" => sim.crash(live[1 + step * 7 % (live.len() - 1)]),
            "update" => {
                let writer = live[step * 7 % live.len()];
                sim.upsert(writer, "probe", &step.to_string())
                    .expect("a valid key");
            }
            "quiet" => {}
            other => panic!("unknown phase {other}: quiet, crash or update"),
        }
        sim.run_for(interval * (rounds / 10))?;
    }
    let mut by_kind: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for logged in sim.outputs() {
        let Output::Transmit { payload, .. } = &logged.output else {
            continue;
        };
        let kind = match decode(payload) {
            Ok(Message::DigestRequest { digest, .. })
                if !digest.complete && digest.entries.len() == 1 =>
            {
                "digest request (probe)"
            }
            Ok(Message::DigestRequest { .. }) => "digest request",
            Ok(Message::DigestResponse { .. }) => "digest response",
            Ok(Message::Delta { .. }) => "delta",
            Ok(Message::Liveness { rumors, news, .. }) if rumors.is_empty() && news.is_empty() => {
                "liveness"
            }
            Ok(Message::Liveness { .. }) => "liveness with rumors or news",
            _ => "other",
        };
        let entry = by_kind.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += payload.len() as u64;
    }
    let node_rounds = (n as u32 * rounds) as f64;
    println!("| message | datagrams/node/round | bytes/node/round | bytes each |");
    println!("| --- | ---: | ---: | ---: |");
    let mut total = 0.0;
    for (kind, (count, bytes)) in &by_kind {
        total += *bytes as f64 / node_rounds;
        println!(
            "| {kind} | {:.2} | {:.0} | {:.0} |",
            *count as f64 / node_rounds,
            *bytes as f64 / node_rounds,
            *bytes as f64 / *count as f64
        );
    }
    println!("| all | | {total:.0} | |");
    Ok(())
}
