//! Mutations of real traffic: byte-level corruption, and edits of the decoded
//! message (some an honest but lossy network could produce, some forgeries).

use core::net::SocketAddr;

use arbitrary::Arbitrary;

use kite_proto::NodeId;
use kite_proto::wire::{
    self, Delta, Digest, DigestEntry, Message, NodeDelta, RumorKind, Update, UpdateKind,
};

/// What to do to one captured payload before it is delivered.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// Deliver it as it is.
    None,
    /// Flip one bit (the position wraps around the payload).
    FlipBit {
        /// Byte position.
        at: u16,
        /// Bit number (taken modulo 8).
        bit: u8,
    },
    /// Overwrite one byte.
    SetByte {
        /// Byte position.
        at: u16,
        /// The new byte.
        value: u8,
    },
    /// Keep only the first `len` bytes.
    Truncate {
        /// Bytes kept.
        len: u16,
    },
    /// Insert bytes.
    Insert {
        /// Byte position.
        at: u16,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Remove up to `len` bytes.
    Remove {
        /// Byte position.
        at: u16,
        /// Bytes removed.
        len: u8,
    },
    /// Decode, edit the message, and encode it again.
    Edit(Edit),
}

/// A structural edit of a decoded message. Indexes wrap around the lists
/// they select from; an edit that does not apply leaves the message alone.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Drop one node of the delta (a truncated delta).
    DropNode {
        /// Which node.
        node: u8,
    },
    /// Keep only a prefix of one node's updates (a truncated delta).
    KeepUpdates {
        /// Which node.
        node: u8,
        /// Updates kept.
        keep: u8,
    },
    /// Drop one digest entry (a truncated digest).
    DropEntry {
        /// Which entry.
        entry: u8,
    },
    /// Set the digest's `complete` flag.
    Complete(bool),
    /// Lower a delta node's heartbeat (stale evidence).
    LowerHeartbeat {
        /// Which node.
        node: u8,
        /// The new heartbeat, if lower.
        to: u64,
    },
    /// Lower a digest entry's heartbeat and version (a staler digest).
    LowerEntry {
        /// Which entry.
        entry: u8,
        /// The new heartbeat, if lower.
        heartbeat: u64,
        /// The new version, if lower.
        version: u64,
    },
    /// Reverse the order of the delta's nodes.
    ReverseNodes,
    /// Forgery: drop one update from the middle of a node's updates.
    DropUpdate {
        /// Which node.
        node: u8,
        /// Which update.
        update: u8,
    },
    /// Forgery: change an update's version.
    SetVersion {
        /// Which node.
        node: u8,
        /// Which update.
        update: u8,
        /// The new version.
        version: u64,
    },
    /// Forgery: change what an update does.
    SetKind {
        /// Which node.
        node: u8,
        /// Which update.
        update: u8,
        /// What it does now.
        kind: UpdateKind,
    },
    /// Forgery: add an update.
    AddUpdate {
        /// Which node.
        node: u8,
        /// The update.
        update: Update,
    },
    /// Forgery: change the version a node's updates continue from.
    SetFromVersion {
        /// Which node.
        node: u8,
        /// The new version.
        from: u64,
    },
    /// Forgery: change a node's heartbeat.
    SetHeartbeat {
        /// Which node.
        node: u8,
        /// The new heartbeat.
        heartbeat: u64,
    },
    /// Forgery: change a digest entry.
    SetEntry {
        /// Which entry.
        entry: u8,
        /// Its new heartbeat.
        heartbeat: u64,
        /// Its new version.
        version: u64,
    },
    /// Forgery: attribute a node's updates to another id.
    Rename {
        /// Which node.
        node: u8,
        /// The new id.
        id: NodeId,
    },
    /// Forgery: change a node's address.
    SetAddr {
        /// Which node.
        node: u8,
        /// The new address.
        addr: SocketAddr,
    },
    /// Forgery: change the sender.
    SetFrom(NodeId),
    /// Duplicate a node inside the delta.
    DuplicateNode {
        /// Which node.
        node: u8,
    },
    /// Forgery: attribute a node's updates to another run of it.
    SetGeneration {
        /// Which node.
        node: u8,
        /// The run.
        generation: u64,
    },
}

impl Edit {
    /// True for the edits an honest but lossy network could produce: what
    /// they deliver is stale or incomplete, never false.
    pub fn is_honest(&self) -> bool {
        matches!(
            self,
            Edit::DropNode { .. }
                | Edit::KeepUpdates { .. }
                | Edit::DropEntry { .. }
                | Edit::Complete(_)
                | Edit::LowerHeartbeat { .. }
                | Edit::LowerEntry { .. }
                | Edit::ReverseNodes
                | Edit::DuplicateNode { .. }
        )
    }

    /// Applies the edit to `msg`.
    pub fn apply(&self, msg: &mut Message) {
        match self {
            Edit::DropNode { node } => with_nodes(msg, |nodes| {
                let i = pick(*node, nodes.len())?;
                nodes.remove(i);
                Some(())
            }),
            Edit::KeepUpdates { node, keep } => with_node(msg, *node, |n| {
                n.updates.truncate(usize::from(*keep));
            }),
            Edit::DropEntry { entry } => with_digest(msg, |d| {
                if let Some(i) = pick(*entry, d.entries.len()) {
                    d.entries.remove(i);
                }
            }),
            Edit::Complete(complete) => with_digest(msg, |d| d.complete = *complete),
            Edit::LowerHeartbeat { node, to } => with_node(msg, *node, |n| {
                n.heartbeat = n.heartbeat.min(*to);
            }),
            Edit::LowerEntry {
                entry,
                heartbeat,
                version,
            } => with_digest(msg, |d| {
                if let Some(i) = pick(*entry, d.entries.len()) {
                    let e = &mut d.entries[i];
                    e.heartbeat = e.heartbeat.min(*heartbeat);
                    e.version = e.version.min(*version);
                }
            }),
            Edit::ReverseNodes => with_nodes(msg, |nodes| {
                nodes.reverse();
                Some(())
            }),
            Edit::DropUpdate { node, update } => with_node(msg, *node, |n| {
                if let Some(i) = pick(*update, n.updates.len()) {
                    n.updates.remove(i);
                }
            }),
            Edit::SetVersion {
                node,
                update,
                version,
            } => with_node(msg, *node, |n| {
                if let Some(i) = pick(*update, n.updates.len()) {
                    n.updates[i].version = *version;
                }
            }),
            Edit::SetKind { node, update, kind } => with_node(msg, *node, |n| {
                if let Some(i) = pick(*update, n.updates.len()) {
                    n.updates[i].kind = kind.clone();
                }
            }),
            Edit::AddUpdate { node, update } => with_node(msg, *node, |n| {
                n.updates.push(update.clone());
            }),
            Edit::SetFromVersion { node, from } => {
                with_node(msg, *node, |n| n.from_version = *from);
            }
            Edit::SetGeneration { node, generation } => {
                with_node(msg, *node, |n| n.generation = *generation);
            }
            Edit::SetHeartbeat { node, heartbeat } => {
                with_node(msg, *node, |n| n.heartbeat = *heartbeat);
            }
            Edit::SetEntry {
                entry,
                heartbeat,
                version,
            } => with_digest(msg, |d| {
                if let Some(i) = pick(*entry, d.entries.len()) {
                    d.entries[i].heartbeat = *heartbeat;
                    d.entries[i].version = *version;
                }
            }),
            Edit::Rename { node, id } => with_node(msg, *node, |n| n.id = id.clone()),
            Edit::SetAddr { node, addr } => with_node(msg, *node, |n| n.addr = *addr),
            Edit::SetFrom(id) => *from_mut(msg) = id.clone(),
            Edit::DuplicateNode { node } => with_nodes(msg, |nodes| {
                let i = pick(*node, nodes.len())?;
                nodes.insert(i, nodes[i].clone());
                Some(())
            }),
        }
    }
}

impl Mutation {
    /// True when the result is `bytes` itself, stale or incomplete, or
    /// cannot decode: never a forgery (byte-level corruption is counted as
    /// forgery-capable, since it may decode to a different valid message).
    pub fn is_honest(&self) -> bool {
        match self {
            Mutation::None => true,
            Mutation::Edit(edit) => edit.is_honest(),
            _ => false,
        }
    }

    /// The mutated payload.
    pub fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let at = |at: u16, len: usize| usize::from(at) % (len + 1);
        match self {
            Mutation::None => {}
            Mutation::FlipBit { at: i, bit } => {
                if !out.is_empty() {
                    let i = usize::from(*i) % out.len();
                    out[i] ^= 1 << (bit % 8);
                }
            }
            Mutation::SetByte { at: i, value } => {
                if !out.is_empty() {
                    let i = usize::from(*i) % out.len();
                    out[i] = *value;
                }
            }
            Mutation::Truncate { len } => out.truncate(usize::from(*len)),
            Mutation::Insert { at: i, bytes } => {
                let i = at(*i, out.len());
                out.splice(i..i, bytes.iter().copied());
            }
            Mutation::Remove { at: i, len } => {
                let i = at(*i, out.len());
                let end = (i + usize::from(*len)).min(out.len());
                out.drain(i..end);
            }
            Mutation::Edit(edit) => {
                if let Ok(mut msg) = wire::decode(bytes) {
                    edit.apply(&mut msg);
                    out = wire::encode(&msg);
                }
            }
        }
        out
    }
}

fn pick(i: u8, len: usize) -> Option<usize> {
    (len > 0).then(|| usize::from(i) % len)
}

/// The delta a message carries, if any.
pub(super) fn delta_mut(msg: &mut Message) -> Option<&mut Delta> {
    match msg {
        Message::DigestResponse { delta, .. }
        | Message::Delta { delta, .. }
        | Message::JoinRequest { delta, .. }
        | Message::JoinResponse { delta, .. }
        | Message::Push { delta, .. } => Some(delta),
        Message::DigestRequest { .. } | Message::Ack { .. } | Message::Liveness { .. } => None,
    }
}

/// The digest a message carries, if any.
pub(super) fn digest_mut(msg: &mut Message) -> Option<&mut Digest> {
    match msg {
        Message::DigestRequest { digest, .. }
        | Message::DigestResponse { digest, .. }
        | Message::JoinRequest { digest, .. } => Some(digest),
        _ => None,
    }
}

fn from_mut(msg: &mut Message) -> &mut NodeId {
    match msg {
        Message::DigestRequest { from, .. }
        | Message::DigestResponse { from, .. }
        | Message::Delta { from, .. }
        | Message::JoinRequest { from, .. }
        | Message::JoinResponse { from, .. }
        | Message::Push { from, .. }
        | Message::Ack { from }
        | Message::Liveness { from, .. } => from,
    }
}

fn with_nodes(msg: &mut Message, f: impl FnOnce(&mut Vec<NodeDelta>) -> Option<()>) {
    if let Some(delta) = delta_mut(msg) {
        let _ = f(&mut delta.nodes);
    }
}

fn with_node(msg: &mut Message, node: u8, f: impl FnOnce(&mut NodeDelta)) {
    with_nodes(msg, |nodes| {
        let i = pick(node, nodes.len())?;
        f(&mut nodes[i]);
        Some(())
    });
}

fn with_digest(msg: &mut Message, f: impl FnOnce(&mut Digest)) {
    if let Some(digest) = digest_mut(msg) {
        f(digest);
    }
}

/// What `msg` claims about the nodes `ids`: their delta nodes and digest
/// entries, in order.
pub(super) fn claims(msg: &Message, ids: &[&NodeId]) -> (Vec<NodeDelta>, Vec<DigestEntry>) {
    if let Message::Liveness {
        from,
        run,
        heartbeat,
        rumors,
        news,
        ..
    } = msg
    {
        // The sender's heartbeat, each rumor (as an entry whose version
        // tells the kind) and each pushed update are claims too.
        let claim = |id: &NodeId, run: u16, heartbeat: u64, version: u64| DigestEntry {
            id: id.clone(),
            run,
            heartbeat,
            version,
        };
        let mut entries: Vec<DigestEntry> = Vec::new();
        if ids.contains(&from) {
            entries.push(claim(from, *run, *heartbeat, 0));
        }
        for rumor in rumors {
            let (version, by) = match &rumor.kind {
                RumorKind::Alive => (1, None),
                RumorKind::Suspect { by } => (2, Some(by)),
            };
            if ids.contains(&&rumor.id) || by.is_some_and(|by| ids.contains(&by)) {
                entries.push(claim(
                    &rumor.id,
                    wire::run_tag(rumor.generation),
                    rumor.heartbeat,
                    version,
                ));
            }
        }
        let nodes = news
            .iter()
            .filter(|n| ids.contains(&&n.id))
            .cloned()
            .collect();
        return (nodes, entries);
    }
    let mut msg = msg.clone();
    let nodes = delta_mut(&mut msg)
        .map(|d| {
            d.nodes
                .iter()
                .filter(|n| ids.contains(&&n.id))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let entries = digest_mut(&mut msg)
        .map(|d| {
            d.entries
                .iter()
                .filter(|e| ids.contains(&&e.id))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    (nodes, entries)
}
