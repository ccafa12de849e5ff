//! hickory-resolver on any [`Runtime`]: its runtime provider (UDP and TCP
//! sockets, timers, background tasks), written once over the trait, so the
//! resolver runs on the node's own executor and reactor.

use core::future::Future;
use core::marker::PhantomData;
use core::net::{IpAddr, SocketAddr};
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::io;
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::future;
use hickory_resolver::Resolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::lookup_ip::LookupIp;
use hickory_resolver::net::runtime::{DnsTcpStream, DnsUdpSocket, RuntimeProvider, Spawn, Time};
use hickory_resolver::proto::rr::RecordType;
use kite_proto::ResolveError;

use crate::frame::within;
use crate::runtime::{Runtime, UdpSocket};

/// How long a TCP connection to a name server may take when hickory does
/// not say (hickory's own default).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The system resolver, or one asking `servers` (over UDP and TCP), on
/// `runtime`, caching nothing.
///
/// Decision: every lookup asks the name server, whatever the answer's TTL.
/// The core already decides how often a name is looked up
/// (`dns_refresh_interval`); a cached answer would hide a grown or shrunk
/// service until its TTL ran out (5 s late with TTL 5 against a 500 ms
/// refresh). Answers are cached for at most zero seconds (positive and
/// negative alike), so none is ever served from the cache; `cache_size` 0
/// would rely on the cache's size bound, which moka (hickory's cache)
/// enforces on a best-effort basis only.
pub(crate) fn resolver<R: Runtime>(
    runtime: R,
    servers: &[SocketAddr],
) -> Result<Resolver<Provider<R>>, String> {
    let provider = Provider(runtime);
    let mut builder = if servers.is_empty() {
        Resolver::builder(provider).map_err(|err| err.to_string())?
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
        Resolver::builder_with_config(config, provider)
    };
    let options = builder.options_mut();
    options.positive_max_ttl = Some(Duration::ZERO);
    options.negative_max_ttl = Some(Duration::ZERO);
    builder.build().map_err(|err| err.to_string())
}

/// The addresses of `name`: its A records or, if it has none, its AAAA
/// records (hickory's default order). Both are asked at once, and A's
/// addresses are used as soon as they arrive. When neither gives an
/// address, the error says what went wrong with each.
pub(crate) async fn lookup<R: Runtime>(
    resolver: &Resolver<Provider<R>>,
    name: &str,
) -> Result<Vec<IpAddr>, ResolveError> {
    let addrs = |record_type| async move {
        match resolver.lookup(name, record_type).await {
            Ok(lookup) => {
                let ips: Vec<IpAddr> = LookupIp::from(lookup).iter().collect();
                match ips.is_empty() {
                    true => Err("no address in the answer".to_owned()),
                    false => Ok(ips),
                }
            }
            Err(err) => Err(err.to_string()),
        }
    };
    let a = addrs(RecordType::A);
    let aaaa = addrs(RecordType::AAAA);
    futures_lite::pin!(a, aaaa);
    // A's answer is taken as soon as it has addresses: a slow or dropped
    // AAAA query does not hold it back. AAAA runs meanwhile, for when A has
    // none.
    let mut aaaa_done = None;
    let a_result = future::poll_fn(|cx| {
        if aaaa_done.is_none()
            && let Poll::Ready(result) = aaaa.as_mut().poll(cx)
        {
            aaaa_done = Some(result);
        }
        a.as_mut().poll(cx)
    })
    .await;
    let a_err = match a_result {
        Ok(ips) => return Ok(ips),
        Err(err) => err,
    };
    let aaaa_result = match aaaa_done {
        Some(result) => result,
        None => aaaa.await,
    };
    aaaa_result.map_err(|aaaa_err| {
        ResolveError(format!(
            "the A lookup failed: {a_err}; the AAAA lookup failed: {aaaa_err}"
        ))
    })
}

/// Runs hickory's sockets, timers and background tasks on a [`Runtime`].
#[derive(Clone, Debug)]
pub(crate) struct Provider<R>(R);

impl<R: Runtime> Spawn for Provider<R> {
    fn spawn_bg(&mut self, future: impl Future<Output = ()> + Send + 'static) {
        self.0.spawn(future);
    }
}

/// The runtime's timers, as hickory wants them (without a value).
pub(crate) struct Timer<R>(PhantomData<fn() -> R>);

#[async_trait::async_trait]
impl<R: Runtime> Time for Timer<R> {
    async fn delay_for(duration: Duration) {
        R::sleep_until(Instant::now() + duration).await;
    }

    async fn timeout<F: 'static + Future + Send>(
        duration: Duration,
        future: F,
    ) -> Result<F::Output, io::Error> {
        within::<R, _>(duration, future)
            .await
            .ok_or_else(|| io::ErrorKind::TimedOut.into())
    }
}

/// A UDP socket for DNS queries.
pub(crate) struct Udp<R: Runtime>(R::Udp);

impl<R: Runtime> DnsUdpSocket for Udp<R> {
    type Time = Timer<R>;

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.0.poll_recv_from(cx, buf)
    }

    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.0.poll_send_to(cx, buf, target)
    }
}

/// A TCP connection for DNS queries.
pub(crate) struct Tcp<R: Runtime>(R::Stream);

impl<R: Runtime> DnsTcpStream for Tcp<R> {
    type Time = Timer<R>;
}

impl<R: Runtime> AsyncRead for Tcp<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<R: Runtime> AsyncWrite for Tcp<R> {
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

impl<R: Runtime> RuntimeProvider for Provider<R> {
    type Handle = Provider<R>;
    type Timer = Timer<R>;
    type Udp = Udp<R>;
    type Tcp = Tcp<R>;

    fn create_handle(&self) -> Provider<R> {
        self.clone()
    }

    fn connect_tcp(
        &self,
        server_addr: SocketAddr,
        bind_addr: Option<SocketAddr>,
        timeout: Option<Duration>,
    ) -> Connecting<Tcp<R>> {
        let connect = self.0.connect_tcp(server_addr);
        Box::pin(async move {
            // Kite never configures a source address for name servers.
            if bind_addr.is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "a source address for DNS over TCP is not supported",
                ));
            }
            let limit = timeout.unwrap_or(CONNECT_TIMEOUT);
            let stream = within::<R, _>(limit, connect).await;
            stream
                .unwrap_or_else(|| Err(io::ErrorKind::TimedOut.into()))
                .map(Tcp)
        })
    }

    fn bind_udp(&self, local_addr: SocketAddr, _server_addr: SocketAddr) -> Connecting<Udp<R>> {
        let socket = self.0.bind_udp(local_addr).map(Udp);
        Box::pin(async move { socket })
    }
}
