//! Measurements of the protocol at scale, for the `kite-sim` report binary
//! (`cargo run -p kite-sim --release -- --help`) and `docs/benchmarks.md`.
//!
//! One [`measure`] call builds a cluster of `n` nodes with one
//! `max_packet_size`, forms it from one seed node, lets it warm up, then:
//!
//! - **spread**: repeatedly upserts a key on a random node and times until
//!   every other node has emitted the matching `KeyUpserted` event, keeping
//!   how many nodes had each update at each round;
//! - **detection**: crashes random nodes one at a time and times until every
//!   other live node has emitted `NodeDown` for it;
//! - counts **false downs** (any `NodeDown` of a node that did not crash),
//!   and the traffic per node per round over the steady-state phase.
//!
//! Times are in gossip rounds: simulated time divided by the gossip
//! interval.
//!
//! ```
//! use kite_sim::report::{Options, measure};
//!
//! let options = Options { spread_repetitions: 3, crash_repetitions: 1, ..Options::default() };
//! let m = measure(8, 1400, &options, &mut |_| {});
//! assert_eq!(m.spread_rounds.len(), 3);
//! assert!(m.false_downs == 0 && m.largest_datagram <= 1400);
//! ```

use core::fmt::Write as _;
use core::time::Duration;
use std::collections::BTreeSet;
use std::time::Instant;

use kite_proto::{Event, NodeId, NodeStatus, SeededRng, Timestamp};
use rand_core::RngCore;

use crate::{InvariantConfig, LinkModel, LoggedEvent, NetworkModel, Sim};

/// What to measure, beyond the cluster size and packet size.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The run's seed.
    pub seed: u64,
    /// Updates timed (p50 and p99 are taken over them). Default 10.
    pub spread_repetitions: usize,
    /// Crashes timed. Default 2.
    pub crash_repetitions: usize,
    /// The network's links. Default: [`LinkModel::lan`] (1 ms ± 1 ms).
    pub link: LinkModel,
    /// Simulated time after formation before measuring, so failure
    /// detectors have samples. Default 20 s.
    pub warm_up: Duration,
    /// Every node's `suspicion_threshold`. Default: the option's default.
    pub suspicion_threshold: Option<f64>,
    /// Whether the simulator's event invariants are checked during the run.
    /// Default false: the checker keeps state per (observer, node), so at
    /// 1,000 nodes it added about 70 KiB of memory per node and half again
    /// the wall time to the report's figures, which measure Kite. The tests
    /// and the chaos hunt check the invariants.
    pub check_invariants: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            spread_repetitions: 10,
            crash_repetitions: 2,
            link: LinkModel::lan(),
            warm_up: Duration::from_secs(20),
            suspicion_threshold: None,
            check_invariants: false,
        }
    }
}

/// The figures of one (cluster size, packet size) run.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Cluster size.
    pub n: usize,
    /// `max_packet_size` of every node.
    pub packet_size: usize,
    /// Rounds until every node knew every node, from the first join.
    pub formation_rounds: f64,
    /// Rounds until one update reached every node, per repetition.
    pub spread_rounds: Vec<f64>,
    /// How one update spread, per repetition: entry `k` is the number of
    /// nodes (the writer included) that had the update `k` whole rounds
    /// after it was written. Entry 0 counts the writer and anyone reached
    /// within the same instant; the last entry is every node (the spread
    /// phase has no crashes, so `n`). See [`spread_curve`].
    pub spread_curves: Vec<Vec<usize>>,
    /// Rounds until every live node saw a crash as down, per repetition.
    pub detection_rounds: Vec<f64>,
    /// `NodeDown` events about nodes that had not crashed.
    pub false_downs: u64,
    /// Datagram bytes sent per node per round, in the steady state.
    pub bytes_per_node_round: f64,
    /// Datagrams sent per node per round, in the steady state.
    pub datagrams_per_node_round: f64,
    /// Stream bytes sent per node per round, in the steady state.
    pub stream_bytes_per_node_round: f64,
    /// The largest datagram any node sent.
    pub largest_datagram: usize,
    /// Gossip rounds simulated after formation.
    pub steady_rounds: f64,
    /// Wall time of the steady-state phase (spread and detection).
    pub steady_wall: Duration,
    /// CPU time of this process in the steady-state phase, where the OS
    /// tells it (Linux); unlike wall time it does not grow when other
    /// processes share the cores.
    pub steady_cpu: Option<Duration>,
    /// Wall time of the whole run.
    pub wall: Duration,
}

impl Measurement {
    /// Wall time per 100 gossip rounds of the steady state.
    pub fn wall_per_100_rounds(&self) -> Duration {
        self.per_100_rounds(self.steady_wall)
    }

    /// CPU time per 100 gossip rounds of the steady state, if measured.
    pub fn cpu_per_100_rounds(&self) -> Option<Duration> {
        self.steady_cpu.map(|cpu| self.per_100_rounds(cpu))
    }

    fn per_100_rounds(&self, time: Duration) -> Duration {
        if self.steady_rounds <= 0.0 {
            return Duration::ZERO;
        }
        time.mul_f64(100.0 / self.steady_rounds)
    }
}

/// User plus system CPU time of this process, from `/proc/self/stat`
/// (Linux; `None` elsewhere). Assumes the usual 100 ticks per second.
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The ideal push-pull reference for spreading one update to `n` nodes:
/// `log3(n) + ln(ln(n))` rounds.
pub fn push_pull_reference(n: usize) -> f64 {
    let n = n.max(3) as f64;
    n.ln() / 3f64.ln() + n.ln().ln()
}

/// The push-pull model's expected fraction of `n` nodes that have one
/// update after each of `rounds` rounds (entry 0 is the writer alone,
/// `1/n`).
///
/// The mean-field model behind [`push_pull_reference`]: each round every
/// node pushes to one random peer and pulls from one, so a node still
/// without the update stays so only if its pull finds an uninformed peer
/// (probability `u`, the uninformed fraction) and no informed node pushes to
/// it (about `e^-(1-u)`): `u' = u² e^-(1-u)`. The informed fraction
/// roughly triples per round while small (`log3 n` rounds) and the
/// uninformed fraction squares once large (`ln ln n` more).
pub fn push_pull_curve(n: usize, rounds: usize) -> Vec<f64> {
    let n = n.max(1) as f64;
    let mut u = 1.0 - 1.0 / n;
    let mut curve = Vec::with_capacity(rounds + 1);
    curve.push(1.0 - u);
    for _ in 0..rounds {
        u = u * u * (-(1.0 - u)).exp();
        curve.push(1.0 - u);
    }
    curve
}

/// Counts, for `k = 0, 1, ...`, how many nodes had an update within `k`
/// whole rounds: the writer (at round 0) plus every `arrivals` entry (in
/// rounds after the write) no later than `k`. The curve ends at the first
/// round by which every arrival is counted.
pub fn spread_curve(arrivals: &[f64]) -> Vec<usize> {
    let last = arrivals.iter().copied().fold(0.0, f64::max);
    let rounds = last.ceil() as usize;
    (0..=rounds)
        .map(|k| 1 + arrivals.iter().filter(|a| **a <= k as f64).count())
        .collect()
}

/// The `p`-th percentile (0–100) by nearest rank; `NaN` when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// The events the measured phase looks at: downs (detection, false downs)
/// and upserts (spread).
fn measured_event(event: &Event) -> bool {
    matches!(event, Event::NodeDown { .. } | Event::KeyUpserted { .. })
}

/// Follows the event log while a phase runs: which hosts matched the
/// phase's condition (and when the last of them did), and false downs.
struct Phase<'a> {
    label: String,
    crashed: &'a BTreeSet<NodeId>,
    false_downs: &'a mut u64,
}

impl Phase<'_> {
    /// Runs for `duration`, counting false downs.
    fn settle(&mut self, sim: &mut Sim, duration: Duration, progress: &mut dyn FnMut(&str)) {
        sim.run_for(duration)
            .unwrap_or_else(|f| panic!("the measured run broke an invariant:\n{f}"));
        for e in sim.take_events() {
            self.count_false_down(&e, progress);
        }
    }

    /// Counts `e` if it is a false down, and tells `progress` who saw whom.
    fn count_false_down(&mut self, e: &LoggedEvent, progress: &mut dyn FnMut(&str)) {
        if let Event::NodeDown { id } = &e.event
            && !self.crashed.contains(id)
        {
            *self.false_downs += 1;
            progress(&format!(
                "{}: false down: {} saw {id} down at {:?}",
                self.label, e.node, e.at
            ));
        }
    }

    /// Runs until `target` hosts emitted an event matching `matches`;
    /// returns when each of them first did (in the order they did, so the
    /// last is the latest), or `None` after `limit`.
    fn run(
        &mut self,
        sim: &mut Sim,
        target: usize,
        limit: Duration,
        progress: &mut dyn FnMut(&str),
        matches: impl Fn(&Event) -> bool,
    ) -> Option<Vec<Timestamp>> {
        let start = sim.now();
        let mut seen = BTreeSet::new();
        let mut times = Vec::with_capacity(target);
        let mut last_report = Instant::now();
        loop {
            for e in sim.take_events() {
                self.count_false_down(&e, progress);
                if matches(&e.event) && seen.insert(e.host) {
                    times.push(e.at);
                }
            }
            if seen.len() >= target {
                return Some(times);
            }
            if sim.now().saturating_since(start) >= limit {
                return None;
            }
            sim.run_for(Duration::from_millis(250))
                .unwrap_or_else(|f| panic!("the measured run broke an invariant:\n{f}"));
            if last_report.elapsed() >= Duration::from_secs(1) {
                last_report = Instant::now();
                progress(&format!(
                    "{}: {}/{target} nodes, {:.1} s simulated",
                    self.label,
                    seen.len(),
                    sim.now().saturating_since(start).as_secs_f64()
                ));
            }
        }
    }
}

/// Measures a cluster of `n` nodes with datagrams of at most `packet_size`
/// bytes. `progress` receives a line now and then during long runs.
///
/// # Panics
///
/// If the run breaks a simulator invariant (which is a protocol bug), or if
/// `n` is below 3.
pub fn measure(
    n: usize,
    packet_size: usize,
    options: &Options,
    progress: &mut dyn FnMut(&str),
) -> Measurement {
    assert!(n >= 3, "measure needs at least 3 nodes");
    let wall = Instant::now();
    let threshold = options.suspicion_threshold;
    let mut sim = Sim::builder(options.seed)
        .network(NetworkModel::default().link(options.link))
        .node_config(move |c| {
            c.max_packet_size = packet_size;
            if let Some(threshold) = threshold {
                c.suspicion_threshold = threshold;
            }
        })
        .invariants(InvariantConfig {
            sweep_every: None,
            events: options.check_invariants,
        })
        .build();
    let interval = sim.rounds(Duration::from_secs(1)).recip();
    let rounds = |d: Duration| d.as_secs_f64() / interval;
    // Formation is judged by each node's count of alive peers, not by the
    // events (a joined event per pair of nodes, 10^8 at N = 10,000, none of
    // which is kept) nor by `Sim::formed` (which compares every pair's
    // snapshots).
    sim.set_event_filter(None);
    let hosts = sim.add_cluster(n);
    let label = format!("N={n} packet={packet_size}");
    let formation_limit = Duration::from_secs(1200);
    let mut last_report = Instant::now();
    loop {
        let formed = hosts
            .iter()
            .filter(|&&host| {
                sim.node(host)
                    .is_some_and(|node| node.peer_count(NodeStatus::Alive) >= n - 1)
            })
            .count();
        if formed == n {
            break;
        }
        assert!(
            sim.now().as_duration() <= formation_limit,
            "{label}: the cluster did not form within {formation_limit:?}"
        );
        sim.run_for(Duration::from_millis(250))
            .unwrap_or_else(|f| panic!("{f}"));
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            progress(&format!(
                "{label} formation: {formed}/{n} nodes know everyone, {:.1} s simulated",
                sim.now().as_duration().as_secs_f64()
            ));
        }
    }
    let formation_rounds = rounds(sim.now().as_duration());
    progress(&format!(
        "{label}: formed in {formation_rounds:.1} rounds; warming up"
    ));
    sim.run_for(options.warm_up)
        .unwrap_or_else(|f| panic!("{f}"));
    sim.set_event_filter(Some(measured_event));

    let steady_start = (sim.now(), sim.metrics().clone(), Instant::now());
    let cpu_start = process_cpu_time();
    let mut rng = SeededRng::from_seed_u64(options.seed ^ 0x5eed);
    let mut false_downs = 0u64;
    let mut crashed: BTreeSet<NodeId> = BTreeSet::new();

    let mut spread_rounds = Vec::new();
    let mut spread_curves = Vec::new();
    for rep in 0..options.spread_repetitions {
        let live = sim.live_hosts();
        let writer = live[(rng.next_u64() % live.len() as u64) as usize];
        let value = rep.to_string();
        sim.upsert(writer, "probe", &value)
            .unwrap_or_else(|e| panic!("{e}"));
        let t0 = sim.now();
        let mut phase = Phase {
            label: format!("{label} update {}/{}", rep + 1, options.spread_repetitions),
            crashed: &crashed,
            false_downs: &mut false_downs,
        };
        let reached = |e: &Event| matches!(e, Event::KeyUpserted { key, value: v, .. } if key == "probe" && *v == value);
        let Some(times) = phase.run(
            &mut sim,
            live.len() - 1,
            Duration::from_secs(300),
            progress,
            reached,
        ) else {
            panic!("{label}: update {rep} did not reach every node in 300 s");
        };
        let arrivals: Vec<f64> = times
            .iter()
            .map(|t| rounds(t.saturating_since(t0)))
            .collect();
        spread_rounds.push(arrivals.iter().copied().fold(0.0, f64::max));
        spread_curves.push(spread_curve(&arrivals));
        // Let it settle so repetitions do not overlap.
        phase.settle(&mut sim, Duration::from_secs(2), progress);
    }

    let mut detection_rounds = Vec::new();
    for rep in 0..options.crash_repetitions {
        let live = sim.live_hosts();
        let victim = live[1 + (rng.next_u64() % (live.len() as u64 - 1)) as usize];
        let Some(id) = sim.id(victim) else { continue };
        crashed.insert(id.clone());
        sim.crash(victim);
        let t0 = sim.now();
        let mut phase = Phase {
            label: format!("{label} crash {}/{}", rep + 1, options.crash_repetitions),
            crashed: &crashed,
            false_downs: &mut false_downs,
        };
        let down = |e: &Event| matches!(e, Event::NodeDown { id: x } if *x == id);
        let Some(times) = phase.run(
            &mut sim,
            live.len() - 1,
            Duration::from_secs(600),
            progress,
            down,
        ) else {
            panic!("{label}: crash {rep} was not seen down by every node in 600 s");
        };
        let done = times.iter().copied().max().unwrap_or(t0);
        detection_rounds.push(rounds(done.saturating_since(t0)));
    }
    let (t0, before, wall0) = steady_start;
    let after = sim.metrics();
    let steady = sim.now().saturating_since(t0);
    let steady_rounds = rounds(steady);
    let node_rounds = steady_rounds * n as f64;
    let per = |a: u64, b: u64| (a - b) as f64 / node_rounds;
    Measurement {
        n,
        packet_size,
        formation_rounds,
        spread_rounds,
        spread_curves,
        detection_rounds,
        false_downs,
        bytes_per_node_round: per(after.datagram_bytes(), before.datagram_bytes()),
        datagrams_per_node_round: per(after.datagrams(), before.datagrams()),
        stream_bytes_per_node_round: per(after.stream_bytes(), before.stream_bytes()),
        largest_datagram: after.largest_datagram(),
        steady_rounds,
        steady_wall: wall0.elapsed(),
        steady_cpu: process_cpu_time()
            .zip(cpu_start)
            .map(|(end, start)| end.saturating_sub(start)),
        wall: wall.elapsed(),
    }
}

/// The report's Markdown table, one row per measurement; `memory` gives
/// each row's memory per node in bytes, when measured.
pub fn table(rows: &[(Measurement, Option<u64>)]) -> String {
    let mut out = String::new();
    out.push_str(
        "| N | packet | formation (rounds) | update spread p50 / p99 (rounds) | push-pull ref | crash seen down by all (rounds, median) | false downs | datagram B/node/round | datagrams/node/round | stream B/node/round | largest datagram | memory/node | wall (run) | wall / 100 rounds | CPU / 100 rounds |\n",
    );
    out.push_str("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (m, memory) in rows {
        let memory = match memory {
            Some(bytes) => format!("{:.0} KiB", *bytes as f64 / 1024.0),
            None => "n/a".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.1} / {:.1} | {:.1} | {:.1} | {} | {:.0} | {:.2} | {:.0} | {} | {} | {:.1} s | {:.1} s | {} |",
            m.n,
            m.packet_size,
            m.formation_rounds,
            percentile(&m.spread_rounds, 50.0),
            percentile(&m.spread_rounds, 99.0),
            push_pull_reference(m.n),
            percentile(&m.detection_rounds, 50.0),
            m.false_downs,
            m.bytes_per_node_round,
            m.datagrams_per_node_round,
            m.stream_bytes_per_node_round,
            m.largest_datagram,
            memory,
            m.wall.as_secs_f64(),
            m.wall_per_100_rounds().as_secs_f64(),
            m.cpu_per_100_rounds()
                .map_or("n/a".to_owned(), |cpu| format!(
                    "{:.1} s",
                    cpu.as_secs_f64()
                )),
        );
    }
    out
}

/// The report as JSON lines: one object per measurement, with the fields
/// `nodes`, `packet`, `formation_rounds`, `spread_p50`, `spread_p99`,
/// `detect_p50`, `detect_max`, `false_downs`,
/// `datagram_bytes_per_node_round`, `datagrams_per_node_round`,
/// `stream_bytes_per_node_round`, `largest_datagram`,
/// `memory_per_node_bytes` (`null` when not measured) and
/// `wall_per_100_rounds_s` (a round is one gossip interval).
pub fn json_lines(rows: &[(Measurement, Option<u64>)]) -> String {
    let mut out = String::new();
    for (m, memory) in rows {
        let max = m.detection_rounds.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "{{\"nodes\":{},\"packet\":{},\"formation_rounds\":{:.1},\"spread_p50\":{:.2},\"spread_p99\":{:.2},\"detect_p50\":{:.2},\"detect_max\":{:.2},\"false_downs\":{},\"datagram_bytes_per_node_round\":{:.1},\"datagrams_per_node_round\":{:.3},\"stream_bytes_per_node_round\":{:.1},\"largest_datagram\":{},\"memory_per_node_bytes\":{},\"wall_per_100_rounds_s\":{:.2}}}",
            m.n,
            m.packet_size,
            m.formation_rounds,
            percentile(&m.spread_rounds, 50.0),
            percentile(&m.spread_rounds, 99.0),
            percentile(&m.detection_rounds, 50.0),
            max,
            m.false_downs,
            m.bytes_per_node_round,
            m.datagrams_per_node_round,
            m.stream_bytes_per_node_round,
            m.largest_datagram,
            memory.map_or("null".to_owned(), |b| b.to_string()),
            m.wall_per_100_rounds().as_secs_f64(),
        );
    }
    out
}

#[cfg(test)]
/// A made-up measurement (for the tests of the report and its pictures) of `n` nodes, as the report would produce.
pub(crate) fn synthetic(n: usize, packet_size: usize) -> Measurement {
    Measurement {
        n,
        packet_size,
        formation_rounds: 4.0,
        spread_rounds: vec![1.5, 2.0],
        spread_curves: vec![vec![1, n / 2, n], vec![1, n / 3, n - 1, n]],
        detection_rounds: vec![4.0, 4.5, 6.0],
        false_downs: 0,
        bytes_per_node_round: 30.0 * n as f64,
        datagrams_per_node_round: 6.5,
        stream_bytes_per_node_round: 0.0,
        largest_datagram: 283,
        steady_rounds: 100.0,
        steady_wall: Duration::from_secs(1),
        steady_cpu: None,
        wall: Duration::from_secs(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_carry_every_field() {
        let m = synthetic(10, 1400);
        let line = json_lines(&[(m, Some(4096))]);
        for field in [
            "\"nodes\":10",
            "\"packet\":1400",
            "\"detect_max\":6.00",
            "\"false_downs\":0",
            "\"memory_per_node_bytes\":4096",
            "\"wall_per_100_rounds_s\":1.00",
        ] {
            assert!(line.contains(field), "{field} in {line}");
        }
        assert_eq!(line.lines().count(), 1);
    }

    #[test]
    fn reference_and_percentiles() {
        assert!((push_pull_reference(1000) - 8.22).abs() < 0.05);
        let v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&v, 50.0), 3.0);
        assert_eq!(percentile(&v, 99.0), 5.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn curves() {
        assert_eq!(spread_curve(&[0.0, 0.4, 1.0, 1.2, 2.5]), vec![2, 4, 5, 6]);
        assert_eq!(spread_curve(&[]), vec![1]);
        let model = push_pull_curve(1000, 12);
        assert!((model[0] - 0.001).abs() < 1e-12);
        assert!(model.windows(2).all(|w| w[1] >= w[0]));
        // About log3(n) + ln ln(n) = 8.2 rounds to reach everyone.
        assert!(model[7] < 1.0 - 1e-3 && model[10] > 1.0 - 1e-3, "{model:?}");
    }
}
