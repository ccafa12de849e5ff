//! A five-node Kite cluster on loopback, narrated.
//!
//! ```sh
//! cargo run -p kite-examples --example demo
//! ```
//!
//! Starts nodes on 127.0.0.1 to 127.0.0.5 (port 7000), publishes `rpc_addr`,
//! `version` and `status` on each, joins them through the first, prints each
//! node's view as it converges, crashes one node and shows the others report
//! it down, makes another leave gracefully and shows it reported as left,
//! then exits (well within 30 s). Set `RUST_LOG=kite_tokio=debug` to see the
//! library's own logs too.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kite_tokio::{Event, Kite, NodeId, NodeStatus, Options};

const NODES: u8 = 5;
const PORT: u16 = 7000;
const KEYS: [&str; 3] = ["rpc_addr", "version", "status"];

/// Names nodes as "node N" and stamps lines with the time since start.
#[derive(Clone)]
struct Narrator {
    start: Instant,
    names: Arc<Mutex<BTreeMap<NodeId, String>>>,
}

impl Narrator {
    fn say(&self, line: impl AsRef<str>) {
        let t = self.start.elapsed().as_secs_f64();
        println!("[{t:6.2}s] {}", line.as_ref());
    }

    fn name(&self, id: &NodeId) -> String {
        let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    /// A watcher for `observer` that narrates membership changes.
    fn watcher(&self, observer: String) -> impl Fn(&Event) + Send + Sync + 'static {
        let narrator = self.clone();
        move |event: &Event| {
            let news = match event {
                Event::NodeDown { id } => {
                    format!("{} is DOWN (no heartbeat for too long)", narrator.name(id))
                }
                Event::NodeUp { id } => format!("{} is up again", narrator.name(id)),
                Event::NodeLeft { id } => format!("{} LEFT the cluster", narrator.name(id)),
                Event::NodeExpired { id } => format!("{} expired", narrator.name(id)),
                _ => return,
            };
            narrator.say(format!("  {observer} reports: {news}"));
        }
    }
}

/// One line per node: how many nodes it sees alive, and how many of their
/// published keys it holds.
fn views(kites: &[(String, Kite)]) -> (String, bool) {
    let mut complete = true;
    let parts: Vec<String> = kites
        .iter()
        .map(|(name, kite)| {
            let nodes = kite.nodes();
            let alive = nodes
                .iter()
                .filter(|n| n.status == NodeStatus::Alive)
                .count();
            let keys: usize = nodes.iter().map(|n| n.entries.len()).sum();
            complete &= alive == kites.len() && keys == kites.len() * KEYS.len();
            format!("{name}: {alive} alive, {keys:2} keys")
        })
        .collect();
    (parts.join(" | "), complete)
}

/// Polls `condition` every 100 ms for up to `limit`.
async fn wait_for(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !condition() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("demo failed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let narrator = Narrator {
        start: Instant::now(),
        names: Arc::default(),
    };
    narrator.say(format!(
        "starting {NODES} nodes on 127.0.0.1..=127.0.0.{NODES}, port {PORT}, gossip every 100 ms"
    ));
    let mut kites: Vec<(String, Kite)> = Vec::new();
    for i in 1..=NODES {
        let name = format!("node {i}");
        let options = Options::new()
            .bind_addr(([127, 0, 0, i], PORT).into())
            .gossip_interval(Duration::from_millis(100))
            // Phi grows by 1 / ln 10 per mean interval without a heartbeat
            // (about 100 ms here), so 8 convicts a silent node after about
            // 1.8 s plus a few rounds for the news to travel: a crash shows
            // within a few seconds, while a healthy loopback cluster never
            // goes that long without hearing from a node. (The default, 20,
            // would take about 5 s.)
            .suspicion_threshold(8.0)
            .watcher(narrator.watcher(name.clone()));
        let kite = Kite::start(options).await?;
        let local = kite.local_id().clone();
        narrator
            .names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(local.clone(), name.clone());
        kite.upsert_local("rpc_addr", &format!("127.0.0.{i}:9000"))?;
        kite.upsert_local("version", "1.4.2")?;
        kite.upsert_local("status", "serving")?;
        narrator.say(format!("{name} is {local} at {}", kite.advertise_addr()));
        kites.push((name, kite));
    }

    let seed = kites[0].1.advertise_addr().to_string();
    for (name, kite) in &kites[1..] {
        let joined = kite.join(&[seed.as_str()]).await?;
        let joined: Vec<String> = joined.iter().map(|id| narrator.name(id)).collect();
        narrator.say(format!(
            "{name} joined through {seed} (contacted {})",
            joined.join(", ")
        ));
    }

    narrator.say("waiting for every node to see all 5 nodes and their 3 keys:");
    let mut last = String::new();
    let converged = wait_for(Duration::from_secs(10), || {
        let (line, complete) = views(&kites);
        if line != last {
            narrator.say(format!("  {line}"));
            last = line;
        }
        complete
    })
    .await;
    if !converged {
        return Err("the cluster did not converge within 10 s".into());
    }
    narrator.say("converged. node 1's view:");
    let mut view = kites[0].1.nodes();
    view.sort_by_key(|n| narrator.name(&n.id));
    for view in view {
        let entries: Vec<String> = view
            .entries
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        narrator.say(format!(
            "  {:7} {:?}  {}",
            narrator.name(&view.id),
            view.status,
            entries.join(" ")
        ));
    }

    let (crashed, kite) = kites.pop().ok_or("no node")?;
    let crashed_id = kite.local_id().clone();
    narrator.say(format!(
        "CRASH: {crashed} stops without a word (dropped, no leave)"
    ));
    drop(kite);
    let all_down = wait_for(Duration::from_secs(10), || {
        kites.iter().all(|(_, k)| {
            k.node(&crashed_id)
                .is_some_and(|n| n.status == NodeStatus::Down)
        })
    })
    .await;
    if !all_down {
        return Err(format!("{crashed} was not reported down by everyone within 10 s").into());
    }
    narrator.say(format!("every remaining node reports {crashed} down"));

    let (leaver, kite) = kites.pop().ok_or("no node")?;
    let leaver_id = kite.local_id().clone();
    narrator.say(format!("LEAVE: {leaver} leaves gracefully"));
    let told = kite.leave().await?;
    narrator.say(format!("{leaver}'s leave was acknowledged by {told} nodes"));
    kite.shutdown().await;
    let all_left = wait_for(Duration::from_secs(10), || {
        kites.iter().all(|(_, k)| {
            k.node(&leaver_id)
                .is_some_and(|n| n.status == NodeStatus::Left)
        })
    })
    .await;
    if !all_left {
        return Err(format!("{leaver} was not reported left by everyone within 10 s").into());
    }
    narrator.say(format!(
        "every remaining node reports {leaver} left (not down)"
    ));

    narrator.say("node 1's final view:");
    let mut view = kites[0].1.nodes();
    view.sort_by_key(|n| narrator.name(&n.id));
    for view in view {
        narrator.say(format!("  {:7} {:?}", narrator.name(&view.id), view.status));
    }
    for (_, kite) in &kites {
        kite.shutdown().await;
    }
    narrator.say("all nodes shut down; bye");
    Ok(())
}
