//! The metrics adapters publish, by name, and their values. Adapters hand
//! them to the `metrics` facade; this module only names and computes them,
//! so both adapters publish exactly the same series.

use core::time::Duration;

use super::Driver;
use crate::event::NodeStatus;
use crate::id::NodeId;
use crate::stats::Stats;

/// How often adapters publish the metrics ([`Shared::turn`](super::Shared::turn)
/// hands them out at this pace).
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

/// Every counter, in the order of [`MetricValues::counters`].
pub const COUNTERS: [CounterInfo; 11] = [
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
];

/// Gauge of known nodes (the local one included), labelled by [`STATUS_LABEL`].
pub const NODES: &str = "kite_nodes";
/// Description of [`NODES`].
pub const NODES_HELP: &str = "Known nodes by status, the local node included";
/// The label of [`NODES`] holding `alive`, `down` or `left`.
pub const STATUS_LABEL: &str = "status";
/// The label every series carries, holding the node id, so several nodes in
/// one process publish separate series.
pub const NODE_LABEL: &str = "node";

/// Whether a [`Series`] is a counter or a gauge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesKind {
    /// Only grows; publish its absolute value.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// One series to hand to a metrics facade: name, description, labels and
/// current value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// Counter or gauge.
    pub kind: SeriesKind,
    /// The metric name.
    pub name: &'static str,
    /// Its description.
    pub help: &'static str,
    /// Label keys and values: [`NODE_LABEL`], plus [`STATUS_LABEL`] on [`NODES`].
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: u64,
}

/// One reading of every metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricValues {
    /// Values of [`COUNTERS`], in order.
    pub counters: [u64; COUNTERS.len()],
    /// `(status label value, number of nodes)` for the [`NODES`] gauge.
    pub nodes: [(&'static str, u64); 3],
}

impl MetricValues {
    /// Every series of this reading, labelled with `node`: the
    /// [`COUNTERS`], then [`NODES`] once per status.
    ///
    /// ```
    /// use kite_proto::NodeId;
    /// use kite_proto::driver::metrics::{MetricValues, SeriesKind, COUNTERS, NODES};
    ///
    /// let values = MetricValues { counters: [0; COUNTERS.len()], nodes: [("alive", 3), ("down", 1), ("left", 0)] };
    /// let series = values.series(&NodeId::new("n1")?);
    /// assert_eq!(series.len(), COUNTERS.len() + 3);
    /// let down = &series[COUNTERS.len() + 1];
    /// assert_eq!((down.kind, down.name, down.value), (SeriesKind::Gauge, NODES, 1));
    /// assert_eq!(down.labels, [("node", "n1".to_string()), ("status", "down".to_string())]);
    /// # Ok::<(), kite_proto::NodeIdError>(())
    /// ```
    pub fn series(&self, node: &NodeId) -> Vec<Series> {
        let node = || (NODE_LABEL, node.to_string());
        let counters = COUNTERS
            .iter()
            .zip(self.counters)
            .map(|(info, value)| Series {
                kind: SeriesKind::Counter,
                name: info.name,
                help: info.help,
                labels: vec![node()],
                value,
            });
        let gauges = self.nodes.iter().map(|&(status, value)| Series {
            kind: SeriesKind::Gauge,
            name: NODES,
            help: NODES_HELP,
            labels: vec![node(), (STATUS_LABEL, status.to_string())],
            value,
        });
        counters.chain(gauges).collect()
    }

    pub(super) fn read(driver: &Driver) -> MetricValues {
        let s: Stats = driver.stats();
        let node = &driver.node;
        let me_alive = u64::from(!node.has_left());
        let count = |status| node.peer_count(status) as u64;
        MetricValues {
            counters: [
                driver.connections_in,
                s.stream_requests_out,
                s.stream_bytes_in,
                s.stream_bytes_out,
                s.datagram_bytes_in,
                s.datagram_bytes_out,
                s.datagrams_in,
                s.datagrams_out,
                s.decode_errors,
                s.stream_failures,
                s.dropped_updates,
            ],
            nodes: [
                ("alive", count(NodeStatus::Alive) + me_alive),
                ("down", count(NodeStatus::Down)),
                ("left", count(NodeStatus::Left) + (1 - me_alive)),
            ],
        }
    }
}
