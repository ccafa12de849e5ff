//! The network model: per-link latency, jitter, loss, duplication and
//! reordering, the datagram size limit, and the timing of stream exchanges.

use core::time::Duration;
use std::collections::BTreeMap;

use kite_proto::SeededRng;
use rand_core::RngCore;

use crate::hosts::HostId;

/// How one direction of a link between two hosts behaves.
///
/// Every datagram takes `latency` plus a uniform draw in `0..=jitter` (so
/// jitter alone already reorders packets), is lost with probability `loss`,
/// is delivered twice with probability `duplicate`, and with probability
/// `reorder` is held back an extra uniform draw in `0..=reorder_delay`.
///
/// ```
/// use core::time::Duration;
/// use kite_sim::LinkModel;
///
/// let lossy = LinkModel::lan().loss(0.05).jitter(Duration::from_millis(50));
/// assert_eq!(lossy.loss, 0.05);
/// assert_eq!(LinkModel::perfect().latency, Duration::ZERO);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkModel {
    /// Fixed one-way delay.
    pub latency: Duration,
    /// Largest extra one-way delay, drawn uniformly per packet.
    pub jitter: Duration,
    /// Probability that a datagram is lost (and that a stream segment needs
    /// a retransmission).
    pub loss: f64,
    /// Probability that a datagram arrives twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back by up to `reorder_delay`.
    pub reorder: f64,
    /// Largest hold-back of a reordered datagram.
    pub reorder_delay: Duration,
}

impl LinkModel {
    /// Instant, lossless delivery.
    pub fn perfect() -> Self {
        LinkModel {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
        }
    }

    /// A healthy data-centre link: 1 ms latency, 1 ms jitter, no loss. The default.
    pub fn lan() -> Self {
        LinkModel {
            latency: Duration::from_millis(1),
            jitter: Duration::from_millis(1),
            ..LinkModel::perfect()
        }
    }

    /// With this fixed latency.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// With this jitter.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// With this loss probability.
    pub fn loss(mut self, loss: f64) -> Self {
        self.loss = loss;
        self
    }

    /// With this duplication probability.
    pub fn duplicate(mut self, duplicate: f64) -> Self {
        self.duplicate = duplicate;
        self
    }

    /// Holding back this share of datagrams by up to `delay`.
    pub fn reorder(mut self, probability: f64, delay: Duration) -> Self {
        self.reorder = probability;
        self.reorder_delay = delay;
        self
    }

    /// One datagram's one-way delay.
    pub(super) fn delay(&self, rng: &mut SeededRng) -> Duration {
        let mut delay = self.latency + uniform_up_to(rng, self.jitter);
        if self.reorder > 0.0 && chance(rng, self.reorder) {
            delay += uniform_up_to(rng, self.reorder_delay);
        }
        delay
    }

    /// Whether a datagram is lost.
    pub(super) fn lost(&self, rng: &mut SeededRng) -> bool {
        self.loss > 0.0 && chance(rng, self.loss)
    }

    /// Whether a datagram is duplicated.
    pub(super) fn duplicated(&self, rng: &mut SeededRng) -> bool {
        self.duplicate > 0.0 && chance(rng, self.duplicate)
    }
}

impl Default for LinkModel {
    fn default() -> Self {
        LinkModel::lan()
    }
}

/// The whole network: a default link, per-link overrides, and limits.
///
/// How long a stream exchange may take is not the network's to say: the
/// requester gets [`kite_proto::StreamError::TimedOut`] once its own
/// [`kite_proto::Config::stream_timeout`] has passed (set it with
/// [`SimBuilder::node_config`](crate::SimBuilder::node_config)), as a
/// real driver would.
///
/// ```
/// use kite_sim::{LinkModel, NetworkModel};
///
/// let net = NetworkModel::default().link(LinkModel::lan().loss(0.01));
/// assert_eq!(net.max_datagram, 65_507);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkModel {
    /// The behaviour of every link without an override.
    pub default_link: LinkModel,
    /// Datagrams longer than this are dropped (and fail the run: the core
    /// promised never to send them). Default 65,507, the UDP maximum.
    pub max_datagram: usize,
    /// Extra delay of each stream segment lost on a lossy link (a TCP
    /// retransmission). Default 200 ms.
    pub stream_retransmit: Duration,
    /// Time a DNS lookup takes. Default 2 ms.
    pub dns_latency: Duration,
    overrides: BTreeMap<(HostId, HostId), LinkModel>,
}

impl Default for NetworkModel {
    fn default() -> Self {
        NetworkModel {
            default_link: LinkModel::lan(),
            max_datagram: kite_proto::MAX_PACKET_SIZE,
            stream_retransmit: Duration::from_millis(200),
            dns_latency: Duration::from_millis(2),
            overrides: BTreeMap::new(),
        }
    }
}

impl NetworkModel {
    /// With this default link.
    pub fn link(mut self, link: LinkModel) -> Self {
        self.default_link = link;
        self
    }

    /// With this datagram size limit.
    pub fn max_datagram(mut self, max: usize) -> Self {
        self.max_datagram = max;
        self
    }

    /// Overrides the link from `from` to `to` (one direction).
    pub fn set_link(&mut self, from: HostId, to: HostId, link: LinkModel) {
        self.overrides.insert((from, to), link);
    }

    /// Removes every per-link override.
    pub fn clear_overrides(&mut self) {
        self.overrides.clear();
    }

    /// The link from `from` to `to`.
    pub fn link_between(&self, from: HostId, to: HostId) -> &LinkModel {
        if self.overrides.is_empty() {
            return &self.default_link;
        }
        self.overrides
            .get(&(from, to))
            .unwrap_or(&self.default_link)
    }

    /// One stream segment's delay from `from` to `to`: the link delay plus a
    /// retransmission for every loss drawn.
    pub(super) fn segment_delay(&self, rng: &mut SeededRng, from: HostId, to: HostId) -> Duration {
        let link = self.link_between(from, to);
        let mut delay = link.delay(rng);
        // Bounded so a link with loss 1.0 cannot loop forever; the stream
        // timeout fires long before.
        for _ in 0..64 {
            if !link.lost(rng) {
                break;
            }
            delay += self.stream_retransmit;
        }
        delay
    }
}

/// True with probability `p`.
fn chance(rng: &mut SeededRng, p: f64) -> bool {
    unit(rng) < p
}

/// Uniform in `[0, 1)`.
fn unit(rng: &mut SeededRng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Uniform in `0..=max`, at microsecond resolution.
fn uniform_up_to(rng: &mut SeededRng, max: Duration) -> Duration {
    let micros = max.as_micros() as u64;
    if micros == 0 {
        return Duration::ZERO;
    }
    Duration::from_micros(rng.next_u64() % (micros + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_within_latency_plus_jitter() {
        let link = LinkModel::lan()
            .latency(Duration::from_millis(10))
            .jitter(Duration::from_millis(5));
        let mut rng = SeededRng::from_seed_u64(1);
        for _ in 0..1000 {
            let d = link.delay(&mut rng);
            assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(15));
        }
    }

    #[test]
    fn loss_rate_is_roughly_the_configured_one() {
        let link = LinkModel::lan().loss(0.25);
        let mut rng = SeededRng::from_seed_u64(2);
        let lost = (0..10_000).filter(|_| link.lost(&mut rng)).count();
        assert!((2_200..2_800).contains(&lost), "{lost}");
    }

    #[test]
    fn overrides_apply_to_one_direction() {
        let mut net = NetworkModel::default();
        let slow = LinkModel::lan().latency(Duration::from_secs(1));
        net.set_link(HostId(0), HostId(1), slow);
        assert_eq!(*net.link_between(HostId(0), HostId(1)), slow);
        assert_eq!(*net.link_between(HostId(1), HostId(0)), LinkModel::lan());
    }
}
