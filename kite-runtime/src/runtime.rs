//! The [`Runtime`] trait: the handful of things the node needs from an
//! async executor. `kite-tokio` and `kite-async-std` implement it; nothing
//! else of theirs is needed to run a node.

use core::fmt;
use core::future::Future;
use core::net::SocketAddr;
use core::task::{Context, Poll, ready};
use std::io;
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};

/// An async executor with its sockets and timers, as the node uses them:
/// spawn a task, sleep until an instant, bind a UDP socket, listen on and
/// connect over TCP.
///
/// Implement it to run Kite on an executor of your own; the node itself
/// ([`Kite`](crate::Kite)), its stream framing, DNS, watchers and metrics
/// come with this crate. The implementations in `kite-tokio` and
/// `kite-async-std` are short and make good templates.
///
/// Sockets are bound non-blocking by the runtime; `spawn`ed tasks must run
/// without the caller polling them (they are detached: the node stops them
/// itself, cooperatively).
pub trait Runtime: Clone + fmt::Debug + Send + Sync + Unpin + 'static {
    /// A bound UDP socket.
    type Udp: UdpSocket;
    /// A listening TCP socket whose connections are [`Runtime::Stream`]s.
    type Listener: TcpListener<Stream = Self::Stream>;
    /// A connected TCP stream.
    type Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static;
    /// What [`Runtime::sleep_until`] returns.
    type Sleep: Future<Output = ()> + Send + 'static;

    /// Runs `task` in the background until it completes.
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static);

    /// A future that completes at `deadline` (at once if it has passed).
    /// It takes no `self` because hickory-resolver's timers have none.
    fn sleep_until(deadline: Instant) -> Self::Sleep;

    /// Binds a UDP socket at `addr`.
    fn bind_udp(&self, addr: SocketAddr) -> io::Result<Self::Udp>;

    /// Listens for TCP connections at `addr`. A node restarted on the same
    /// address must be able to listen again at once (`SO_REUSEADDR`).
    fn listen_tcp(&self, addr: SocketAddr) -> io::Result<Self::Listener>;

    /// Opens a TCP connection to `addr`.
    fn connect_tcp(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send + 'static;
}

/// A bound, non-blocking UDP socket, in the readiness style of mio: the
/// runtime says when the socket may be ready, and `try_` calls do the work
/// (the retry loop is written once, in the provided `poll_` methods).
pub trait UdpSocket: Send + Sync + Unpin + 'static {
    /// Ready when a datagram may be waiting; otherwise registers `cx` to be
    /// woken then.
    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Ready when a datagram may be sent; otherwise registers `cx` to be
    /// woken then.
    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Receives one datagram into `buf` if one is waiting, without waiting
    /// (`WouldBlock` otherwise, which also clears the runtime's readiness).
    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;

    /// Sends `buf` as one datagram to `to` if the socket can send now
    /// (`WouldBlock` otherwise, which also clears the runtime's readiness).
    fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize>;

    /// The address the socket is bound to.
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// Receives one datagram into `buf`, or registers `cx` to be woken when
    /// one may be waiting.
    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        loop {
            match self.try_recv_from(buf) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.poll_readable(cx))?;
                }
                result => return Poll::Ready(result),
            }
        }
    }

    /// Sends `buf` as one datagram to `to`, or registers `cx` to be woken
    /// when the socket may send.
    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        to: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.try_send_to(buf, to) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.poll_writable(cx))?;
                }
                result => return Poll::Ready(result),
            }
        }
    }
}

/// A listening, non-blocking TCP socket.
pub trait TcpListener: Send + Sync + 'static {
    /// A connection it accepts.
    type Stream;

    /// Accepts one connection, or registers `cx` to be woken when one is
    /// waiting.
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Stream, SocketAddr)>>;
}
