//! Keys of the keyring, their public hints, and parsing them from text.

use core::fmt;
use core::str::FromStr;

use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, KeyInit, Nonce};
use rand_core::RngCore;

use crate::error::KeyError;

/// Bytes of a [`Key`].
pub const KEY_LEN: usize = 32;

/// Bytes of a [`KeyHint`].
pub const HINT_LEN: usize = 4;

/// What the hint of a key authenticates (and nothing else does), so a hint
/// can never equal the tag of a message.
const HINT_CONTEXT: &[u8] = b"kite key hint v1";

/// A 256-bit secret shared by the nodes of a cluster: the key of
/// ChaCha20-Poly1305 for every datagram and stream frame.
///
/// Make one from 32 bytes, or parse one from 64 hex digits or standard
/// base64 (44 characters with the `=`, or 43 without), e.g. the output of
/// `head -c 32 /dev/urandom | base64`. Its `Debug` shows its [`KeyHint`],
/// never its bytes, and nothing in Kite gives the bytes back.
///
/// ```
/// use kite_proto::Key;
///
/// let key: Key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".parse()?;
/// let same: Key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f".parse()?;
/// assert_eq!(key, same);
/// let bytes: [u8; 32] = core::array::from_fn(|i| i as u8);
/// assert_eq!(key, Key::from_bytes(bytes));
/// assert_eq!(format!("{key:?}"), format!("Key({})", key.hint()));
/// assert!("not a key".parse::<Key>().is_err());
/// # Ok::<(), kite_proto::KeyError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    bytes: [u8; KEY_LEN],
    hint: KeyHint,
}

impl Key {
    /// The key of these 32 bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Key {
        let mut key = Key {
            bytes,
            hint: KeyHint([0; HINT_LEN]),
        };
        key.hint = key.compute_hint();
        key
    }

    /// A new key of 32 bytes drawn from `rng`. Draw keys from a
    /// cryptographically secure generator (the OS's), never from a seeded
    /// one outside tests.
    pub fn random(rng: &mut (impl RngCore + ?Sized)) -> Key {
        let mut bytes = [0; KEY_LEN];
        rng.fill_bytes(&mut bytes);
        Key::from_bytes(bytes)
    }

    /// The key's public hint, which sealed messages carry so the receiver
    /// knows which key of its ring opens them.
    pub fn hint(&self) -> KeyHint {
        self.hint
    }

    /// This key claiming another key's hint (a collision, for tests).
    #[cfg(test)]
    pub(crate) fn with_hint(self, hint: KeyHint) -> Key {
        Key { hint, ..self }
    }

    /// The cipher of this key.
    pub(crate) fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(&self.bytes.into())
    }

    /// The first bytes of the tag that authenticates [`HINT_CONTEXT`] under
    /// this key and the all-zero nonce: a pseudo-random function of the
    /// key, so the hint tells nothing of it beyond which key it is.
    fn compute_hint(&self) -> KeyHint {
        let nonce = Nonce::default();
        let tag = self
            .cipher()
            .encrypt_inout_detached(&nonce, HINT_CONTEXT, (&mut [][..]).into())
            .unwrap_or_default();
        let mut hint = [0; HINT_LEN];
        hint.copy_from_slice(&tag[..HINT_LEN]);
        KeyHint(hint)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.hint)
    }
}

impl FromStr for Key {
    type Err = KeyError;

    /// 64 hex digits, or 32 bytes in standard base64 (with or without its
    /// `=`); surrounding whitespace is ignored.
    fn from_str(s: &str) -> Result<Key, KeyError> {
        let s = s.trim();
        let bytes = if s.len() == 2 * KEY_LEN && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            decode_hex(s)
        } else {
            decode_base64(s)?
        };
        let bytes: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| KeyError::Length { len: b.len() })?;
        Ok(Key::from_bytes(bytes))
    }
}

/// The public name of a [`Key`]: 4 bytes derived from it, shown as 8 hex
/// digits. Sealed messages carry it; [`Node::keys`](crate::Node::keys)
/// lists the ring by it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyHint([u8; HINT_LEN]);

impl KeyHint {
    /// The hint as it travels in a sealed envelope.
    pub fn to_bytes(self) -> [u8; HINT_LEN] {
        self.0
    }

    /// The hint of these bytes (as read from an envelope).
    pub fn from_bytes(bytes: [u8; HINT_LEN]) -> KeyHint {
        KeyHint(bytes)
    }
}

impl fmt::Display for KeyHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for KeyHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHint({self})")
    }
}

/// Hex digits, known to be valid and of even count.
fn decode_hex(s: &str) -> Vec<u8> {
    let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
    s.as_bytes()
        .chunks(2)
        .map(|pair| digit(pair[0]) << 4 | digit(pair[1]))
        .collect()
}

/// Standard base64 (RFC 4648 §4), padding optional but never wrong, and
/// the unused low bits of the last character zero (one text per key).
fn decode_base64(s: &str) -> Result<Vec<u8>, KeyError> {
    let data = s.trim_end_matches('=');
    let padding = s.len() - data.len();
    if padding > 2 || (padding > 0 && !s.len().is_multiple_of(4)) || data.len() % 4 == 1 {
        return Err(KeyError::Padding);
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for (at, c) in data.bytes().enumerate() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(KeyError::Character { at }),
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if acc != 0 {
        return Err(KeyError::Padding);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_hex_give_the_same_key() {
        let bytes: [u8; 32] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
        let b64 = "AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dw=";
        assert_eq!(hex.parse::<Key>(), Ok(Key::from_bytes(bytes)));
        assert_eq!(b64.parse::<Key>(), Ok(Key::from_bytes(bytes)));
        assert_eq!(
            b64.trim_end_matches('=').parse::<Key>(),
            Ok(Key::from_bytes(bytes))
        );
        assert_eq!(
            format!(" {b64}\n").parse::<Key>(),
            Ok(Key::from_bytes(bytes))
        );
    }

    #[test]
    fn bad_texts_are_refused_with_their_reason() {
        let b64 = "AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dw=";
        assert_eq!("".parse::<Key>(), Err(KeyError::Length { len: 0 }));
        assert_eq!("AAAA".parse::<Key>(), Err(KeyError::Length { len: 3 }));
        assert_eq!(b64[..40].parse::<Key>(), Err(KeyError::Length { len: 30 }));
        assert_eq!(
            format!("{}*=", &b64[..42]).parse::<Key>(),
            Err(KeyError::Character { at: 42 })
        );
        assert_eq!(format!("{b64}==").parse::<Key>(), Err(KeyError::Padding));
        // The last character's unused bits must be zero ('x' ends in 01).
        assert_eq!(
            format!("{}x=", &b64[..42]).parse::<Key>(),
            Err(KeyError::Padding)
        );
        assert!(KeyError::Padding.to_string().contains("base64"));
    }

    #[test]
    fn debug_never_shows_the_bytes() {
        let key = Key::from_bytes([0xab; 32]);
        let shown = format!("{key:?} {:?}", vec![key.clone()]);
        assert!(
            !shown.contains("ab, ab") && !shown.contains("171"),
            "{shown}"
        );
        assert!(shown.contains(&key.hint().to_string()));
    }

    #[test]
    fn hints_tell_keys_apart_and_are_stable() {
        let a = Key::from_bytes([1; 32]).hint();
        let b = Key::from_bytes([2; 32]).hint();
        assert_ne!(a, b);
        assert_eq!(a, Key::from_bytes([1; 32]).hint());
        assert_eq!(a.to_string().len(), 8);
        assert_eq!(KeyHint::from_bytes(a.to_bytes()), a);
    }
}
