//! Loopback clusters of 10, 50 and 100 kite-tokio nodes in one process, at a
//! 100 ms gossip interval (every other option at its default), measured:
//!
//! ```sh
//! cargo run -p kite-examples --release --example loopback_bench            # 10 50 100
//! cargo run -p kite-examples --release --example loopback_bench -- 20 40   # other sizes
//! ```
//!
//! Per cluster size it reports: formation time (from the joins, all through
//! the first node, until every node has seen every other join), the time
//! for one key update to reach every node, the time until every node reports
//! a killed node down, false downs over the whole run, datagrams and UDP
//! bytes sent per node per second at rest, CPU time per node (process CPU
//! over a rest window, divided by the nodes), and resident memory per node
//! (process RSS growth divided by the nodes). Linux only (it reads
//! `/proc/self`). Nodes bind 127.0.1.1 and up, port 7100.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kite_tokio::{Event, Kite, NodeId, Options};

const PORT: u16 = 7100;
const GOSSIP: Duration = Duration::from_millis(100);
const REST: Duration = Duration::from_secs(5);

/// What the watchers of one run record.
#[derive(Default)]
struct Probe {
    joins: AtomicUsize,
    probe_seen: AtomicUsize,
    killed_down: AtomicUsize,
    false_downs: AtomicUsize,
    killed: Mutex<Option<NodeId>>,
    last_join: Mutex<Option<Instant>>,
    last_probe: Mutex<Option<Instant>>,
    last_down: Mutex<Option<Instant>>,
}

fn mark(at: &Mutex<Option<Instant>>) {
    *at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
}

fn read(at: &Mutex<Option<Instant>>) -> Option<Instant> {
    *at.lock().unwrap_or_else(|e| e.into_inner())
}

impl Probe {
    fn on_event(&self, event: &Event) {
        match event {
            Event::NodeJoined { .. } => {
                self.joins.fetch_add(1, Ordering::SeqCst);
                mark(&self.last_join);
            }
            Event::KeyUpserted { key, .. } if key == "probe" => {
                self.probe_seen.fetch_add(1, Ordering::SeqCst);
                mark(&self.last_probe);
            }
            Event::NodeDown { id } => {
                let killed = self
                    .killed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                if killed.as_ref() == Some(id) {
                    self.killed_down.fetch_add(1, Ordering::SeqCst);
                    mark(&self.last_down);
                } else {
                    self.false_downs.fetch_add(1, Ordering::SeqCst);
                }
            }
            _ => {}
        }
    }
}

/// CPU time of every thread of the process, in nanoseconds, from
/// `/proc/self/task/*/schedstat` (finer than the 10 ms ticks of
/// `/proc/self/stat`; the runtime's threads live for the whole run).
fn cpu_nanos() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Resident memory from `/proc/self/statm`, in bytes (4 KiB pages).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() > deadline {
            return Err(format!("not done within {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

struct Row {
    n: usize,
    formation: Duration,
    update: Duration,
    detection: Duration,
    false_downs: usize,
    datagrams: f64,
    bytes: f64,
    cpu_ms: f64,
    rss_kib: f64,
}

async fn run(n: usize) -> Result<Row, Box<dyn std::error::Error>> {
    let probe = std::sync::Arc::new(Probe::default());
    let rss_before = rss_bytes();
    let mut kites = Vec::with_capacity(n);
    for i in 0..n {
        let host = u8::try_from(i + 1)?;
        let watcher = std::sync::Arc::clone(&probe);
        let options = Options::new()
            .bind_addr(([127, 0, 1, host], PORT).into())
            .gossip_interval(GOSSIP)
            .watcher(move |event: &Event| watcher.on_event(event));
        let kite = Kite::start(options).await?;
        kite.upsert_local("rpc_addr", &format!("127.0.1.{host}:9000"))?;
        kite.upsert_local("version", "1.4.2")?;
        kite.upsert_local("status", "serving")?;
        kites.push(kite);
    }

    // Formation: everyone joins through the first node at once.
    let seed = kites[0].advertise_addr().to_string();
    let started = Instant::now();
    let mut joins = Vec::new();
    let kites = std::sync::Arc::new(kites);
    for i in 1..n {
        let (kites, seed) = (std::sync::Arc::clone(&kites), seed.clone());
        joins.push(tokio::spawn(async move {
            kites[i].join(&[seed]).await.map(|_| ())
        }));
    }
    for join in joins {
        join.await??;
    }
    wait_until(Duration::from_secs(60), || {
        probe.joins.load(Ordering::SeqCst) >= n * (n - 1)
    })
    .await?;
    let formation = read(&probe.last_join).ok_or("no join")? - started;

    // Rest: traffic and CPU with nothing changing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = rss_bytes().saturating_sub(rss_before);
    let sent = |kites: &[Kite]| -> (u64, u64) {
        kites.iter().map(|k| k.stats()).fold((0, 0), |(d, b), s| {
            (d + s.datagrams_out, b + s.datagram_bytes_out)
        })
    };
    let (d0, b0, cpu0, t0) = {
        let (d, b) = sent(&kites[..]);
        (d, b, cpu_nanos(), Instant::now())
    };
    tokio::time::sleep(REST).await;
    let (d1, b1) = sent(&kites[..]);
    let (cpu1, elapsed) = (cpu_nanos(), t0.elapsed().as_secs_f64());
    let per_node_second = |v: u64| v as f64 / n as f64 / elapsed;

    // One update, until every other node has it.
    let updated = Instant::now();
    kites[1].upsert_local("probe", "1")?;
    wait_until(Duration::from_secs(60), || {
        probe.probe_seen.load(Ordering::SeqCst) >= n - 1
    })
    .await?;
    let update = read(&probe.last_probe).ok_or("no update")? - updated;

    // A crash, until every other node reports it down.
    let mut kites = std::sync::Arc::try_unwrap(kites).map_err(|_| "kites still shared")?;
    let victim = kites.pop().ok_or("no node")?;
    *probe.killed.lock().unwrap_or_else(|e| e.into_inner()) = Some(victim.local_id().clone());
    let killed = Instant::now();
    drop(victim);
    wait_until(Duration::from_secs(120), || {
        probe.killed_down.load(Ordering::SeqCst) >= n - 1
    })
    .await?;
    let detection = read(&probe.last_down).ok_or("no down")? - killed;

    for kite in &kites {
        kite.shutdown().await;
    }
    Ok(Row {
        n,
        formation,
        update,
        detection,
        false_downs: probe.false_downs.load(Ordering::SeqCst),
        datagrams: per_node_second(d1 - d0),
        bytes: per_node_second(b1 - b0),
        cpu_ms: (cpu1 - cpu0) as f64 / 1e6 / n as f64 / elapsed,
        rss_kib: rss as f64 / 1024.0 / n as f64,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    if sizes.is_empty() {
        sizes = vec![10, 50, 100];
    }
    if sizes.iter().any(|&n| !(3..=250).contains(&n)) {
        return Err("cluster sizes must be 3 to 250".into());
    }
    println!("gossip interval {GOSSIP:?}, other options at their defaults; rest window {REST:?}");
    println!(
        "| nodes | formation | update to all | down seen by all | false downs | datagrams/node/s | UDP bytes/node/s | CPU ms/node/s | RSS KiB/node |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for n in sizes {
        let row = run(n).await?;
        println!(
            "| {} | {:.2} s | {:.0} ms | {:.2} s | {} | {:.1} | {:.0} | {:.2} | {:.0} |",
            row.n,
            row.formation.as_secs_f64(),
            row.update.as_secs_f64() * 1e3,
            row.detection.as_secs_f64(),
            row.false_downs,
            row.datagrams,
            row.bytes,
            row.cpu_ms,
            row.rss_kib,
        );
        // Let the sockets of this run close before the next binds them.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}
