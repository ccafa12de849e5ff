//! The node's keyring and security mode, and the envelope around every
//! message it sends and takes in (`wire::envelope`).

use super::Node;
use crate::error::{DecodeError, SecurityError};
use crate::security::{Key, KeyHint, SecurityMode};
use crate::wire::envelope::{self, Rejection};
use crate::wire::{self, Message};

/// Why an input yields no message.
#[derive(Debug)]
pub(super) enum Unreadable {
    /// Refused by its envelope (counted in `Stats::rejected`).
    Rejected(Rejection),
    /// Opened, but not a valid message (counted in `Stats::decode_errors`).
    Invalid(DecodeError),
}

impl core::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Unreadable::Rejected(rejection) => write!(f, "rejected: {rejection}"),
            Unreadable::Invalid(err) => write!(f, "invalid: {err}"),
        }
    }
}

impl Node {
    /// Adds `key` to the keyring, so that messages sealed under it are
    /// opened. It does not seal anything until [`use_key`](Node::use_key)
    /// makes it primary, except on an empty ring, where it becomes the
    /// primary at once. Installing a key already in the ring does nothing.
    ///
    /// Rotation on a running cluster, each step on every node before the
    /// next: install the new key, [`use_key`](Node::use_key) it, then
    /// [`remove_key`](Node::remove_key) the old one.
    ///
    /// ```
    /// use kite_proto::{Config, Key, Node, Security, SecurityMode, SeededRng, Timestamp};
    ///
    /// let (old, new) = (Key::from_bytes([1; 32]), Key::from_bytes([2; 32]));
    /// let mut config = Config::new("127.0.0.1:7000".parse()?);
    /// config.security = Security { keys: vec![old.clone()], mode: SecurityMode::Encrypted, ..Security::default() };
    /// let mut node = Node::new(config, SeededRng::from_seed_u64(1), Timestamp::ZERO)?;
    ///
    /// node.install_key(new.clone()); // on every node, then:
    /// node.use_key(&new)?; // on every node, then:
    /// node.remove_key(&old)?;
    /// assert_eq!(node.keys(), [new.hint()]);
    /// assert!(node.remove_key(&new).is_err()); // the primary stays
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn install_key(&mut self, key: Key) {
        let keys = &mut self.config.security.keys;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }

    /// Makes the installed `key` the primary key: what this node seals from
    /// now on is sealed under it. Install it on every node before any
    /// node uses it, or those without it refuse what this node sends.
    pub fn use_key(&mut self, key: &Key) -> Result<(), SecurityError> {
        let keys = &mut self.config.security.keys;
        let at = keys
            .iter()
            .position(|k| k == key)
            .ok_or(SecurityError::NotInstalled { hint: key.hint() })?;
        keys[..=at].rotate_right(1);
        Ok(())
    }

    /// Removes `key` from the keyring: messages sealed under it are
    /// refused from now on ([`Rejections::unknown_key`](crate::Rejections::unknown_key)).
    /// The primary key cannot be removed: [`use_key`](Node::use_key)
    /// another first.
    pub fn remove_key(&mut self, key: &Key) -> Result<(), SecurityError> {
        let keys = &mut self.config.security.keys;
        match keys.iter().position(|k| k == key) {
            None => Err(SecurityError::NotInstalled { hint: key.hint() }),
            Some(0) => Err(SecurityError::RemovePrimary { hint: key.hint() }),
            Some(at) => {
                keys.remove(at);
                Ok(())
            }
        }
    }

    /// The keyring by [`KeyHint`]s, the primary key first. The key bytes
    /// are never shown.
    pub fn keys(&self) -> Vec<KeyHint> {
        self.config.security.keys.iter().map(Key::hint).collect()
    }

    /// Sets what this node sends and takes in (see [`SecurityMode`] for
    /// the steps that enable encryption on a running cluster without losing
    /// a message). A mode that seals needs a key in the ring.
    ///
    /// ```
    /// use kite_proto::{Config, Key, Node, SecurityError, SecurityMode, SeededRng, Timestamp};
    ///
    /// let config = Config::new("127.0.0.1:7000".parse()?);
    /// let mut node = Node::new(config, SeededRng::from_seed_u64(1), Timestamp::ZERO)?;
    /// let rolling = SecurityMode::Rolling;
    /// assert_eq!(node.set_security_mode(rolling), Err(SecurityError::NoKey { mode: rolling }));
    /// node.install_key(Key::from_bytes([1; 32])); // on every node, then:
    /// node.set_security_mode(SecurityMode::Rolling)?; // on every node, then:
    /// node.set_security_mode(SecurityMode::Encrypted)?;
    /// assert_eq!(node.config().security.mode, SecurityMode::Encrypted);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_security_mode(&mut self, mode: SecurityMode) -> Result<(), SecurityError> {
        if mode.seals() && self.config.security.keys.is_empty() {
            return Err(SecurityError::NoKey { mode });
        }
        self.config.security.mode = mode;
        Ok(())
    }

    /// The bytes the envelope adds to every message this node sends now.
    pub(super) fn envelope_overhead(&self) -> usize {
        envelope::overhead(&self.config.security)
    }

    /// `msg` encoded in the envelope this node sends.
    pub(super) fn seal(&mut self, msg: &Message) -> Vec<u8> {
        envelope::seal(
            &self.config.security,
            wire::encode(msg),
            &mut self.nonces,
            &mut *self.rng,
        )
    }

    /// The message in an input, once its envelope is opened; each refusal
    /// and decoding error is counted.
    pub(super) fn receive(&mut self, bytes: &[u8]) -> Result<Message, Unreadable> {
        let opened = envelope::open(&self.config.security, bytes).map_err(|rejection| {
            self.stats.rejected.count(rejection);
            Unreadable::Rejected(rejection)
        })?;
        match wire::decode(&opened) {
            Ok(msg) => {
                self.stats.messages_in.count(&msg);
                Ok(msg)
            }
            Err(err) => {
                self.stats.decode_errors += 1;
                if matches!(err, DecodeError::UnsupportedVersion(_)) {
                    self.stats.unsupported_version += 1;
                }
                Err(Unreadable::Invalid(err))
            }
        }
    }
}
