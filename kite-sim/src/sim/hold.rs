//! A hook for the fuzz harnesses (`crate::fuzzing`): traffic between hosts
//! held for the harness to deliver, lose, duplicate or alter one message at
//! a time instead of the link model, and messages from strangers outside
//! the simulation.

use core::net::SocketAddr;
use std::collections::VecDeque;

use kite_proto::StreamError;

use super::Sim;
use super::run::Happening;
use crate::failure::Failure;
use crate::hosts::HostId;
use crate::network::Requester;

/// Most datagrams held; the oldest is lost when one more arrives.
const MAX_HELD_DATAGRAMS: usize = 64;

/// A datagram between two hosts, held.
pub(crate) struct HeldDatagram {
    pub(crate) from: HostId,
    pub(crate) to: HostId,
    pub(crate) payload: Vec<u8>,
}

/// A stream request to a host, held.
pub(crate) struct HeldRequest {
    pub(crate) requester: Requester,
    pub(crate) to: HostId,
    pub(crate) payload: Vec<u8>,
}

/// What is held.
#[derive(Default)]
pub(super) struct Held {
    datagrams: VecDeque<HeldDatagram>,
    requests: Vec<HeldRequest>,
}

impl Sim {
    /// From now on, datagrams and stream requests between hosts wait for
    /// the harness (`true`) or travel as the network model says (`false`;
    /// what is held stays held until taken).
    pub(crate) fn hold_traffic(&mut self, hold: bool) {
        match (hold, self.held.is_some()) {
            (true, false) => self.held = Some(Held::default()),
            (false, true) => self.held = None,
            _ => {}
        }
    }

    /// Holds a datagram that passed the size checks, if traffic is held;
    /// otherwise gives it back.
    pub(super) fn hold_datagram(
        &mut self,
        from: HostId,
        to: HostId,
        payload: Vec<u8>,
    ) -> Option<Vec<u8>> {
        let Some(held) = &mut self.held else {
            return Some(payload);
        };
        held.datagrams.push_back(HeldDatagram { from, to, payload });
        if held.datagrams.len() > MAX_HELD_DATAGRAMS {
            held.datagrams.pop_front();
        }
        None
    }

    /// Holds a stream request, if traffic is held (it then goes nowhere for
    /// now); otherwise gives it back.
    pub(super) fn hold_request(
        &mut self,
        requester: Requester,
        to: Option<HostId>,
        payload: Vec<u8>,
    ) -> (Option<HostId>, Vec<u8>) {
        match (&mut self.held, to) {
            (Some(held), Some(to)) => {
                held.requests.push(HeldRequest {
                    requester,
                    to,
                    payload,
                });
                (None, Vec::new())
            }
            _ => (to, payload),
        }
    }

    /// Takes held datagram `pick` (modulo how many are held), if any.
    pub(crate) fn take_held_datagram(&mut self, pick: usize) -> Option<HeldDatagram> {
        let held = self.held.as_mut()?;
        let len = held.datagrams.len();
        if len == 0 {
            return None;
        }
        held.datagrams.remove(pick % len)
    }

    /// Takes held stream request `pick` (modulo how many are held), if any.
    pub(crate) fn take_held_request(&mut self, pick: usize) -> Option<HeldRequest> {
        let held = self.held.as_mut()?;
        let len = held.requests.len();
        (len > 0).then(|| held.requests.remove(pick % len))
    }

    /// Takes every held datagram, oldest first.
    pub(crate) fn take_held_datagrams(&mut self) -> Vec<HeldDatagram> {
        self.held
            .as_mut()
            .map(|held| held.datagrams.drain(..).collect())
            .unwrap_or_default()
    }

    /// Delivers `payload` to `to` as a datagram from `from`, now.
    pub(crate) fn deliver_datagram(&mut self, to: HostId, from: SocketAddr, payload: Vec<u8>) {
        self.queue
            .push(self.now, Happening::Datagram { to, from, payload });
    }

    /// Delivers `payload` to `to` as a stream request from `from`, now; the
    /// reply goes to `requester` (`None`: nowhere).
    pub(crate) fn deliver_request(
        &mut self,
        to: HostId,
        from: SocketAddr,
        requester: Option<Requester>,
        payload: Vec<u8>,
    ) {
        let request = Happening::Request {
            to,
            from,
            requester,
            payload,
        };
        self.queue.push(self.now, request);
    }

    /// Refuses the connection of `requester`, now.
    pub(crate) fn refuse_request(&mut self, requester: Requester) {
        let reset = Happening::Response {
            to: requester,
            result: Err(StreamError::Connect("connection refused".to_owned())),
        };
        self.queue.push(self.now, reset);
    }

    /// Checks every running node's view now, as the periodic sweep does;
    /// fails if the run has failed.
    pub(crate) fn check_now(&mut self) -> Result<(), Failure> {
        self.check_views();
        match &self.failure {
            Some(failure) => Err(failure.clone()),
            None => Ok(()),
        }
    }
}
