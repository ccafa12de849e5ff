//! The metrics a node publishes through the [`metrics`] facade,
//! by name: install any recorder (for example
//! `metrics-exporter-prometheus`) to collect them. Every series carries the
//! label [`NODE_LABEL`] with the node's id, so several nodes in one process
//! publish separate series.

use core::time::Duration;

use kite_proto::{Node, NodeId, NodeStatus, Stats};

/// How often a node publishes its metrics (first when it starts).
pub const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// One counter: its name and what it counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterInfo {
    /// The metric name.
    pub name: &'static str,
    /// Its description.
    pub help: &'static str,
}

/// Inbound stream connections accepted.
pub const CONNECTIONS_INBOUND: &str = "kite_connections_inbound_total";
/// Outbound stream connections opened (one per stream request).
pub const CONNECTIONS_OUTBOUND: &str = "kite_connections_outbound_total";
/// Bytes of stream messages received (frame headers excluded).
pub const STREAM_BYTES_INBOUND: &str = "kite_stream_bytes_inbound_total";
/// Bytes of stream messages sent (frame headers excluded).
pub const STREAM_BYTES_OUTBOUND: &str = "kite_stream_bytes_outbound_total";
/// Bytes of datagrams received.
pub const PACKET_BYTES_INBOUND: &str = "kite_packet_bytes_inbound_total";
/// Bytes of datagrams sent.
pub const PACKET_BYTES_OUTBOUND: &str = "kite_packet_bytes_outbound_total";
/// Datagrams received.
pub const PACKETS_INBOUND: &str = "kite_packets_inbound_total";
/// Datagrams sent.
pub const PACKETS_OUTBOUND: &str = "kite_packets_outbound_total";
/// Datagrams, stream frames and replies that did not decode.
pub const DECODE_ERRORS: &str = "kite_decode_errors_total";
/// Outbound stream exchanges that failed.
pub const STREAM_FAILURES: &str = "kite_stream_failures_total";
/// Remote updates dropped (over a limit, out of order, not admitted).
pub const DROPPED_UPDATES: &str = "kite_dropped_updates_total";
/// Gossip about an earlier run of a node than one already seen, ignored.
pub const STALE_GENERATION: &str = "kite_stale_generation_total";

/// Every counter, by name, with its description.
pub const COUNTERS: [CounterInfo; 12] = [
    CounterInfo {
        name: CONNECTIONS_INBOUND,
        help: "Inbound stream connections accepted",
    },
    CounterInfo {
        name: CONNECTIONS_OUTBOUND,
        help: "Outbound stream connections opened",
    },
    CounterInfo {
        name: STREAM_BYTES_INBOUND,
        help: "Bytes of stream messages received (frame headers excluded)",
    },
    CounterInfo {
        name: STREAM_BYTES_OUTBOUND,
        help: "Bytes of stream messages sent (frame headers excluded)",
    },
    CounterInfo {
        name: PACKET_BYTES_INBOUND,
        help: "Bytes of datagrams received",
    },
    CounterInfo {
        name: PACKET_BYTES_OUTBOUND,
        help: "Bytes of datagrams sent",
    },
    CounterInfo {
        name: PACKETS_INBOUND,
        help: "Datagrams received",
    },
    CounterInfo {
        name: PACKETS_OUTBOUND,
        help: "Datagrams sent",
    },
    CounterInfo {
        name: DECODE_ERRORS,
        help: "Datagrams and stream frames that did not decode",
    },
    CounterInfo {
        name: STREAM_FAILURES,
        help: "Outbound stream exchanges that failed",
    },
    CounterInfo {
        name: DROPPED_UPDATES,
        help: "Remote updates dropped",
    },
    CounterInfo {
        name: STALE_GENERATION,
        help: "Gossip about an earlier run of a restarted node, ignored",
    },
];

/// Messages refused by the security layer, labelled by [`REASON_LABEL`].
pub const REJECTED: &str = "kite_rejected_total";
/// Description of [`REJECTED`].
pub const REJECTED_HELP: &str = "Messages refused: another cluster label, failed authentication, an unknown key, or plaintext where it is refused";
/// The label of [`REJECTED`] holding `label`, `auth`, `unknown_key` or
/// `plaintext` (see [`kite_proto::Rejections`]).
pub const REASON_LABEL: &str = "reason";

/// Gauge of known nodes (the local one included), labelled by [`STATUS_LABEL`].
pub const NODES: &str = "kite_nodes";
/// Description of [`NODES`].
pub const NODES_HELP: &str = "Known nodes by status, the local node included";
/// The label of [`NODES`] holding `alive`, `down` or `left`.
pub const STATUS_LABEL: &str = "status";
/// The label every series carries, holding the node id, so several nodes in
/// one process publish separate series.
pub const NODE_LABEL: &str = "node";

/// One reading of every metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MetricValues {
    /// Values of [`COUNTERS`], in order.
    pub(crate) counters: [u64; COUNTERS.len()],
    /// `(status label value, number of nodes)` for the [`NODES`] gauge.
    pub(crate) nodes: [(&'static str, u64); 3],
    /// `(reason label value, messages)` for the [`REJECTED`] counter.
    pub(crate) rejected: [(&'static str, u64); 4],
}

impl MetricValues {
    /// Reads `node`'s metrics: `stats` are its counters as the node reports
    /// them, `connections_in` the inbound streams accepted.
    pub(crate) fn read(node: &Node, stats: &Stats, connections_in: u64) -> MetricValues {
        let me_alive = u64::from(!node.has_left());
        let count = |status| node.peer_count(status) as u64;
        MetricValues {
            counters: [
                connections_in,
                stats.stream_requests_out,
                stats.stream_bytes_in,
                stats.stream_bytes_out,
                stats.datagram_bytes_in,
                stats.datagram_bytes_out,
                stats.datagrams_in,
                stats.datagrams_out,
                stats.decode_errors,
                stats.stream_failures,
                stats.dropped_updates,
                stats.stale_generation,
            ],
            nodes: [
                ("alive", count(NodeStatus::Alive) + me_alive),
                ("down", count(NodeStatus::Down)),
                ("left", count(NodeStatus::Left) + (1 - me_alive)),
            ],
            rejected: [
                ("label", stats.rejected.label),
                ("auth", stats.rejected.auth),
                ("unknown_key", stats.rejected.unknown_key),
                ("plaintext", stats.rejected.plaintext),
            ],
        }
    }

    /// Logs the messages the security layer refused since `before` (the
    /// counts last logged, updated): at most one warning per reading, so
    /// once a second however many arrive.
    pub(crate) fn warn_of_rejections(&self, before: &mut [u64; 4]) {
        let now = self.rejected.map(|(_, count)| count);
        if now != *before {
            let [label, auth, unknown_key, plaintext] =
                core::array::from_fn(|i| now[i].saturating_sub(before[i]));
            tracing::warn!(
                label,
                auth,
                unknown_key,
                plaintext,
                "messages refused since the last warning (another cluster label, failed \
                 authentication, an unknown key, plaintext where it is refused)"
            );
            *before = now;
        }
    }

    /// Hands every series to the `metrics` facade, labelled with `node`.
    pub(crate) fn publish(&self, node: &NodeId) {
        let id = node.to_string();
        for (info, value) in COUNTERS.iter().zip(self.counters) {
            metrics::describe_counter!(info.name, info.help);
            metrics::counter!(info.name, NODE_LABEL => id.clone()).absolute(value);
        }
        metrics::describe_counter!(REJECTED, REJECTED_HELP);
        for (reason, value) in self.rejected {
            metrics::counter!(REJECTED, NODE_LABEL => id.clone(), REASON_LABEL => reason)
                .absolute(value);
        }
        metrics::describe_gauge!(NODES, NODES_HELP);
        for (status, value) in self.nodes {
            metrics::gauge!(NODES, NODE_LABEL => id.clone(), STATUS_LABEL => status)
                .set(value as f64);
        }
    }
}
