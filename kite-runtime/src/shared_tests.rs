use core::time::Duration;
use std::sync::Mutex;

use kite_proto::NodeStatus;

use super::*;
use crate::metrics::COUNTERS;
use crate::options::Options;

fn node(i: u8, watchers: Vec<Arc<dyn Watcher>>) -> (Shared, Receiver<()>) {
    let options = Options::new()
        .node_id(NodeId::new(format!("n{i}")).unwrap())
        .gossip_interval(Duration::from_millis(100));
    let config = options.core_config(SocketAddr::from(([127, 0, 0, i], 7000)));
    Shared::new(config, watchers, u64::from(i), Instant::now()).unwrap()
}

/// Carries every output between two nodes until both are idle, the way the
/// node's tasks do over sockets.
fn exchange(pair: &[&Shared; 2]) {
    let mut busy = true;
    while busy {
        busy = false;
        for i in 0..2 {
            let (me, peer) = (pair[i], pair[1 - i]);
            let from = me.advertise_addr();
            for output in me.turn(me.now()).outputs {
                busy = true;
                match output {
                    Output::Transmit { payload, .. } => {
                        let mut buf = payload.clone();
                        peer.datagrams(&mut buf, (payload.len(), from), |_| None);
                    }
                    Output::Request { id, payload, .. } => {
                        let reply = peer.request(from, &payload);
                        for output in peer.turn(peer.now()).outputs {
                            match output {
                                Output::Response { id, payload } => peer.reply(id, payload),
                                Output::Event(event) => peer.tell(&event),
                                // A heartbeat to a monitor it just chose.
                                Output::Transmit { payload, .. } => {
                                    let mut buf = payload.clone();
                                    let at = peer.advertise_addr();
                                    me.datagrams(&mut buf, (payload.len(), at), |_| None);
                                }
                                other => panic!("not in this test: {other:?}"),
                            }
                        }
                        me.response(id, reply.try_recv().map_err(|_| StreamError::Closed));
                    }
                    Output::Event(event) => me.tell(&event),
                    other => panic!("not in this test: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn join_outcome_reaches_its_caller_and_events_reach_every_listener() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let watcher = move |event: &Event| record.lock().unwrap().push(event.clone());
    let (a, _) = node(1, vec![Arc::new(watcher)]);
    let (b, _) = node(2, Vec::new());
    b.upsert_local("rpc_addr", "127.0.0.2:9000").unwrap();
    let subscribed = a.subscribe();
    let outcome = a.join(&["127.0.0.2:7000"]).unwrap();
    exchange(&[&a, &b]);
    let n2: NodeId = "n2".parse().unwrap();
    assert_eq!(outcome.try_recv().unwrap(), Ok(vec![n2.clone()]));
    let seen = seen.lock().unwrap().clone();
    let streamed: Vec<Event> = core::iter::from_fn(|| subscribed.try_recv().ok()).collect();
    assert_eq!(seen, streamed, "watchers and subscribers see the same");
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
    let values = a.lock().metrics();
    assert_eq!(values.nodes, [("alive", 2), ("down", 0), ("left", 0)]);
    assert_eq!(values.counters[1], 1, "one outbound connection");
}

#[test]
fn closed_subscribers_are_dropped_and_per_kind_watcher_methods_fire() {
    struct Joins(Mutex<Vec<NodeId>>);
    impl Watcher for Joins {
        fn on_node_joined(&self, id: &NodeId, _addr: SocketAddr) {
            self.0.lock().unwrap().push(id.clone());
        }
    }
    let joins = Arc::new(Joins(Mutex::new(Vec::new())));
    let (a, _) = node(1, vec![joins.clone()]);
    let (b, _) = node(2, Vec::new());
    drop(a.subscribe());
    let open = a.subscribe();
    a.join(&["127.0.0.2:7000"]).unwrap();
    exchange(&[&a, &b]);
    assert_eq!(
        *joins.0.lock().unwrap(),
        vec!["n2".parse::<NodeId>().unwrap()]
    );
    assert_eq!(a.lock().subscribers.len(), 1, "the closed one is gone");
    assert!(!open.is_empty());
}

#[test]
fn leave_outcome_and_stop_answer_their_callers() {
    let (alone, _) = node(1, Vec::new());
    let outcome = alone.leave().unwrap();
    for output in alone.turn(alone.now()).outputs {
        if let Output::Event(event) = output {
            alone.tell(&event);
        }
    }
    assert_eq!(outcome.try_recv().unwrap(), Ok(0));
    assert_eq!(alone.leave().unwrap_err(), LeaveError::AlreadyLeft);
    assert_eq!(
        alone.lock().metrics().nodes,
        [("alive", 0), ("down", 0), ("left", 1)]
    );

    let (waiting, _) = node(2, Vec::new());
    let joining = waiting.join(&["127.0.0.3:7000"]).unwrap();
    let events = waiting.subscribe();
    waiting.stop();
    assert_eq!(joining.try_recv().unwrap(), Err(JoinError::Stopped));
    assert!(events.is_closed(), "event streams end");
    assert!(waiting.subscribe().is_closed(), "and later ones at once");
    assert_eq!(
        waiting.join(&["127.0.0.3:7000"]).unwrap_err(),
        JoinError::Stopped
    );
    assert_eq!(waiting.leave().unwrap_err(), LeaveError::Stopped);
    let stream = waiting.request("127.0.0.9:1".parse().unwrap(), b"junk");
    assert!(
        stream.is_closed(),
        "no inbound stream is served once stopped"
    );
}

#[test]
fn garbage_gets_no_reply_and_bad_frames_count_as_decode_errors() {
    let (n, woken) = node(1, Vec::new());
    let from: SocketAddr = "127.0.0.9:1".parse().unwrap();
    assert!(n.admit(MAX_INBOUND_STREAMS - 1));
    assert!(!n.admit(MAX_INBOUND_STREAMS));
    let reply = n.request(from, b"\x01\x04junk");
    assert_eq!(woken.try_recv(), Ok(()), "a request wakes the driver task");
    n.bad_frame();
    let mut junk = [0xff; 10];
    n.datagrams(&mut junk, (10, from), |_| None);
    for output in n.turn(n.now()).outputs {
        match output {
            Output::Response { id, payload } => n.reply(id, payload),
            other => panic!("only a reply: {other:?}"),
        }
    }
    assert!(
        reply.is_closed() && reply.is_empty(),
        "closed without a reply"
    );
    assert_eq!(n.stats().decode_errors, 3);
    let values = n.lock().metrics();
    assert_eq!(values.counters[0], 1, "one inbound connection");
    assert_eq!(values.counters[8], 3, "{}", COUNTERS[8].name);
    assert_eq!(n.lock().node.peer_count(NodeStatus::Alive), 0);
}

#[test]
fn time_handed_in_late_never_goes_backwards_and_metrics_come_every_second() {
    let (n, _) = node(1, Vec::new());
    let later = Timestamp::from_millis(10_000);
    let turn = n.turn(later);
    assert!(turn.deadline > later);
    assert!(turn.metrics.is_some(), "published at the start");
    assert!(n.turn(later).metrics.is_none());
    assert!(n.turn(later + PUBLISH_EVERY).metrics.is_some());
    let mut junk = [0xff; 4];
    n.datagrams(&mut junk, (4, "127.0.0.9:1".parse().unwrap()), |_| None);
    assert_eq!(n.lock().now, later + PUBLISH_EVERY);
}

#[test]
fn datagrams_come_in_batches_with_one_wake_up() {
    let (n, woken) = node(1, Vec::new());
    let from: SocketAddr = "127.0.0.9:1".parse().unwrap();
    let mut buf = vec![0xff; 16];
    let mut more = 0;
    n.datagrams(&mut buf, (4, from), |_| {
        more += 1;
        Some((4, from))
    });
    assert_eq!(more, RECV_BATCH - 1);
    assert_eq!(n.stats().datagrams_in, RECV_BATCH as u64);
    assert_eq!(woken.len(), 1);
    n.upsert_local("k", "v").unwrap();
    assert_eq!(n.local_node().entries["k"], "v");
    assert_eq!(n.nodes().len(), 1);
    assert!(n.node(n.local_id()).is_some());
    assert!(n.join(&["bad host"]).is_err());
    n.resolved("unasked.example", Ok(Vec::new()));
    n.response(RequestId(99), Err(StreamError::Closed));
    assert_eq!(woken.len(), 1, "a full channel already holds a wake-up");
}
