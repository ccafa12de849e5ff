//! kite-tokio's own glue: its `Runtime` implementation over real loopback
//! sockets, bind errors, and names resolved by hickory on tokio. (Every
//! scenario of the node runs on it in kite-runtime's conformance suite.)

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use kite_tokio::{Kite, Options, Runtime, StartError, TcpListener, Tokio, UdpSocket};

/// `127.9.<host>.1:<port>`: addresses no other test of the workspace binds.
fn addr(host: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([127, 9, host, 1], port))
}

#[tokio::test]
async fn udp_datagrams_go_both_ways_through_the_runtime() {
    let a = Tokio.bind_udp(addr(1, 0)).unwrap();
    let b = Tokio.bind_udp(addr(2, 0)).unwrap();
    let (a_at, b_at) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    assert_eq!(a_at.ip(), addr(1, 0).ip());
    let mut buf = [0; 64];
    let nothing = b.try_recv_from(&mut buf).unwrap_err();
    assert_eq!(nothing.kind(), io::ErrorKind::WouldBlock);
    let sent = poll_fn(|cx| a.poll_send_to(cx, b"ping", b_at)).await;
    assert_eq!(sent.unwrap(), 4);
    let (n, from) = poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"ping"[..], a_at));
}

#[tokio::test]
async fn tcp_streams_connect_and_carry_bytes_both_ways() {
    let at = addr(3, 17_001);
    let listener = Tokio.listen_tcp(at).unwrap();
    let client = tokio::spawn(async move {
        let mut stream = Tokio.connect_tcp(at).await.unwrap();
        stream.write_all(b"request").await.unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.unwrap();
        reply
    });
    let (mut stream, _) = poll_fn(|cx| listener.poll_accept(cx)).await.unwrap();
    let mut request = [0; 7];
    stream.read_exact(&mut request).await.unwrap();
    assert_eq!(&request, b"request");
    stream.write_all(b"reply").await.unwrap();
    stream.close().await.unwrap();
    assert_eq!(client.await.unwrap(), b"reply");
    drop(stream);
    drop(listener);
    assert!(Tokio.listen_tcp(at).is_ok(), "listening again at once");
}

#[tokio::test]
async fn sleep_until_waits_for_its_deadline() {
    let start = Instant::now();
    Tokio::sleep_until(start + Duration::from_millis(30)).await;
    assert!(start.elapsed() >= Duration::from_millis(30));
    Tokio::sleep_until(start).await;
}

#[tokio::test]
async fn taken_ports_are_typed_bind_errors() {
    let udp_taken = addr(4, 17_002);
    let _udp = std::net::UdpSocket::bind(udp_taken).unwrap();
    let err = Kite::start(Options::new().bind_addr(udp_taken))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StartError::Bind { protocol: "UDP", addr, .. } if addr == udp_taken),
        "{err}"
    );
    let tcp_taken = addr(5, 17_003);
    let _tcp = std::net::TcpListener::bind(tcp_taken).unwrap();
    let err = Kite::start(Options::new().bind_addr(tcp_taken))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StartError::Bind {
                protocol: "TCP",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("cannot bind TCP on 127.9.5.1:17003")
    );
}

#[tokio::test]
async fn a_name_is_resolved_by_hickory_on_tokio() {
    let options = |port| {
        Options::new()
            .bind_addr(SocketAddr::from(([127, 0, 0, 1], port)))
            .gossip_interval(Duration::from_millis(50))
    };
    let seed = Kite::start(options(17_004)).await.unwrap();
    let joiner = Kite::start(options(17_005)).await.unwrap();
    // `localhost` resolves on the host itself (RFC 6761), never on the network.
    let joined = joiner.join(&["localhost:17004"]).await.unwrap();
    assert_eq!(joined, vec![seed.local_id().clone()]);
    joiner.shutdown().await;
    seed.shutdown().await;
}
