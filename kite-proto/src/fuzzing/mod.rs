//! Fuzzing harnesses, shared by the cargo-fuzz targets in `fuzz/` and by
//! this crate's unit tests, which replay every committed corpus file and
//! crash regression under plain `cargo test`.
//!
//! Compiled with the `arbitrary` feature (the fuzz crate enables it) and in
//! this crate's own unit tests (`arbitrary` is also a dev-dependency); never
//! in a normal build. Each target is one function here:
//!
//! | target | function | input |
//! | --- | --- | --- |
//! | `decode` | [`decode_bytes`] | raw bytes: a datagram, a stream message, a framed stream |
//! | `message` | [`roundtrip`] | a [`Message`](crate::wire::Message) |
//! | `node` | [`run_node`] | a [`NodeScript`]: one node and a sequence of inputs |
//! | `converge` | [`run_pair`] | a [`PairScript`]: two nodes, faulty traffic, then a clean exchange |
//!
//! Every function panics, with a description, when an invariant breaks;
//! [`run`] runs a target on raw fuzzer bytes the way `libfuzzer-sys` does
//! (`T::arbitrary_take_rest`).
//!
//! ```ignore
//! // With the `arbitrary` feature enabled:
//! use kite_proto::fuzzing;
//!
//! fuzzing::run("decode", &[1, 7, 1, b'a']);
//! for (name, bytes) in fuzzing::seeds("node") {
//!     fuzzing::run("node", &bytes);
//! }
//! ```

mod decode;
mod mutate;
mod node;
mod pair;
mod seeds;
#[cfg(test)]
mod tests;

use core::net::SocketAddr;

use arbitrary::{Arbitrary, Unstructured};

pub use decode::{decode_bytes, roundtrip};
pub use mutate::{Edit, Mutation};
pub use node::{
    DnsAnswer, Failure, HelperAction, Ip, JoinTarget, MAX_STEPS, NodeKnobs, NodeScript, NodeStep,
    Reply, run_node, sender,
};
pub use pair::{Fault, MAX_CLEAN_ROUNDS, PairKnobs, PairScript, PairStep, Served, run_pair};
pub use seeds::seeds;

use crate::id::NodeId;

/// The names of the targets, as `fuzz/fuzz_targets/<name>.rs`.
pub const TARGETS: [&str; 4] = ["decode", "message", "node", "converge"];

/// Runs target `target` on raw fuzzer input, building typed inputs as
/// `libfuzzer-sys` does. Inputs that do not build are skipped, as there.
///
/// # Panics
///
/// When an invariant breaks, or for an unknown target name.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "decode" => decode_bytes(data),
        "message" => {
            if let Ok(msg) = crate::wire::Message::arbitrary_take_rest(Unstructured::new(data)) {
                roundtrip(&msg);
            }
        }
        "node" => {
            if let Ok(script) = NodeScript::arbitrary_take_rest(Unstructured::new(data)) {
                run_node(&script);
            }
        }
        "converge" => {
            if let Ok(script) = PairScript::arbitrary_take_rest(Unstructured::new(data)) {
                run_pair(&script);
            }
        }
        other => panic!("unknown fuzz target {other:?}"),
    }
}

/// The id of harness node `i`: `n0` is the node under test.
pub(crate) fn id(i: usize) -> NodeId {
    NodeId::new(format!("n{i}")).unwrap_or_else(|e| panic!("{e}"))
}

/// The address of harness node `i`: `127.0.0.<i+1>:7000`.
pub(crate) fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1 + i as u8], 7000))
}

/// The committed wire test vectors (`tests/vectors.txt`): name and bytes.
pub fn vectors() -> Vec<(&'static str, Vec<u8>)> {
    include_str!("../../tests/vectors.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once(' '))
        .map(|(name, hex)| {
            let bytes = (0..hex.len() / 2)
                .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            (name, bytes)
        })
        .collect()
}

/// A key: one of eight short ones most of the time, so writes collide.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// `k0` to `k7`.
    Small(u8),
    /// Any string.
    Any(String),
    /// `len` (modulo 300) repetitions of one letter: near the key limits.
    Long {
        /// Length.
        len: u16,
    },
}

impl Key {
    /// The key as a string.
    pub fn text(&self) -> String {
        match self {
            Key::Small(n) => format!("k{}", n % 8),
            Key::Any(s) => s.clone(),
            Key::Long { len } => "K".repeat(usize::from(*len % 300)),
        }
    }
}

/// A value: any string, or a long run of one letter.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Any string.
    Text(String),
    /// `len` (modulo 8192) repetitions of one letter: near the value limits
    /// and past what fits a datagram.
    Fill {
        /// Which letter.
        letter: u8,
        /// Length.
        len: u16,
    },
}

impl Value {
    /// The value as a string.
    pub fn text(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Fill { letter, len } => char::from(b'a' + letter % 26)
                .to_string()
                .repeat(usize::from(*len % 8192)),
        }
    }
}
