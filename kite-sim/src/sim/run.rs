//! The run loop: virtual time jumps from one scheduled happening to the
//! next, and every output of a node is carried to the part of the world it
//! concerns: datagrams and streams to the network, questions to DNS, events
//! to the log and the invariant checks. Every output can also be logged as
//! it is carried ([`Sim::record_outputs`]).

use core::net::SocketAddr;
use core::time::Duration;

use kite_proto::{Event, Output, RequestId, StreamError, StreamId, Timestamp};

use super::Sim;
use crate::events::LoggedEvent;
use crate::failure::Failure;
use crate::hosts::HostId;
use crate::invariants::Violation;
use crate::network::{Requester, Transit};
use crate::trace::Record;

/// One output emitted by one node, as logged once [`Sim::record_outputs`]
/// was called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedOutput {
    /// When it was emitted (true time).
    pub at: Timestamp,
    /// The host whose node emitted it.
    pub host: HostId,
    /// The output, exactly as the node emitted it.
    pub output: Output,
}

/// Something scheduled to happen at a point of virtual time.
pub(super) enum Happening {
    /// A node's deadline (`at` is the deadline it asked for).
    Timer {
        host: HostId,
        incarnation: u32,
        at: Timestamp,
    },
    Datagram {
        to: HostId,
        from: SocketAddr,
        payload: Vec<u8>,
    },
    Request {
        to: HostId,
        from: SocketAddr,
        /// Who waits for the reply (`None`: someone outside the simulation).
        requester: Option<Requester>,
        payload: Vec<u8>,
    },
    Response {
        to: Requester,
        result: Result<Vec<u8>, StreamError>,
    },
    StreamTimeout {
        requester: Requester,
    },
    Resolved {
        host: HostId,
        incarnation: u32,
        name: String,
    },
    Sweep,
}

impl Happening {
    /// The host that must be running (and not paused) to take it.
    fn target(&self) -> Option<HostId> {
        match self {
            Happening::Timer { host, .. } | Happening::Resolved { host, .. } => Some(*host),
            Happening::StreamTimeout {
                requester: (host, ..),
            }
            | Happening::Response { to: (host, ..), .. } => Some(*host),
            Happening::Datagram { to, .. } | Happening::Request { to, .. } => Some(*to),
            Happening::Sweep => None,
        }
    }
}

impl Sim {
    /// Runs for `duration` of virtual time. Fails at the first broken
    /// invariant (and keeps failing after that).
    pub fn run_for(&mut self, duration: Duration) -> Result<(), Failure> {
        self.advance_to(self.now + duration)
    }

    /// Runs until `done` holds (evaluated every `check_every` of virtual
    /// time, see [`SimBuilder::check_every`](crate::SimBuilder::check_every))
    /// and returns how long it took, or fails after `limit`.
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&Sim) -> bool,
        limit: Duration,
    ) -> Result<Duration, Failure> {
        let start = self.now;
        let deadline = start + limit;
        loop {
            if let Some(failure) = &self.failure {
                return Err(failure.clone());
            }
            if done(self) {
                return Ok(self.now.saturating_since(start));
            }
            if self.now >= deadline {
                return Err(self.failure(format!("condition not met within {limit:?}")));
            }
            self.advance_to((self.now + self.check_every).min(deadline))?;
        }
    }

    fn advance_to(&mut self, end: Timestamp) -> Result<(), Failure> {
        while let Some(at) = self.queue.peek_time() {
            if let Some(failure) = &self.failure {
                return Err(failure.clone());
            }
            if at > end {
                break;
            }
            let Some((at, happening)) = self.queue.pop() else {
                break;
            };
            self.now = at;
            self.dispatch(happening);
        }
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        self.now = self.now.max(end);
        Ok(())
    }

    fn dispatch(&mut self, happening: Happening) {
        if let Some(target) = happening.target() {
            if self.hosts.node(target).is_none() {
                self.undeliverable(target, happening);
                return;
            }
            let resume = self.hosts.paused_until(target);
            if resume > self.now {
                // The process is stalled: inputs wait in the kernel.
                self.queue.push(resume, happening);
                return;
            }
        }
        match happening {
            Happening::Timer {
                host,
                incarnation,
                at,
            } => self.wake(host, incarnation, at),
            Happening::Datagram { to, from, payload } => {
                self.metrics.delivered += 1;
                self.trace.record(Record::Deliver, self.now, to.0);
                self.trace.u64(payload.len() as u64);
                let now = self.local_now(to);
                if let Some(node) = self.hosts.node_mut(to) {
                    node.handle_datagram(now, from, &payload);
                }
                self.drain(to);
            }
            Happening::Request {
                to,
                from,
                requester,
                payload,
            } => self.accept_stream(to, from, requester, &payload),
            Happening::Response { to, result } => self.finish_stream(to, result),
            Happening::StreamTimeout { requester } => {
                self.finish_stream(requester, Err(StreamError::TimedOut));
            }
            Happening::Resolved {
                host,
                incarnation,
                name,
            } => self.answer_dns(host, incarnation, &name),
            Happening::Sweep => self.sweep(),
        }
    }

    /// A happening for a host with no running process.
    fn undeliverable(&mut self, target: HostId, happening: Happening) {
        match happening {
            Happening::Datagram { .. } => {
                self.metrics.undeliverable += 1;
                self.trace.record(Record::Drop, self.now, target.0);
            }
            Happening::Request {
                to,
                requester: Some(requester),
                ..
            } => self.refuse_stream(to, requester),
            _ => {}
        }
    }

    /// A node's deadline is due.
    fn wake(&mut self, host: HostId, incarnation: u32, at: Timestamp) {
        let now = self.local_now(host);
        if !self.hosts.take_timer(host, incarnation, at) {
            return;
        }
        if let Some(node) = self.hosts.node_mut(host) {
            node.handle_timeout(now);
        }
        self.drain(host);
        if self.hosts.timer(host).is_some_and(|t| t <= now) {
            let ids = self.id(host).into_iter().collect();
            self.violated(Violation {
                what: format!("{host} asked to be woken at or before the deadline it just handled"),
                ids,
            });
        }
    }

    /// Logs, from now on, every output every node emits, in order
    /// (its `Timeout`s too), for [`Sim::outputs`]: the raw datagrams and
    /// stream payloads, byte for byte.
    ///
    /// ```
    /// use core::time::Duration;
    /// use kite_sim::proto::Output;
    /// use kite_sim::Sim;
    ///
    /// # fn main() -> Result<(), kite_sim::Failure> {
    /// let mut sim = Sim::new(1);
    /// sim.record_outputs();
    /// let hosts = sim.add_nodes(2);
    /// sim.join(hosts[1], &[hosts[0].addr().to_string()]).unwrap();
    /// sim.run_for(Duration::from_secs(2))?;
    /// let seed = hosts[0].addr();
    /// assert!(sim.outputs().iter().any(|o| {
    ///     o.host == hosts[1] && matches!(o.output, Output::Transmit { to, .. } if to == seed)
    /// }));
    /// # Ok(())
    /// # }
    /// ```
    pub fn record_outputs(&mut self) {
        self.outputs.get_or_insert_with(Vec::new);
    }

    /// The outputs logged since [`Sim::record_outputs`] (none before).
    pub fn outputs(&self) -> &[LoggedOutput] {
        self.outputs.as_deref().unwrap_or_default()
    }

    /// Carries out every output of `host`'s node until it asks to be woken.
    pub(super) fn drain(&mut self, host: HostId) {
        loop {
            let Some(node) = self.hosts.node_mut(host) else {
                return;
            };
            let output = node.poll_output();
            if let Some(log) = &mut self.outputs {
                log.push(LoggedOutput {
                    at: self.now,
                    host,
                    output: output.clone(),
                });
            }
            match output {
                Output::Timeout(at) => {
                    if let Some((wake, incarnation)) = self.hosts.set_timer(host, at, self.now) {
                        let timer = Happening::Timer {
                            host,
                            incarnation,
                            at,
                        };
                        self.queue.push(wake, timer);
                    }
                    return;
                }
                Output::Transmit { to, payload } => self.send_datagram(host, to, payload),
                Output::Request { id, to, payload } => self.open_stream(host, id, to, payload),
                Output::Response { id, payload } => self.reply_stream(host, id, payload),
                Output::Resolve { name } => self.ask_dns(host, name),
                Output::Event(event) => self.on_event(host, event),
            }
        }
    }

    fn send_datagram(&mut self, from: HostId, to: SocketAddr, payload: Vec<u8>) {
        let len = payload.len();
        let counters = &mut self.metrics.hosts[from.0];
        counters.datagrams += 1;
        counters.datagram_bytes += len as u64;
        counters.largest_datagram = counters.largest_datagram.max(len);
        self.trace.record(Record::Send, self.now, from.0);
        self.trace.u64(len as u64);
        let limit = self.hosts.max_packet_size(from);
        if len > limit {
            let ids = self.id(from).into_iter().collect();
            self.violated(Violation {
                what: format!(
                    "{from} emitted a {len}-byte datagram, over its max_packet_size of {limit}"
                ),
                ids,
            });
        }
        let max = self.network.model().max_datagram;
        if len > max {
            self.metrics.oversize += 1;
            let ids = self.id(from).into_iter().collect();
            self.violated(Violation {
                what: format!(
                    "{from} emitted a {len}-byte datagram, over the network's {max}-byte limit"
                ),
                ids,
            });
            return;
        }
        let Some(target) = self.hosts.at(to) else {
            self.metrics.undeliverable += 1;
            return;
        };
        #[cfg(any(test, feature = "fuzzing"))]
        let Some(payload) = self.hold_datagram(from, target, payload) else {
            return;
        };
        match self.network.datagram(&mut self.rng, from, target) {
            Transit::Partitioned => {
                self.metrics.partitioned += 1;
                self.trace.record(Record::Drop, self.now, target.0);
            }
            Transit::Lost => {
                self.metrics.lost += 1;
                self.trace.record(Record::Drop, self.now, target.0);
            }
            Transit::Arrives { copy, delay } => {
                let from = self.hosts.addr(from);
                if let Some(copy) = copy {
                    self.metrics.duplicated += 1;
                    let datagram = Happening::Datagram {
                        to: target,
                        from,
                        payload: payload.clone(),
                    };
                    self.queue.push(self.now + copy, datagram);
                }
                let datagram = Happening::Datagram {
                    to: target,
                    from,
                    payload,
                };
                self.queue.push(self.now + delay, datagram);
            }
        }
    }

    /// `from` opens a stream to `to`; it times out after `from`'s stream
    /// timeout (its `Config::stream_timeout`, the whole exchange) unless a
    /// result comes first.
    fn open_stream(&mut self, from: HostId, request: RequestId, to: SocketAddr, payload: Vec<u8>) {
        let counters = &mut self.metrics.hosts[from.0];
        counters.streams += 1;
        counters.stream_bytes += payload.len() as u64;
        self.trace.record(Record::StreamOpen, self.now, from.0);
        self.trace.u64(payload.len() as u64);
        let requester = (from, self.hosts.incarnation(from), request);
        let target = self.hosts.at(to);
        // A request held for a fuzz harness reaches nobody until the
        // harness delivers it.
        #[cfg(any(test, feature = "fuzzing"))]
        let (target, payload) = self.hold_request(requester, target, payload);
        let arrival = self.network.open_stream(&mut self.rng, requester, target);
        let timeout = self.now + self.hosts.stream_timeout(from);
        self.queue
            .push(timeout, Happening::StreamTimeout { requester });
        if let (Some(to), Some(delay)) = (target, arrival) {
            let request = Happening::Request {
                to,
                from: self.hosts.addr(from),
                requester: Some(requester),
                payload,
            };
            self.queue.push(self.now + delay, request);
        }
    }

    /// The request reached a running, unpaused node.
    fn accept_stream(
        &mut self,
        to: HostId,
        from: SocketAddr,
        requester: Option<Requester>,
        payload: &[u8],
    ) {
        let stream = self.network.accept_stream(to, requester);
        let now = self.local_now(to);
        if let Some(node) = self.hosts.node_mut(to) {
            node.handle_request(now, stream, from, payload);
        }
        self.drain(to);
    }

    /// No process at the address: the connection is reset.
    fn refuse_stream(&mut self, to: HostId, from: Requester) {
        self.metrics.streams_refused += 1;
        if let Some(delay) = self.network.refuse_stream(&mut self.rng, to, from.0) {
            let reset = Happening::Response {
                to: from,
                result: Err(StreamError::Connect("connection refused".to_owned())),
            };
            self.queue.push(self.now + delay, reset);
        }
    }

    /// The core answered an inbound stream.
    fn reply_stream(&mut self, host: HostId, stream: StreamId, payload: Option<Vec<u8>>) {
        let Some(reply) = self.network.reply_stream(&mut self.rng, host, stream) else {
            return;
        };
        if let Some(bytes) = &payload {
            self.metrics.hosts[host.0].stream_bytes += bytes.len() as u64;
        }
        if let Some(delay) = reply.delay {
            let response = Happening::Response {
                to: reply.to,
                result: payload.ok_or(StreamError::Closed),
            };
            self.queue.push(self.now + delay, response);
        }
    }

    /// A reply, reset or timeout reached the requester: the first one wins.
    fn finish_stream(&mut self, requester: Requester, result: Result<Vec<u8>, StreamError>) {
        if !self.network.finish_stream(requester) {
            return;
        }
        let (host, incarnation, request) = requester;
        if result == Err(StreamError::TimedOut) {
            self.metrics.streams_timed_out += 1;
        }
        self.trace.record(Record::StreamDone, self.now, host.0);
        self.trace.u64(u64::from(result.is_ok()));
        if self.hosts.incarnation(host) != incarnation {
            return;
        }
        let now = self.local_now(host);
        if let Some(node) = self.hosts.node_mut(host) {
            let result = match &result {
                Ok(bytes) => Ok(bytes.as_slice()),
                Err(err) => Err(err.clone()),
            };
            node.handle_response(now, request, result);
        }
        self.drain(host);
    }

    /// A node asked to resolve `name`; the answer comes after the DNS
    /// latency, as the table reads then.
    fn ask_dns(&mut self, host: HostId, name: String) {
        let incarnation = self.hosts.incarnation(host);
        let at = self.now + self.network.model().dns_latency;
        let answer = Happening::Resolved {
            host,
            incarnation,
            name,
        };
        self.queue.push(at, answer);
    }

    fn answer_dns(&mut self, host: HostId, incarnation: u32, name: &str) {
        if self.hosts.incarnation(host) != incarnation {
            return;
        }
        let answer = self.dns.resolve(name);
        self.metrics.resolutions += 1;
        self.trace.record(Record::Resolve, self.now, host.0);
        self.trace.str(name);
        if let Ok(ips) = &answer {
            for ip in ips {
                self.trace.str(&ip.to_string());
            }
        }
        let now = self.local_now(host);
        if let Some(node) = self.hosts.node_mut(host) {
            node.handle_resolved(now, name, answer);
        }
        self.drain(host);
    }

    fn on_event(&mut self, host: HostId, event: Event) {
        self.metrics.events += 1;
        self.trace.record(Record::Event, self.now, host.0);
        self.trace.event(&event);
        let Some(node) = self.hosts.node(host) else {
            return;
        };
        let checked = self.invariants.on_event(node, &event);
        if self.record_events.is_some_and(|keep| keep(&event)) {
            let node = node.id().clone();
            self.events.push(LoggedEvent {
                at: self.now,
                host,
                node,
                event,
            });
        }
        if let Err(v) = checked {
            self.violated(v);
        }
    }

    fn sweep(&mut self) {
        if let Some(every) = self.invariants.sweep_every() {
            self.queue.push(self.now + every, Happening::Sweep);
        }
        self.check_views();
    }

    /// Checks every running node's view ([`Invariants::sweep`](crate::invariants::Invariants::sweep)).
    pub(super) fn check_views(&mut self) {
        let mut broken = None;
        for host in self.hosts() {
            if let Some(node) = self.hosts.node(host)
                && let Err(v) = self.invariants.sweep(node)
            {
                broken = Some(v);
                break;
            }
        }
        if let Some(v) = broken {
            self.violated(v);
        }
    }
}
