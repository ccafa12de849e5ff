//! The oracle of the fuzz targets: what one node must uphold whatever it is
//! fed, checked after every step. Its outputs are well-formed and within
//! its limits; what it holds stays within its limits and its own state
//! follows its local writes; and its internal bookkeeping passes
//! `Node::audit` (the hidden `kite_proto::audit` hook). The invariants that
//! relate nodes to each other (versions never regress, membership events
//! match the view, no event about oneself, and for honest runs no
//! resurrected key and left stays left) are the simulator's, in
//! [`crate::invariants`], which the harnesses run too.

use std::collections::{BTreeMap, BTreeSet};

use kite_proto::wire::{self, Message};
use kite_proto::{
    ENTRY_OVERHEAD, Event, Limits, LocalStateError, Node, NodeId, NodeStatus, NodeView, Output,
};

/// Checks one output of node `me`: datagrams within `max_packet`, stream
/// payloads within the frame limit, and everything well-formed, of the
/// right kind for its channel, and sent in our own name.
pub(super) fn check_output(
    out: &Output,
    me: &NodeId,
    max_packet: usize,
    limits: &Limits,
) -> Result<(), String> {
    let (payload, datagram, reply) = match out {
        Output::Transmit { payload, .. } => (payload, true, false),
        Output::Request { payload, .. } => (payload, false, false),
        Output::Response {
            payload: Some(payload),
            ..
        } => (payload, false, true),
        _ => return Ok(()),
    };
    let max = if datagram {
        max_packet
    } else {
        limits.max_frame_len
    };
    if payload.len() > max {
        return Err(format!(
            "{} bytes over the {max}-byte limit: {out:?}",
            payload.len()
        ));
    }
    let msg = wire::decode(payload).map_err(|e| format!("emitted {e}: {out:?}"))?;
    let right_kind = match &msg {
        Message::DigestRequest { .. }
        | Message::DigestResponse { .. }
        | Message::Delta { .. }
        | Message::Liveness { .. } => datagram,
        Message::JoinRequest { .. } | Message::Push { .. } => !datagram && !reply,
        Message::JoinResponse { .. } | Message::Ack { .. } => reply,
    };
    if !right_kind || msg.from() != me {
        return Err(format!("wrong kind or sender: {msg:?}"));
    }
    let nodes = match &msg {
        Message::DigestResponse { delta, .. }
        | Message::Delta { delta, .. }
        | Message::JoinRequest { delta, .. }
        | Message::JoinResponse { delta, .. }
        | Message::Push { delta, .. } => &delta.nodes[..],
        Message::DigestRequest { .. } | Message::Ack { .. } | Message::Liveness { .. } => &[],
    };
    let distinct: BTreeSet<&NodeId> = nodes.iter().map(|n| &n.id).collect();
    if distinct.len() != nodes.len() {
        return Err(format!("a delta lists a node twice: {msg:?}"));
    }
    Ok(())
}

/// The single-node checks of one node, run after every step.
pub(super) struct Checker {
    /// The local node as last checked.
    local: NodeView,
    /// What the local entries must be, from the local writes.
    model: BTreeMap<String, String>,
    /// Whether the node has left.
    left: bool,
}

impl Checker {
    pub(super) fn new(node: &Node) -> Checker {
        Checker {
            local: node.local_node(),
            model: BTreeMap::new(),
            left: false,
        }
    }

    /// Whether the node has left (a `leave` call succeeded).
    pub(super) fn has_left(&self) -> bool {
        self.left
    }

    /// A `leave` call succeeded.
    pub(super) fn leave(&mut self) {
        self.left = true;
    }

    /// A local upsert or delete returned `result`.
    pub(super) fn local_write(
        &mut self,
        key: &str,
        value: Option<&str>,
        result: &Result<(), LocalStateError>,
    ) -> Result<(), String> {
        match (result, value) {
            (Ok(()), Some(value)) => {
                self.model.insert(key.to_owned(), value.to_owned());
            }
            (Ok(()), None) => {
                self.model.remove(key);
            }
            (Err(LocalStateError::Left), _) if self.left => {}
            (Err(LocalStateError::Left), _) => return Err("write refused as left".into()),
            (Err(_), _) if self.left => return Err(format!("left, but {result:?}")),
            (Err(_), _) => {}
        }
        Ok(())
    }

    /// Checks the node after a step that emitted `events`; `local` tells
    /// whether the step was a local write or a leave.
    pub(super) fn check(
        &mut self,
        node: &Node,
        events: &[Event],
        local: bool,
    ) -> Result<(), String> {
        let me = node.id();
        let limits = &node.config().limits;
        for event in events {
            if let Event::KeyUpserted { key, value, .. } = event
                && (key.len() > limits.max_key_len || value.len() > limits.max_value_len)
            {
                return Err(format!("over the limits: {event:?}"));
            }
        }
        let views = node.nodes();
        let (local_view, remote) = views.split_first().ok_or("no local node")?;
        if &local_view.id != me {
            return Err("the first node is not the local one".into());
        }
        if remote.len() > limits.max_nodes {
            return Err(format!(
                "{} nodes known, limit {}",
                remote.len(),
                limits.max_nodes
            ));
        }
        for view in remote {
            if &view.id == me {
                return Err("the local node is listed as remote".into());
            }
            let mut bytes = 0;
            for (k, v) in &view.entries {
                if k.len() > limits.max_key_len || v.len() > limits.max_value_len {
                    return Err(format!("{} holds {k:?} over the limits", view.id));
                }
                bytes += k.len() + v.len() + ENTRY_OVERHEAD;
            }
            if bytes > limits.max_node_state_bytes {
                return Err(format!("{} holds {bytes} bytes", view.id));
            }
        }
        if !local && *local_view != self.local {
            return Err(format!(
                "local node changed without a local write: {:?} -> {local_view:?}",
                self.local
            ));
        }
        if local_view.entries != self.model {
            return Err(format!(
                "local entries {:?}, expected {:?}",
                local_view.entries, self.model
            ));
        }
        let status = if self.left {
            NodeStatus::Left
        } else {
            NodeStatus::Alive
        };
        if local_view.status != status || node.has_left() != self.left {
            return Err(format!(
                "local status {:?}, expected {status:?}",
                local_view.status
            ));
        }
        if local_view.version < self.local.version {
            return Err("local version went down".into());
        }
        self.local = local_view.clone();
        node.audit()?;
        Ok(())
    }
}
