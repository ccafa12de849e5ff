//! A real Prometheus server scrapes three `kite --metrics` agents on
//! 127.0.78.1-3, and its HTTP API shows what they publish: every node's
//! `kite_nodes{status="alive"}` equals the cluster size, the packet counters
//! grow between scrapes, and the stream counters record the joins.
//!
//! Needs the `prometheus` binary on the PATH (Debian's `prometheus`
//! package). Without it the test prints why and passes, unless
//! `KITE_REQUIRE_PROMETHEUS=1` is set (as in `.ci/run`), when it fails.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The agents' gossip port (no other test uses 127.0.78.x).
const GOSSIP_PORT: u16 = 7478;
/// The agents' metrics port.
const METRICS_PORT: u16 = 9478;
/// Agents, `a1` to `aN` on 127.0.78.1-N; `a1` is the seed.
const AGENTS: u8 = 3;
/// Only against hangs: each step normally takes a few seconds.
const PATIENCE: Duration = Duration::from_secs(60);

/// A scratch directory holding the Prometheus configuration, its storage
/// and the processes' logs; removed when dropped. Declared first in the
/// test so it is dropped after the processes writing into it.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("kite-prometheus-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch(dir)
    }

    fn log(&self, name: &str) -> File {
        File::create(self.0.join(name)).expect("create a log file")
    }

    /// Whether log `name` has a line containing `text`.
    fn logged(&self, name: &str, text: &str) -> Result<(), String> {
        let log = fs::read_to_string(self.0.join(name)).unwrap_or_default();
        if log.lines().any(|line| line.contains(text)) {
            Ok(())
        } else {
            Err(format!("no {text:?} in {name}: {log:?}"))
        }
    }

    /// The end of a log, for failure messages.
    fn tail(&self, name: &str) -> String {
        let text = fs::read_to_string(self.0.join(name)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if thread::panicking() {
            let agents = (1..=AGENTS).map(|n| format!("a{n}.log"));
            for name in ["prometheus.log".to_owned()].into_iter().chain(agents) {
                eprintln!("--- {name} (last lines)\n{}", self.tail(&name));
            }
        }
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A child process, killed and reaped when dropped (also on a failure).
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts agent `n` (id `aN`), joining `a1` unless it is `a1`.
fn start_agent(n: u8, scratch: &Scratch) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kite"));
    command.args([
        format!("--bind=127.0.78.{n}:{GOSSIP_PORT}"),
        format!("--id=a{n}"),
        format!("--metrics=127.0.78.{n}:{METRICS_PORT}"),
        "--gossip-interval=100ms".to_owned(),
    ]);
    if n != 1 {
        command.arg(format!("--join=127.0.78.1:{GOSSIP_PORT}"));
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(scratch.log(&format!("a{n}.log")))
        .spawn()
        .expect("start kite");
    Process(child)
}

/// Starts Prometheus on a free loopback port, scraping every agent each
/// second; returns it and its address.
fn start_prometheus(scratch: &Scratch) -> (Process, SocketAddr) {
    let targets: Vec<String> = (1..=AGENTS)
        .map(|n| format!("'127.0.78.{n}:{METRICS_PORT}'"))
        .collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: kite\n    static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    );
    let config_file = scratch.0.join("prometheus.yml");
    fs::write(&config_file, config).expect("write prometheus.yml");
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("find a free port");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            scratch.0.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdin(Stdio::null())
        .stdout(scratch.log("prometheus.out"))
        .stderr(scratch.log("prometheus.log"))
        .spawn()
        .expect("start prometheus");
    (Process(child), addr)
}

/// Whether a `prometheus` binary runs; if not, whether the test must fail.
fn prometheus_available() -> bool {
    match Command::new("prometheus").arg("--version").output() {
        Ok(output) if output.status.success() => true,
        result => {
            let why = match result {
                Err(err) if err.kind() == ErrorKind::NotFound => "not on the PATH".to_owned(),
                Err(err) => err.to_string(),
                Ok(output) => format!("`prometheus --version` exited with {}", output.status),
            };
            if std::env::var("KITE_REQUIRE_PROMETHEUS").is_ok_and(|v| v == "1") {
                panic!("prometheus: {why}, and KITE_REQUIRE_PROMETHEUS=1");
            }
            eprintln!(
                "SKIPPED: the prometheus binary is {why}; install Debian's `prometheus` \
                 package to run this test (KITE_REQUIRE_PROMETHEUS=1 makes this a failure)"
            );
            false
        }
    }
}

/// `GET path` over HTTP/1.0; the body of a 200 response as JSON, or why
/// not.
fn get_json(addr: SocketAddr, path: &str) -> Result<Value, String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {response:?}"))?;
    let status = head.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.0 200") && !status.starts_with("HTTP/1.1 200") {
        return Err(format!("{status}: {body}"));
    }
    serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))
}

/// Percent-encodes a query parameter.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Runs an instant PromQL query; the value of each series by its `node`
/// label, with the series' `instance` label.
fn query(prometheus: SocketAddr, promql: &str) -> Result<BTreeMap<String, (String, f64)>, String> {
    let answer = get_json(
        prometheus,
        &format!("/api/v1/query?query={}", encode(promql)),
    )?;
    if answer["status"] != "success" || answer["data"]["resultType"] != "vector" {
        return Err(format!("{promql}: {answer}"));
    }
    let mut values = BTreeMap::new();
    for series in answer["data"]["result"].as_array().into_iter().flatten() {
        let labels = &series["metric"];
        let node = labels["node"]
            .as_str()
            .ok_or(format!("no node label: {series}"))?;
        let instance = labels["instance"].as_str().unwrap_or_default().to_owned();
        let value = series["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or(format!("no value: {series}"))?;
        values.insert(node.to_owned(), (instance, value));
    }
    Ok(values)
}

/// Polls `check` every 200 ms until it returns `Ok`; fails with its last
/// error after [`PATIENCE`].
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match check() {
            Ok(value) => return value,
            Err(err) if Instant::now() >= deadline => panic!("{what}: gave up: {err}"),
            Err(_) => thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// The ids of the agents.
fn ids() -> Vec<String> {
    (1..=AGENTS).map(|n| format!("a{n}")).collect()
}

#[test]
fn a_real_prometheus_scrapes_the_agents() {
    if !prometheus_available() {
        return;
    }
    let started = Instant::now();
    let scratch = Scratch::new();
    // The seed first, listening before the others join it over a stream
    // (a join refused would still form the cluster, by gossip to the seed
    // address, but without the stream connections counted below).
    let mut agents = vec![start_agent(1, &scratch)];
    wait_for("a1 listening", || scratch.logged("a1.log", "listening on"));
    agents.extend((2..=AGENTS).map(|n| start_agent(n, &scratch)));
    for n in 2..=AGENTS {
        wait_for(&format!("a{n} joined"), || {
            scratch.logged(&format!("a{n}.log"), "kite: joined a1")
        });
    }
    let (_prometheus, prometheus) = start_prometheus(&scratch);

    // Prometheus is up and every agent's endpoint has been scraped.
    wait_for("every target up in /api/v1/targets", || {
        let answer = get_json(prometheus, "/api/v1/targets?state=active")?;
        let targets = answer["data"]["activeTargets"]
            .as_array()
            .ok_or(format!("no activeTargets: {answer}"))?;
        let up = targets.iter().filter(|t| t["health"] == "up").count();
        if up == usize::from(AGENTS) {
            Ok(())
        } else {
            Err(format!("{up} of {AGENTS} up: {answer}"))
        }
    });

    // Every node sees the whole cluster alive, none down or left, and each
    // series comes from that node's own endpoint.
    wait_for("kite_nodes{status=\"alive\"} = 3 on every node", || {
        let alive = query(prometheus, "kite_nodes{job=\"kite\",status=\"alive\"}")?;
        let all = ids().iter().all(|id| {
            alive
                .get(id)
                .is_some_and(|(_, value)| *value == f64::from(AGENTS))
        });
        if all && alive.len() == usize::from(AGENTS) {
            Ok(())
        } else {
            Err(format!("{alive:?}"))
        }
    });
    for status in ["down", "left"] {
        let nodes = query(prometheus, &format!("kite_nodes{{status=\"{status}\"}}")).unwrap();
        assert_eq!(nodes.len(), usize::from(AGENTS), "{status}: {nodes:?}");
        for (node, (instance, value)) in &nodes {
            assert_eq!(*value, 0.0, "{node} counts {value} {status}");
            let n = node.trim_start_matches('a');
            assert_eq!(*instance, format!("127.0.78.{n}:{METRICS_PORT}"));
        }
    }

    // Packet counters grow on every node from one scrape to a later one.
    let counters = [
        "kite_packets_outbound_total",
        "kite_packets_inbound_total",
        "kite_packet_bytes_outbound_total",
        "kite_packet_bytes_inbound_total",
    ];
    let first: Vec<_> = counters
        .iter()
        .map(|name| query(prometheus, name).unwrap())
        .collect();
    for (name, before) in counters.iter().zip(&first) {
        wait_for(&format!("{name} grows on every node"), || {
            let now = query(prometheus, name)?;
            let grown = ids().iter().all(|id| {
                let before = before.get(id).map_or(0.0, |(_, v)| *v);
                now.get(id).is_some_and(|(_, v)| *v > before && *v > 0.0)
            });
            if grown {
                Ok(())
            } else {
                Err(format!("before {before:?}, now {now:?}"))
            }
        });
    }

    // The joins went over streams: the seed accepted one from each other
    // agent, and each of them opened at least one; bytes flowed both ways.
    // (Updates too large for a datagram would add more; there are none.)
    let at_least = |name: &str, node: &str, least: f64| {
        let values = query(prometheus, name).unwrap();
        let value = values.get(node).map(|(_, v)| *v);
        assert!(
            value.is_some_and(|v| v >= least),
            "{name}{{node=\"{node}\"}} = {value:?}, expected at least {least}"
        );
    };
    at_least(
        "kite_connections_inbound_total",
        "a1",
        f64::from(AGENTS - 1),
    );
    at_least("kite_stream_bytes_inbound_total", "a1", 1.0);
    at_least("kite_stream_bytes_outbound_total", "a1", 1.0);
    for id in &ids()[1..] {
        at_least("kite_connections_outbound_total", id, 1.0);
        at_least("kite_stream_bytes_inbound_total", id, 1.0);
        at_least("kite_stream_bytes_outbound_total", id, 1.0);
    }

    // Nothing failed to decode.
    let errors = query(prometheus, "kite_decode_errors_total").unwrap();
    assert_eq!(errors.len(), usize::from(AGENTS), "{errors:?}");
    assert!(errors.values().all(|(_, v)| *v == 0.0), "{errors:?}");

    drop(agents);
    eprintln!(
        "prometheus test: passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
