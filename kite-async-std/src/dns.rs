//! hickory-resolver on async-io: its runtime provider (UDP and TCP sockets,
//! timers, background tasks) over the same reactor and executor as the node.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::io::{AsyncRead, AsyncWrite};
use hickory_resolver::net::runtime::{DnsTcpStream, DnsUdpSocket, RuntimeProvider, Spawn, Time};

use crate::{spawn, within};

/// How long a TCP connection to a name server may take when hickory does
/// not say (hickory's own default).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs hickory's sockets, timers and background tasks on async-io and the
/// node's executor.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AsyncIoProvider;

/// Spawns hickory's background tasks on the node's executor.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Spawner;

impl Spawn for Spawner {
    fn spawn_bg(&mut self, future: impl Future<Output = ()> + Send + 'static) {
        spawn(future).detach();
    }
}

/// async-io's timers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AsyncIoTime;

#[async_trait::async_trait]
impl Time for AsyncIoTime {
    async fn delay_for(duration: Duration) {
        Timer::after(duration).await;
    }

    async fn timeout<F: 'static + Future + Send>(
        duration: Duration,
        future: F,
    ) -> Result<F::Output, io::Error> {
        within(duration, future)
            .await
            .ok_or_else(|| io::ErrorKind::TimedOut.into())
    }
}

/// A UDP socket for DNS queries.
pub(crate) struct Udp(Async<UdpSocket>);

impl DnsUdpSocket for Udp {
    type Time = AsyncIoTime;

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        loop {
            match self.0.get_ref().recv_from(buf) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.0.poll_readable(cx))?;
                }
                result => return Poll::Ready(result),
            }
        }
    }

    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.0.get_ref().send_to(buf, target) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.0.poll_writable(cx))?;
                }
                result => return Poll::Ready(result),
            }
        }
    }
}

/// A TCP connection for DNS queries.
pub(crate) struct Tcp(Async<TcpStream>);

impl DnsTcpStream for Tcp {
    type Time = AsyncIoTime;
}

impl AsyncRead for Tcp {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tcp {
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
        Pin::new(&mut self.0).poll_close(cx)
    }
}

type Connecting<T> = Pin<Box<dyn Send + Future<Output = io::Result<T>>>>;

impl RuntimeProvider for AsyncIoProvider {
    type Handle = Spawner;
    type Timer = AsyncIoTime;
    type Udp = Udp;
    type Tcp = Tcp;

    fn create_handle(&self) -> Spawner {
        Spawner
    }

    fn connect_tcp(
        &self,
        server_addr: SocketAddr,
        bind_addr: Option<SocketAddr>,
        timeout: Option<Duration>,
    ) -> Connecting<Tcp> {
        Box::pin(async move {
            // Kite never configures a source address for name servers.
            if bind_addr.is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "a source address for DNS over TCP is not supported",
                ));
            }
            let connect = Async::<TcpStream>::connect(server_addr);
            let limit = timeout.unwrap_or(CONNECT_TIMEOUT);
            let stream = within(limit, connect).await;
            stream
                .unwrap_or_else(|| Err(io::ErrorKind::TimedOut.into()))
                .map(Tcp)
        })
    }

    fn bind_udp(&self, local_addr: SocketAddr, _server_addr: SocketAddr) -> Connecting<Udp> {
        Box::pin(async move { Async::<UdpSocket>::bind(local_addr).map(Udp) })
    }
}
