use core::time::Duration;
use std::sync::mpsc;

use super::*;
use crate::event::NodeStatus;
use crate::rng::SeededRng;

fn driver(i: u8, watchers: Vec<Arc<dyn Watcher>>) -> Driver {
    let settings = Options::new()
        .node_id(NodeId::new(format!("n{i}")).unwrap())
        .gossip_interval(Duration::from_millis(100))
        .validate()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, i], 7000));
    let config = settings.core_config(settings.advertise_for(addr, &[]));
    Driver::new(
        config,
        watchers,
        SeededRng::from_seed_u64(u64::from(i)),
        Timestamp::ZERO,
    )
    .unwrap()
}

/// Carries every action between two drivers until both are idle, the way an
/// adapter would over sockets.
fn exchange(pair: &mut [Driver; 2], now: Timestamp) {
    let addr = |d: &Driver| d.node().config().advertise_addr;
    let mut busy = true;
    while busy {
        busy = false;
        for i in 0..2 {
            let batch = pair[i].poll(now);
            batch.notices.deliver();
            let from = addr(&pair[i]);
            let j = 1 - i;
            for action in batch.actions {
                busy = true;
                match action {
                    Action::Transmit { payload, .. } => {
                        pair[j].handle_datagram(now, from, &payload)
                    }
                    Action::Request { id, payload, .. } => {
                        let (tx, rx) = mpsc::channel();
                        pair[j].handle_request(now, from, &payload, move |reply| {
                            tx.send(reply).unwrap()
                        });
                        pair[j].poll(now).notices.deliver();
                        let reply = rx.recv().unwrap();
                        let result = reply.as_deref().ok_or(StreamError::Closed);
                        pair[i].handle_response(now, id, result);
                    }
                    Action::Resolve { .. } => unreachable!("no names in this test"),
                }
            }
        }
    }
}

#[test]
fn join_outcome_reaches_its_caller_and_events_reach_every_listener() {
    let (wtx, wrx) = mpsc::channel::<Event>();
    let wtx = Mutex::new(wtx);
    let watcher = move |event: &Event| wtx.lock().unwrap().send(event.clone()).unwrap();
    let mut pair = [driver(1, vec![Arc::new(watcher)]), driver(2, Vec::new())];
    pair[1].upsert_local("rpc_addr", "127.0.0.2:9000").unwrap();
    let (stx, srx) = mpsc::channel::<Event>();
    pair[0].subscribe(move |event| stx.send(event.clone()).is_ok());
    let (jtx, jrx) = mpsc::channel();
    pair[0]
        .join(Timestamp::ZERO, &["127.0.0.2:7000"], move |result| {
            jtx.send(result).unwrap()
        })
        .unwrap();
    exchange(&mut pair, Timestamp::ZERO);
    let n2: NodeId = "n2".parse().unwrap();
    assert_eq!(jrx.try_recv().unwrap(), Ok(vec![n2.clone()]));
    let seen: Vec<Event> = wrx.try_iter().collect();
    assert_eq!(
        seen,
        srx.try_iter().collect::<Vec<_>>(),
        "watchers and subscribers see the same"
    );
    let upserted = Event::KeyUpserted {
        id: n2.clone(),
        key: "rpc_addr".into(),
        value: "127.0.0.2:9000".into(),
    };
    let joined = seen
        .iter()
        .position(|e| matches!(e, Event::NodeJoined { id, .. } if *id == n2));
    let keyed = seen.iter().position(|e| *e == upserted);
    assert!(joined.unwrap() < keyed.unwrap(), "{seen:?}");
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::JoinCompleted { .. }))
    );
    let values = pair[0].metrics();
    assert_eq!(values.nodes, [("alive", 2), ("down", 0), ("left", 0)]);
    assert_eq!(values.counters[1], 1, "one outbound connection");
}

#[test]
fn closed_subscribers_are_dropped_and_per_kind_watcher_methods_fire() {
    struct Downs(Mutex<Vec<NodeId>>);
    impl Watcher for Downs {
        fn on_node_joined(&self, id: &NodeId, _addr: SocketAddr) {
            self.0.lock().unwrap().push(id.clone());
        }
    }
    let downs = Arc::new(Downs(Mutex::new(Vec::new())));
    let mut pair = [driver(1, vec![downs.clone()]), driver(2, Vec::new())];
    let (stx, srx) = mpsc::channel::<Event>();
    pair[0].subscribe(move |event| stx.send(event.clone()).is_ok());
    drop(srx);
    pair[0]
        .join(Timestamp::ZERO, &["127.0.0.2:7000"], |_| {})
        .unwrap();
    exchange(&mut pair, Timestamp::ZERO);
    assert_eq!(
        *downs.0.lock().unwrap(),
        vec!["n2".parse::<NodeId>().unwrap()]
    );
    pair[0].poll(Timestamp::ZERO);
    assert!(pair[0].listeners.subscribers_len() == 0);
}

#[test]
fn leave_outcome_and_stop_answer_their_callers() {
    let mut alone = driver(1, Vec::new());
    let (tx, rx) = mpsc::channel();
    alone
        .leave(Timestamp::ZERO, move |r| tx.send(r).unwrap())
        .unwrap();
    alone.poll(Timestamp::ZERO).notices.deliver();
    assert_eq!(rx.try_recv().unwrap(), Err(LeaveError::NoPeers));
    assert_eq!(
        alone.leave(Timestamp::ZERO, |_| {}),
        Err(LeaveError::AlreadyLeft)
    );
    assert_eq!(
        alone.metrics().nodes,
        [("alive", 0), ("down", 0), ("left", 1)]
    );

    let mut waiting = driver(2, Vec::new());
    let (tx, rx) = mpsc::channel();
    waiting
        .join(Timestamp::ZERO, &["127.0.0.3:7000"], move |r| {
            tx.send(r).unwrap()
        })
        .unwrap();
    waiting.subscribe(|_| true);
    waiting.stop().deliver();
    assert_eq!(waiting.listeners.subscribers_len(), 0);
    assert_eq!(rx.try_recv().unwrap(), Err(JoinError::Stopped));
    assert_eq!(
        waiting.join(Timestamp::ZERO, &["127.0.0.3:7000"], |_| {}),
        Err(JoinError::Stopped)
    );
    assert_eq!(
        waiting.leave(Timestamp::ZERO, |_| {}),
        Err(LeaveError::Stopped)
    );
    assert!(waiting.is_stopped());
}

#[test]
fn garbage_gets_no_reply_and_bad_frames_count_as_decode_errors() {
    let mut d = driver(1, Vec::new());
    let (tx, rx) = mpsc::channel();
    d.stream_accepted();
    d.handle_request(
        Timestamp::ZERO,
        "127.0.0.9:1".parse().unwrap(),
        b"\x01\x04junk",
        move |r| {
            tx.send(r).unwrap();
        },
    );
    d.bad_frame(&DecodeError::FrameTooLarge {
        len: 1 << 30,
        max: 1 << 22,
    });
    d.handle_datagram(Timestamp::ZERO, "127.0.0.9:1".parse().unwrap(), &[0xff; 10]);
    d.poll(Timestamp::ZERO).notices.deliver();
    assert_eq!(rx.try_recv().unwrap(), None);
    assert_eq!(d.stats().decode_errors, 3);
    assert_eq!(d.metrics().counters[0], 1, "one inbound connection");
    assert_eq!(d.node().peer_count(NodeStatus::Alive), 0);
}

#[test]
fn time_handed_in_late_never_goes_backwards() {
    let mut d = driver(1, Vec::new());
    let later = Timestamp::from_millis(1_000);
    let batch = d.poll(later);
    assert!(batch.deadline > later);
    d.handle_datagram(
        Timestamp::from_millis(10),
        "127.0.0.9:1".parse().unwrap(),
        &[],
    );
    assert_eq!(d.now, later);
}

#[test]
fn shared_handle_wakes_after_commands() {
    let woken = Arc::new(core::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&woken);
    let shared = Shared::new(driver(1, Vec::new()), move || {
        counter.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
    });
    assert_eq!(shared.local_id().as_str(), "n1");
    assert_eq!(shared.advertise_addr(), "127.0.0.1:7000".parse().unwrap());
    shared.upsert_local("k", "v").unwrap();
    assert_eq!(shared.local_node().entries["k"], "v");
    assert_eq!(shared.nodes().len(), 1);
    assert!(shared.node(shared.local_id()).is_some());
    shared
        .join(Timestamp::ZERO, &["127.0.0.2:7000"], |_| {})
        .unwrap();
    assert_eq!(woken.load(core::sync::atomic::Ordering::SeqCst), 1);
    assert!(shared.join(Timestamp::ZERO, &["bad host"], |_| {}).is_err());
    shared.stop();
    assert_eq!(
        shared.leave(Timestamp::ZERO, |_| {}),
        Err(LeaveError::Stopped)
    );
    assert_eq!(shared.stats().stream_requests_out, 1);
    assert_eq!(shared.metrics().counters[1], 1);
}

#[test]
fn shared_turns_batches_and_stream_outcomes() {
    use core::sync::atomic::{AtomicUsize, Ordering};
    let woken = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&woken);
    let settings = Options::new().validate().unwrap();
    let bound: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let shared = Shared::start(&settings, bound, &[], 1, Timestamp::ZERO, move || {
        counter.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    let wakes = || woken.load(Ordering::SeqCst);

    // Metrics at the start, then every PUBLISH_EVERY.
    assert_eq!(shared.turn(Timestamp::ZERO).metrics.len(), 14);
    assert!(shared.turn(Timestamp::ZERO).metrics.is_empty());
    let later = Timestamp::ZERO + metrics::PUBLISH_EVERY;
    assert_eq!(shared.turn(later).metrics.len(), 14);

    // Datagrams come in batches of at most RECV_BATCH, then one wake-up.
    let from: SocketAddr = "127.0.0.9:1".parse().unwrap();
    let mut buf = vec![0xff; 16];
    let mut more = 0;
    shared.datagrams(later, &mut buf, (4, from), |_| {
        more += 1;
        Some((4, from))
    });
    assert_eq!(more, RECV_BATCH - 1);
    assert_eq!(shared.stats().datagrams_in, RECV_BATCH as u64);
    assert_eq!(wakes(), 1);

    // Only unreadable frames count as decode errors.
    assert!(shared.admit(MAX_INBOUND_STREAMS - 1));
    assert!(!shared.admit(MAX_INBOUND_STREAMS));
    let decode_errors = shared.stats().decode_errors;
    shared.read_failed(&FrameError::Closed);
    shared.read_failed(&FrameError::TimedOut);
    shared.read_failed(&FrameError::Bad(DecodeError::Malformed));
    assert_eq!(shared.stats().decode_errors, decode_errors + 1);
    assert_eq!(shared.metrics().counters[0], 1, "one inbound connection");

    // A garbage request is closed without a reply.
    let (tx, rx) = mpsc::channel();
    shared.request(later, from, b"junk", move |reply| tx.send(reply).unwrap());
    assert_eq!(wakes(), 2);
    shared.turn(later);
    assert_eq!(rx.try_recv().unwrap(), None);

    // A failed exchange reaches the caller of `join`.
    let (tx, rx) = mpsc::channel();
    let join = move |result| tx.send(result).unwrap();
    shared.join(later, &["127.0.0.2:7000"], join).unwrap();
    let turn = shared.turn(later);
    let [Action::Request { id, .. }] = turn.actions[..] else {
        panic!("{:?}", turn.actions)
    };
    shared.response(later, id, Err(StreamError::Closed));
    shared.resolved(later, "unasked.example", Ok(Vec::new()));
    assert_eq!(wakes(), 5);
    shared.turn(later);
    assert!(matches!(
        rx.try_recv().unwrap(),
        Err(JoinError::NoneJoined { .. })
    ));
}
