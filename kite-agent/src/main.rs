//! # kite
//!
//! The `kite` command-line agent: runs one Kite node on tokio, prints one
//! line per event on stdout (human-readable, or JSON lines with
//! `--format json`), reads commands from stdin, and leaves the cluster
//! gracefully on SIGINT or SIGTERM. `kite --help` lists every flag with its
//! default.
//!
//! ```sh
//! kite --bind 127.0.0.1:7000 --set role=web
//! kite --bind 127.0.0.2:7000 --join 127.0.0.1:7000 --format json
//! ```
//!
//! Diagnostics (where the node listens, the outcome of `--join` and
//! `leave`, refused commands) go to stderr, so stdout carries only events
//! and the lines printed by `nodes` and `stats`.

mod cli;
mod command;
mod duration;
mod metrics;
mod output;
mod time;

use std::error::Error;
use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Parser;
use kite_tokio::{Event, JoinError, Kite};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;

use crate::cli::{Cli, Format};
use crate::command::Command;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("kite: {err}");
            ExitCode::FAILURE
        }
    }
}

/// What ends the main loop.
enum End {
    /// Leave gracefully, then exit 0 (a first signal, or `leave`).
    Leave,
    /// Exit 0 without leaving (`quit`).
    Quit,
}

/// Starts the node, joins, then prints events and runs commands until a
/// signal, `leave` or `quit`.
async fn run(cli: Cli) -> Result<ExitCode, Box<dyn Error>> {
    let mut signals = Signals::new()?;
    if let Some(addr) = cli.metrics {
        metrics::serve(addr).map_err(|err| format!("--metrics {addr}: {err}"))?;
        eprintln!("kite: metrics for Prometheus on http://{addr}/metrics");
    }
    // A watcher given at start sees every event; a stream subscribed after
    // `start` would miss those of a join request that arrives at once (a
    // peer retrying its join while this agent starts).
    let (sink, mut events) = mpsc::unbounded_channel();
    let options = cli.options()?.on_event(move |event: &Event| {
        let _ = sink.send(event.clone());
    });
    let kite = Arc::new(Kite::start(options).await?);
    for (key, value) in &cli.set {
        kite.upsert_local(key, value)?;
    }
    eprintln!(
        "kite: node {} listening on {}",
        kite.local_id(),
        kite.advertise_addr()
    );
    if !cli.join.is_empty() {
        let retry_max = cli.dns_refresh_interval;
        tokio::spawn(join(Arc::clone(&kite), cli.join.clone(), retry_max));
    }
    let mut commands = (cli.interactive || !io::stdin().is_terminal()).then(read_stdin);
    let end = loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => {
                    if let Some(line) = output::event_line(cli.format, &event, SystemTime::now()) {
                        print_lines([line]);
                    }
                    report_join_target(&event);
                }
                None => return Err("the node stopped".into()),
            },
            line = next_line(&mut commands) => match line {
                Some(line) => {
                    if let Some(end) = execute(&kite, cli.format, &line) {
                        break end;
                    }
                }
                // The end of stdin stops commands, not the node.
                None => commands = None,
            },
            number = signals.recv() => {
                eprintln!("kite: signal {number}: leaving (a second signal exits at once)");
                break End::Leave;
            }
        }
    };
    drop(events);
    if let End::Leave = end {
        tokio::select! {
            result = kite.leave() => match result {
                Ok(told) => eprintln!("kite: left, {told} node(s) told"),
                Err(err) => eprintln!("kite: leave: {err}"),
            },
            number = signals.recv() => {
                eprintln!("kite: signal {number} again: exiting at once");
                return Ok(ExitCode::from(128 + number as u8));
            }
        }
    }
    kite.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// First wait before joining again after a failed join; it doubles after
/// each failure, up to `--dns-refresh-interval`.
const FIRST_JOIN_RETRY: Duration = Duration::from_secs(1);

/// Joins through `targets` and reports the outcome on stderr. A failed join
/// leaves nothing behind in the node, so the agent joins again until one
/// succeeds: the first wait is [`FIRST_JOIN_RETRY`], doubling up to
/// `retry_max` (the DNS refresh interval). The node keeps running
/// meanwhile, and may be joined by others.
async fn join(kite: Arc<Kite>, targets: Vec<String>, retry_max: Duration) {
    let mut wait = FIRST_JOIN_RETRY.min(retry_max);
    loop {
        match kite.join(&targets).await {
            Ok(ids) => {
                let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                eprintln!("kite: joined {}", ids.join(" "));
                return;
            }
            Err(JoinError::Stopped) => return,
            Err(err) => eprintln!("kite: join: {err} (retrying in {wait:?})"),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(retry_max);
    }
}

/// Reports on stderr a join target answered or failed after the join
/// returned.
fn report_join_target(event: &Event) {
    if let Event::JoinTargetCompleted { target, result, .. } = event {
        match result {
            Ok(id) => eprintln!("kite: join: {target} answered ({id})"),
            Err(reason) => eprintln!("kite: join: {target}: {reason}"),
        }
    }
}

/// Runs one line of stdin; returns how to end, if it ends the agent.
fn execute(kite: &Kite, format: Format, line: &str) -> Option<End> {
    let result = match Command::parse(line) {
        Ok(Command::Set { key, value }) => {
            kite.upsert_local(&key, &value).map_err(|e| e.to_string())
        }
        Ok(Command::Del { key }) => kite.delete_local(&key).map_err(|e| e.to_string()),
        Ok(Command::Nodes) => {
            print_lines(output::view_lines(format, &kite.nodes(), SystemTime::now()));
            Ok(())
        }
        Ok(Command::Stats) => {
            let stats = output::Stats::current();
            print_lines([output::stats_line(format, stats, SystemTime::now())]);
            Ok(())
        }
        Ok(Command::Leave) => return Some(End::Leave),
        Ok(Command::Quit) => return Some(End::Quit),
        Ok(Command::Nothing) => Ok(()),
        Err(err) => Err(err),
    };
    if let Err(err) = result {
        eprintln!("kite: {err}");
    }
    None
}

/// Lines of stdin, read on a thread of their own (a thread blocked on a
/// read does not keep the process from exiting, unlike tokio's stdin).
fn read_stdin() -> mpsc::UnboundedReceiver<String> {
    let (sender, receiver) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The next command line, `None` at the end of stdin, or never when
/// commands are not read.
async fn next_line(commands: &mut Option<mpsc::UnboundedReceiver<String>>) -> Option<String> {
    match commands {
        Some(commands) => commands.recv().await,
        None => std::future::pending().await,
    }
}

/// Writes lines to stdout, flushed at once; a closed stdout is ignored.
fn print_lines(lines: impl IntoIterator<Item = String>) {
    let mut stdout = io::stdout().lock();
    for line in lines {
        let _ = writeln!(stdout, "{line}");
    }
    let _ = stdout.flush();
}

/// SIGINT and SIGTERM.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn new() -> io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The number of the next signal received.
    async fn recv(&mut self) -> i32 {
        tokio::select! {
            _ = self.interrupt.recv() => SignalKind::interrupt().as_raw_value(),
            _ = self.terminate.recv() => SignalKind::terminate().as_raw_value(),
        }
    }
}
