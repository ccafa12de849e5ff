//! # kite-tokio
//!
//! Runs a [Kite](kite_proto) node on tokio: cluster membership and a
//! replicated key-value view of every node, over UDP (gossip) and TCP
//! (join, leave and large state), with DNS join through hickory-resolver,
//! metrics through the `metrics` facade and logs through `tracing`.
//!
//! This crate only carries bytes and time between the sockets and the core;
//! every protocol decision is made by [`kite_proto`], and everything an
//! adapter needs that involves no I/O lives in [`kite_proto::driver`]. The
//! same node runs on async-std or smol with `kite-async-std`, whose API,
//! options, events and errors are these.
//!
//! ```
//! use std::time::Duration;
//! use kite_tokio::{Kite, Options};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let options = || Options::new().gossip_interval(Duration::from_millis(50));
//! let a = Kite::start(options().bind_addr("127.0.0.1:0".parse()?)).await?;
//! let b = Kite::start(options().bind_addr("127.0.0.1:0".parse()?)).await?;
//! a.upsert_local("rpc_addr", "127.0.0.1:9000")?;
//! let joined = b.join(&[a.advertise_addr().to_string()]).await?;
//! assert_eq!(joined, vec![a.local_id().clone()]);
//! let seen = b.node(a.local_id()).expect("joined");
//! assert_eq!(seen.entries["rpc_addr"], "127.0.0.1:9000");
//! b.shutdown().await;
//! a.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # How it runs
//!
//! [`Kite::start`] binds UDP and TCP on the same address and spawns three
//! tasks on the current tokio runtime: the driver task (the only one that
//! drains the core, with one timer reset to the core's next deadline), the
//! UDP receive loop (64 KiB buffer, whatever `max_packet_size` says), and
//! the TCP accept loop (one task per inbound stream, at most
//! [`MAX_INBOUND_STREAMS`] at once). Outbound stream exchanges and DNS
//! lookups run as tasks of their own. The stream timeout applies to each of
//! connect, write and read, and frames over `max_frame_len` are refused
//! before anything is allocated for them.
//!
//! # Advertise address
//!
//! The bind IP, with the bound port. When the bind IP is unspecified
//! (`0.0.0.0` or `[::]`), the host's private IP chosen by
//! [`choose_advertise_ip`] among its interface addresses (first RFC 1918
//! IPv4, then IPv6 unique-local, then other addresses; loopback and
//! link-local never), or loopback if there is none. Set
//! [`Options::advertise_addr`] on hosts with several private networks.
//!
//! # DNS
//!
//! Names given to [`Kite::join`] are resolved with the system's resolver
//! configuration (`/etc/resolv.conf`), or with [`Options::name_servers`]
//! when set, and re-resolved every `dns_refresh_interval`; new addresses are
//! joined without another call.
//!
//! # Metrics and logs
//!
//! Every second the node publishes the counters of
//! [`kite_proto::driver::metrics`] (connections, stream and packet bytes and
//! counts, decode errors, stream failures, dropped updates) and the gauge
//! `kite_nodes{status}`, each labelled `node=<id>`, through the `metrics`
//! facade: install any recorder to collect them. Events are logged at
//! `debug` in a `kite{node=<id>}` span, failures at `debug`/`warn`.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use kite_proto::driver::metrics::{Series, SeriesKind};
use kite_proto::driver::{
    ACCEPT_RETRY, Action, FrameError, FrameReader, RECV_BUFFER, RECV_RETRY, Shared,
};
use kite_proto::wire::frame;
use kite_proto::{RequestId, ResolveError, StreamError, Timestamp};
use rand_core::{OsRng, TryRngCore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep};
use tracing::{Instrument, debug, info, warn};

pub use kite_proto::driver::{
    MAX_INBOUND_STREAMS, Options, StartError, Watcher, choose_advertise_ip,
};
pub use kite_proto::{
    Event, JoinError, LeaveError, Limits, LocalStateError, NodeId, NodeStatus, NodeView, Stats,
};

/// A running Kite node. Dropping it stops the node as
/// [`shutdown`](Kite::shutdown) does, without waiting for the sockets to
/// close. Share it between tasks with an `Arc`.
pub struct Kite {
    shared: Arc<Shared>,
    clock: Clock,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Kite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kite")
            .field("id", self.local_id())
            .field("addr", &self.advertise_addr())
            .finish_non_exhaustive()
    }
}

/// The adapter's monotonic clock: timestamps are the time since start.
#[derive(Clone, Copy)]
struct Clock(Instant);

impl Clock {
    fn now(self) -> Timestamp {
        Timestamp::from_duration(self.0.elapsed())
    }

    fn instant(self, at: Timestamp) -> Instant {
        self.0 + at.as_duration()
    }
}

/// What every socket task needs (no socket: those belong to the long-lived
/// tasks, so stopping them releases the ports).
struct Io {
    shared: Arc<Shared>,
    clock: Clock,
    stream_timeout: Duration,
    max_frame_len: usize,
    resolver: Result<TokioResolver, String>,
}

impl Kite {
    /// Binds UDP and TCP on the bind address, and starts the node on the
    /// current tokio runtime. It knows no other node until [`join`](Kite::join)
    /// is called, or until another node joins it.
    pub async fn start(options: Options) -> Result<Kite, StartError> {
        let settings = options
            .watcher(|event: &Event| debug!(?event, "event"))
            .validate()?;
        let bind = settings.bind_addr;
        let bind_error = |protocol| {
            move |source| StartError::Bind {
                addr: bind,
                protocol,
                source,
            }
        };
        let udp = UdpSocket::bind(bind).await.map_err(bind_error("UDP"))?;
        let bound = udp.local_addr().map_err(bind_error("UDP"))?;
        let listener = listen(bound).map_err(bind_error("TCP"))?;
        let interfaces = match settings.needs_interfaces(bound) {
            true => interfaces(),
            false => Vec::new(),
        };
        let seed = OsRng
            .try_next_u64()
            .map_err(|err| StartError::Entropy(err.to_string()))?;
        let clock = Clock(Instant::now());
        let wake = Arc::new(Notify::new());
        let waker = Arc::clone(&wake);
        let notify = move || waker.notify_one();
        let shared = Shared::start(&settings, bound, &interfaces, seed, clock.now(), notify)?;
        let io = Arc::new(Io {
            shared: Arc::clone(&shared),
            clock,
            stream_timeout: settings.stream_timeout,
            max_frame_len: settings.config.limits.max_frame_len,
            resolver: resolver(&settings.name_servers),
        });
        let span = tracing::info_span!("kite", node = %shared.local_id());
        let udp = Arc::new(udp);
        let tasks = vec![
            tokio::spawn(drive(Arc::clone(&io), Arc::clone(&udp), wake).instrument(span.clone())),
            tokio::spawn(receive(Arc::clone(&io), udp).instrument(span.clone())),
            tokio::spawn(accept(io, listener).instrument(span.clone())),
        ];
        span.in_scope(|| info!(%bound, advertise = %shared.advertise_addr(), "started"));
        Ok(Kite {
            shared,
            clock,
            tasks: Mutex::new(tasks),
        })
    }

    kite_proto::handle_api!(shared);

    /// Joins the cluster through `targets`: `ip:port`, `ip`, `host:port` or
    /// `host` (bare forms use this node's port). Names are resolved, and
    /// re-resolved every `dns_refresh_interval`. Returns the ids of the
    /// nodes contacted, or an error if targets were given and none could be
    /// joined (a name that resolves only to this node is not an error).
    pub async fn join<S: AsRef<str>>(&self, targets: &[S]) -> Result<Vec<NodeId>, JoinError> {
        let (tx, rx) = oneshot::channel();
        let done = move |result| drop(tx.send(result));
        self.shared.join(self.clock.now(), targets, done)?;
        rx.await.unwrap_or(Err(JoinError::Stopped))
    }

    /// Leaves the cluster gracefully: the local state is frozen and up to 3
    /// live nodes are told, so that every node reports this one as left (not
    /// down). Returns how many acknowledged, or an error if none could be
    /// told. Call [`shutdown`](Kite::shutdown) afterwards.
    pub async fn leave(&self) -> Result<usize, LeaveError> {
        let (tx, rx) = oneshot::channel();
        let done = move |result| drop(tx.send(result));
        self.shared.leave(self.clock.now(), done)?;
        rx.await.unwrap_or(Err(LeaveError::Stopped))
    }

    /// Every later event, as an async stream (see also [`Watcher`]). The
    /// stream is unbounded: read it, or drop it to unsubscribe. It ends when
    /// the node stops.
    pub fn events(&self) -> EventStream {
        let (tx, rx) = mpsc::unbounded_channel();
        self.shared
            .subscribe(move |event| tx.send(event.clone()).is_ok());
        EventStream { rx }
    }

    /// Stops the node without telling anyone (call [`leave`](Kite::leave)
    /// first to leave gracefully): pending joins and leaves fail with
    /// `Stopped`, event streams end, and once this returns the UDP and TCP
    /// ports are released. Reading the last known state still works.
    pub async fn shutdown(&self) {
        self.shared.stop();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        if tasks.is_empty() {
            return;
        }
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            // Cancelled tasks have dropped their sockets once awaited.
            let _ = task.await;
        }
        info!(node = %self.local_id(), "stopped");
    }
}

impl Drop for Kite {
    fn drop(&mut self) {
        self.shared.stop();
        let tasks = self.tasks.get_mut().unwrap_or_else(PoisonError::into_inner);
        for task in tasks.drain(..) {
            task.abort();
        }
    }
}

/// The events of one node, from [`Kite::events`]; also a
/// [`futures_core::Stream`].
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<Event>,
}

impl EventStream {
    /// The next event, or `None` once the node has stopped.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

impl Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

/// A TCP listener on `addr`, reusable right after a previous one closed.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// The host's interface addresses (to pick the one to advertise).
fn interfaces() -> Vec<IpAddr> {
    let listed = if_addrs::get_if_addrs().unwrap_or_else(|err| {
        warn!(%err, "cannot list interface addresses; advertising loopback");
        Vec::new()
    });
    listed.iter().map(|interface| interface.ip()).collect()
}

/// The system resolver, or one asking `servers` (over UDP and TCP).
fn resolver(servers: &[SocketAddr]) -> Result<TokioResolver, String> {
    let builder = if servers.is_empty() {
        TokioResolver::builder_tokio().map_err(|err| err.to_string())?
    } else {
        let servers = servers.iter().map(|server| {
            let mut config = NameServerConfig::udp_and_tcp(server.ip());
            config
                .connections
                .iter_mut()
                .for_each(|c| c.port = server.port());
            config
        });
        let config = ResolverConfig::from_name_servers(servers.collect());
        TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
    };
    builder.build().map_err(|err| err.to_string())
}

/// The driver task: turns after every wake-up and at the core's deadline,
/// and carries out the actions.
async fn drive(io: Arc<Io>, udp: Arc<UdpSocket>, wake: Arc<Notify>) {
    let mut work = JoinSet::new();
    let timer = sleep(Duration::ZERO);
    tokio::pin!(timer);
    loop {
        let turn = io.shared.turn(io.clock.now());
        publish(turn.metrics);
        for action in turn.actions {
            match action {
                Action::Transmit { to, payload } => {
                    if let Err(err) = udp.send_to(&payload, to).await {
                        debug!(%to, %err, "datagram not sent");
                    }
                }
                Action::Request { id, to, payload } => {
                    work.spawn(request(Arc::clone(&io), id, to, payload).in_current_span());
                }
                Action::Resolve { name } => {
                    work.spawn(resolve(Arc::clone(&io), name).in_current_span());
                }
            }
        }
        while work.try_join_next().is_some() {}
        timer.as_mut().reset(io.clock.instant(turn.deadline));
        tokio::select! {
            () = &mut timer => {}
            () = wake.notified() => {}
        }
    }
}

/// Hands the metrics to the `metrics` facade.
fn publish(series: Vec<Series>) {
    for s in series {
        match s.kind {
            SeriesKind::Counter => {
                metrics::describe_counter!(s.name, s.help);
                metrics::counter!(s.name, &s.labels).absolute(s.value);
            }
            SeriesKind::Gauge => {
                metrics::describe_gauge!(s.name, s.help);
                metrics::gauge!(s.name, &s.labels).set(s.value as f64);
            }
        }
    }
}

/// The UDP receive loop: hands the datagrams to the core, a batch per lock.
async fn receive(io: Arc<Io>, udp: Arc<UdpSocket>) {
    let mut buf = vec![0; RECV_BUFFER];
    loop {
        match udp.recv_from(&mut buf).await {
            Ok(first) => io.shared.datagrams(io.clock.now(), &mut buf, first, |buf| {
                udp.try_recv_from(buf).ok()
            }),
            Err(err) => {
                debug!(%err, "datagram receive failed");
                sleep(RECV_RETRY).await;
            }
        }
    }
}

/// The TCP accept loop: serves each inbound stream in a task of its own.
async fn accept(io: Arc<Io>, listener: TcpListener) {
    let mut streams = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, from)) => {
                while streams.try_join_next().is_some() {}
                if !io.shared.admit(streams.len()) {
                    debug!(%from, "too many inbound streams; connection closed");
                    continue;
                }
                streams.spawn(serve(Arc::clone(&io), stream, from).in_current_span());
            }
            Err(err) => {
                warn!(%err, "accept failed");
                sleep(ACCEPT_RETRY).await;
            }
        }
    }
}

/// Runs one step of a stream (connect, write or read) under the stream
/// timeout.
async fn timeout<T, E: Into<FrameError>>(
    limit: Duration,
    step: impl Future<Output = Result<T, E>>,
) -> Result<T, FrameError> {
    match tokio::time::timeout(limit, step).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(FrameError::TimedOut),
    }
}

/// Reads one length-prefixed frame of at most `max` bytes.
async fn read_frame(stream: &mut TcpStream, max: usize) -> Result<Vec<u8>, FrameError> {
    let mut reader = FrameReader::new(max);
    loop {
        let n = stream.read(reader.buf()).await?;
        if let Some(body) = reader.advance(n)? {
            return Ok(body);
        }
    }
}

/// Serves one inbound stream: one request frame in, one reply frame out.
async fn serve(io: Arc<Io>, mut stream: TcpStream, from: SocketAddr) {
    let limit = io.stream_timeout;
    let body = match timeout(limit, read_frame(&mut stream, io.max_frame_len)).await {
        Ok(body) => body,
        Err(err) => {
            debug!(%from, %err, "inbound stream failed");
            return io.shared.read_failed(&err);
        }
    };
    let (tx, rx) = oneshot::channel();
    let reply = move |payload| drop(tx.send(payload));
    io.shared.request(io.clock.now(), from, &body, reply);
    if let Ok(Some(payload)) = rx.await
        && let Err(err) = timeout(limit, stream.write_all(&frame::encode(&payload))).await
    {
        debug!(%from, %err, "reply not sent");
    }
}

/// Carries out one outbound stream exchange and hands its outcome back.
async fn request(io: Arc<Io>, id: RequestId, to: SocketAddr, payload: Vec<u8>) {
    let result = exchange(&io, to, &payload).await;
    if let Err(err) = &result {
        debug!(%to, %err, "stream request failed");
    }
    io.shared.response(io.clock.now(), id, result);
}

async fn exchange(io: &Io, to: SocketAddr, payload: &[u8]) -> Result<Vec<u8>, StreamError> {
    let limit = io.stream_timeout;
    let connected = timeout(limit, TcpStream::connect(to)).await;
    let mut stream = connected.map_err(FrameError::connecting)?;
    timeout(limit, stream.write_all(&frame::encode(payload))).await?;
    Ok(timeout(limit, read_frame(&mut stream, io.max_frame_len)).await?)
}

/// Resolves one name and hands the answer back.
async fn resolve(io: Arc<Io>, name: String) {
    let result = match &io.resolver {
        Ok(resolver) => match resolver.lookup_ip(name.as_str()).await {
            Ok(lookup) => Ok(lookup.iter().collect()),
            Err(err) => Err(ResolveError(err.to_string())),
        },
        Err(err) => Err(ResolveError(format!("no resolver: {err}"))),
    };
    if let Err(err) = &result {
        debug!(%name, %err, "resolution failed");
    }
    io.shared.resolved(io.clock.now(), &name, result);
}
