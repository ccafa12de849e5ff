//! Runs of one id: a node restarted under the same id (a new generation)
//! replaces its earlier run at every peer, and late gossip of the earlier
//! run changes nothing. One node fed hand-made gossip; the same between
//! nodes, under loss and reordering, is in kite-sim's
//! `tests/protocol_restart.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use kite_proto::wire::{self, Delta, Digest, DigestEntry, Message, NodeDelta, Rumor, RumorKind};
use kite_proto::wire::{Update, UpdateKind, run_tag};
use kite_proto::{Config, Event, Node, NodeId, NodeStatus, Output, SeededRng, Timestamp};

const OLD: u64 = 1_000;
const NEW: u64 = 2_000;

fn id(s: &str) -> NodeId {
    NodeId::new(s).unwrap()
}

fn b_addr() -> SocketAddr {
    "127.0.0.2:7000".parse().unwrap()
}

fn node() -> Node {
    let mut c = Config::new("127.0.0.1:7000".parse().unwrap());
    c.node_id = Some(id("a"));
    c.generation = 5;
    Node::new(c, SeededRng::from_seed_u64(7), Timestamp::ZERO).unwrap()
}

fn set(version: u64, key: &str, value: &str) -> Update {
    Update {
        version,
        kind: UpdateKind::Set {
            key: key.into(),
            value: value.into(),
        },
    }
}

/// A datagram carrying updates of run `generation` of "b".
fn delta(generation: u64, heartbeat: u64, from_version: u64, updates: Vec<Update>) -> Vec<u8> {
    wire::encode(&Message::Delta {
        from: id("b"),
        delta: Delta {
            nodes: vec![NodeDelta {
                id: id("b"),
                generation,
                addr: b_addr(),
                heartbeat,
                from_version,
                updates,
            }],
        },
    })
}

/// Hands `bytes` to `node` as a datagram from "b" and returns the events.
fn feed(node: &mut Node, now: Timestamp, bytes: &[u8]) -> Vec<Event> {
    node.handle_datagram(now, b_addr(), bytes);
    events(node)
}

fn events(node: &mut Node) -> Vec<Event> {
    let mut out = Vec::new();
    loop {
        match node.poll_output() {
            Output::Timeout(_) => return out,
            Output::Event(event) => out.push(event),
            _ => {}
        }
    }
}

/// A node that knows run OLD of "b" with keys `old=1` and `shared=x`.
fn knowing_old_run() -> Node {
    let mut node = node();
    let bytes = delta(OLD, 40, 0, vec![set(1, "old", "1"), set(2, "shared", "x")]);
    feed(&mut node, Timestamp::ZERO, &bytes);
    assert_eq!(node.node(&id("b")).unwrap().generation, OLD);
    node
}

#[test]
fn a_later_run_replaces_the_earlier_one_from_its_first_version() {
    let mut node = knowing_old_run();
    let bytes = delta(NEW, 1, 0, vec![set(1, "shared", "y")]);
    let events = feed(&mut node, Timestamp::ZERO, &bytes);
    let b = id("b");
    assert_eq!(
        events,
        vec![
            Event::KeyDeleted {
                id: b.clone(),
                key: "old".into(),
                value: "1".into()
            },
            Event::KeyDeleted {
                id: b.clone(),
                key: "shared".into(),
                value: "x".into()
            },
            Event::KeyUpserted {
                id: b.clone(),
                key: "shared".into(),
                value: "y".into()
            },
        ]
    );
    let view = node.node(&b).unwrap();
    assert_eq!(view.generation, NEW);
    assert_eq!(view.version, 1);
    assert_eq!(view.entries.len(), 1);
    assert_eq!(view.entries["shared"], "y");
    assert_eq!(view.status, NodeStatus::Alive);
    // Version 1 of the new run was applied although the old run had reached 2.
    assert_eq!(node.stats().dropped_updates, 0);
}

#[test]
fn late_gossip_of_an_earlier_run_changes_nothing_and_is_counted() {
    let mut node = knowing_old_run();
    feed(
        &mut node,
        Timestamp::ZERO,
        &delta(NEW, 1, 0, vec![set(1, "k", "new")]),
    );
    let before = node.node(&id("b")).unwrap();
    let late = [
        delta(OLD, 99, 2, vec![set(3, "k", "old")]),
        delta(OLD, 99, 0, vec![set(1, "old", "1")]),
        wire::encode(&Message::DigestRequest {
            from: id("c"),
            digest: Digest {
                complete: false,
                entries: vec![DigestEntry {
                    id: id("b"),
                    run: run_tag(OLD),
                    heartbeat: 99,
                    version: 9,
                }],
            },
        }),
        wire::encode(&Message::Liveness {
            from: id("b"),
            run: run_tag(OLD),
            heartbeat: 99,
            monitor: true,
            rumors: vec![Rumor {
                id: id("b"),
                generation: OLD,
                heartbeat: 99,
                kind: RumorKind::Alive,
            }],
            news: Vec::new(),
        }),
    ];
    for bytes in &late {
        assert_eq!(feed(&mut node, Timestamp::ZERO, bytes), Vec::new());
    }
    assert_eq!(node.node(&id("b")).unwrap(), before);
    // The two deltas and the rumor name the old generation; the digest
    // entry and the heartbeat carry only a tag of it (ignored, uncounted).
    assert_eq!(node.stats().stale_generation, 3);
}

#[test]
fn a_later_run_of_a_node_that_left_joins_again() {
    let mut node = knowing_old_run();
    let left = Update {
        version: 3,
        kind: UpdateKind::Left,
    };
    let events = feed(&mut node, Timestamp::ZERO, &delta(OLD, 41, 2, vec![left]));
    assert_eq!(events, vec![Event::NodeLeft { id: id("b") }]);
    let events = feed(&mut node, Timestamp::ZERO, &delta(NEW, 1, 0, Vec::new()));
    assert!(events.contains(&Event::NodeJoined {
        id: id("b"),
        addr: b_addr()
    }));
    assert_eq!(node.node(&id("b")).unwrap().status, NodeStatus::Alive);
}

#[test]
fn a_later_run_of_a_forgotten_left_node_is_admitted_and_the_earlier_is_not() {
    let mut node = knowing_old_run();
    let left = Update {
        version: 3,
        kind: UpdateKind::Left,
    };
    feed(&mut node, Timestamp::ZERO, &delta(OLD, 41, 2, vec![left]));
    // Past the node expiry: "b" is forgotten, remembered as left.
    let mut now = Timestamp::ZERO;
    for _ in 0..700 {
        now = now + Duration::from_secs(1);
        node.handle_timeout(now);
        events(&mut node);
    }
    assert!(node.node(&id("b")).is_none());
    let stale = delta(OLD, 50, 0, vec![set(1, "old", "1")]);
    assert_eq!(feed(&mut node, now, &stale), Vec::new());
    assert!(node.node(&id("b")).is_none());
    let events = feed(&mut node, now, &delta(NEW, 1, 0, vec![set(1, "k", "v")]));
    assert!(events.contains(&Event::NodeJoined {
        id: id("b"),
        addr: b_addr()
    }));
    assert_eq!(node.node(&id("b")).unwrap().entries["k"], "v");
}

#[test]
fn a_later_run_of_a_down_node_is_up_and_may_move() {
    let mut node = knowing_old_run();
    let mut now = Timestamp::ZERO;
    while node.node(&id("b")).unwrap().status != NodeStatus::Down {
        now = now + Duration::from_secs(1);
        node.handle_timeout(now);
        events(&mut node);
        assert!(now < Timestamp::ZERO + Duration::from_secs(600));
    }
    let moved: SocketAddr = "127.0.0.9:7000".parse().unwrap();
    let bytes = wire::encode(&Message::Delta {
        from: id("b"),
        delta: Delta {
            nodes: vec![NodeDelta {
                id: id("b"),
                generation: NEW,
                addr: moved,
                heartbeat: 1,
                from_version: 0,
                updates: Vec::new(),
            }],
        },
    });
    let events = feed(&mut node, now, &bytes);
    assert!(events.contains(&Event::NodeUp { id: id("b") }));
    let view = node.node(&id("b")).unwrap();
    assert_eq!((view.status, view.addr), (NodeStatus::Alive, moved));
}

#[test]
fn a_digest_naming_another_run_makes_both_sides_swap_it_whole() {
    let mut node = knowing_old_run();
    let c: SocketAddr = "127.0.0.3:7000".parse().unwrap();
    let digest = wire::encode(&Message::DigestRequest {
        from: id("c"),
        digest: Digest {
            complete: false,
            entries: vec![DigestEntry {
                id: id("b"),
                run: run_tag(NEW),
                heartbeat: 3,
                version: 1,
            }],
        },
    });
    node.handle_datagram(Timestamp::ZERO, c, &digest);
    let mut reply = None;
    loop {
        match node.poll_output() {
            Output::Timeout(_) => break,
            Output::Event(event) => panic!("a tag alone changed something: {event:?}"),
            Output::Transmit { payload, .. } => reply = Some(wire::decode(&payload).unwrap()),
            _ => {}
        }
    }
    // The node cannot tell which run is later: it sends its whole run, and
    // lists b under its own run's tag.
    let Some(Message::DigestResponse { delta, digest, .. }) = reply else {
        panic!("no digest response: {reply:?}");
    };
    let sent = delta.nodes.iter().find(|n| n.id == id("b")).unwrap();
    assert_eq!((sent.generation, sent.from_version), (OLD, 0));
    let entry = digest.entries.iter().find(|e| e.id == id("b")).unwrap();
    assert_eq!(entry.run, run_tag(OLD));
    // The closing delta brings the later run whole, which replaces ours.
    let closing = wire::encode(&Message::Delta {
        from: id("c"),
        delta: Delta {
            nodes: vec![NodeDelta {
                id: id("b"),
                generation: NEW,
                addr: b_addr(),
                heartbeat: 3,
                from_version: 0,
                updates: vec![set(1, "k", "v")],
            }],
        },
    });
    node.handle_datagram(Timestamp::ZERO, c, &closing);
    let view = node.node(&id("b")).unwrap();
    assert_eq!((view.generation, view.version), (NEW, 1));
}

#[test]
fn a_suspicion_of_an_earlier_run_of_ourselves_is_not_refuted() {
    let mut node = node();
    let suspicion = |generation| {
        wire::encode(&Message::Liveness {
            from: id("b"),
            run: run_tag(OLD),
            heartbeat: 1,
            monitor: false,
            rumors: vec![Rumor {
                id: id("a"),
                generation,
                heartbeat: 1,
                kind: RumorKind::Suspect { by: id("b") },
            }],
            news: Vec::new(),
        })
    };
    let mut now = Timestamp::ZERO;
    let mut refutes = |node: &mut Node, bytes: &[u8]| {
        node.handle_datagram(now, b_addr(), bytes);
        now = now + Duration::from_secs(1);
        node.handle_timeout(now);
        let mut refuted = false;
        loop {
            match node.poll_output() {
                Output::Timeout(_) => return refuted,
                Output::Transmit { payload, .. } => {
                    if let Ok(Message::Liveness { rumors, .. }) = wire::decode(&payload) {
                        refuted |= rumors.iter().any(|r| r.id == id("a"));
                    }
                }
                _ => {}
            }
        }
    };
    // "b" must be known for the node to send it heartbeats.
    feed(&mut node, Timestamp::ZERO, &delta(OLD, 1, 0, Vec::new()));
    assert!(!refutes(&mut node, &suspicion(4)));
    assert!(refutes(&mut node, &suspicion(5)));
}

#[test]
fn a_later_run_learned_from_news_or_a_partial_delta_takes_its_new_address() {
    let moved: SocketAddr = "127.0.0.9:7000".parse().unwrap();
    let news = |from_version| {
        wire::encode(&Message::Liveness {
            from: id("c"),
            run: 0,
            heartbeat: 1,
            monitor: false,
            rumors: Vec::new(),
            news: vec![NodeDelta {
                id: id("b"),
                generation: NEW,
                addr: moved,
                heartbeat: 2,
                from_version,
                updates: vec![set(from_version + 1, "k", "v")],
            }],
        })
    };
    for from_version in [0, 3] {
        let mut node = knowing_old_run();
        feed(&mut node, Timestamp::ZERO, &news(from_version));
        let view = node.node(&id("b")).unwrap();
        assert_eq!(
            (view.generation, view.addr),
            (NEW, moved),
            "from {from_version}"
        );
    }
}

/// Two runs of "b" whose generations share a run tag.
const TWIN: u64 = OLD + (1 << wire::RUN_TAG_BITS);

#[test]
fn a_node_sent_an_earlier_run_answers_with_its_later_one_even_when_the_tags_collide() {
    let mut node = node();
    feed(
        &mut node,
        Timestamp::ZERO,
        &delta(TWIN, 3, 0, vec![set(1, "k", "new")]),
    );
    let c: SocketAddr = "127.0.0.3:7000".parse().unwrap();
    let stale = wire::encode(&Message::DigestResponse {
        from: id("c"),
        delta: Delta {
            nodes: vec![NodeDelta {
                id: id("b"),
                generation: OLD,
                addr: b_addr(),
                heartbeat: 900,
                from_version: 1,
                updates: vec![set(40, "k", "old")],
            }],
        },
        digest: Digest::default(),
    });
    node.handle_datagram(Timestamp::ZERO, c, &stale);
    let mut answered = false;
    loop {
        match node.poll_output() {
            Output::Timeout(_) => break,
            Output::Transmit { to, payload } => {
                if let Ok(Message::Delta { delta, .. }) = wire::decode(&payload) {
                    answered |= to == c
                        && delta.nodes.iter().any(|n| {
                            n.id == id("b") && n.generation == TWIN && n.from_version == 0
                        });
                }
            }
            _ => {}
        }
    }
    assert!(answered, "the later run was not sent back");
    assert_eq!(node.node(&id("b")).unwrap().entries["k"], "new");
}

#[test]
fn a_nodes_own_heartbeat_overrides_a_colliding_runs_gossip() {
    let mut node = node();
    feed(&mut node, Timestamp::ZERO, &delta(TWIN, 3, 0, Vec::new()));
    // A digest carries the earlier run's far higher heartbeat under the same tag.
    let digest = wire::encode(&Message::DigestRequest {
        from: id("c"),
        digest: Digest {
            complete: false,
            entries: vec![DigestEntry {
                id: id("b"),
                run: run_tag(OLD),
                heartbeat: 100_000,
                version: 0,
            }],
        },
    });
    feed(&mut node, Timestamp::ZERO, &digest);
    // The later run's own heartbeats, every 500 ms, keep it alive.
    let mut now = Timestamp::ZERO;
    for heartbeat in 4..400 {
        now = now + Duration::from_millis(500);
        let beat = wire::encode(&Message::Liveness {
            from: id("b"),
            run: run_tag(TWIN),
            heartbeat,
            monitor: false,
            rumors: Vec::new(),
            news: Vec::new(),
        });
        node.handle_datagram(now, b_addr(), &beat);
        node.handle_timeout(now);
        let events = events(&mut node);
        assert!(
            !events.contains(&Event::NodeDown { id: id("b") }),
            "down at {now:?}"
        );
    }
}
