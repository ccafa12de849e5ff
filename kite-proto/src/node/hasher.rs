//! SipHash-1-3 with a per-node random key, for the peer index.
//!
//! Ids come from the network, so a hash table keyed by them must not let a
//! sender pick colliding ids: the key is drawn from the node's own RNG (the
//! standard library's keyed hasher draws from the OS instead, which the
//! pure core must not touch). Same algorithm as std's `DefaultHasher`.

use core::hash::Hasher;

use rand_core::RngCore;

use crate::id::NodeId;

/// The random key of one node's peer index.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SipKey {
    k0: u64,
    k1: u64,
}

impl SipKey {
    pub(super) fn random(rng: &mut (impl RngCore + ?Sized)) -> Self {
        SipKey {
            k0: rng.next_u64(),
            k1: rng.next_u64(),
        }
    }
}

impl SipKey {
    /// Hash of a node id: SipHash over its zero-padded words, then its
    /// length (the same keyed function, fed a whole word at a time).
    pub(super) fn hash_id(&self, id: &NodeId) -> u64 {
        let mut h = SipHasher::<1, 3>::new(self.k0, self.k1);
        for word in id.words() {
            h.compress(word);
        }
        h.finalize(id.byte_len() as u64)
    }
}

/// SipHash-C-D (Aumasson and Bernstein) over the bytes written to it.
#[derive(Clone, Debug)]
pub(super) struct SipHasher<const C: usize, const D: usize> {
    v: [u64; 4],
    /// Bytes not yet compressed (fewer than 8), little-endian.
    tail: u64,
    ntail: usize,
    len: usize,
}

impl<const C: usize, const D: usize> SipHasher<C, D> {
    pub(super) fn new(k0: u64, k1: u64) -> Self {
        SipHasher {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            ntail: 0,
            len: 0,
        }
    }

    fn rounds(&mut self, n: usize) {
        let v = &mut self.v;
        for _ in 0..n {
            v[0] = v[0].wrapping_add(v[1]);
            v[1] = v[1].rotate_left(13) ^ v[0];
            v[0] = v[0].rotate_left(32);
            v[2] = v[2].wrapping_add(v[3]);
            v[3] = v[3].rotate_left(16) ^ v[2];
            v[0] = v[0].wrapping_add(v[3]);
            v[3] = v[3].rotate_left(21) ^ v[0];
            v[2] = v[2].wrapping_add(v[1]);
            v[1] = v[1].rotate_left(17) ^ v[2];
            v[2] = v[2].rotate_left(32);
        }
    }

    /// Compresses the last block `b` and returns the hash.
    fn finalize(mut self, b: u64) -> u64 {
        self.compress(b);
        self.v[2] ^= 0xff;
        self.rounds(D);
        self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3]
    }

    fn compress(&mut self, m: u64) {
        self.v[3] ^= m;
        self.rounds(C);
        self.v[0] ^= m;
    }
}

impl<const C: usize, const D: usize> Hasher for SipHasher<C, D> {
    fn write(&mut self, bytes: &[u8]) {
        self.len = self.len.wrapping_add(bytes.len());
        for &b in bytes {
            self.tail |= u64::from(b) << (8 * self.ntail);
            self.ntail += 1;
            if self.ntail == 8 {
                let m = self.tail;
                self.compress(m);
                self.tail = 0;
                self.ntail = 0;
            }
        }
    }

    fn finish(&self) -> u64 {
        self.clone()
            .finalize(((self.len as u64 & 0xff) << 56) | self.tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference vectors of the SipHash paper (SipHash-2-4, key
    /// 00 01 .. 0f, message 00 01 .. n-1), first and last of the 64.
    #[test]
    fn matches_the_reference_vectors() {
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let hash = |n: u8| {
            let mut h = SipHasher::<2, 4>::new(k0, k1);
            h.write(&(0..n).collect::<Vec<u8>>());
            h.finish()
        };
        assert_eq!(hash(0), 0x726f_db47_dd0e_0e31);
        assert_eq!(hash(1), 0x74f8_39c5_93dc_67fd);
        assert_eq!(hash(15), 0xa129_ca61_49be_45e5);
        assert_eq!(hash(63), 0x958a_324c_eb06_4572);
    }

    #[test]
    #[allow(deprecated)] // std's SipHasher (2-4) is the reference here
    fn agrees_with_std() {
        for (k0, k1, msg) in [
            (0, 0, &b""[..]),
            (7, 9, b"n0"),
            (u64::MAX, 3, b"a 17-byte message"),
        ] {
            let mut ours = SipHasher::<2, 4>::new(k0, k1);
            let mut std = std::hash::SipHasher::new_with_keys(k0, k1);
            ours.write(msg);
            std.write(msg);
            assert_eq!(ours.finish(), std.finish());
        }
    }

    #[test]
    fn split_writes_hash_like_one_write() {
        let mut one = SipHasher::<1, 3>::new(1, 2);
        one.write(b"hello, kite nodes");
        let mut split = SipHasher::<1, 3>::new(1, 2);
        split.write(b"hello, ");
        split.write(b"kite nodes");
        assert_eq!(one.finish(), split.finish());
        let mut other_key = SipHasher::<1, 3>::new(3, 2);
        other_key.write(b"hello, kite nodes");
        assert_ne!(one.finish(), other_key.finish());
    }

    #[test]
    fn ids_hash_by_content_and_length_under_the_key() {
        let id = |s: &str| s.parse::<NodeId>().unwrap();
        let key = SipKey { k0: 1, k1: 2 };
        assert_eq!(key.hash_id(&id("node-a")), key.hash_id(&id("node-a")));
        let distinct = [
            "node-a",
            "node-b",
            "a",
            "a\0",
            "a\0\0\0\0\0\0\0",
            "a\0\0\0\0\0\0\0\0",
        ];
        let hashes: std::collections::BTreeSet<u64> =
            distinct.iter().map(|s| key.hash_id(&id(s))).collect();
        assert_eq!(hashes.len(), distinct.len());
        let other = SipKey { k0: 1, k1: 3 };
        assert_ne!(key.hash_id(&id("node-a")), other.hash_id(&id("node-a")));
    }
}
