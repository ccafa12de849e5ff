//! Stream exchanges over the virtual network: a request reaches the peer's
//! `handle_request` after a connection handshake and the request's transit,
//! and the reply comes back to `handle_response`. A crashed peer refuses the
//! connection; a partition or a slow, lossy link makes the requester time
//! out after the network's stream timeout.

use std::collections::{BTreeMap, BTreeSet};

use kite_proto::{RequestId, StreamError, StreamId};

use crate::host::HostId;
use crate::sim::{Happening, Sim};
use crate::trace::Record;

/// Streams in flight.
#[derive(Default)]
pub(crate) struct Streams {
    /// Outbound requests awaiting a result: (host, incarnation, request).
    pending: BTreeSet<(HostId, u32, RequestId)>,
    /// Inbound streams awaiting the core's reply, and who asked.
    inbound: BTreeMap<(HostId, StreamId), (HostId, u32, RequestId)>,
    next: u64,
}

impl Sim {
    pub(crate) fn open_stream(
        &mut self,
        from: HostId,
        request: RequestId,
        to: core::net::SocketAddr,
        payload: Vec<u8>,
    ) {
        let counters = &mut self.metrics.hosts[from.0];
        counters.streams += 1;
        counters.stream_bytes += payload.len() as u64;
        self.trace.record(Record::StreamOpen, self.now, from.0);
        self.trace.u64(payload.len() as u64);
        let incarnation = self.hosts[from.0].incarnation;
        self.streams.pending.insert((from, incarnation, request));
        let timeout = Happening::StreamTimeout {
            host: from,
            incarnation,
            request,
        };
        self.queue
            .push(self.now + self.network.stream_timeout, timeout);
        let Some(target) = HostId::of(to).filter(|t| t.0 < self.hosts.len()) else {
            // Nobody at that address: the SYN goes unanswered.
            return;
        };
        if self.partitions.blocks(from, target) || self.partitions.blocks(target, from) {
            return;
        }
        // SYN, SYN-ACK, then the request itself.
        let mut delay = self.network.segment_delay(&mut self.rng, from, target);
        delay += self.network.segment_delay(&mut self.rng, target, from);
        delay += self.network.segment_delay(&mut self.rng, from, target);
        let arrival = Happening::Request {
            to: target,
            from,
            incarnation,
            request,
            payload,
        };
        self.queue.push(self.now + delay, arrival);
    }

    /// The request reached a running, unpaused node.
    pub(crate) fn accept_stream(
        &mut self,
        to: HostId,
        from: HostId,
        incarnation: u32,
        request: RequestId,
        payload: &[u8],
    ) {
        let stream = StreamId(self.streams.next);
        self.streams.next += 1;
        self.streams
            .inbound
            .insert((to, stream), (from, incarnation, request));
        let now = self.local_now(to);
        if let Some(node) = self.hosts[to.0].node.as_mut() {
            node.handle_request(now, stream, from.addr(), payload);
        }
        self.drain(to);
    }

    /// No process at the address: the connection is reset.
    pub(crate) fn refuse_stream(
        &mut self,
        to: HostId,
        from: HostId,
        incarnation: u32,
        request: RequestId,
    ) {
        self.metrics.streams_refused += 1;
        if self.partitions.blocks(to, from) {
            return;
        }
        let delay = self.network.segment_delay(&mut self.rng, to, from);
        let reset = Happening::Response {
            to: from,
            incarnation,
            request,
            result: Err(StreamError::Connect("connection refused".to_owned())),
        };
        self.queue.push(self.now + delay, reset);
    }

    /// The core answered an inbound stream.
    pub(crate) fn reply_stream(
        &mut self,
        host: HostId,
        stream: StreamId,
        payload: Option<Vec<u8>>,
    ) {
        let Some((to, incarnation, request)) = self.streams.inbound.remove(&(host, stream)) else {
            return;
        };
        if let Some(reply) = &payload {
            self.metrics.hosts[host.0].stream_bytes += reply.len() as u64;
        }
        if self.partitions.blocks(host, to) {
            return;
        }
        let delay = self.network.segment_delay(&mut self.rng, host, to);
        let reply = Happening::Response {
            to,
            incarnation,
            request,
            result: payload.ok_or(StreamError::Closed),
        };
        self.queue.push(self.now + delay, reply);
    }

    /// A reply, reset or timeout reached the requester: the first one wins.
    pub(crate) fn finish_stream(
        &mut self,
        host: HostId,
        incarnation: u32,
        request: RequestId,
        result: Result<Vec<u8>, StreamError>,
    ) {
        if !self.streams.pending.remove(&(host, incarnation, request)) {
            return;
        }
        if result == Err(StreamError::TimedOut) {
            self.metrics.streams_timed_out += 1;
        }
        self.trace.record(Record::StreamDone, self.now, host.0);
        self.trace.u64(u64::from(result.is_ok()));
        let now = self.local_now(host);
        let h = &mut self.hosts[host.0];
        if h.incarnation != incarnation {
            return;
        }
        if let Some(node) = h.node.as_mut() {
            let result = match &result {
                Ok(bytes) => Ok(bytes.as_slice()),
                Err(err) => Err(err.clone()),
            };
            node.handle_response(now, request, result);
        }
        self.drain(host);
    }
}
