//! Cluster isolation and authenticated encryption: the cluster label, the
//! keyring and the mode ([`Security`], set in
//! [`Config::security`](crate::Config::security) and changed on a running
//! node with [`Node::install_key`](crate::Node::install_key),
//! [`use_key`](crate::Node::use_key), [`remove_key`](crate::Node::remove_key)
//! and [`set_security_mode`](crate::Node::set_security_mode)).
//!
//! Every datagram and stream frame travels in an envelope
//! ([`wire::envelope`](crate::wire::envelope)): bare when there is no label
//! and nothing to seal, labelled, or sealed with ChaCha20-Poly1305 under
//! the primary key, the label authenticated with it. A message whose label
//! is not ours, that no key of ours opens, or that is plaintext where only
//! sealed messages are taken is refused before anything in it is decoded,
//! and counted in [`Stats::rejected`](crate::Stats::rejected).
//!
//! ```
//! use kite_proto::{Config, Key, Security, SecurityMode};
//!
//! let mut config = Config::new("10.0.0.5:7000".parse()?);
//! config.security = Security {
//!     label: "prod-eu".into(),
//!     keys: vec!["AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".parse()?],
//!     mode: SecurityMode::Encrypted,
//! };
//! config.validate()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod key;

pub use key::{HINT_LEN, KEY_LEN, Key, KeyHint};

use crate::error::ConfigError;

/// The longest cluster label, in bytes.
pub const MAX_LABEL_LEN: usize = 64;

/// What a node sends and what it takes in.
///
/// | mode | sends | takes in |
/// | --- | --- | --- |
/// | `Plaintext` (default) | plaintext | plaintext, and sealed messages a key of its ring opens |
/// | `Rolling` | sealed under the primary key | plaintext and sealed |
/// | `Encrypted` | sealed under the primary key | sealed only |
///
/// A running cluster turns encryption on without losing a message: install
/// the key on every node (still `Plaintext`: each can now open sealed
/// messages), then set `Rolling` on every node (each now sends sealed, and
/// every peer opens them), then `Encrypted` on every node (nobody sends
/// plaintext any more, so refusing it loses nothing). Turning it off runs
/// the same steps backwards. The label takes part in every mode: messages
/// of another label are refused whatever the mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SecurityMode {
    /// Sends plaintext; takes plaintext, and sealed messages it can open.
    #[default]
    Plaintext,
    /// Sends sealed messages; still takes plaintext (the middle step of
    /// enabling or disabling encryption on a running cluster).
    Rolling,
    /// Sends sealed messages and refuses plaintext.
    Encrypted,
}

impl SecurityMode {
    /// Whether this mode seals what it sends.
    pub fn seals(self) -> bool {
        self != SecurityMode::Plaintext
    }

    /// Whether this mode takes plaintext messages in.
    pub fn takes_plaintext(self) -> bool {
        self != SecurityMode::Encrypted
    }
}

/// A node's cluster label, keyring and [`SecurityMode`].
/// The default has no label, no key and sends and takes plaintext: the
/// wire format of a node without security is unchanged.
///
/// - `label`: at most [`MAX_LABEL_LEN`] bytes. Nodes talk only to nodes of
///   the same label (the empty label included), so clusters sharing
///   addresses or seeds stay apart. It travels in clear in front of every
///   message; when sealed, it is authenticated with the message.
/// - `keys`: the keyring. The first key is the **primary**: it seals what
///   the node sends. Every key of the ring opens what arrives. Rotate keys
///   on a running node with [`Node::install_key`](crate::Node::install_key),
///   [`Node::use_key`](crate::Node::use_key) and
///   [`Node::remove_key`](crate::Node::remove_key).
/// - `mode`: what the node sends and takes; `Rolling` and `Encrypted` need
///   a key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Security {
    /// The cluster label; empty for none.
    pub label: String,
    /// The keyring, the primary key first.
    pub keys: Vec<Key>,
    /// What the node sends and takes in.
    pub mode: SecurityMode,
}

impl Security {
    /// The key that seals what the node sends, if it seals: the primary
    /// key in a mode that seals.
    pub fn sealing_key(&self) -> Option<&Key> {
        self.keys.first().filter(|_| self.mode.seals())
    }

    /// Checks the label's length and that a mode that seals has a key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.label.len() > MAX_LABEL_LEN {
            return Err(ConfigError::LabelTooLong {
                len: self.label.len(),
            });
        }
        if self.mode.seals() && self.keys.is_empty() {
            return Err(ConfigError::NoKey { mode: self.mode });
        }
        Ok(())
    }
}
