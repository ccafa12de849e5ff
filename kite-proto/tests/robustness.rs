//! Hostile and invalid input to one node: typed errors, counters, no state
//! change. (Hostile input inside a running cluster is tested on kite-sim's
//! network, in `kite-sim/tests/protocol_robustness.rs`.)

use std::time::Duration;

use kite_proto::wire::{self, Delta, Message, NodeDelta, Update, UpdateKind};
use kite_proto::{
    Config, ConfigError, Limits, Node, NodeId, Output, SeededRng, StreamId, Timestamp,
};

/// A node at 127.0.0.1:7000, configured by `tweak`.
fn node(tweak: impl Fn(&mut Config)) -> Node {
    let mut c = Config::new("127.0.0.1:7000".parse().unwrap());
    c.node_id = Some(NodeId::new("node-0").unwrap());
    tweak(&mut c);
    Node::new(c, SeededRng::from_seed_u64(1000), Timestamp::ZERO).unwrap()
}

/// Takes every output of `node` until it asks to be woken.
fn drain(node: &mut Node) {
    while !matches!(node.poll_output(), Output::Timeout(_)) {}
}

fn push_with(updates: Vec<Update>) -> Vec<u8> {
    wire::encode(&Message::Push {
        from: NodeId::new("evil").unwrap(),
        delta: Delta {
            nodes: vec![NodeDelta {
                id: NodeId::new("evil").unwrap(),
                generation: 0,
                addr: "127.0.0.9:7000".parse().unwrap(),
                heartbeat: 5,
                from_version: 0,
                updates,
            }],
        },
    })
}

#[test]
fn remote_updates_over_a_limit_are_dropped_and_counted() {
    let mut node = node(|c| {
        c.limits = Limits {
            max_value_len: 10,
            ..Limits::default()
        };
    });
    let set = |version, value: &str| Update {
        version,
        kind: UpdateKind::Set {
            key: format!("k{version}"),
            value: value.into(),
        },
    };
    let payload = push_with(vec![
        set(1, "ok"),
        set(2, "far too long a value"),
        set(3, "lost"),
    ]);
    node.handle_request(
        Timestamp::ZERO,
        StreamId(1),
        "127.0.0.9:7000".parse().unwrap(),
        &payload,
    );
    drain(&mut node);
    let view = node.node(&NodeId::new("evil").unwrap()).unwrap();
    assert_eq!(view.entries.len(), 1, "{view:?}");
    assert_eq!(view.version, 1);
    assert_eq!(node.stats().dropped_updates, 2);
}

#[test]
fn out_of_order_and_gapped_updates_are_refused() {
    let mut node = node(|_| {});
    let set = |version| Update {
        version,
        kind: UpdateKind::Set {
            key: "k".into(),
            value: format!("{version}"),
        },
    };
    let now = Timestamp::ZERO;
    let from = "127.0.0.9:7000".parse().unwrap();
    node.handle_request(
        now,
        StreamId(1),
        from,
        &push_with(vec![set(2), set(1), set(3)]),
    );
    let evil = NodeId::new("evil").unwrap();
    assert_eq!(node.node(&evil).unwrap().entries["k"], "2");
    // A compaction floor at or above its own version is malformed.
    let bad = Update {
        version: 9,
        kind: UpdateKind::Compacted { floor: 9 },
    };
    node.handle_request(now, StreamId(2), from, &push_with(vec![bad]));
    assert_eq!(node.node(&evil).unwrap().version, 2);
}

#[test]
fn our_own_state_cannot_be_rewritten_by_others() {
    let mut node = node(|_| {});
    node.upsert_local("mine", "1").unwrap();
    let me = node.id().clone();
    let forged = wire::encode(&Message::Push {
        from: NodeId::new("evil").unwrap(),
        delta: Delta {
            nodes: vec![NodeDelta {
                id: me.clone(),
                generation: 0,
                addr: "127.0.0.9:7000".parse().unwrap(),
                heartbeat: 1,
                from_version: 0,
                updates: vec![Update {
                    version: 7,
                    kind: UpdateKind::Left,
                }],
            }],
        },
    });
    node.handle_request(
        Timestamp::ZERO,
        StreamId(1),
        "127.0.0.9:7000".parse().unwrap(),
        &forged,
    );
    assert!(!node.has_left());
    assert_eq!(node.local_node().version, 1);
}

#[test]
fn invalid_configs_are_typed_errors() {
    let base = Config::new("127.0.0.1:7000".parse().unwrap());
    let check = |tweak: &dyn Fn(&mut Config)| {
        let mut c = base.clone();
        tweak(&mut c);
        let err = Node::new(c, SeededRng::from_seed_u64(1), Timestamp::ZERO).unwrap_err();
        assert!(!err.to_string().is_empty());
        err
    };
    assert_eq!(
        check(&|c| c.max_packet_size = 100),
        ConfigError::PacketSize { size: 100 }
    );
    assert_eq!(
        check(&|c| c.max_packet_size = 70_000),
        ConfigError::PacketSize { size: 70_000 }
    );
    type Tweak<'a> = &'a dyn Fn(&mut Config);
    let intervals: [(&str, Tweak); 7] = [
        ("gossip_interval", &|c| c.gossip_interval = Duration::ZERO),
        ("gossip_interval", &|c| c.gossip_interval = Duration::MAX),
        ("node_expiry", &|c| c.node_expiry = Duration::ZERO),
        // Peers' times are 32-bit milliseconds.
        ("node_expiry", &|c| {
            c.node_expiry = kite_proto::MAX_NODE_EXPIRY + Duration::from_secs(1)
        }),
        ("dns_refresh_interval", &|c| {
            c.dns_refresh_interval = Duration::MAX
        }),
        // A driver that waits forever, or not at all, has no timeout.
        ("stream_timeout", &|c| c.stream_timeout = Duration::ZERO),
        ("stream_timeout", &|c| c.stream_timeout = Duration::MAX),
    ];
    for (option, bad) in intervals {
        assert!(
            matches!(check(bad), ConfigError::Interval { option: o, .. } if o == option),
            "{option}"
        );
    }
    assert_eq!(check(&|c| c.gossip_fanout = 0), ConfigError::ZeroFanout);
    assert!(matches!(
        check(&|c| c.suspicion_threshold = f64::NAN),
        ConfigError::SuspicionThreshold { .. }
    ));
    assert_eq!(
        check(&|c| c.compact_threshold = 0),
        ConfigError::ZeroCompactThreshold
    );
    assert!(matches!(
        check(&|c| c.limits.max_frame_len = 1000),
        ConfigError::FrameTooSmall { .. }
    ));
    assert!(matches!(
        check(&|c| c.limits.max_key_len = 0),
        ConfigError::Limits { .. }
    ));
    assert!(matches!(
        check(&|c| c.limits.max_node_state_bytes = 10),
        ConfigError::Limits { .. }
    ));
    assert!(base.validate().is_ok());
}

#[test]
fn a_forged_suspicion_at_the_largest_heartbeat_neither_panics_nor_wraps() {
    let mut node = node(|_| {});
    let me = node.id().clone();
    let forged = wire::encode(&Message::Liveness {
        from: NodeId::new("evil").unwrap(),
        run: 0,
        heartbeat: 1,
        monitor: false,
        rumors: vec![wire::Rumor {
            id: me,
            generation: 0,
            heartbeat: u64::MAX - 1,
            kind: wire::RumorKind::Suspect {
                by: NodeId::new("evil").unwrap(),
            },
        }],
        news: Vec::new(),
    });
    node.handle_datagram(Timestamp::ZERO, "127.0.0.9:7000".parse().unwrap(), &forged);
    let mut now = Timestamp::ZERO;
    for _ in 0..3 {
        now = now + Duration::from_secs(1);
        node.handle_timeout(now);
        drain(&mut node);
    }
}
