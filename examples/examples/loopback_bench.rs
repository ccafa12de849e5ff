//! Loopback clusters of 10, 50 and 100 kite-tokio nodes in one process, at a
//! 100 ms gossip interval (every other option at its default), measured:
//!
//! ```sh
//! cargo run -p kite-examples --release --example loopback_bench            # 10 50 100
//! cargo run -p kite-examples --release --example loopback_bench -- 20 40   # other sizes
//! KITE_BENCH_INTERVAL_MS=500 KITE_BENCH_THRESHOLD=8 cargo run -p kite-examples --release --example loopback_bench -- 100
//! KITE_BENCH_SVG=docs/img cargo run -p kite-examples --release --example loopback_bench   # and pictures
//! cargo run -p kite-examples --release --example loopback_bench -- --svg docs/img 10 50  # the same
//! ```
//!
//! `KITE_BENCH_INTERVAL_MS` sets the gossip interval (default 100),
//! `KITE_BENCH_THRESHOLD` the suspicion threshold (default: the option's
//! default, 20), and `KITE_BENCH_KEY` (a key in base64 or hex) seals every
//! message under that key (`SecurityMode::Encrypted`, label `bench`). `KITE_BENCH_SVG=DIR` (or `--svg DIR`) also writes two
//! pictures into `DIR`, one curve per cluster size, drawn with
//! `kite_sim::plot::write_fraction_svg`: `loopback-formation.svg`, the
//! fraction of nodes that know every other node against seconds since the
//! joins, and `loopback-detection.svg`, the fraction of surviving nodes that
//! report the crashed node down against seconds since the crash.
//!
//! Per cluster size it reports: formation time (from the joins, all through
//! the first node, until every node has seen every other join), the time
//! for one key update to reach every node, the time until every node reports
//! a killed node down, false downs over the whole run, datagrams and UDP
//! bytes sent per node per second at rest, CPU time per node (process CPU
//! over a rest window, divided by the nodes), and resident memory per node
//! (process RSS growth divided by the nodes). Linux only (it reads
//! `/proc/self`). Nodes bind 127.0.1.1 and up, port 7100.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kite_tokio::{Event, Key, Kite, NodeId, Options, SecurityMode};

const PORT: u16 = 7100;
const REST: Duration = Duration::from_secs(5);

/// What the watchers of one run record.
#[derive(Default)]
struct Probe {
    joins: AtomicUsize,
    /// Per node, the other nodes it has reported joined.
    known: Vec<AtomicUsize>,
    probe_seen: AtomicUsize,
    killed_down: AtomicUsize,
    false_downs: AtomicUsize,
    killed: Mutex<Option<NodeId>>,
    /// When each node came to know every other node, in order.
    formed: Mutex<Vec<Instant>>,
    last_probe: Mutex<Option<Instant>>,
    /// When each surviving node reported the killed node down, in order.
    downs: Mutex<Vec<Instant>>,
}

fn mark(at: &Mutex<Option<Instant>>) {
    *at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
}

fn read(at: &Mutex<Option<Instant>>) -> Option<Instant> {
    *at.lock().unwrap_or_else(|e| e.into_inner())
}

fn push_now(to: &Mutex<Vec<Instant>>) {
    to.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Instant::now());
}

/// The instants of `from`, as durations since `start`.
fn since(from: &Mutex<Vec<Instant>>, start: Instant) -> Vec<Duration> {
    let from = from.lock().unwrap_or_else(|e| e.into_inner());
    from.iter()
        .map(|t| t.saturating_duration_since(start))
        .collect()
}

impl Probe {
    fn new(n: usize) -> Probe {
        Probe {
            known: (0..n).map(|_| AtomicUsize::new(0)).collect(),
            ..Probe::default()
        }
    }

    /// An event of node `node` (its index in the run).
    fn on_event(&self, node: usize, event: &Event) {
        match event {
            Event::NodeJoined { .. } => {
                self.joins.fetch_add(1, Ordering::SeqCst);
                let others = self.known.len() - 1;
                if self.known[node].fetch_add(1, Ordering::SeqCst) + 1 == others {
                    push_now(&self.formed);
                }
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
                    push_now(&self.downs);
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
    /// The largest datagram any node sent.
    largest: u64,
    /// When each node came to know every other, since the joins.
    formed: Vec<Duration>,
    /// When each survivor reported the crashed node down, since the crash.
    downs: Vec<Duration>,
}

/// The options every node of a run gets, from the environment.
#[derive(Clone)]
struct Knobs {
    gossip: Duration,
    threshold: Option<f64>,
    key: Option<Key>,
}

impl Knobs {
    fn from_env() -> Result<Knobs, Box<dyn std::error::Error>> {
        let var = |name| std::env::var(name).ok();
        let gossip = match var("KITE_BENCH_INTERVAL_MS") {
            Some(ms) => Duration::from_millis(ms.parse()?),
            None => Duration::from_millis(100),
        };
        let threshold = var("KITE_BENCH_THRESHOLD").map(|t| t.parse()).transpose()?;
        let key = var("KITE_BENCH_KEY").map(|k| k.parse()).transpose()?;
        Ok(Knobs {
            gossip,
            threshold,
            key,
        })
    }
}

async fn run(n: usize, knobs: Knobs) -> Result<Row, Box<dyn std::error::Error>> {
    let probe = std::sync::Arc::new(Probe::new(n));
    let rss_before = rss_bytes();
    let mut kites = Vec::with_capacity(n);
    for i in 0..n {
        let host = u8::try_from(i + 1)?;
        let watcher = std::sync::Arc::clone(&probe);
        let mut options = Options::new()
            .bind_addr(([127, 0, 1, host], PORT).into())
            .gossip_interval(knobs.gossip)
            .on_event(move |event| watcher.on_event(i, event));
        if let Some(threshold) = knobs.threshold {
            options.suspicion_threshold = threshold;
        }
        if let Some(key) = &knobs.key {
            options = options
                .cluster_label("bench")
                .key(key.clone())
                .security_mode(SecurityMode::Encrypted);
        }
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
    let formed = since(&probe.formed, started);
    let formation = *formed.last().ok_or("no join")?;

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
    let downs = since(&probe.downs, killed);
    let detection = *downs.last().ok_or("no down")?;

    let largest = kites
        .iter()
        .map(|kite| kite.stats().largest_datagram_out)
        .max()
        .unwrap_or(0);
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
        largest,
        formed,
        downs,
    })
}

/// A step curve of the fraction of `total` that have happened against
/// seconds, from the sorted times at which each happened.
fn steps(times: &[Duration], total: usize) -> Vec<(f64, f64)> {
    let total = total.max(1) as f64;
    let mut points = vec![(0.0, 0.0)];
    for (k, t) in times.iter().enumerate() {
        let t = t.as_secs_f64();
        points.push((t, k as f64 / total));
        points.push((t, (k + 1) as f64 / total));
    }
    points
}

/// Writes the formation and detection pictures of `rows` into `dir`.
fn write_pictures(
    dir: &std::path::Path,
    rows: &[Row],
    knobs: Knobs,
    threshold: f64,
) -> std::io::Result<()> {
    let setting = format!("{} ms, threshold {threshold}", knobs.gossip.as_millis());
    let formation: Vec<(String, Vec<(f64, f64)>)> = rows
        .iter()
        .map(|r| {
            let label = format!(
                "N={}: all know all at {:.2} s",
                r.n,
                r.formation.as_secs_f64()
            );
            (label, steps(&r.formed, r.n))
        })
        .collect();
    let path = dir.join("loopback-formation.svg");
    kite_sim::plot::write_fraction_svg(
        &path,
        &format!("Nodes that know every other node (loopback, {setting})"),
        "seconds since the joins",
        &formation,
    )?;
    println!("wrote {}", path.display());
    let detection: Vec<(String, Vec<(f64, f64)>)> = rows
        .iter()
        .map(|r| {
            let label = format!("N={}: all at {:.2} s", r.n, r.detection.as_secs_f64());
            (label, steps(&r.downs, r.n - 1))
        })
        .collect();
    let path = dir.join("loopback-detection.svg");
    kite_sim::plot::write_fraction_svg(
        &path,
        &format!("Survivors that report a crashed node down (loopback, {setting})"),
        "seconds since the crash",
        &detection,
    )?;
    println!("wrote {}", path.display());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut svg = std::env::var_os("KITE_BENCH_SVG").map(PathBuf::from);
    let mut sizes: Vec<usize> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--svg" {
            svg = Some(args.next().ok_or("--svg needs a directory")?.into());
        } else {
            sizes.push(arg.parse()?);
        }
    }
    if sizes.is_empty() {
        sizes = vec![10, 50, 100];
    }
    if sizes.iter().any(|&n| !(3..=250).contains(&n)) {
        return Err("cluster sizes must be 3 to 250".into());
    }
    let knobs = Knobs::from_env()?;
    let threshold = knobs
        .threshold
        .unwrap_or(Options::new().suspicion_threshold);
    let sealed = if knobs.key.is_some() {
        "sealed"
    } else {
        "plaintext"
    };
    println!(
        "gossip interval {:?}, suspicion threshold {threshold}, {sealed}, other options at their defaults; rest window {REST:?}",
        knobs.gossip
    );
    println!(
        "| nodes | formation | update to all | down seen by all | false downs | datagrams/node/s | UDP bytes/node/s | CPU ms/node/s | RSS KiB/node | largest datagram |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut rows = Vec::new();
    for n in sizes {
        let row = run(n, knobs.clone()).await?;
        println!(
            "| {} | {:.2} s | {:.0} ms | {:.2} s | {} | {:.1} | {:.0} | {:.2} | {:.0} | {} B |",
            row.n,
            row.formation.as_secs_f64(),
            row.update.as_secs_f64() * 1e3,
            row.detection.as_secs_f64(),
            row.false_downs,
            row.datagrams,
            row.bytes,
            row.cpu_ms,
            row.rss_kib,
            row.largest,
        );
        // Let the sockets of this run close before the next binds them.
        tokio::time::sleep(Duration::from_millis(500)).await;
        rows.push(row);
    }
    if let Some(dir) = svg {
        write_pictures(&dir, &rows, knobs, threshold)?;
    }
    Ok(())
}
