//! What the core asks its driver to do.

use core::net::SocketAddr;

use crate::event::Event;
use crate::time::Timestamp;

/// Names one outbound stream exchange, so its result can be handed back with
/// [`crate::Node::handle_response`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Names one inbound stream, chosen by the driver, so the core's reply can be
/// written to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(pub u64);

/// One thing for the driver to do, from [`crate::Node::poll_output`]. How
/// to carry out each is part of the driving contract on [`crate::Node`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send `payload` as one UDP datagram to `to`, from the UDP socket bound
    /// at the advertise port. Never longer than `max_packet_size` (its
    /// security envelope included).
    Transmit {
        /// Destination.
        to: SocketAddr,
        /// The datagram.
        payload: Vec<u8>,
    },
    /// Open a stream to `to`, write `payload` as one frame, read one reply
    /// frame, and hand the outcome, reply or failure, to
    /// `handle_response(now, id, ..)`. Apply `Config::stream_timeout` to
    /// each of connect, write and read. Do it off the loop (a thread or task
    /// per exchange): it can take seconds. The framing is on
    /// [`crate::Node::handle_response`].
    Request {
        /// Names the exchange.
        id: RequestId,
        /// Destination.
        to: SocketAddr,
        /// The request frame's body.
        payload: Vec<u8>,
    },
    /// Reply on the inbound stream `id` with `payload` as one frame, or close
    /// it without a reply when `payload` is `None` (the request was invalid).
    /// Every `handle_request` produces exactly one `Response`. The framing is
    /// on [`crate::Node::handle_request`].
    Response {
        /// The inbound stream.
        id: StreamId,
        /// The reply frame's body.
        payload: Option<Vec<u8>>,
    },
    /// Resolve the domain `name` and hand its IP addresses, or the failure
    /// as a [`crate::ResolveError`], to `handle_resolved(now, name, ..)`,
    /// off the loop (a lookup can take seconds). A join through the name
    /// completes only once the answer is in.
    Resolve {
        /// The domain name, without a port.
        name: String,
    },
    /// Tell the application.
    Event(Event),
    /// Nothing more to do until this time: wait for inputs until then, and
    /// once the clock reaches it call `handle_timeout` with the current time
    /// (not this one, which may still be ahead). Any input may bring the
    /// deadline closer, so poll again after each.
    Timeout(Timestamp),
}
