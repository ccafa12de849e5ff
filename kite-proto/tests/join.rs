//! Joining, as one node sees it: target checks and the empty join.
//! (Joins between nodes are tested on kite-sim's network, in
//! `kite-sim/tests/protocol_join.rs`.)

use kite_proto::{Config, Event, JoinError, Node, NodeId, Output, SeededRng, Timestamp};

fn node() -> Node {
    let mut c = Config::new("127.0.0.1:7000".parse().unwrap());
    c.node_id = Some(NodeId::new("node-0").unwrap());
    Node::new(c, SeededRng::from_seed_u64(1000), Timestamp::ZERO).unwrap()
}

#[test]
fn invalid_targets_are_refused_before_anything_is_sent() {
    let mut node = node();
    let err = node
        .join(Timestamp::ZERO, &["127.0.0.1:7000", "bad host"])
        .unwrap_err();
    assert!(matches!(err, JoinError::InvalidTarget { .. }), "{err}");
    assert!(matches!(node.poll_output(), Output::Timeout(_)));
}

#[test]
fn joining_nobody_succeeds_with_no_ids() {
    let mut node = node();
    node.join::<&str>(Timestamp::ZERO, &[]).unwrap();
    let results: Vec<_> = std::iter::from_fn(|| match node.poll_output() {
        Output::Timeout(_) => None,
        out => Some(out),
    })
    .filter_map(|out| match out {
        Output::Event(Event::JoinCompleted { result, .. }) => Some(result),
        _ => None,
    })
    .collect();
    assert_eq!(results, vec![Ok(vec![])]);
}
