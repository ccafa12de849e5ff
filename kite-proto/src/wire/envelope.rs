//! The envelope every datagram and stream frame body travels in: the
//! cluster label, and the seal of authenticated encryption (see
//! [`Security`]). A node wraps each encoded message with [`seal`] and
//! unwraps each input with [`open`] before decoding anything in it.
//!
//! Three forms, told apart by the first byte:
//!
//! | form | bytes | when |
//! | --- | --- | --- |
//! | bare | the message (`PROTOCOL_VERSION`, type, body) | plaintext, no label |
//! | labelled | [`LABELLED`] (`'L'`), label length (1 byte), label, the message | plaintext with a label |
//! | sealed | [`SEALED`] (`'S'`), label length (1 byte), label, key hint (4), nonce (12), the message encrypted, tag (16) | a mode that seals |
//!
//! Sealing is ChaCha20-Poly1305 under the primary key, with a 96-bit nonce
//! that never repeats for a sender ([`Nonces`]: a random 64-bit salt and a
//! 32-bit counter) and, as associated data, every byte in front of the
//! nonce (marker, label length, label, key hint): the label and the hint
//! are authenticated with the message. The overhead is 0 bytes bare,
//! 2 + label labelled, 34 + label sealed ([`overhead`]).
//!
//! ```
//! use kite_proto::wire::{self, envelope, Message};
//! use kite_proto::{Key, NodeId, Security, SecurityMode, SeededRng};
//!
//! let security = Security {
//!     label: "prod".into(),
//!     keys: vec![Key::from_bytes([7; 32])],
//!     mode: SecurityMode::Encrypted,
//! };
//! let message = wire::encode(&Message::Ack { from: NodeId::new("a")? });
//! let mut nonces = envelope::Nonces::default();
//! let mut rng = SeededRng::from_seed_u64(1);
//! let sealed = envelope::seal(&security, message.clone(), &mut nonces, &mut rng);
//! assert_eq!(sealed.len(), message.len() + envelope::overhead(&security));
//! assert_eq!(envelope::open(&security, &sealed).as_deref(), Ok(&message[..]));
//!
//! let other = Security { label: "test".into(), ..security.clone() };
//! assert_eq!(envelope::open(&other, &sealed), Err(envelope::Rejection::Label));
//! # Ok::<(), kite_proto::NodeIdError>(())
//! ```

use std::borrow::Cow;

use chacha20poly1305::{AeadInOut, Nonce, Tag};
use rand_core::RngCore;

use crate::security::{HINT_LEN, KeyHint, MAX_LABEL_LEN, Security};

/// First byte of a labelled plaintext message (`'L'`).
pub const LABELLED: u8 = b'L';

/// First byte of a sealed message (`'S'`).
pub const SEALED: u8 = b'S';

/// Bytes of a sealed message's nonce.
pub const NONCE_LEN: usize = 12;

/// Bytes of the random salt in front of a nonce's counter.
const SALT_LEN: usize = 8;

/// Where a sender's nonces come from: a random 64-bit salt, drawn from the
/// node's RNG at the first seal and again whenever the 32-bit counter
/// behind it wraps, and the counter. A sender never repeats a nonce, keeps
/// no state across restarts (a new run draws a new salt), and two senders
/// under one key share a salt with odds of 2^-64 per pair (about 10^-13 for
/// 1,000 runs of nodes under one key).
#[derive(Clone, Debug, Default)]
pub struct Nonces {
    salt: Option<[u8; SALT_LEN]>,
    counter: u32,
}

impl Nonces {
    /// The next nonce, drawing a salt from `rng` when one is due.
    pub fn next(&mut self, rng: &mut dyn RngCore) -> [u8; NONCE_LEN] {
        let salt = match self.salt {
            Some(salt) if self.counter < u32::MAX => salt,
            _ => {
                let mut salt = [0; SALT_LEN];
                rng.fill_bytes(&mut salt);
                self.salt = Some(salt);
                self.counter = 0;
                salt
            }
        };
        let mut nonce = [0; NONCE_LEN];
        nonce[..SALT_LEN].copy_from_slice(&salt);
        nonce[SALT_LEN..].copy_from_slice(&self.counter.to_be_bytes());
        self.counter += 1;
        nonce
    }
}

/// Bytes of a sealed message's authentication tag.
pub const TAG_LEN: usize = 16;

/// Bytes a sealed envelope adds beyond its label: marker, label length,
/// key hint, nonce and tag.
pub const SEALED_OVERHEAD: usize = 2 + HINT_LEN + NONCE_LEN + TAG_LEN;

/// The most bytes any envelope adds to a message (sealed, with the longest
/// label).
pub const MAX_OVERHEAD: usize = SEALED_OVERHEAD + MAX_LABEL_LEN;

/// Why an input was refused before anything in it was decoded. Each
/// reason has its counter in [`Stats::rejected`](crate::Stats::rejected).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Its cluster label is not ours (a message without a label, when we
    /// have one, included).
    Label,
    /// Sealed, but it did not authenticate under the key its hint names:
    /// corrupted, tampered with, or cut short.
    Auth,
    /// Sealed under a key whose hint matches no key of our ring.
    UnknownKey,
    /// Plaintext, and our mode takes sealed messages only.
    Plaintext,
}

impl core::fmt::Display for Rejection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Rejection::Label => "another cluster label",
            Rejection::Auth => "failed authentication",
            Rejection::UnknownKey => "sealed under a key not in our keyring",
            Rejection::Plaintext => "plaintext refused: this node takes sealed messages only",
        })
    }
}

impl std::error::Error for Rejection {}

/// The bytes an envelope adds to every message `security` sends.
pub fn overhead(security: &Security) -> usize {
    let label = security.label.len();
    match (security.sealing_key(), label) {
        (Some(_), _) => SEALED_OVERHEAD + label,
        (None, 0) => 0,
        (None, _) => 2 + label,
    }
}

/// Wraps the encoded `message` as `security` sends it: sealed under the
/// primary key in a mode that seals, with the next of the sender's
/// `nonces` (its salt drawn from `rng`); otherwise labelled, or bare
/// without a label.
pub fn seal(
    security: &Security,
    message: Vec<u8>,
    nonces: &mut Nonces,
    rng: &mut dyn RngCore,
) -> Vec<u8> {
    let label = security.label.as_bytes();
    let Some(key) = security.sealing_key() else {
        if label.is_empty() {
            return message;
        }
        let mut out = Vec::with_capacity(2 + label.len() + message.len());
        push_label(&mut out, LABELLED, label);
        out.extend_from_slice(&message);
        return out;
    };
    let mut out = Vec::with_capacity(message.len() + SEALED_OVERHEAD + label.len());
    push_label(&mut out, SEALED, label);
    out.extend_from_slice(&key.hint().to_bytes());
    let aad_len = out.len();
    let nonce = nonces.next(rng);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(&message);
    let (head, body) = out.split_at_mut(start);
    // Encryption fails only past 2^38 bytes, far beyond any frame.
    let tag = key
        .cipher()
        .encrypt_inout_detached(&Nonce::from(nonce), &head[..aad_len], body.into())
        .unwrap_or_default();
    out.extend_from_slice(&tag);
    out
}

fn push_label(out: &mut Vec<u8>, marker: u8, label: &[u8]) {
    out.push(marker);
    // `Security::validate` keeps labels within `MAX_LABEL_LEN`.
    out.push(label.len().min(usize::from(u8::MAX)) as u8);
    out.extend_from_slice(&label[..label.len().min(usize::from(u8::MAX))]);
}

/// Unwraps `bytes` as `security` takes them in: the encoded message
/// inside (borrowed from `bytes` when in clear, decrypted otherwise, never
/// longer than `bytes`), or why it was refused. The label is checked
/// first, then the mode, then the key hint, then the tag; nothing is
/// decrypted before the tag is verified.
pub fn open<'a>(security: &Security, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, Rejection> {
    let ours = security.label.as_bytes();
    let (marker, label, rest) = match bytes {
        [marker @ (LABELLED | SEALED), len, rest @ ..] => {
            let len = usize::from(*len);
            if rest.len() < len {
                return Err(Rejection::Label);
            }
            let (label, rest) = rest.split_at(len);
            (*marker, label, rest)
        }
        // Anything else is a bare message, which carries no label.
        _ => (0, &[][..], bytes),
    };
    if label != ours {
        return Err(Rejection::Label);
    }
    if marker != SEALED {
        return match security.mode.takes_plaintext() {
            true => Ok(Cow::Borrowed(rest)),
            false => Err(Rejection::Plaintext),
        };
    }
    let aad_len = bytes.len() - rest.len() + HINT_LEN;
    let Some((hint, rest)) = rest.split_first_chunk::<HINT_LEN>() else {
        return Err(Rejection::Auth);
    };
    let Some((nonce, rest)) = rest.split_first_chunk::<NONCE_LEN>() else {
        return Err(Rejection::Auth);
    };
    let Some((ciphertext, tag)) = rest.split_last_chunk::<TAG_LEN>() else {
        return Err(Rejection::Auth);
    };
    let hint = KeyHint::from_bytes(*hint);
    let (nonce, tag, aad) = (Nonce::from(*nonce), Tag::from(*tag), &bytes[..aad_len]);
    let mut candidates = security.keys.iter().filter(|k| k.hint() == hint).peekable();
    if candidates.peek().is_none() {
        return Err(Rejection::UnknownKey);
    }
    let mut message = ciphertext.to_vec();
    for key in candidates {
        // Two keys of one ring share a hint with odds of 2^-32: try each.
        message.copy_from_slice(ciphertext);
        let cipher = key.cipher();
        if cipher
            .decrypt_inout_detached(&nonce, aad, message.as_mut_slice().into(), &tag)
            .is_ok()
        {
            return Ok(Cow::Owned(message));
        }
    }
    Err(Rejection::Auth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;
    use crate::security::{Key, SecurityMode};

    fn security(label: &str, keys: &[u8], mode: SecurityMode) -> Security {
        Security {
            label: label.into(),
            keys: keys.iter().map(|&n| Key::from_bytes([n; 32])).collect(),
            mode,
        }
    }

    const MESSAGE: &[u8] = &[3, 7, 1, b'a'];

    #[test]
    fn every_form_round_trips_and_adds_its_overhead() {
        use SecurityMode::*;
        let mut rng = SeededRng::from_seed_u64(1);
        for s in [
            security("", &[], Plaintext),
            security("prod", &[], Plaintext),
            security("", &[1], Rolling),
            security(&"x".repeat(MAX_LABEL_LEN), &[1, 2], Encrypted),
        ] {
            let sealed = seal(&s, MESSAGE.to_vec(), &mut Nonces::default(), &mut rng);
            assert_eq!(sealed.len(), MESSAGE.len() + overhead(&s), "{s:?}");
            assert_eq!(open(&s, &sealed).as_deref(), Ok(MESSAGE), "{s:?}");
        }
        assert_eq!(MAX_OVERHEAD, 34 + 64);
    }

    #[test]
    fn the_label_is_checked_before_anything_else() {
        use SecurityMode::*;
        let mut rng = SeededRng::from_seed_u64(1);
        let ours = security("prod", &[1], Encrypted);
        for theirs in [
            security("", &[], Plaintext),
            security("prod2", &[], Plaintext),
            security("", &[1], Encrypted),
            security("pro", &[2], Encrypted),
        ] {
            let bytes = seal(&theirs, MESSAGE.to_vec(), &mut Nonces::default(), &mut rng);
            assert_eq!(open(&ours, &bytes), Err(Rejection::Label), "{theirs:?}");
        }
        // A label cut short.
        assert_eq!(open(&ours, b"S\x04pro"), Err(Rejection::Label));
        assert_eq!(open(&ours, b""), Err(Rejection::Label));
    }

    #[test]
    fn sealed_messages_are_opened_only_with_their_key_and_intact() {
        use SecurityMode::*;
        let mut rng = SeededRng::from_seed_u64(1);
        let sealed = seal(
            &security("", &[1], Rolling),
            MESSAGE.to_vec(),
            &mut Nonces::default(),
            &mut rng,
        );
        let keyless = security("", &[], Plaintext);
        assert_eq!(open(&keyless, &sealed), Err(Rejection::UnknownKey));
        let other = security("", &[2, 3], Plaintext);
        assert_eq!(open(&other, &sealed), Err(Rejection::UnknownKey));
        let ring = security("", &[2, 1], Plaintext);
        assert_eq!(open(&ring, &sealed).as_deref(), Ok(MESSAGE));
        // Cut short: one byte is a bare message (left to the decoder);
        // from two on, the envelope is refused.
        assert_eq!(open(&ring, &sealed[..1]).as_deref(), Ok(&sealed[..1]));
        for cut in 2..sealed.len() {
            assert!(open(&ring, &sealed[..cut]).is_err(), "cut at {cut}");
        }
        let mut forged = sealed.clone();
        forged[6] ^= 1; // the hint's key, but another nonce
        forged[2..6].copy_from_slice(&Key::from_bytes([1; 32]).hint().to_bytes());
        assert_eq!(open(&ring, &forged), Err(Rejection::Auth));
    }

    #[test]
    fn plaintext_is_taken_unless_encrypted() {
        use SecurityMode::*;
        let mut rng = SeededRng::from_seed_u64(1);
        for label in ["", "prod"] {
            let bytes = seal(
                &security(label, &[], Plaintext),
                MESSAGE.to_vec(),
                &mut Nonces::default(),
                &mut rng,
            );
            for (mode, taken) in [(Plaintext, true), (Rolling, true), (Encrypted, false)] {
                let s = security(label, &[1], mode);
                let expected = match taken {
                    true => Ok(MESSAGE.to_vec()),
                    false => Err(Rejection::Plaintext),
                };
                let opened = open(&s, &bytes).map(|m| m.into_owned());
                assert_eq!(opened, expected, "{label} {mode:?}");
            }
        }
    }

    #[test]
    fn colliding_hints_are_each_tried() {
        let mut rng = SeededRng::from_seed_u64(1);
        let sender = security("", &[1], SecurityMode::Encrypted);
        let sealed = seal(&sender, MESSAGE.to_vec(), &mut Nonces::default(), &mut rng);
        // A ring with a forged key that claims key 1's hint first.
        let impostor = Key::from_bytes([9; 32]).with_hint(Key::from_bytes([1; 32]).hint());
        let ring = Security {
            keys: vec![impostor, Key::from_bytes([1; 32])],
            ..sender
        };
        assert_eq!(open(&ring, &sealed).as_deref(), Ok(MESSAGE));
    }
}
