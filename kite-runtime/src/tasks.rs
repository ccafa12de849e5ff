//! The node's tasks, the only code that turns the core's outputs into I/O
//! and I/O into the core's inputs:
//!
//! ```text
//! receive ──datagrams──▶ Shared (core) ◀──request/response/resolved── serve, request, resolve
//!                          │ turn()
//!                          ▼
//!                        drive ──Transmit──▶ UDP socket
//!                              ──Request───▶ spawns `request` (connect, write, read)
//!                              ──Resolve───▶ spawns `resolve` (hickory on the runtime)
//!                              ──Response──▶ the `serve` task of that inbound stream
//!                              ──Event─────▶ join/leave callers, event streams, watchers
//! accept ──one `serve` task per inbound stream
//! ```
//!
//! Every task runs until the node stops: [`Io::spawn`] races it against the
//! stop signal, so stopping drops every task's future, and its sockets, the
//! next time the runtime polls it.

use core::future::{Future, poll_fn};
use core::net::SocketAddr;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;
use std::sync::Arc;
use std::time::Instant;

use async_channel::Receiver;
use futures_lite::future;
use hickory_resolver::Resolver;
use kite_proto::{Output, RequestId, ResolveError, StreamError};
use tracing::{Instrument, Span, debug, warn};

use crate::dns::{self, Provider};
use crate::frame::{FrameError, read_frame, timeout, write_frame};
use crate::runtime::{Runtime, TcpListener, UdpSocket};
use crate::shared::Shared;

/// Size of the datagram receive buffer: the largest UDP payload, whatever
/// `max_packet_size` says.
const RECV_BUFFER: usize = 64 * 1024;

/// How long to wait after a datagram receive failed before receiving again.
const RECV_RETRY: Duration = Duration::from_millis(10);

/// How long to wait after accepting a stream failed (out of file
/// descriptors, usually) before accepting again, so some streams can end.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// What every task of a node holds. The last task to end drops it, and with
/// it the sender that [`Kite::shutdown`](crate::Kite::shutdown) waits on.
pub(crate) struct Io<R: Runtime> {
    pub(crate) runtime: R,
    pub(crate) shared: Arc<Shared>,
    pub(crate) stream_timeout: Duration,
    pub(crate) max_frame_len: usize,
    pub(crate) resolver: Result<Resolver<Provider<R>>, String>,
    /// Closed when the node stops; never carries a message.
    pub(crate) stopped: Receiver<()>,
    /// Held by every task; its receiver sees the channel close once all
    /// tasks have ended.
    pub(crate) running: async_channel::Sender<()>,
    /// The `kite{node=<id>}` span every task runs in.
    pub(crate) span: Span,
    /// Inbound streams being served.
    pub(crate) serving: AtomicUsize,
}

impl<R: Runtime> Io<R> {
    /// Spawns `task` on the runtime, in the node's span, until it ends or
    /// the node stops.
    pub(crate) fn spawn(self: &Arc<Self>, task: impl Future<Output = ()> + Send + 'static) {
        let stopped = self.stopped.clone();
        let running = self.running.clone();
        let task = async move {
            let until_stopped = async move {
                // Nothing is ever sent: this returns when the channel closes.
                let _ = stopped.recv().await;
            };
            future::or(task, until_stopped).await;
            drop(running);
        };
        self.runtime.spawn(task.instrument(self.span.clone()));
    }
}

/// The driver task: turns after every wake-up and at the core's deadline,
/// and carries out the outputs.
pub(crate) async fn drive<R: Runtime>(io: Arc<Io<R>>, udp: Arc<R::Udp>, woken: Receiver<()>) {
    let mut rejected = [0; 4];
    loop {
        let turn = io.shared.turn(io.shared.now());
        if let Some(metrics) = turn.metrics {
            metrics.publish(io.shared.local_id());
            metrics.warn_of_rejections(&mut rejected);
        }
        for output in turn.outputs {
            match output {
                Output::Transmit { to, payload } => {
                    if let Err(err) = poll_fn(|cx| udp.poll_send_to(cx, &payload, to)).await {
                        debug!(%to, %err, "datagram not sent");
                    }
                }
                Output::Request { id, to, payload } => {
                    io.spawn(request(Arc::clone(&io), id, to, payload));
                }
                Output::Resolve { name } => io.spawn(resolve(Arc::clone(&io), name)),
                Output::Response { id, payload } => io.shared.reply(id, payload),
                Output::Event(event) => {
                    debug!(?event, "event");
                    io.shared.tell(&event);
                }
                // `turn` stops at the deadline, which it returns apart.
                Output::Timeout(_) => {}
            }
        }
        let deadline = R::sleep_until(io.shared.instant(turn.deadline));
        let woken = async {
            // The sender lives in `io.shared`, so this never ends early.
            let _ = woken.recv().await;
        };
        future::or(deadline, woken).await;
    }
}

/// The UDP receive loop: hands the datagrams to the core, a batch per lock.
pub(crate) async fn receive<R: Runtime>(io: Arc<Io<R>>, udp: Arc<R::Udp>) {
    let mut buf = vec![0; RECV_BUFFER];
    loop {
        match poll_fn(|cx| udp.poll_recv_from(cx, &mut buf)).await {
            Ok(first) => io
                .shared
                .datagrams(&mut buf, first, |buf| udp.try_recv_from(buf).ok()),
            Err(err) => {
                debug!(%err, "datagram receive failed");
                R::sleep_until(Instant::now() + RECV_RETRY).await;
            }
        }
    }
}

/// The TCP accept loop: serves each inbound stream in a task of its own.
pub(crate) async fn accept<R: Runtime>(io: Arc<Io<R>>, listener: R::Listener) {
    loop {
        match poll_fn(|cx| listener.poll_accept(cx)).await {
            Ok((stream, from)) => {
                if !io.shared.admit(io.serving.load(Ordering::Relaxed)) {
                    debug!(%from, "too many inbound streams; connection closed");
                    continue;
                }
                io.serving.fetch_add(1, Ordering::Relaxed);
                io.spawn(serve(Arc::clone(&io), stream, from));
            }
            Err(err) => {
                warn!(%err, "accept failed");
                R::sleep_until(Instant::now() + ACCEPT_RETRY).await;
            }
        }
    }
}

/// Counts an inbound stream as served until it is dropped.
struct Serving<'a>(&'a AtomicUsize);

impl Drop for Serving<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one inbound stream: one request frame in, one reply frame out.
async fn serve<R: Runtime>(io: Arc<Io<R>>, mut stream: R::Stream, from: SocketAddr) {
    let _serving = Serving(&io.serving);
    let limit = io.stream_timeout;
    let body = match timeout::<R, _, _>(limit, read_frame(&mut stream, io.max_frame_len)).await {
        Ok(body) => body,
        Err(err) => {
            debug!(%from, %err, "inbound stream failed");
            if let FrameError::Bad(_) = err {
                io.shared.bad_frame();
            }
            return;
        }
    };
    let reply = io.shared.request(from, &body);
    if let Ok(payload) = reply.recv().await
        && let Err(err) = timeout::<R, _, _>(limit, write_frame(&mut stream, &payload)).await
    {
        debug!(%from, %err, "reply not sent");
    }
}

/// Carries out one outbound stream exchange and hands its outcome back.
async fn request<R: Runtime>(io: Arc<Io<R>>, id: RequestId, to: SocketAddr, payload: Vec<u8>) {
    let result = exchange(&io, to, &payload).await;
    if let Err(err) = &result {
        debug!(%to, %err, "stream request failed");
    }
    io.shared.response(id, result);
}

async fn exchange<R: Runtime>(
    io: &Io<R>,
    to: SocketAddr,
    payload: &[u8],
) -> Result<Vec<u8>, StreamError> {
    let limit = io.stream_timeout;
    let connected = timeout::<R, _, _>(limit, io.runtime.connect_tcp(to)).await;
    let mut stream = connected.map_err(FrameError::connecting)?;
    timeout::<R, _, _>(limit, write_frame(&mut stream, payload)).await?;
    Ok(timeout::<R, _, _>(limit, read_frame(&mut stream, io.max_frame_len)).await?)
}

/// Resolves one name and hands the answer back.
async fn resolve<R: Runtime>(io: Arc<Io<R>>, name: String) {
    let result = match &io.resolver {
        Ok(resolver) => dns::lookup(resolver, &name).await,
        Err(err) => Err(ResolveError(format!("no resolver: {err}"))),
    };
    if let Err(err) = &result {
        debug!(%name, %err, "resolution failed");
    }
    io.shared.resolved(&name, result);
}
