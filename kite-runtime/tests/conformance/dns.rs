//! Join by name against a real DNS server running in-process (hickory-server
//! on loopback): every address of the answer is joined, an address that
//! appears later is joined without another call (at the refresh interval,
//! whatever the TTL), and a name that does not resolve is an error that
//! says why, for A and AAAA.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::rr::rdata::{A, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use kite_runtime::{Event, JoinError, NodeId};

use crate::api::Runtime;
use crate::support::{PORT, addr, eventually, options, sees_alive, start};

const ZONE: &str = "kite.test.";
const NAME: &str = "nodes.kite.test.";

type Zone = InMemoryZoneHandler<TokioRuntimeProvider>;

/// An A record for `NAME`, valid for `ttl` seconds.
fn a_record(ip: Ipv4Addr, ttl: u32) -> Record {
    Record::from_rdata(Name::from_str(NAME).unwrap(), ttl, RData::A(A(ip)))
}

/// A DNS server on `at` (UDP and TCP) answering `NAME` with `ips`, each
/// valid for `ttl` seconds.
async fn serve(at: SocketAddr, ttl: u32, ips: &[Ipv4Addr]) -> (Server<Catalog>, Arc<Zone>) {
    let origin = Name::from_str(ZONE).unwrap();
    let mut zone = Zone::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
    let ns = Name::from_str("ns.kite.test.").unwrap();
    let admin = Name::from_str("admin.kite.test.").unwrap();
    let soa = SOA::new(ns, admin, 1, 60, 60, 60, 0);
    assert!(zone.upsert_mut(Record::from_rdata(origin.clone(), 0, RData::SOA(soa)), 1));
    for ip in ips {
        assert!(zone.upsert_mut(a_record(*ip, ttl), 1));
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

/// Asks the server to add an address to the answer; it replies once it is in.
type Add = (Ipv4Addr, mpsc::Sender<()>);

/// The DNS server, on a tokio runtime of its own thread whatever runtime the
/// scenario runs on. Dropping it stops the server.
struct DnsServer {
    add: Option<tokio::sync::mpsc::UnboundedSender<Add>>,
    thread: Option<JoinHandle<()>>,
}

impl DnsServer {
    /// Answers `NAME` with `ips` (and every address added later), each valid
    /// for `ttl` seconds.
    fn start(at: SocketAddr, ttl: u32, ips: Vec<Ipv4Addr>) -> DnsServer {
        let (add, mut added) = tokio::sync::mpsc::unbounded_channel::<Add>();
        let (ready, serving) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let (mut server, zone) = serve(at, ttl, &ips).await;
                ready.send(()).unwrap();
                let mut serial = 1;
                while let Some((ip, done)) = added.recv().await {
                    serial += 1;
                    assert!(zone.upsert(a_record(ip, ttl), serial).await);
                    done.send(()).unwrap();
                }
                server.shutdown_gracefully().await.unwrap();
            });
        });
        serving.recv().unwrap();
        DnsServer {
            add: Some(add),
            thread: Some(thread),
        }
    }

    fn add(&self, ip: Ipv4Addr) {
        let (done, added) = mpsc::channel();
        self.add.as_ref().unwrap().send((ip, done)).unwrap();
        added.recv().unwrap();
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        drop(self.add.take());
        self.thread.take().unwrap().join().unwrap();
    }
}

pub(crate) async fn joining_a_name_joins_every_address_and_follows_the_answer_as_it_grows<
    R: Runtime,
>() {
    const SCENARIO: u8 = 6;
    let dns = addr::<R>(SCENARIO, 53);
    let ip = |host| Ipv4Addr::new(127, R::NET, SCENARIO, host);
    // TTL 0: answers are not meant to be cached.
    let server = DnsServer::start(dns, 0, vec![ip(1), ip(2), ip(3)]);

    let mut members = Vec::new();
    for host in 1..=4 {
        members.push(start::<R::Rt>(options(addr::<R>(SCENARIO, host))).await);
    }
    let ids: Vec<NodeId> = members.iter().map(|(k, _)| k.local_id().clone()).collect();
    let joiner_options = options(addr::<R>(SCENARIO, 10))
        .name_servers([dns])
        .dns_refresh_interval(Duration::from_millis(200));
    let (joiner, seen) = start::<R::Rt>(joiner_options).await;

    // The join returns with the first answer; the other two addresses
    // answer on their own, each reported as an event.
    let first = joiner
        .join(&[format!("{}:{PORT}", NAME.trim_end_matches('.'))])
        .await
        .unwrap();
    assert!(
        matches!(&first[..], [id] if ids[..3].contains(id)),
        "{first:?}"
    );
    let answered = || -> BTreeSet<NodeId> {
        let later = seen.events().into_iter().filter_map(|e| match e {
            Event::JoinTargetCompleted { result, .. } => result.ok(),
            _ => None,
        });
        first.iter().cloned().chain(later).collect()
    };
    eventually::<R>(
        "every address of the answer answered",
        Duration::from_secs(20),
        || answered() == ids[..3].iter().cloned().collect(),
    )
    .await;
    eventually::<R>(
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
    server.add(ip(4));
    let mut everyone = ids.clone();
    everyone.push(joiner.local_id().clone());
    eventually::<R>(
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
}

pub(crate) async fn a_name_that_does_not_resolve_is_a_join_error<R: Runtime>() {
    const SCENARIO: u8 = 7;
    let dns = addr::<R>(SCENARIO, 53);
    let _server = DnsServer::start(dns, 0, Vec::new());
    let (kite, _) = start::<R::Rt>(options(addr::<R>(SCENARIO, 20)).name_servers([dns])).await;
    let err = kite.join(&["missing.kite.test"]).await.unwrap_err();
    let JoinError::NoneJoined { failures } = &err else {
        panic!("{err}");
    };
    // Both lookups failed, and the reason says so for each.
    let reason = &failures[0].reason;
    assert!(
        reason.contains("the A lookup failed") && reason.contains("the AAAA lookup failed"),
        "{reason}"
    );
    kite.shutdown().await;
}

pub(crate) async fn a_new_address_is_joined_at_the_refresh_interval_whatever_the_ttl<R: Runtime>() {
    const SCENARIO: u8 = 32;
    // Far longer than the refresh interval, and than the wait below.
    const TTL: u32 = 60;
    let dns = addr::<R>(SCENARIO, 53);
    let ip = |host| Ipv4Addr::new(127, R::NET, SCENARIO, host);
    let server = DnsServer::start(dns, TTL, vec![ip(1)]);
    let (first, _) = start::<R::Rt>(options(addr::<R>(SCENARIO, 1))).await;
    // Nobody knows this one: only the name's answer can lead to it.
    let (second, _) = start::<R::Rt>(options(addr::<R>(SCENARIO, 2))).await;
    let joiner_options = options(addr::<R>(SCENARIO, 10))
        .name_servers([dns])
        .dns_refresh_interval(Duration::from_millis(200));
    let (joiner, _) = start::<R::Rt>(joiner_options).await;
    let name = format!("{}:{PORT}", NAME.trim_end_matches('.'));
    let joined = joiner.join(&[name]).await.unwrap();
    assert_eq!(joined, vec![first.local_id().clone()]);

    server.add(ip(2));
    eventually::<R>(
        "the joiner finds the address added to the answer",
        Duration::from_secs(10),
        || sees_alive(&joiner, &[second.local_id().clone()]),
    )
    .await;

    for kite in [&joiner, &first, &second] {
        kite.shutdown().await;
    }
}
