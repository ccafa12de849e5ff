//! The virtual network: the link model, partitions, hosts deaf to
//! datagrams and the streams in flight. It decides what becomes of each datagram and stream segment
//! (lost, blocked, or delivered after a delay); the simulator schedules the
//! deliveries. A crashed peer refuses a stream connection; a partition or a
//! slow, lossy link makes the requester time out after the model's stream
//! timeout.

mod model;
mod partitions;
mod streams;

use core::time::Duration;
use std::collections::BTreeSet;

use kite_proto::{SeededRng, StreamId};

use crate::hosts::HostId;
pub use model::{LinkModel, NetworkModel};
pub use partitions::PartitionId;
use partitions::Partitions;
pub(crate) use streams::Requester;
use streams::Streams;

/// What becomes of one datagram.
pub(crate) enum Transit {
    /// A partition, or the receiver's deafness, drops it.
    Partitioned,
    /// The link loses it.
    Lost,
    /// It arrives after `delay`; a second copy arrives after `copy`, if
    /// the link duplicated it.
    Arrives {
        copy: Option<Duration>,
        delay: Duration,
    },
}

/// A reply the core gave on an inbound stream, on its way back.
pub(crate) struct Reply {
    /// Who asked.
    pub(crate) to: Requester,
    /// When it arrives, unless a partition swallows it.
    pub(crate) delay: Option<Duration>,
}

/// The network: its model, the partitions in force, the hosts deaf to
/// datagrams and the streams in flight. Every random draw comes from the
/// generator the caller passes.
pub(crate) struct Network {
    model: NetworkModel,
    partitions: Partitions,
    /// Hosts that drop every inbound datagram (their streams still work).
    deaf: BTreeSet<HostId>,
    streams: Streams,
}

impl Network {
    pub(crate) fn new(model: NetworkModel) -> Network {
        Network {
            model,
            partitions: Partitions::default(),
            deaf: BTreeSet::new(),
            streams: Streams::default(),
        }
    }

    /// The model in force.
    pub(crate) fn model(&self) -> &NetworkModel {
        &self.model
    }

    /// The model, to change it from now on.
    pub(crate) fn model_mut(&mut self) -> &mut NetworkModel {
        &mut self.model
    }

    /// Blocks `from -> to`, and `to -> from` too when `both_ways`.
    pub(crate) fn partition(
        &mut self,
        from: &[HostId],
        to: &[HostId],
        both_ways: bool,
    ) -> PartitionId {
        self.partitions.add(from, to, both_ways)
    }

    /// Heals one partition; false if it was not in force.
    pub(crate) fn heal(&mut self, id: PartitionId) -> bool {
        self.partitions.heal(id)
    }

    /// Heals every partition.
    pub(crate) fn heal_all(&mut self) {
        self.partitions.heal_all();
    }

    /// Makes `host` drop every inbound datagram (`deaf`) or hear them
    /// again; false if it already did as asked.
    pub(crate) fn set_deaf(&mut self, host: HostId, deaf: bool) -> bool {
        if deaf {
            self.deaf.insert(host)
        } else {
            self.deaf.remove(&host)
        }
    }

    /// The fate of a datagram from `from` to `to`, sent now.
    pub(crate) fn datagram(&self, rng: &mut SeededRng, from: HostId, to: HostId) -> Transit {
        if !self.partitions.is_empty() && self.partitions.blocks(from, to) {
            return Transit::Partitioned;
        }
        if self.deaf.contains(&to) {
            return Transit::Partitioned;
        }
        let link = self.model.link_between(from, to);
        if link.lost(rng) {
            return Transit::Lost;
        }
        let copy = link.duplicated(rng).then(|| link.delay(rng));
        let delay = link.delay(rng);
        Transit::Arrives { copy, delay }
    }

    /// `requester` opens a stream to `to` (`None`: nobody at that
    /// address). Returns when the request reaches the peer (after SYN,
    /// SYN-ACK and the request itself), unless it never does.
    pub(crate) fn open_stream(
        &mut self,
        rng: &mut SeededRng,
        requester: Requester,
        to: Option<HostId>,
    ) -> Option<Duration> {
        self.streams.open(requester);
        let from = requester.0;
        let to = to?;
        if self.partitions.blocks(from, to) || self.partitions.blocks(to, from) {
            return None;
        }
        let mut delay = self.model.segment_delay(rng, from, to);
        delay += self.model.segment_delay(rng, to, from);
        delay += self.model.segment_delay(rng, from, to);
        Some(delay)
    }

    /// A request of `requester` (`None`: someone outside the simulation)
    /// reached a running, unpaused process on `to`.
    pub(crate) fn accept_stream(&mut self, to: HostId, requester: Option<Requester>) -> StreamId {
        self.streams.accept(to, requester)
    }

    /// No process on `to` took the request of `from`: when the reset
    /// reaches `from`, unless a partition swallows it.
    pub(crate) fn refuse_stream(
        &mut self,
        rng: &mut SeededRng,
        to: HostId,
        from: HostId,
    ) -> Option<Duration> {
        if self.partitions.blocks(to, from) {
            return None;
        }
        Some(self.model.segment_delay(rng, to, from))
    }

    /// `host` answered its inbound `stream`: where the reply goes, if the
    /// stream was open and someone in the simulation asked.
    pub(crate) fn reply_stream(
        &mut self,
        rng: &mut SeededRng,
        host: HostId,
        stream: StreamId,
    ) -> Option<Reply> {
        let to = self.streams.answered(host, stream)?;
        let delay = (!self.partitions.blocks(host, to.0))
            .then(|| self.model.segment_delay(rng, host, to.0));
        Some(Reply { to, delay })
    }

    /// A reply, reset or timeout reached `requester`: true for the first
    /// one, which ends the request.
    pub(crate) fn finish_stream(&mut self, requester: Requester) -> bool {
        self.streams.finish(requester)
    }
}
