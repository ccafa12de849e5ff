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

/// One thing for the driver to do, from [`crate::Node::poll_output`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send `payload` as one UDP datagram to `to`. Never longer than
    /// `max_packet_size`.
    Transmit {
        /// Destination.
        to: SocketAddr,
        /// The datagram.
        payload: Vec<u8>,
    },
    /// Open a stream to `to`, write `payload` as one frame, read one reply
    /// frame, and hand the outcome to `handle_response(now, id, ..)`. Apply
    /// the stream timeout to connect, write and read.
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
    /// Every `handle_request` produces exactly one `Response`.
    Response {
        /// The inbound stream.
        id: StreamId,
        /// The reply frame's body.
        payload: Option<Vec<u8>>,
    },
    /// Resolve the domain `name` and hand the addresses to
    /// `handle_resolved(now, name, ..)`.
    Resolve {
        /// The domain name, without a port.
        name: String,
    },
    /// Tell the application.
    Event(Event),
    /// Nothing more to do: call `handle_timeout` at this time, or earlier
    /// when an input arrives.
    Timeout(Timestamp),
}
