//! # kite-tokio
//!
//! Runs a [Kite](kite_runtime) node on tokio: cluster membership and a
//! replicated key-value view of every node, over UDP (gossip) and TCP
//! (join, leave and large state), with DNS join, metrics through the
//! `metrics` facade and logs through `tracing`.
//!
//! This crate is glue: it implements `kite-runtime`'s [`Runtime`] trait for
//! tokio ([`Tokio`]) and re-exports the node's API, written once in
//! `kite-runtime` (how a node runs, its advertise address, DNS and metrics
//! are described there). `kite-async-std` does the same for async-std and
//! smol with the same API, so switching runtime changes the crate name.
//! Nodes are spawned on the tokio runtime [`Kite::start`] is awaited on.
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

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use tokio::io::{AsyncRead as _, AsyncWrite as _, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};

pub use kite_runtime::api::*;

/// A running Kite node on tokio (see [`kite_runtime::Kite`] for every
/// method). Dropping it stops the node; [`shutdown`](kite_runtime::Kite::shutdown)
/// also waits until its ports are free.
pub type Kite = kite_runtime::Kite<Tokio>;

/// The [`Runtime`] for tokio: tasks go to the tokio runtime of the caller
/// (`tokio::spawn`), sockets and timers are tokio's.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tokio;

impl Runtime for Tokio {
    type Udp = Udp;
    type Listener = Listener;
    type Stream = Stream;
    type Sleep = tokio::time::Sleep;

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(task);
    }

    fn sleep_until(deadline: Instant) -> tokio::time::Sleep {
        tokio::time::sleep_until(deadline.into())
    }

    fn bind_udp(&self, addr: SocketAddr) -> io::Result<Udp> {
        let socket = std::net::UdpSocket::bind(addr)?;
        socket.set_nonblocking(true)?;
        tokio::net::UdpSocket::from_std(socket).map(Udp)
    }

    fn listen_tcp(&self, addr: SocketAddr) -> io::Result<Listener> {
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(1024).map(Listener)
    }

    // Not an `async fn`: the future must not borrow `self`.
    #[allow(clippy::manual_async_fn)]
    fn connect_tcp(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<Stream>> + Send + 'static {
        async move { TcpStream::connect(addr).await.map(Stream) }
    }
}

/// A tokio UDP socket.
#[derive(Debug)]
pub struct Udp(tokio::net::UdpSocket);

impl UdpSocket for Udp {
    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_recv_ready(cx)
    }

    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_send_ready(cx)
    }

    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.try_recv_from(buf)
    }

    fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.try_send_to(buf, to)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// A tokio TCP listener.
#[derive(Debug)]
pub struct Listener(tokio::net::TcpListener);

impl TcpListener for Listener {
    type Stream = Stream;

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Stream, SocketAddr)>> {
        let (stream, from) = ready!(self.0.poll_accept(cx))?;
        Poll::Ready(Ok((Stream(stream), from)))
    }
}

/// A tokio TCP stream, read and written through the `futures-io` traits.
#[derive(Debug)]
pub struct Stream(TcpStream);

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read = ReadBuf::new(buf);
        ready!(Pin::new(&mut self.0).poll_read(cx, &mut read))?;
        Poll::Ready(Ok(read.filled().len()))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
