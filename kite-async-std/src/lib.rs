//! # kite-async-std
//!
//! Runs a [Kite](kite_runtime) node under async-std or smol: cluster
//! membership and a replicated key-value view of every node, over UDP
//! (gossip) and TCP (join, leave and large state), with DNS join, metrics
//! through the `metrics` facade and logs through `tracing`.
//!
//! This crate is glue: it implements `kite-runtime`'s [`Runtime`] trait on
//! async-io ([`AsyncIo`]) and re-exports the node's API, written once in
//! `kite-runtime` (how a node runs, its advertise address, DNS and metrics
//! are described there). Its API is that of `kite-tokio`: moving a program
//! between tokio and async-std or smol changes a dependency, not the code.
//!
//! ```
//! use std::time::Duration;
//! use kite_async_std::{Kite, Options};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // `async_std::task::block_on` works the same.
//! smol::block_on(async {
//!     let options = || Options::new().gossip_interval(Duration::from_millis(50));
//!     let a = Kite::start(options().bind_addr("127.0.0.1:0".parse()?)).await?;
//!     let b = Kite::start(options().bind_addr("127.0.0.1:0".parse()?)).await?;
//!     a.upsert_local("rpc_addr", "127.0.0.1:9000")?;
//!     let joined = b.join(&[a.advertise_addr().to_string()]).await?;
//!     assert_eq!(joined, vec![a.local_id().clone()]);
//!     let seen = b.node(a.local_id()).expect("joined");
//!     assert_eq!(seen.entries["rpc_addr"], "127.0.0.1:9000");
//!     b.shutdown().await;
//!     a.shutdown().await;
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Under async-std or smol
//!
//! Sockets and timers are async-io's, the reactor async-std and smol are
//! both built on. The node's tasks run on an executor of this crate
//! (`async-executor`, the one smol is made of), driven by one background
//! thread named `kite-async-std` that the first [`Kite::start`] of the
//! process starts, shared by every node of the process. So a node runs the
//! same whichever of the two runtimes the application uses (or neither),
//! never waits for the application's executor to have a free thread, and
//! the application awaits its methods from any executor.

use std::future::Future;
use std::io;
use std::net::{self, SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use async_executor::Executor;
use async_io::{Async, Timer};
use futures_lite::future;

pub use kite_runtime::api::*;

/// A running Kite node on async-io (see [`kite_runtime::Kite`] for every
/// method). Dropping it stops the node; [`shutdown`](kite_runtime::Kite::shutdown)
/// also waits until its ports are free.
pub type Kite = kite_runtime::Kite<AsyncIo>;

/// The [`Runtime`] on async-io: sockets and timers of the reactor async-std
/// and smol share, tasks on this crate's executor thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncIo;

/// The executor every node of the process shares, whose thread starts with
/// the first task.
///
/// # Panics
///
/// If the process cannot start the thread, as `std::thread::spawn` does.
fn executor() -> &'static Executor<'static> {
    static EXECUTOR: Executor<'static> = Executor::new();
    static THREAD: Once = Once::new();
    THREAD.call_once(|| {
        std::thread::Builder::new()
            .name("kite-async-std".into())
            .spawn(|| async_io::block_on(EXECUTOR.run(future::pending::<()>())))
            .expect("cannot spawn the kite-async-std executor thread");
    });
    &EXECUTOR
}

impl Runtime for AsyncIo {
    type Udp = Udp;
    type Listener = Listener;
    type Stream = Async<TcpStream>;
    type Sleep = Sleep;

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        executor().spawn(task).detach();
    }

    fn sleep_until(deadline: Instant) -> Sleep {
        Sleep(Timer::at(deadline))
    }

    fn bind_udp(&self, addr: SocketAddr) -> io::Result<Udp> {
        Async::<net::UdpSocket>::bind(addr).map(Udp)
    }

    fn listen_tcp(&self, addr: SocketAddr) -> io::Result<Listener> {
        // std sets SO_REUSEADDR on Unix, so a restarted node listens at once.
        Async::<net::TcpListener>::bind(addr).map(Listener)
    }

    fn connect_tcp(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<Async<TcpStream>>> + Send + 'static {
        Async::<TcpStream>::connect(addr)
    }
}

/// An async-io timer that yields `()`.
#[derive(Debug)]
pub struct Sleep(Timer);

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

/// An async-io UDP socket.
#[derive(Debug)]
pub struct Udp(Async<net::UdpSocket>);

impl UdpSocket for Udp {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().local_addr()
    }

    // The socket is non-blocking: these return `WouldBlock` at once.
    fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.get_ref().send_to(buf, to)
    }

    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.get_ref().recv_from(buf)
    }

    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_writable(cx)
    }

    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_readable(cx)
    }
}

/// An async-io TCP listener.
#[derive(Debug)]
pub struct Listener(Async<net::TcpListener>);

impl TcpListener for Listener {
    type Stream = Async<TcpStream>;

    fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Async<TcpStream>, SocketAddr)>> {
        loop {
            match self.0.get_ref().accept() {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.0.poll_readable(cx))?;
                }
                Err(err) => return Poll::Ready(Err(err)),
                Ok((stream, from)) => return Poll::Ready(Async::new(stream).map(|s| (s, from))),
            }
        }
    }
}
