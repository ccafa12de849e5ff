//! The kite-sim report: measures spread, detection, traffic and memory of
//! simulated clusters. `cargo run -p kite-sim --release -- --help`.

use std::process::{Command, ExitCode};
use std::time::Instant;

use kite_sim::report::{Measurement, Options, json_lines, measure, table};

const USAGE: &str = "\
kite-sim report: measure Kite clusters in the deterministic simulator

usage: kite-sim [--nodes 10,100,1000] [--packets 1400,65000] [--updates 20]
                [--crashes 3] [--seed 1] [--loss 0.05] [--threshold 8]
                [--invariants] [--in-process] [--json] [--svg DIR]

  --nodes     cluster sizes to measure (default 10,100,1000)
  --packets   max_packet_size values (default 1400,65000)
  --updates   updates timed per run, for the p50/p99 spread (default 10)
  --crashes   crashes timed per run (default 2; use 5 or more for tables)
  --seed      the simulation seed (default 1)
  --loss      datagram loss on every link (default 0)
  --threshold every node's suspicion_threshold (default 20)
  --invariants  also check the simulator's event invariants (memory and
              wall figures then include the checker's)
  --json      print one JSON object per (N, packet) row instead of the
              Markdown table
  --svg DIR   also write the report's pictures into DIR as SVG files
              (kite-sim-spread.svg, kite-sim-detection.svg,
              kite-sim-traffic.svg); needs the binary built with
              `--features svg`
  --in-process  run every size in this process (memory per node is then
              not measured); by default each size runs in a child process
              whose peak RSS gives the memory per node (with glibc's mmap
              threshold fixed at 128 KiB unless GLIBC_TUNABLES is set)
";

struct Args {
    nodes: Vec<usize>,
    packets: Vec<usize>,
    options: Options,
    in_process: bool,
    json: bool,
    /// Where to write the SVG pictures, if anywhere.
    svg: Option<std::path::PathBuf>,
    /// Internal: measure one (nodes, packet) pair and print it as one line.
    child: bool,
}

fn parse_list(value: &str) -> Result<Vec<usize>, String> {
    value
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<usize>()
                .map_err(|_| format!("not a number: {v}"))
        })
        .collect()
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        nodes: vec![10, 100, 1000],
        packets: vec![1400, 65000],
        options: Options::default(),
        in_process: false,
        json: false,
        svg: None,
        child: false,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--nodes" => parsed.nodes = parse_list(value()?)?,
            "--packets" => parsed.packets = parse_list(value()?)?,
            "--updates" => parsed.options.spread_repetitions = parse_list(value()?)?[0],
            "--crashes" => parsed.options.crash_repetitions = parse_list(value()?)?[0],
            "--seed" => {
                parsed.options.seed = value()?.parse().map_err(|_| "bad seed".to_owned())?
            }
            "--loss" => {
                let loss: f64 = value()?.parse().map_err(|_| "bad loss".to_owned())?;
                parsed.options.link = parsed.options.link.loss(loss);
            }
            "--threshold" => {
                let t = value()?.parse().map_err(|_| "bad threshold".to_owned())?;
                parsed.options.suspicion_threshold = Some(t);
            }
            "--invariants" => parsed.options.check_invariants = true,
            "--in-process" => parsed.in_process = true,
            "--json" => parsed.json = true,
            "--svg" => parsed.svg = Some(value()?.into()),
            "--child" => parsed.child = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if parsed.nodes.iter().any(|n| *n < 3) {
        return Err("cluster sizes must be at least 3".to_owned());
    }
    if parsed.svg.is_some() && !cfg!(feature = "svg") {
        return Err("--svg needs the `svg` feature: cargo run -p kite-sim --release --features svg -- ... --svg DIR".to_owned());
    }
    Ok(parsed)
}

/// Peak and current resident memory of this process, from /proc (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn progress(line: &str) {
    eprintln!("  .. {line}");
}

fn encode(m: &Measurement, memory: Option<u64>) -> String {
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let curves = m
        .spread_curves
        .iter()
        .map(|c| c.iter().map(usize::to_string).collect::<Vec<_>>().join(","))
        .collect::<Vec<_>>()
        .join(";");
    format!(
        "RESULT {} {} {} [{}] [{}] {} {} {} {} {} {} {} {} {} {} [{}]",
        m.n,
        m.packet_size,
        m.formation_rounds,
        list(&m.spread_rounds),
        list(&m.detection_rounds),
        m.false_downs,
        m.bytes_per_node_round,
        m.datagrams_per_node_round,
        m.stream_bytes_per_node_round,
        m.largest_datagram,
        m.steady_rounds,
        m.steady_wall.as_secs_f64(),
        m.wall.as_secs_f64(),
        memory.map_or(-1, |b| b as i64),
        m.steady_cpu.map_or(-1.0, |c| c.as_secs_f64()),
        curves,
    )
}

fn decode(line: &str) -> Option<(Measurement, Option<u64>)> {
    let f: Vec<&str> = line.strip_prefix("RESULT ")?.split(' ').collect();
    let list = |s: &str| -> Vec<f64> {
        s.trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .filter(|x| !x.is_empty())
            .filter_map(|x| x.parse().ok())
            .collect()
    };
    let secs = |s: &str| std::time::Duration::from_secs_f64(s.parse().unwrap_or(0.0));
    let memory: i64 = f.get(13)?.parse().ok()?;
    let m = Measurement {
        n: f[0].parse().ok()?,
        packet_size: f[1].parse().ok()?,
        formation_rounds: f[2].parse().ok()?,
        spread_rounds: list(f[3]),
        spread_curves: f
            .get(15)
            .map(|s| {
                s.trim_matches(|c| c == '[' || c == ']')
                    .split(';')
                    .filter(|c| !c.is_empty())
                    .map(|c| c.split(',').filter_map(|x| x.parse().ok()).collect())
                    .collect()
            })
            .unwrap_or_default(),
        detection_rounds: list(f[4]),
        false_downs: f[5].parse().ok()?,
        bytes_per_node_round: f[6].parse().ok()?,
        datagrams_per_node_round: f[7].parse().ok()?,
        stream_bytes_per_node_round: f[8].parse().ok()?,
        largest_datagram: f[9].parse().ok()?,
        steady_rounds: f[10].parse().ok()?,
        steady_wall: secs(f[11]),
        wall: secs(f[12]),
        steady_cpu: f
            .get(14)
            .and_then(|c| c.parse::<f64>().ok())
            .filter(|c| *c >= 0.0)
            .map(std::time::Duration::from_secs_f64),
    };
    Some((m, u64::try_from(memory).ok()))
}

/// The child's glibc allocator setting, unless `GLIBC_TUNABLES` is set:
/// allocations of 128 KiB and more are mapped, not taken from the heap.
/// glibc otherwise raises that threshold as such blocks are freed, and
/// then serves the peer tables of thousands of nodes growing side by side
/// from one heap, whose holes stay resident: at N = 2,000 the peak RSS was
/// 593 KiB per node with the dynamic threshold and 386 KiB with this one.
/// A process running one node does not interleave like that; this
/// measures Kite rather than the simulator's fragmentation (other
/// allocators ignore the variable).
const FIXED_MMAP_THRESHOLD: &str = "glibc.malloc.mmap_threshold=131072";

fn run_child(n: usize, packet: usize, args: &Args) -> Result<(Measurement, Option<u64>), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = Command::new(exe)
        .args([
            "--child",
            "--nodes",
            &n.to_string(),
            "--packets",
            &packet.to_string(),
        ])
        .args(["--updates", &args.options.spread_repetitions.to_string()])
        .args(["--crashes", &args.options.crash_repetitions.to_string()])
        .args(["--seed", &args.options.seed.to_string()])
        .args(["--loss", &args.options.link.loss.to_string()])
        .args(args.options.check_invariants.then_some("--invariants"))
        .args(
            args.options
                .suspicion_threshold
                .map(|t| ["--threshold".to_owned(), t.to_string()])
                .into_iter()
                .flatten(),
        )
        .env(
            "GLIBC_TUNABLES",
            std::env::var("GLIBC_TUNABLES").unwrap_or_else(|_| FIXED_MMAP_THRESHOLD.to_owned()),
        )
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(decode)
        .ok_or_else(|| format!("N={n} packet={packet} failed ({})", output.status))
}

/// Writes the report's pictures into `dir` and names them on stderr.
#[cfg(feature = "svg")]
fn write_svgs(dir: &std::path::Path, rows: &[(Measurement, Option<u64>)]) -> std::io::Result<()> {
    let measurements: Vec<Measurement> = rows.iter().map(|(m, _)| m.clone()).collect();
    for path in kite_sim::plot::write_svgs(dir, &measurements)? {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Without the `svg` feature `parse` refuses `--svg`, so this never runs.
#[cfg(not(feature = "svg"))]
fn write_svgs(_: &std::path::Path, _: &[(Measurement, Option<u64>)]) -> std::io::Result<()> {
    Err(std::io::Error::other("built without the `svg` feature"))
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&argv) {
        Ok(args) => args,
        Err(err) => {
            if !err.is_empty() {
                eprintln!("{err}\n");
            }
            eprint!("{USAGE}");
            return if err.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
    };
    if args.child {
        let (n, packet) = (args.nodes[0], args.packets[0]);
        let baseline = peak_rss();
        let m = measure(n, packet, &args.options, &mut progress);
        let memory = peak_rss()
            .zip(baseline)
            .map(|(peak, base)| peak.saturating_sub(base) / n as u64);
        println!("{}", encode(&m, memory));
        return ExitCode::SUCCESS;
    }
    let started = Instant::now();
    let mut rows = Vec::new();
    for &packet in &args.packets {
        for &n in &args.nodes {
            eprintln!("measuring N={n}, max_packet_size={packet} ...");
            let row = if args.in_process {
                Ok((measure(n, packet, &args.options, &mut progress), None))
            } else {
                run_child(n, packet, &args)
            };
            match row {
                Ok(row) => rows.push(row),
                Err(err) => {
                    eprintln!("{err}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    if let Some(dir) = &args.svg
        && let Err(err) = write_svgs(dir, &rows)
    {
        eprintln!("writing the pictures into {}: {err}", dir.display());
        return ExitCode::FAILURE;
    }
    if args.json {
        print!("{}", json_lines(&rows));
        return ExitCode::SUCCESS;
    }
    println!("{}", table(&rows));
    println!(
        "seed {}, {} updates and {} crashes per run, links 1 ms ± 1 ms with {} loss, threshold {}; total wall time {:.1} s",
        args.options.seed,
        args.options.spread_repetitions,
        args.options.crash_repetitions,
        args.options.link.loss,
        args.options.suspicion_threshold.unwrap_or(20.0),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
