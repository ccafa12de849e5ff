//! The trace hash: FNV-1a over a canonical rendering of everything that
//! happened (commands, faults, datagrams, streams, DNS answers and every
//! event the nodes emitted). Two runs with the same seed must end with the
//! same hash.

use kite_proto::{Event, Timestamp};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TraceHash(u64);

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash(FNV_OFFSET)
    }
}

/// What kind of record is hashed; part of the canonical rendering.
#[derive(Clone, Copy)]
pub(crate) enum Record {
    Action = 1,
    Send = 2,
    Drop = 3,
    Deliver = 4,
    StreamOpen = 5,
    StreamDone = 6,
    Resolve = 7,
    Event = 8,
}

impl TraceHash {
    pub(crate) fn value(self) -> u64 {
        self.0
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.bytes(s.as_bytes());
    }

    /// Starts a record: its kind, time and host.
    pub(crate) fn record(&mut self, kind: Record, at: Timestamp, host: usize) {
        self.u64(kind as u64);
        self.u64(at.as_micros());
        self.u64(host as u64);
    }

    /// Hashes an event field by field (no allocation).
    pub(crate) fn event(&mut self, event: &Event) {
        match event {
            Event::NodeJoined { id, addr } => {
                self.u64(1);
                self.str(id.as_str());
                self.str(&addr.ip().to_string());
            }
            Event::NodeLeft { id } => self.tagged(2, id.as_str()),
            Event::NodeDown { id } => self.tagged(3, id.as_str()),
            Event::NodeUp { id } => self.tagged(4, id.as_str()),
            Event::NodeExpired { id } => self.tagged(5, id.as_str()),
            Event::KeyUpserted { id, key, value } => {
                self.tagged(6, id.as_str());
                self.str(key);
                self.str(value);
            }
            Event::KeyDeleted { id, key, value } => {
                self.tagged(7, id.as_str());
                self.str(key);
                self.str(value);
            }
            Event::JoinCompleted { join, result } => {
                self.u64(8);
                self.u64(join.0);
                match result {
                    Ok(ids) => ids.iter().for_each(|id| self.str(id.as_str())),
                    Err(err) => self.str(&err.to_string()),
                }
            }
            Event::JoinTargetCompleted {
                join,
                target,
                result,
            } => {
                self.u64(10);
                self.u64(join.0);
                self.str(target);
                match result {
                    Ok(id) => self.str(id.as_str()),
                    Err(reason) => self.str(reason),
                }
            }
            Event::LeaveCompleted { result } => {
                self.u64(9);
                match result {
                    Ok(n) => self.u64(*n as u64),
                    Err(err) => self.str(&err.to_string()),
                }
            }
        }
    }

    fn tagged(&mut self, tag: u64, s: &str) {
        self.u64(tag);
        self.str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vector() {
        let mut h = TraceHash::default();
        h.bytes(b"a");
        assert_eq!(h.value(), 0xaf63_dc4c_8601_ec8c);
    }
}
