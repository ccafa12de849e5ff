//! Hostile and invalid input: typed errors, counters, no state change.

mod support;

use std::time::Duration;

use kite_proto::wire::{self, Delta, Message, NodeDelta, Update, UpdateKind};
use kite_proto::{Config, ConfigError, Limits, NodeId, Output, SeededRng, StreamId};
use rand_core::RngCore;
use support::Net;

#[test]
fn random_datagrams_and_requests_change_nothing_and_are_counted() {
    let mut net = Net::new(3, |_| {});
    net.nodes[0].upsert_local("k", "v").unwrap();
    net.form();
    let before: Vec<_> = net.nodes.iter().map(|n| n.nodes()).collect();
    let mut rng = SeededRng::from_seed_u64(99);
    let attacker = "127.0.0.200:4000".parse().unwrap();
    for i in 0..10_000u64 {
        let len = (rng.next_u32() % 300) as usize;
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        if i % 2 == 0 && len >= 2 {
            bytes[0] = wire::PROTOCOL_VERSION; // get past the version check
        }
        let now = net.now;
        if i % 3 == 0 {
            net.nodes[1].handle_request(now, StreamId(i), attacker, &bytes);
            match net.nodes[1].poll_output() {
                Output::Response { id, .. } => assert_eq!(id, StreamId(i)),
                other => panic!("expected a response, got {other:?}"),
            }
        } else {
            net.nodes[1].handle_datagram(now, attacker, &bytes);
        }
    }
    let stats = net.nodes[1].stats();
    assert!(stats.decode_errors > 9_000, "{stats:?}");
    assert!(stats.unsupported_version > 1_000, "{stats:?}");
    let after: Vec<_> = net.nodes.iter().map(|n| n.nodes()).collect();
    assert_eq!(before, after);
    // The cluster still works.
    net.nodes[2].upsert_local("after", "attack").unwrap();
    net.run_for(Duration::from_secs(5));
    let id2 = net.id(2);
    assert_eq!(net.nodes[0].node(&id2).unwrap().entries["after"], "attack");
}

fn push_with(updates: Vec<Update>) -> Vec<u8> {
    wire::encode(&Message::Push {
        from: NodeId::new("evil").unwrap(),
        delta: Delta {
            nodes: vec![NodeDelta {
                id: NodeId::new("evil").unwrap(),
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
    let mut net = Net::new(1, |c| {
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
    let now = net.now;
    net.nodes[0].handle_request(
        now,
        StreamId(1),
        "127.0.0.9:7000".parse().unwrap(),
        &payload,
    );
    net.step();
    let view = net.nodes[0].node(&NodeId::new("evil").unwrap()).unwrap();
    assert_eq!(view.entries.len(), 1, "{view:?}");
    assert_eq!(view.version, 1);
    assert_eq!(net.nodes[0].stats().dropped_updates, 2);
}

#[test]
fn out_of_order_and_gapped_updates_are_refused() {
    let mut net = Net::new(1, |_| {});
    let set = |version| Update {
        version,
        kind: UpdateKind::Set {
            key: "k".into(),
            value: format!("{version}"),
        },
    };
    let now = net.now;
    let from = "127.0.0.9:7000".parse().unwrap();
    net.nodes[0].handle_request(
        now,
        StreamId(1),
        from,
        &push_with(vec![set(2), set(1), set(3)]),
    );
    let evil = NodeId::new("evil").unwrap();
    assert_eq!(net.nodes[0].node(&evil).unwrap().entries["k"], "2");
    // A compaction floor at or above its own version is malformed.
    let bad = Update {
        version: 9,
        kind: UpdateKind::Compacted { floor: 9 },
    };
    net.nodes[0].handle_request(now, StreamId(2), from, &push_with(vec![bad]));
    assert_eq!(net.nodes[0].node(&evil).unwrap().version, 2);
}

#[test]
fn our_own_state_cannot_be_rewritten_by_others() {
    let mut net = Net::new(1, |_| {});
    net.nodes[0].upsert_local("mine", "1").unwrap();
    let me = net.id(0);
    let forged = wire::encode(&Message::Push {
        from: NodeId::new("evil").unwrap(),
        delta: Delta {
            nodes: vec![NodeDelta {
                id: me.clone(),
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
    let now = net.now;
    net.nodes[0].handle_request(now, StreamId(1), "127.0.0.9:7000".parse().unwrap(), &forged);
    assert!(!net.nodes[0].has_left());
    assert_eq!(net.nodes[0].local_node().version, 1);
}

#[test]
fn stats_count_messages_per_kind() {
    let mut net = Net::new(2, |_| {});
    net.form();
    let s = net.nodes[1].stats();
    assert_eq!(s.messages_out.join_requests, 1);
    assert_eq!(s.messages_in.join_responses, 1);
    assert!(s.messages_out.digest_requests > 0 && s.messages_in.digest_responses > 0);
    assert_eq!(net.nodes[0].stats().messages_in.join_requests, 1);
}

#[test]
fn invalid_configs_are_typed_errors() {
    let base = Config::new("127.0.0.1:7000".parse().unwrap());
    let check = |tweak: &dyn Fn(&mut Config)| {
        let mut c = base.clone();
        tweak(&mut c);
        let err =
            kite_proto::Node::new(c, SeededRng::from_seed_u64(1), kite_proto::Timestamp::ZERO)
                .unwrap_err();
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
    let intervals: [(&str, Tweak); 4] = [
        ("gossip_interval", &|c| c.gossip_interval = Duration::ZERO),
        ("gossip_interval", &|c| c.gossip_interval = Duration::MAX),
        ("node_expiry", &|c| c.node_expiry = Duration::ZERO),
        ("dns_refresh_interval", &|c| {
            c.dns_refresh_interval = Duration::MAX
        }),
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
