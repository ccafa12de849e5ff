//! Join by name against a real DNS server running in-process (hickory-server
//! on loopback): every address of the answer is joined, and an address that
//! appears later is joined without another call.

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use common::{addr, eventually, options, sees_alive, start};
use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::rr::rdata::{A, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use kite_tokio::{Event, NodeId};

const RANGE: u8 = 16;
const PORT: u16 = 17_016;
const ZONE: &str = "kite.test.";
const NAME: &str = "nodes.kite.test.";

type Zone = InMemoryZoneHandler<TokioRuntimeProvider>;

/// An A record with TTL 0, so every refresh sees the current answer.
fn a_record(ip: Ipv4Addr) -> Record {
    Record::from_rdata(Name::from_str(NAME).unwrap(), 0, RData::A(A(ip)))
}

/// A DNS server on `at` (UDP and TCP) answering `NAME` with `ips`.
async fn dns_server(at: SocketAddr, ips: &[Ipv4Addr]) -> (Server<Catalog>, Arc<Zone>) {
    let origin = Name::from_str(ZONE).unwrap();
    let mut zone = Zone::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
    let ns = Name::from_str("ns.kite.test.").unwrap();
    let admin = Name::from_str("admin.kite.test.").unwrap();
    let soa = SOA::new(ns, admin, 1, 60, 60, 60, 0);
    assert!(zone.upsert_mut(Record::from_rdata(origin.clone(), 0, RData::SOA(soa)), 1));
    for ip in ips {
        assert!(zone.upsert_mut(a_record(*ip), 1));
    }
    let zone = Arc::new(zone);
    let mut catalog = Catalog::new();
    let handler: Arc<dyn ZoneHandler> = zone.clone();
    catalog.upsert(LowerName::new(&origin), vec![handler]);
    let mut server = Server::new(catalog);
    server.register_socket(tokio::net::UdpSocket::bind(at).await.unwrap());
    let tcp = tokio::net::TcpListener::bind(at).await.unwrap();
    server.register_listener(tcp, Duration::from_secs(5), 64);
    (server, zone)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_a_name_joins_every_address_and_follows_the_answer_as_it_grows() {
    let dns = addr(RANGE, 53, 17_053);
    let ip = |host| Ipv4Addr::new(127, 0, RANGE, host);
    let (mut server, zone) = dns_server(dns, &[ip(1), ip(2), ip(3)]).await;

    let mut members = Vec::new();
    for host in 1..=4 {
        members.push(start(options(addr(RANGE, host, PORT))).await);
    }
    let ids: Vec<NodeId> = members.iter().map(|(k, _)| k.local_id().clone()).collect();
    let joiner_options = options(addr(RANGE, 10, PORT))
        .name_servers([dns])
        .dns_refresh_interval(Duration::from_millis(200));
    let (joiner, seen) = start(joiner_options).await;

    let joined: BTreeSet<NodeId> = joiner
        .join(&[format!("{}:{PORT}", NAME.trim_end_matches('.'))])
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(joined, ids[..3].iter().cloned().collect());
    eventually(
        "the first three members and the joiner know each other",
        Duration::from_secs(20),
        || {
            let mut all = ids[..3].to_vec();
            all.push(joiner.local_id().clone());
            sees_alive(&joiner, &all) && members[..3].iter().all(|(k, _)| sees_alive(k, &all))
        },
    )
    .await;
    assert!(
        joiner.node(&ids[3]).is_none(),
        "the fourth member is not in the answer yet"
    );

    // The answer grows: the fourth member is joined without another call.
    assert!(zone.upsert(a_record(ip(4)), 2).await);
    let mut everyone = ids.clone();
    everyone.push(joiner.local_id().clone());
    eventually(
        "everyone, the fourth member included, knows everyone",
        Duration::from_secs(30),
        || sees_alive(&joiner, &everyone) && members.iter().all(|(k, _)| sees_alive(k, &everyone)),
    )
    .await;
    let fourth_joined = seen
        .events()
        .iter()
        .any(|e| matches!(e, Event::NodeJoined { id, .. } if *id == ids[3]));
    assert!(fourth_joined);

    joiner.shutdown().await;
    for (kite, _) in &members {
        kite.shutdown().await;
    }
    server.shutdown_gracefully().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_does_not_resolve_is_a_join_error() {
    let dns = addr(RANGE, 54, 17_054);
    let (mut server, _zone) = dns_server(dns, &[]).await;
    let (kite, _) = start(options(addr(RANGE, 20, PORT)).name_servers([dns])).await;
    let err = kite.join(&["missing.kite.test"]).await.unwrap_err();
    assert!(
        matches!(err, kite_tokio::JoinError::NoneJoined { .. }),
        "{err}"
    );
    kite.shutdown().await;
    server.shutdown_gracefully().await.unwrap();
}
