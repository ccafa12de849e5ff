//! Stream exchanges in flight: the requests awaiting a result, and the
//! inbound streams awaiting the core's reply.

use std::collections::{BTreeMap, BTreeSet};

use kite_proto::{RequestId, StreamId};

use crate::hosts::HostId;

/// One request of one process: (host, incarnation, request).
pub(crate) type Requester = (HostId, u32, RequestId);

/// Streams in flight.
#[derive(Default)]
pub(super) struct Streams {
    /// Outbound requests awaiting a result.
    pending: BTreeSet<Requester>,
    /// Inbound streams awaiting the core's reply, and who asked (`None`:
    /// someone outside the simulation, whose reply goes nowhere).
    inbound: BTreeMap<(HostId, StreamId), Option<Requester>>,
    next: u64,
}

impl Streams {
    /// A request was sent; it now awaits a result.
    pub(super) fn open(&mut self, requester: Requester) {
        self.pending.insert(requester);
    }

    /// A request reached `to`: the new inbound stream, which remembers who
    /// asked.
    pub(super) fn accept(&mut self, to: HostId, requester: Option<Requester>) -> StreamId {
        let stream = StreamId(self.next);
        self.next += 1;
        self.inbound.insert((to, stream), requester);
        stream
    }

    /// `host` answered `stream`: who asked, if the stream was open and
    /// someone in the simulation asked.
    pub(super) fn answered(&mut self, host: HostId, stream: StreamId) -> Option<Requester> {
        self.inbound.remove(&(host, stream)).flatten()
    }

    /// A result reached the requester: true for the first one only.
    pub(super) fn finish(&mut self, requester: Requester) -> bool {
        self.pending.remove(&requester)
    }
}
