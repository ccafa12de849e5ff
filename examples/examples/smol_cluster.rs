//! A three-node Kite cluster on smol, with `kite-async-std`.
//!
//! ```sh
//! cargo run -p kite-examples --example smol_cluster
//! ```
//!
//! Starts three nodes on 127.0.0.21 to 127.0.0.23 (port 7000) under
//! `smol::block_on`, each publishing its `rpc_addr`, and joins them through
//! the first. A smol task prints what node 1's event stream reports as the
//! cluster forms. Then the third node crashes (dropped, no leave) and the
//! program waits until the other two report it down, shuts down and exits,
//! in a few seconds. Under async-std, the same program uses
//! `async_std::task::block_on` and `async_std::task::spawn`: kite-async-std
//! runs the same under both. Set `RUST_LOG=kite_async_std=debug` to see the
//! library's own logs too.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use kite_async_std::{Event, Kite, NodeStatus, Options};
use smol::stream::StreamExt;

const HOSTS: [u8; 3] = [21, 22, 23];
const PORT: u16 = 7000;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match smol::block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("smol_cluster failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Polls `condition` every 50 ms on smol's timer, for up to 10 s.
async fn within_10s(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        if Instant::now() >= deadline {
            return false;
        }
        smol::Timer::after(Duration::from_millis(50)).await;
    }
    true
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let say = move |line: String| println!("[{:5.2}s] {line}", start.elapsed().as_secs_f64());

    let mut kites = Vec::new();
    for host in HOSTS {
        let options = Options::new()
            .bind_addr(([127, 0, 0, host], PORT).into())
            .gossip_interval(Duration::from_millis(100))
            // A silent node is convicted after about 2 s (see the demo).
            .suspicion_threshold(8.0);
        let kite = Kite::start(options).await?;
        kite.upsert_local("rpc_addr", &format!("127.0.0.{host}:9000"))?;
        say(format!(
            "started {} at {}",
            kite.local_id(),
            kite.advertise_addr()
        ));
        kites.push(kite);
    }

    // Node 1's events, read by a task on smol's executor; the stream ends
    // when node 1 shuts down.
    let mut events = kites[0].events();
    let narrator = smol::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Event::NodeJoined { id, addr } => say(format!("node 1 sees {id} join from {addr}")),
                Event::KeyUpserted { id, key, value } => {
                    say(format!("node 1 sees {id} set {key} = {value}"))
                }
                Event::NodeDown { id } => say(format!("node 1 reports {id} DOWN")),
                _ => {}
            }
        }
    });

    let seed = kites[0].advertise_addr().to_string();
    for kite in &kites[1..] {
        let joined = kite.join(&[seed.as_str()]).await?;
        say(format!(
            "{} joined through {seed} ({joined:?})",
            kite.local_id()
        ));
    }
    let converged = within_10s(|| {
        kites.iter().all(|kite| {
            let nodes = kite.nodes();
            nodes.len() == HOSTS.len()
                && nodes
                    .iter()
                    .all(|n| n.status == NodeStatus::Alive && n.entries.contains_key("rpc_addr"))
        })
    })
    .await;
    if !converged {
        return Err("the cluster did not converge within 10 s".into());
    }
    say("converged: every node sees 3 nodes and their rpc_addr".into());

    let crashed = kites.pop().ok_or("no node")?;
    let crashed_id = crashed.local_id().clone();
    say(format!("CRASH: {crashed_id} stops without a word"));
    drop(crashed);
    let all_down = within_10s(|| {
        kites.iter().all(|kite| {
            kite.node(&crashed_id)
                .is_some_and(|n| n.status == NodeStatus::Down)
        })
    })
    .await;
    if !all_down {
        return Err(format!("{crashed_id} was not reported down within 10 s").into());
    }
    say(format!("both remaining nodes report {crashed_id} down"));

    for kite in &kites {
        kite.shutdown().await;
    }
    narrator.await;
    say("all nodes shut down; bye".into());
    Ok(())
}
