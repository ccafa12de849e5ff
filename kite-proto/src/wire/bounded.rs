//! Sequence decoding that never trusts a length read off the wire for
//! pre-allocation: the vector grows only as elements actually decode, and
//! every element consumes input.

use core::fmt;
use core::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

/// The most elements reserved up front, whatever the wire claims.
const PREALLOC_MAX: usize = 16;

pub(super) fn vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Growing<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Growing<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(PREALLOC_MAX));
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
    }

    deserializer.deserialize_seq(Growing(PhantomData))
}
