//! [`EventStream`]: a node's events as an async stream.

use core::pin::Pin;
use core::task::{Context, Poll};

use async_channel::Receiver;
use futures_core::Stream;
use kite_proto::Event;

/// The events of one node, from [`Kite::events`](crate::Kite::events); also
/// a [`futures_core::Stream`], so it works with the stream combinators of
/// tokio-stream, futures and futures-lite alike.
#[derive(Debug)]
pub struct EventStream {
    events: Pin<Box<Receiver<Event>>>,
}

impl EventStream {
    pub(crate) fn new(events: Receiver<Event>) -> Self {
        EventStream {
            events: Box::pin(events),
        }
    }

    /// The next event, or `None` once the node has stopped.
    pub async fn recv(&mut self) -> Option<Event> {
        self.events.recv().await.ok()
    }
}

impl Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.events.as_mut().poll_next(cx)
    }
}
